"""Where anchors are kept: a folder (``file://``) or an S3 prefix (``s3://``), each object written once.

A file is created exclusively (a hard link from a finished temporary file, so no reader ever sees half an
anchor) with mode 0444. An S3 object is put with ``If-None-Match: *`` into a bucket that must have Object
Lock in COMPLIANCE mode with a default retention: then nobody, the bucket's owner included, can delete or
overwrite a version before the retention ends, and a writer needs no ``s3:PutObjectRetention``. Writing
needs ``s3:PutObject``, ``s3:ListBucket``, ``s3:GetObject`` and ``s3:GetBucketObjectLockConfiguration``
on the prefix; checking needs ``s3:ListBucketVersions`` and ``s3:GetObjectVersion``. Reading lists
every *version* of every anchor, so an anchor that was "overwritten" (a new version) still counts.
"""

from __future__ import annotations

import contextlib
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol
from urllib.parse import unquote, urlparse

from mrm.core.storage import join
from mrm.errors import StoreError

NAME = re.compile(r"^(\d{12})\.json$")


def name_of(seq: int) -> str:
    """The anchor's object name: zero-padded, so listing order is sequence order."""
    return f"{seq:012d}.json"


def seq_of(name: str) -> int | None:
    match = NAME.match(name.rsplit("/", 1)[-1])
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class Stored:
    where: str  # URI of the object (and its version on S3), for messages
    data: bytes | None  # None: could not be read
    error: str = ""


class AnchorStore(Protocol):
    uri: str

    def seqs(self) -> list[int]: ...  # the sequence numbers anchored (from the current names)
    def read(self, seq: int) -> bytes | None: ...
    def read_all(self) -> list[Stored]: ...  # every anchor, every version
    def write_once(self, seq: int, data: bytes) -> bool: ...  # False: it already exists


def anchor_store(uri: str) -> AnchorStore:
    """The anchor store at ``uri``: ``file:///abs/folder/``, a local folder path, or ``s3://bucket/prefix/``."""
    scheme = urlparse(uri).scheme
    if scheme == "s3":
        return S3Anchors(uri)
    if scheme == "file":
        return FileAnchors(uri)
    if "://" not in uri:
        return FileAnchors(Path(uri).resolve().as_uri())
    raise StoreError(f"unsupported anchor store {uri!r}: use s3://bucket/prefix/ or file:///abs/folder/")


class FileAnchors:
    def __init__(self, uri: str):
        self.uri = uri.rstrip("/") + "/"
        self.root = Path(unquote(urlparse(uri).path))

    def _names(self) -> list[Path]:
        return sorted(self.root.glob("*.json")) if self.root.is_dir() else []

    def seqs(self) -> list[int]:
        return sorted(s for p in self._names() if (s := seq_of(p.name)) is not None)

    def read(self, seq: int) -> bytes | None:
        path = self.root / name_of(seq)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read the anchor {path.as_uri()}: {exc.strerror or exc}") from None

    def read_all(self) -> list[Stored]:
        out = []
        for path in self._names():
            try:
                out.append(Stored(path.as_uri(), path.read_bytes()))
            except OSError as exc:
                out.append(Stored(path.as_uri(), None, exc.strerror or str(exc)))
        return out

    def write_once(self, seq: int, data: bytes) -> bool:
        final = self.root / name_of(seq)
        tmp = self.root / f".{name_of(seq)}.{uuid.uuid4().hex}.tmp"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            os.link(tmp, final)  # exclusive: fails if the anchor exists
            return True
        except FileExistsError:
            return False
        except OSError as exc:
            raise StoreError(f"cannot write the anchor {final.as_uri()}: {exc.strerror or exc}") from None
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


LOCK_HOWTO = (
    "create the anchor bucket with Object Lock (`aws s3api create-bucket --object-lock-enabled-for-bucket`) "
    "and give it a COMPLIANCE default retention (`aws s3api put-object-lock-configuration "
    '--object-lock-configuration \'{"ObjectLockEnabled":"Enabled","Rule":{"DefaultRetention":'
    '{"Mode":"COMPLIANCE","Years":7}}}\'`), '
    "so every anchor is locked without the writer needing s3:PutObjectRetention"
)


