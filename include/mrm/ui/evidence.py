"""Evidence files served through the page, and nothing else:

- a file a run recorded, only if its recorded URI lies under that run's own evidence folder
  (``<MRM_EVIDENCE>/<model>/<date>/<run_id>/``, as :class:`mrm.evidence.writer.EvidenceWriter` lays it
  out: same scheme and bucket, no ``.``/``..`` segments, no query or fragment; for file:// also after
  resolving links), the run recorded its SHA-256, and the bytes read still have it;
- the shared JavaScript and icon font that Evidently reports load from ``<evidence>/_lib/``, only if the
  bytes are those of the files bundled in the installed Evidently package. These are public code, the
  same for everyone: they are served without a login (a sandboxed report, see :func:`report_csp`, has an
  opaque origin and sends no cookies) and with ``Access-Control-Allow-Origin: *`` for SRI.

Anything else is EvidenceNotFoundError (404). Refusals for integrity (a URI outside the run's folder, a
missing hash) give a short answer and log the reason: the page never names what a row pointed at. A
request's names never reach a path: it names a run and a file name, and the URI comes from the history.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path, PurePosixPath
from urllib.parse import unquote, urlparse

from sqlalchemy import Engine

from mrm.core.storage import join, store_for
from mrm.errors import EvidenceChangedError, EvidenceNotFoundError, SourceError
from mrm.store import reads as queries

log = logging.getLogger(__name__)

# what mrm.checks.evidently_report.evidently_lib_files() writes: evidently-<version>.js and the icon font
LIB_FILE = re.compile(r"^(evidently-[0-9][0-9A-Za-z.+-]*\.js|material-ui-icons\.woff2)$")
CONTENT_TYPES = {
    "html": "text/html; charset=utf-8",
    "json": "application/json",
    "js": "text/javascript; charset=utf-8",
    "woff2": "font/woff2",
    "csv": "text/csv; charset=utf-8",
}
# Every evidence file is served sandboxed (CSP ``sandbox`` without allow-same-origin): the browser gives it
# an opaque origin, so nothing in it can read Airflow's pages, cookies or API as the viewer. A report may
# run only the pinned bundle ('self' with SRI) and its own inline scripts (by hash); it needs nothing from
# the network. Other files are never rendered as a page: no scripts at all, and downloads but JSON.
FILE_CSP = "sandbox; default-src 'none'; frame-ancestors 'self'"
INLINE = ("html", "json")


def report_csp() -> str:
    """The CSP of an Evidently report: sandboxed, the shared bundle and the report's own scripts only."""
    from mrm.checks.evidently_report import script_hashes

    return (
        f"sandbox allow-scripts; default-src 'none'; script-src 'self' {' '.join(script_hashes())}; "
        "style-src 'unsafe-inline'; font-src 'self'; img-src 'self' data: blob:; connect-src 'none'; "
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
    )


@dataclass(frozen=True)
class EvidenceFile:
    name: str
    uri: str
    data: bytes
    shared: bool = False  # a file of <evidence>/_lib/: public code, loaded cross-origin by sandboxed reports

    @property
    def kind(self) -> str:
        return self.name.rsplit(".", 1)[-1].lower()

    @property
    def content_type(self) -> str:
        return CONTENT_TYPES.get(self.kind, "application/octet-stream")

    def headers(self) -> dict[str, str]:
        out = {
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, max-age=86400",
            "Content-Security-Policy": report_csp() if self.kind == "html" and not self.shared else FILE_CSP,
            "Referrer-Policy": "no-referrer",
        }
        if self.shared:  # a sandboxed report's origin is opaque: the bundle and font come through CORS
            out["Access-Control-Allow-Origin"] = "*"
        elif self.kind not in INLINE:
            safe = re.sub(r"[^A-Za-z0-9._-]", "_", self.name)
            out["Content-Disposition"] = f'attachment; filename="{safe}"'
        return out


def _read(uri: str) -> bytes:
    try:
        return store_for(uri).get(uri)
    except SourceError as exc:
        raise EvidenceNotFoundError(f"evidence recorded at {uri} cannot be read: {exc}") from None


def _refuse(public: str, reason: str) -> EvidenceNotFoundError:
    """A 404 whose page says ``public`` while the log says why (it may name what the row pointed at)."""
    log.warning("evidence refused: %s", reason)
    return EvidenceNotFoundError(f"{public}; the reason is in the api-server's log")


