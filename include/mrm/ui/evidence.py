"""Evidence files served through the page: only files a run recorded in the history (read from their
recorded file:// or s3:// URI and checked against the recorded SHA-256), and the shared JavaScript and
font that Evidently reports load from ``<evidence>/_lib/``. Names never reach a path: a request names a
run and a file name, and the URI comes from the history."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date

from sqlalchemy import Engine

from mrm.core.storage import join, store_for
from mrm.errors import EvidenceChangedError, EvidenceNotFoundError, SourceError
from mrm.store import reads as queries

# what mrm.checks.drift.evidently_lib_files() writes: evidently-<version>.js and the icon font
LIB_FILE = re.compile(r"^(evidently-[0-9][0-9A-Za-z.+-]*\.js|material-ui-icons\.woff2)$")
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "js": "text/javascript; charset=utf-8",
    "woff2": "font/woff2",
    "csv": "text/csv; charset=utf-8",
}
# Evidently's report runs inline scripts and its shared bundle; it needs nothing from the network.
REPORT_CSP = (
    "default-src 'self' 'unsafe-inline' 'unsafe-eval' data: blob:; connect-src 'none'; "
    "object-src 'none'; base-uri 'none'; form-action 'none'"
)


@dataclass(frozen=True)
class EvidenceFile:
    name: str
    uri: str
    data: bytes

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.name.rsplit(".", 1)[-1].lower(), "application/octet-stream")

    def headers(self) -> dict[str, str]:
        out = {"X-Content-Type-Options": "nosniff", "Cache-Control": "private, max-age=86400"}
        if self.name.endswith(".html"):
            out["Content-Security-Policy"] = REPORT_CSP
        return out


def _read(uri: str) -> bytes:
    try:
        return store_for(uri).get(uri)
    except SourceError as exc:
        raise EvidenceNotFoundError(f"evidence recorded at {uri} cannot be read: {exc}") from None


def recorded(engine: Engine, model_id: str, day: str, run_id: str, name: str) -> EvidenceFile:
    """The file ``name`` that run ``run_id`` of ``model_id`` on ``day`` recorded as evidence."""
    run = queries.run(engine, run_id)
    if run is None or run["model_id"] != model_id or run["logical_date"] != _day(day):
        raise EvidenceNotFoundError(f"no run {run_id} of {model_id} on {day} in the history")
    items = [v for v in (run["evidence"] or {}).values() if isinstance(v, dict) and "uri" in v]
    item = next((i for i in items if i["uri"].rstrip("/").rsplit("/", 1)[-1] == name), None)
    if item is None:
        known = ", ".join(sorted(i["uri"].rsplit("/", 1)[-1] for i in items)) or "none"
        raise EvidenceNotFoundError(f"run {run_id} recorded no evidence file '{name}' (recorded: {known})")
    data = _read(item["uri"])
    if item.get("sha256") and hashlib.sha256(data).hexdigest() != item["sha256"]:
        raise EvidenceChangedError(
            f"{item['uri']} no longer matches the SHA-256 recorded for run {run_id} "
            f"({item['sha256'][:12]}…): it was changed after it was written; tell model risk"
        )
    return EvidenceFile(name, item["uri"], data)


def shared_library(base_uri: str, name: str) -> EvidenceFile:
    """A file of ``<evidence>/_lib/`` that Evidently reports load (its JavaScript bundle and icon font)."""
    if not LIB_FILE.match(name):
        raise EvidenceNotFoundError(f"'{name}' is not a shared report library file")
    uri = join(base_uri, "_lib", name)
    return EvidenceFile(name, uri, _read(uri))


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
