"""The validation findings register recorded: each act is checked against the rules
(:mod:`mrm.ticketing.finding_rules`) and written as one chained event of ``mrm_findings_events`` in
one transaction, read and write under the chain's lock (two people closing one finding at once record one
closure). ``mrm findings add|update|close|import`` call these; the desk can call them with the person
Airflow authenticated. An import records every row or none."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from mrm.errors import FindingNotFoundError, FindingsImportError, InventoryError, ReviewRefused
from mrm.inventory import Inventory
from mrm.store import HistoryStore, chain
from mrm.store import findings as store_findings
from mrm.ticketing import finding_rules as rules
from mrm.ticketing.desk import Actor

IMPORT_COLUMNS = ("id", "model", "severity", "due", "description", "owner", "plan", "evidence")
REQUIRED = ("id", "model", "severity", "due", "description", "owner")


def standing(inventory: Inventory, person: str, model_id: str) -> rules.Standing:
    inventory.get(model_id)  # a model not in the inventory: its one line
    people = {m: (e.owner, e.developer, str(e.validator)) for m, e in inventory.entries.items()}
    return rules.standing(inventory.policy.roles, person, model_id, people)


def _record(store: HistoryStore, work: Callable[[Any], dict]) -> dict:
    def attempt() -> dict:
        with store.engine.begin() as conn:
            chain.lock(conn)
            return work(conn)

    return store.retry_on_conflict(attempt)


def _write(conn, finding_id: str, event: str, finding: dict, actor: Actor, reason: str | None) -> dict:
    store_findings.insert_event(
        conn, finding_id, event, finding, person=actor.person, authenticated=actor.authenticated,
        acted_at=datetime.now(UTC), via=actor.via, reason=reason,
    )  # fmt: skip
    return store_findings.finding(conn, finding_id)


def _current(conn, finding_id: str) -> dict:
    found = store_findings.finding(conn, finding_id)
    if found is None:
        raise FindingNotFoundError(
            f"finding {finding_id} is not in the register: `mrm findings` lists the findings"
        )
    return found


def add(store: HistoryStore, inventory: Inventory, actor: Actor, finding_id: str, model_id: str,
        fields: dict[str, Any]) -> dict:  # fmt: skip
    """Record a new finding (status open); returns it as recorded."""
    who = standing(inventory, actor.person, model_id)

    def work(conn) -> dict:
        finding = rules.add(who, finding_id, fields, store_findings.known_ids(conn))
        return _write(conn, finding_id, "added", finding, actor, None)

    return _record(store, work)


def update(store: HistoryStore, inventory: Inventory, actor: Actor, finding_id: str,
           changes: dict[str, Any], comment: str | None = None) -> dict:  # fmt: skip
    """Record an update of the plan, the due date, evidence links or the status; returns the finding."""

    def work(conn) -> dict:
        current = _current(conn, finding_id)
        who = standing(inventory, actor.person, current["model_id"])
        event, after = rules.update(who, finding_id, current, changes)
        return _write(conn, finding_id, event, after, actor, comment)

    return _record(store, work)


def close(store: HistoryStore, inventory: Inventory, actor: Actor, finding_id: str, reason: str) -> dict:
    """Record the finding verified closed; returns it."""

    def work(conn) -> dict:
        current = _current(conn, finding_id)
        who = standing(inventory, actor.person, current["model_id"])
        after = rules.close(who, finding_id, current, reason)
        return _write(conn, finding_id, "verified_closed", after, actor, reason.strip())

    return _record(store, work)


# -- import ------------------------------------------------------------------------------------------
def read_rows(path: Path) -> list[tuple[str, dict[str, Any]]]:
    """The rows of a CSV (header: :data:`IMPORT_COLUMNS`; evidence links separated by spaces or ;) or
    YAML file (a list of mappings, or ``findings:`` holding one), each with its label: ``row N`` (CSV:
    the spreadsheet's row, the header being row 1; YAML: the item's number)."""
    where = str(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise FindingsImportError([f"{where}: cannot read it ({exc.strerror})"]) from None
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = [(f"row {reader.line_num}", dict(r)) for r in reader]
        return [(label, {**r, "evidence": _links(r.get("evidence"))}) for label, r in rows]
    if path.suffix.lower() not in (".yaml", ".yml"):
        raise FindingsImportError([f"{where}: give a .csv, .yaml or .yml file"])
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise FindingsImportError([f"{where}: not valid YAML ({str(exc).splitlines()[0]})"]) from None
    items = data.get("findings") if isinstance(data, dict) else data
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise FindingsImportError([f"{where}: expected a list of findings (mappings), or findings: [...]"])
    return [(f"row {n}", {**i, "evidence": _links(i.get("evidence"))}) for n, i in enumerate(items, 1)]


def _links(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [v for v in re.split(r"[;\s]+", str(value)) if v]


def import_file(store: HistoryStore, inventory: Inventory, actor: Actor, path: Path) -> list[dict]:
    """Record every finding of the file as added, or none: each row is checked (columns, model, id,
    fields, who may add it) and every bad row gives one line naming the file, the row and the field."""
    rows = read_rows(path)
    if not rows:
        raise FindingsImportError([f"{path}: holds no findings"])

    def work(conn) -> list[dict]:
        known = store_findings.known_ids(conn)
        bad, good = [], []
        for label, row in rows:
            problem = _check_row(inventory, actor, row, known)
            if problem:
                bad.append(f"{path}: {label}: {problem}")
                continue
            known = known | {row["id"]}
            good.append(row)
        if bad:
            raise FindingsImportError(
                [*bad, f"{path}: nothing was recorded; fix the rows above and import again"]
            )
        return [
            _write(conn, r["id"], "added", r["_finding"], actor, f"imported from {path.name}") for r in good
        ]

    return _record(store, work)


def _check_row(inventory: Inventory, actor: Actor, row: dict, known: set[str]) -> str | None:
    unknown = sorted(k for k in row if k not in IMPORT_COLUMNS and not str(k).startswith("_"))
    if unknown:
        return f"{unknown[0]}: not a column; the columns are {', '.join(IMPORT_COLUMNS)}"
    missing = [k for k in REQUIRED if not str(row.get(k) or "").strip()]
    if missing:
        return f"{missing[0]}: missing"
    finding_id, model_id = str(row["id"]).strip(), str(row["model"]).strip()
    if model_id not in inventory.entries:
        return f"model: '{model_id}' is not in the inventory (models: {', '.join(sorted(inventory.entries))})"
    wrong = rules.check_id(finding_id, known, "the register or the file")
    if wrong:
        return f"id: {wrong}"
    fields = {"severity": str(row["severity"]).strip().lower(), "description": str(row["description"]),
              "owner": str(row["owner"]).strip(), "plan": str(row.get("plan") or ""),
              "due_date": str(row["due"]).strip(), "evidence": row["evidence"]}  # fmt: skip
    found = rules.problems(fields)
    if found:
        return f"{found[0][0].replace('due_date', 'due')}: {found[0][1]}"
    try:
        row["_finding"] = rules.add(standing(inventory, actor.person, model_id), finding_id, fields, known)
    except ReviewRefused as exc:
        return f"model: {exc}"
    except InventoryError as exc:
        return f"model: {exc}"
    row["id"] = finding_id
    return None
