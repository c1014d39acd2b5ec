"""``mrm evidence-pack``: everything an auditor asks for about one model and period, in one zip.

runs.json (with lineage), metrics.csv, breaches.csv, tickets.json (with their event trail), acts.json
(the desk's review acts: every act on those tickets, every risk acceptance of the model holding in the
period, and the attestations of the model and of the portfolio for logical dates in the period, each
with the line people read), inventory_versions.json (every entry version in force), the evidence files
of each run under evidence/<date>/<run_id>/, and manifest.json with the SHA-256 of every file, the
recorded SHA-256 of each evidence file, and the result of verifying the history's hash chain.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from mrm.core.storage import store_for
from mrm.errors import MrmError
from mrm.evidence.export import encode, rows
from mrm.store import HistoryStore, chain
from mrm.store import acts as store_acts
from mrm.store import tickets as store_tickets

BREACHES = ("AMBER", "RED", "ERROR", "ACCEPTED")  # the statuses breaches.csv holds


def _json(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, sort_keys=True, default=str).encode()


def build(
    store: HistoryStore,
    model_id: str,
    since: date | None,
    until: date | None,
    *,
    describe: Callable[[dict], str],
) -> tuple[bytes, dict]:
    """The pack's zip and its manifest. ``describe``: an act's line for people
    (:func:`mrm.ticketing.desk.describe`; this room is below ticketing, so the caller passes it)."""
    runs = store.runs(model_id, since, until, kind=None)
    if not runs:
        raise MrmError(
            f"no runs of {model_id} between {since or 'the start'} and {until or 'now'}; nothing to pack"
        )
    metric_rows = [r for r in rows(store, since, until) if r["model_id"] == model_id]
    with store.engine.connect() as conn:
        tickets = [
            {
                **t,
                "key": store_tickets.ticket_key(t["ticket_id"]),
                "events": store_tickets.events(conn, t["ticket_id"]),
            }
            for t in store_tickets.tickets(conn, model_id, "all")
            if (not since or t["last_logical_date"] >= since)
            and (not until or t["first_logical_date"] <= until)
        ]
        acts = _acts(conn, model_id, {t["ticket_id"] for t in tickets}, since, until, describe)
    hashes = {r["inventory_hash"] for r in runs}
    versions = [v for v in store.inventory_versions(model_id) if v["inventory_hash"] in hashes]
    problems, head, length = chain.verify(store.engine)
    files: dict[str, bytes] = {
        "runs.json": _json(runs),
        "metrics.csv": encode(metric_rows, "csv"),
        "breaches.csv": encode([r for r in metric_rows if r["status"] in BREACHES], "csv"),
        "tickets.json": _json(tickets),
        "acts.json": _json(acts),
        "inventory_versions.json": _json(versions),
    }
    recorded = {}
    for run in runs:
        for item in (run["evidence"] or {}).values():
            data = store_for(item["uri"]).get(item["uri"])
            path = f"evidence/{run['logical_date']}/{run['run_id']}/{item['uri'].rsplit('/', 1)[-1]}"
            files[path] = data
            recorded[path] = {
                "recorded_sha256": item["sha256"],
                "matches": hashlib.sha256(data).hexdigest() == item["sha256"],
            }
    manifest = {
        "model_id": model_id, "since": str(since) if since else None, "until": str(until) if until else None,
        "created_at": datetime.now(UTC).isoformat(), "history": store.safe_url,
        "chain": {"intact": not problems, "problems": problems, "head": head, "records": length},
        "files": {p: hashlib.sha256(d).hexdigest() for p, d in sorted(files.items())},
        "evidence_files": recorded, "review_acts": len(acts),
    }  # fmt: skip
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, data in sorted(files.items()):
            zf.writestr(path, data)
        zf.writestr("manifest.json", _json(manifest))
    return buf.getvalue(), manifest


def _acts(conn, model_id: str, ticket_ids: set[int], since, until, describe) -> list[dict]:
    """The review acts of the pack, oldest first: those on its tickets, the model's risk acceptances
    holding some day of the period (a ticket accepted earlier may have no event in it), and the
    attestations of the model or of the whole portfolio for a logical date of the period."""

    def wanted(act: dict) -> bool:
        if act["ticket_id"] in ticket_ids:
            return True
        if act["kind"] == "accept_risk":
            made = act["acted_at"].astimezone(UTC).date()
            return act["model_id"] == model_id and _overlaps(made, act["until_date"], since, until)
        if act["kind"] == "attest":
            day = act["logical_date"]
            return act["model_id"] in (model_id, None) and _overlaps(day, day, since, until)
        return False

    return [
        {**a, "ticket_key": store_tickets.ticket_key(a["ticket_id"]) if a["ticket_id"] else None,
         "text": describe(a)}
        for a in store_acts.acts(conn) if wanted(a)
    ]  # fmt: skip


def _overlaps(first: date, last: date, since: date | None, until: date | None) -> bool:
    return (since is None or last >= since) and (until is None or first <= until)
