"""Evidence kept for auditors: files written once under ``<evidence>/<model>/<date>/<run_id>/``,
each recorded with its SHA-256 so later tampering is detectable."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date
from typing import Any

from mrm.core.storage import ObjectInfo, join, store_for
from mrm.errors import SourceError

log = logging.getLogger(__name__)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def fingerprint(files: list[ObjectInfo] | list[dict[str, Any]]) -> str:
    """A stable hash of a set of input objects (URI, size, ETag)."""
    items = sorted(
        (f["uri"], f["size"], f["etag"]) if isinstance(f, dict) else (f.uri, f.size, f.etag) for f in files
    )
    return sha256(json.dumps(items).encode())


class EvidenceWriter:
    def __init__(self, base_uri: str, model_id: str, logical_date: date, run_id: str):
        self.prefix = join(base_uri, model_id, logical_date.isoformat(), run_id)
        self.store = store_for(self.prefix)

    def put(self, name: str, data: bytes) -> dict[str, Any]:
        uri = join(self.prefix, name)
        info = self.store.put(uri, data)
        return {"uri": uri, "sha256": sha256(data), "size": info.size}

    def put_json(self, name: str, obj: Any) -> dict[str, Any]:
        return self.put(name, json.dumps(obj, indent=1, sort_keys=True, default=str).encode())

    def get_json(self, name: str) -> Any:
        return json.loads(self.store.get(join(self.prefix, name)))


def write_shared(base_uri: str, files: dict[str, bytes]) -> dict[str, dict[str, Any]]:
    """Files that many reports share (e.g. Evidently's JavaScript), written once under ``<base>/_lib/``.
    A copy already there with other bytes (changed by someone with write access to the evidence) is
    written again, with a warning: the page serves a shared file only if it has its pinned hash."""
    out = {}
    for name, data in files.items():
        uri = join(base_uri, "_lib", name)
        store = store_for(uri)
        if not store.list(uri):
            try:
                store.put(uri, data)
            except SourceError:
                if not store.list(uri):  # not a concurrent writer that got there first: a real failure
                    raise
        if sha256(store.get(uri)) != sha256(data):
            log.warning("%s did not have the SHA-256 of the installed file (%s…); written again", uri,
                        sha256(data)[:12])  # fmt: skip
            store.put(uri, data, overwrite=True)
        out[name] = {"uri": uri, "sha256": sha256(data), "size": len(data)}
    return out