class S3Anchors:
    def __init__(self, uri: str):
        import boto3

        parsed = urlparse(uri)
        self.bucket, self.prefix = parsed.netloc, parsed.path.strip("/")
        self.uri = join(f"s3://{self.bucket}", self.prefix) + "/"
        self._s3 = boto3.client("s3")

    def _key(self, seq: int) -> str:
        return f"{self.prefix}/{name_of(seq)}" if self.prefix else name_of(seq)

    def _error(self, what: str, exc: Exception) -> StoreError:
        from botocore.exceptions import ClientError

        if isinstance(exc, ClientError):
            err = exc.response.get("Error", {})
            return StoreError(f"cannot {what} {self.uri}: {err.get('Code', '?')}: {err.get('Message', exc)}")
        return StoreError(f"cannot {what} {self.uri}: {exc} (check AWS credentials / AWS_ENDPOINT_URL)")

    def _call(self, what: str, fn, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kwargs)
        except (BotoCoreError, ClientError) as exc:
            raise self._error(what, exc) from None

    def _pages(self, op: str):
        prefix = f"{self.prefix}/" if self.prefix else ""
        paginator = self._s3.get_paginator(op)
        return self._call("list", lambda: list(paginator.paginate(Bucket=self.bucket, Prefix=prefix)))

    def seqs(self) -> list[int]:
        keys = [o["Key"] for page in self._pages("list_objects_v2") for o in page.get("Contents", [])]
        return sorted(s for k in keys if (s := seq_of(k)) is not None)

    def read(self, seq: int) -> bytes | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return self._s3.get_object(Bucket=self.bucket, Key=self._key(seq))["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise self._error("read", exc) from None
        except BotoCoreError as exc:
            raise self._error("read", exc) from None

    def read_all(self) -> list[Stored]:
        from botocore.exceptions import BotoCoreError, ClientError

        out = []
        for page in self._pages("list_object_versions"):
            for v in page.get("Versions", []):
                if not v["Key"].endswith(".json"):
                    continue
                where = f"s3://{self.bucket}/{v['Key']}" + (
                    "" if v.get("IsLatest") else f"?versionId={v['VersionId']}"
                )
                try:
                    body = self._s3.get_object(Bucket=self.bucket, Key=v["Key"], VersionId=v["VersionId"])[
                        "Body"
                    ]
                    out.append(Stored(where, body.read()))
                except (ClientError, BotoCoreError) as exc:
                    out.append(Stored(where, None, str(exc)))
        return out

    def check_locked(self) -> None:
        """StoreError (one line, what to do) unless the bucket has COMPLIANCE Object Lock with a default
        retention: anchors a worker could delete or overwrite prove nothing."""
        from botocore.exceptions import ClientError

        try:
            conf = self._s3.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "?")
            if code != "ObjectLockConfigurationNotFoundError":
                raise StoreError(
                    f"cannot read the Object Lock configuration of the anchor bucket {self.bucket} ({code}): "
                    "grant s3:GetBucketObjectLockConfiguration on it, or check MRM_AUDIT_ANCHOR"
                ) from None
            conf = {}
        retention = conf.get("Rule", {}).get("DefaultRetention", {})
        if conf.get("ObjectLockEnabled") != "Enabled":
            state = "does not have Object Lock enabled"
        elif retention.get("Mode") != "COMPLIANCE":
            state = f"has Object Lock in {retention.get('Mode') or 'no default'} mode, not COMPLIANCE"
        elif not (retention.get("Days") or retention.get("Years")):
            state = "has no default retention"
        else:
            return
        raise StoreError(f"refusing to anchor to s3://{self.bucket}: the bucket {state}; {LOCK_HOWTO}")

    def write_once(self, seq: int, data: bytes) -> bool:
        from botocore.exceptions import BotoCoreError, ClientError

        self.check_locked()
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._key(seq), Body=data, IfNoneMatch="*",
                                ContentType="application/json")  # fmt: skip
            return True
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 412 or exc.response.get("Error", {}).get("Code") == "PreconditionFailed":
                return False  # another writer anchored this head first
            raise self._error("write", exc) from None
        except BotoCoreError as exc:
            raise self._error("write", exc) from None
