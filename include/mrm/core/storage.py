"""Object stores behind URIs: ``s3://bucket/prefix/`` (boto3, honours AWS_ENDPOINT_URL) and
``file:///abs/path/``. Used by the scoring-log sources and by the evidence writer."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from mrm.errors import SourceError


@dataclass(frozen=True)
class ObjectInfo:
    uri: str
    size: int
    etag: str


class ObjectStore(Protocol):
    def list(self, uri: str) -> list[ObjectInfo]: ...
    def get(self, uri: str) -> bytes: ...
    def download(self, info: ObjectInfo, path: Path) -> None: ...
    def put(self, uri: str, data: bytes, *, overwrite: bool = False) -> ObjectInfo: ...


class LocalStore:
    """``file://`` URIs."""

    @staticmethod
    def _path(uri: str) -> Path:
        return Path(unquote(urlparse(uri).path))

    def list(self, uri: str) -> list[ObjectInfo]:
        """Files under a folder URI, or the file itself (as S3 lists a key by its own prefix)."""
        root = self._path(uri)
        paths = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        return [ObjectInfo(p.as_uri(), p.stat().st_size, f"{p.stat().st_mtime_ns:x}") for p in paths]

    def get(self, uri: str) -> bytes:
        try:
            return self._path(uri).read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {uri}: {exc.strerror or exc}") from None

    def download(self, info: ObjectInfo, path: Path) -> None:
        import shutil

        try:
            shutil.copyfile(self._path(info.uri), path)
        except OSError as exc:
            raise SourceError(f"cannot read {info.uri}: {exc.strerror or exc}") from None

    def put(self, uri: str, data: bytes, *, overwrite: bool = False) -> ObjectInfo:
        path = self._path(uri)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("wb" if overwrite else "xb") as fh:
                fh.write(data)
        except FileExistsError:
            raise SourceError(
                f"{uri} already exists; evidence is written once and never overwritten"
            ) from None
        return ObjectInfo(uri, len(data), hashlib.md5(data, usedforsecurity=False).hexdigest())


class S3Store:
    """``s3://`` URIs through boto3's default credential chain (AWS_ENDPOINT_URL is honoured)."""

    def __init__(self) -> None:
        self._s3 = s3_client()

    @staticmethod
    def _split(uri: str) -> tuple[str, str]:
        parsed = urlparse(uri)
        return parsed.netloc, parsed.path.lstrip("/")

    def _call(self, what: str, uri: str, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise SourceError(
                f"cannot {what} {uri}: {err.get('Code', '?')}: {err.get('Message', exc)}"
            ) from None
        except BotoCoreError as exc:
            raise SourceError(
                f"cannot {what} {uri}: {exc} (check AWS credentials / AWS_ENDPOINT_URL)"
            ) from None

    def list(self, uri: str) -> list[ObjectInfo]:
        bucket, prefix = self._split(uri)
        pages = self._call(
            "list",
            uri,
            lambda: list(self._s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)),
        )
        return [
            ObjectInfo(f"s3://{bucket}/{o['Key']}", o["Size"], o["ETag"].strip('"'))
            for page in pages
            for o in page.get("Contents", [])
        ]

    def get(self, uri: str) -> bytes:
        bucket, key = self._split(uri)
        body = self._call("read", uri, self._s3.get_object, Bucket=bucket, Key=key)["Body"]
        return body.read()

    def download(self, info: ObjectInfo, path: Path) -> None:
        """The object, streamed to ``path`` in 8 MiB chunks (memory does not grow with its size); S3
        refuses (412) if it is no longer the listed version (ETag)."""
        bucket, key = self._split(info.uri)
        body = self._call(
            "read", info.uri, self._s3.get_object, Bucket=bucket, Key=key, IfMatch=f'"{info.etag}"'
        )["Body"]
        with path.open("wb") as out:
            for chunk in body.iter_chunks(8 * 2**20):
                out.write(chunk)

    def put(self, uri: str, data: bytes, *, overwrite: bool = False) -> ObjectInfo:
        bucket, key = self._split(uri)
        extra = {} if overwrite else {"IfNoneMatch": "*"}
        resp = self._call("write", uri, self._s3.put_object, Bucket=bucket, Key=key, Body=data, **extra)
        return ObjectInfo(uri, len(data), resp.get("ETag", "").strip('"'))


# what boto3's default chain reads to make an S3 client: one client per process for each set of values
_CLIENT_ENV = (
    "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE", "AWS_CA_BUNDLE",
)  # fmt: skip
_CLIENTS: dict[tuple, object] = {}
_CLIENTS_LOCK = threading.Lock()


def s3_client():
    """boto3's S3 client for the current AWS environment, made once per process and reused (a client is
    thread-safe; making one costs tens of milliseconds, and a run reads and writes hundreds of objects)."""
    key = (os.getpid(), *(os.environ.get(name) for name in _CLIENT_ENV))
    with _CLIENTS_LOCK:
        if key not in _CLIENTS:
            import boto3

            _CLIENTS[key] = boto3.client("s3")
        return _CLIENTS[key]


def store_for(uri: str) -> ObjectStore:
    scheme = urlparse(uri).scheme
    if scheme == "file":
        return LocalStore()
    if scheme == "s3":
        return S3Store()
    raise SourceError(f"unsupported URI scheme in {uri!r}: use s3://bucket/prefix/ or file:///abs/path/")


@contextmanager
def local_copies(files: Iterable[ObjectInfo], prefix: str = "mrm_") -> Iterator[list[tuple[str, str]]]:
    """(URI, local path) of each object: ``file://`` objects in place, others streamed one by one to a
    temporary folder that is removed afterwards (disk, not memory, holds them)."""
    import tempfile

    out, tmp = [], None
    try:
        for i, f in enumerate(files):
            if f.uri.startswith("file://"):
                out.append((unquote(f.uri), str(LocalStore._path(f.uri))))  # named readably in messages
                continue
            if tmp is None:
                tmp = tempfile.TemporaryDirectory(prefix=prefix)
            path = Path(tmp.name) / f"{i}.parquet"
            store_for(f.uri).download(f, path)
            out.append((f.uri, str(path)))
        yield out
    finally:
        if tmp is not None:
            tmp.cleanup()


def join(uri: str, *parts: str) -> str:
    return "/".join([uri.rstrip("/"), *[p.strip("/") for p in parts]])