def recorded(engine: Engine, base_uri: str, model_id: str, day: str, run_id: str, name: str) -> EvidenceFile:
    """The file ``name`` that run ``run_id`` of ``model_id`` on ``day`` recorded as evidence, read only
    from that run's own folder under ``base_uri`` (MRM_EVIDENCE) and only if it has its recorded SHA-256."""
    run = queries.run(engine, run_id)
    if run is None or run["model_id"] != model_id or run["logical_date"] != _day(day):
        raise EvidenceNotFoundError(f"no run {run_id} of {model_id} on {day} in the history")
    items = [
        v for v in (run["evidence"] or {}).values() if isinstance(v, dict) and isinstance(v.get("uri"), str)
    ]
    item = next((i for i in items if i["uri"].rstrip("/").rsplit("/", 1)[-1] == name), None)
    if item is None:
        known = ", ".join(sorted(i["uri"].rsplit("/", 1)[-1] for i in items)) or "none"
        raise EvidenceNotFoundError(f"run {run_id} recorded no evidence file '{name}' (recorded: {known})")
    uri, public = item["uri"], f"evidence file '{name}' of run {run_id} cannot be served"
    folder = join(base_uri, model_id, run["logical_date"].isoformat(), run_id)
    why = outside(uri, folder)
    if why:
        raise _refuse(public, f"run {run_id} of {model_id} records {name} at {uri}, {why}")
    expected = item.get("sha256")
    if not isinstance(expected, str) or not re.fullmatch(r"[0-9a-f]{64}", expected):
        raise _refuse(public, f"run {run_id} of {model_id} recorded no SHA-256 for {uri}")
    data = _read(uri)
    if hashlib.sha256(data).hexdigest() != expected:
        log.warning("evidence refused: %s does not have the SHA-256 run %s recorded", uri, run_id)
        raise EvidenceChangedError(
            f"{uri} no longer matches the SHA-256 recorded for run {run_id} "
            f"({expected[:12]}…): it was changed after it was written; tell model risk"
        )
    return EvidenceFile(name, uri, data)


def outside(uri: str, folder: str) -> str:
    """Why ``uri`` does not lie under ``folder`` (both file:// or s3:// URIs), or "" if it does."""
    got, want = _parts(uri), _parts(folder)
    if got is None:
        return "not a plain file:// or s3:// URI (a relative path, dot segments, a query or a fragment)"
    if want is None:
        return f"and the evidence folder {folder} is not a plain file:// or s3:// URI"
    if got[0] != want[0]:
        return f"a {got[0]}:// URI where the evidence is {want[0]}:// ({folder})"
    if got[1] != want[1]:
        return f"in bucket or host '{got[1]}', not '{want[1]}'"
    if len(got[2]) <= len(want[2]) or got[2][: len(want[2])] != want[2]:
        return f"outside the run's evidence folder {folder}/"
    if got[0] == "file":
        real, root = Path("/", *got[2]).resolve(), Path("/", *want[2]).resolve()
        if not real.is_relative_to(root):
            return f"which resolves to {real}, outside the run's evidence folder {root}/"
    return ""


def _parts(uri: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(scheme, bucket or host, path segments) of a plain file:// or s3:// URI, else None."""
    parsed = urlparse(uri)
    scheme = parsed.scheme.lower()
    if scheme not in ("file", "s3") or parsed.query or parsed.fragment or parsed.params or "#" in uri:
        return None
    path = unquote(parsed.path) if scheme == "file" else parsed.path
    host = "" if scheme == "file" and parsed.netloc.lower() in ("", "localhost") else parsed.netloc
    segments = [s for s in PurePosixPath(path).parts if s != "/"]
    if not path.startswith("/") or any(s in (".", "..") for s in path.split("/")) or "\x00" in path:
        return None
    return scheme, host, tuple(segments)


def shared_library(base_uri: str, name: str) -> EvidenceFile:
    """A file of ``<evidence>/_lib/`` that Evidently reports load (its JavaScript bundle and icon font),
    served only if its bytes are those of the file the installed Evidently bundles."""
    from mrm.checks.evidently_report import lib_hashes

    if not LIB_FILE.match(name):
        raise EvidenceNotFoundError(f"'{name}' is not a shared report library file")
    pinned = lib_hashes()
    if name not in pinned:
        raise _refuse(
            f"'{name}' is not a file of the installed Evidently",
            f"{name} requested; the installed Evidently bundles {', '.join(sorted(pinned))}",
        )
    uri = join(base_uri, "_lib", name)
    data = _read(uri)
    if hashlib.sha256(data).hexdigest() != pinned[name]:
        raise _refuse(
            f"shared library file '{name}' cannot be served",
            f"{uri} is not the file the installed Evidently bundles (SHA-256 {pinned[name][:12]}…): it "
            "was changed; the next monitoring run writes it again",
        )
    return EvidenceFile(name, uri, data, shared=True)


def _day(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None
