"""Verifying the chain (``mrm audit verify``, the evidence pack): what is and is not detected is in
:mod:`mrm.store.chain`'s docstring. Reading needs the keyring only when an entry was made with a key."""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from mrm.store import chain, keys, schema
from mrm.store.retention import MIN_RETENTION_DAYS
from mrm.store.tickets import ticket_key

STATE_EVENTS = ("opened", "reopened", "closed")  # the ticket events that set its open/closed state


@dataclass
class Verification:
    problems: list[str]  # one line each, the first found first
    head: str  # the newest entry's chain hash
    count: int  # entries checked
    legacy: int  # of which written before the chain was keyed (unkeyed SHA-256: recomputable)


def verify(
    engine: Engine, *, key_source: keys.KeySource | None = None, retention_floor: int = MIN_RETENTION_DAYS
) -> tuple[list[str], str, int]:
    """Problems found walking the chain (first problem first), the head hash, and the entries checked.
    ``key_source``: where the keyring comes from (default: the one bound to the engine, see
    :func:`mrm.store.chain.keyring`); ``retention_floor``: the fewest days a purge may have kept."""
    found = examine(engine, key_source=key_source, retention_floor=retention_floor)
    return found.problems, found.head, found.count


chain._VERIFIER.append(verify)


def examine(
    engine: Engine, *, key_source: keys.KeySource | None = None, retention_floor: int = MIN_RETENTION_DAYS
) -> Verification:
    """:func:`verify`, with the count of legacy (unkeyed) entries as well."""
    c = schema.chain
    with engine.connect() as conn:
        tables = {
            name: {str(r[key]): dict(r) for r in conn.execute(select(tbl)).mappings()}
            for name, (tbl, key) in chain.CHAINED.items()
        }
        entries = [dict(e) for e in conn.execute(select(c).order_by(c.c.seq)).mappings()]
    links = _Links(_LazyRing(key_source or (lambda: chain.keyring(engine))), tables)
    for entry in entries:
        links.check(entry)
    links.finish()
    latest = {(e["table_name"], e["row_key"]): e for e in entries}
    legacy = not any(e["key_id"] for e in entries)  # never appended to since 0006: as the old code wrote it
    accepted, purge_problems = _purges(tables, latest, retention_floor, legacy)
    problems = (
        links.problems
        + _rows(entries, tables, latest, accepted, legacy)
        + purge_problems
        + _ticket_states(entries, tables)
        + _run_order(entries, tables["mrm_runs"])
    )
    return Verification(problems, links.prev, len(entries), links.legacy)


def where(entry: dict) -> str:
    table, key = entry["table_name"], entry["row_key"]
    shown = ticket_key(int(key)) if table == "mrm_tickets" and key.isdigit() else key
    return f"chain entry {entry['seq']} ({table} {shown})"


class _LazyRing:
    """The keyring, asked for when the first keyed entry is met (a legacy chain needs none)."""

    def __init__(self, source: keys.KeySource):
        self.source, self.ring = source, None

    def get(self) -> keys.Keyring:
        if self.ring is None:
            self.ring = self.source()
        return self.ring


class _Links:
    """Walks the entries in order: each must link to the one before it, with a key the keyring holds,
    and change key only right after a chained rotation to that key."""

    def __init__(self, ring: _LazyRing, tables: dict[str, dict[str, dict]]):
        self.ring, self.rotations = ring, tables["mrm_key_rotations"]
        self.problems: list[str] = []
        self.prev, self.legacy, self.before, self.unheld = chain.GENESIS, 0, None, set()
        self.streak: list[int] | None = None  # seqs of broken entries right after a reported one

    def check(self, entry: dict) -> None:
        kid = entry["key_id"]
        self.legacy += kid is None
        if self.before is not None and kid != self.before["key_id"] and not self._rotated(kid):
            self.problems.append(
                f"{where(entry)}: made with key {kid or 'none (unkeyed)'} right after an entry made with key "
                f"{self.before['key_id'] or 'none (unkeyed)'}, with no key rotation to it chained in between"
            )
        if kid is not None and self.ring.get().key(kid) is None:
            if kid not in self.unheld:
                self.unheld.add(kid)
                self.problems.append(
                    f"{where(entry)}: made with chain key {kid}, which the keyring from "
                    f"{self.ring.get().source} does not hold: its entries cannot be checked (give that key "
                    "after the current one)"
                )
        else:
            args = (self.prev, entry["table_name"], entry["row_key"], entry["row_hash"])
            broken = (
                entry["prev_hash"] != self.prev
                or chain.keyed_link(self.ring.ring, kid, *args) != entry["chain_hash"]
            )
            self._broken(entry) if broken else self.finish()
        self.prev, self.before = entry["chain_hash"], entry

    def _broken(self, entry: dict) -> None:
        """The first of consecutive broken entries gets a line; the ones after it one line together."""
        if self.streak is None:
            self.problems.append(
                f"{where(entry)}: chain hash does not follow from the entry before it (an entry was "
                "deleted or inserted there, or this one was altered or reordered)"
            )
            self.streak = []
        else:
            self.streak.append(entry["seq"])

    def finish(self) -> None:
        if self.streak:
            self.problems.append(
                f"chain entries {self.streak[0]}..{self.streak[-1]} ({len(self.streak)} after it) do not "
                "follow either: rewritten without the key"
            )
        self.streak = None

    def _rotated(self, kid: str | None) -> bool:
        """Whether the entry before is a chained rotation from its own key to ``kid``."""
        before = self.before
        if before["table_name"] != "mrm_key_rotations" or before["row_key"] != kid:
            return False
        row = self.rotations.get(kid)
        return row is not None and row["previous_key_id"] == before["key_id"]


def _rows(entries: list[dict], tables: dict, latest: dict, accepted: dict, legacy: bool) -> list[str]:
    """Each entry's row still there (or purged after it) and unchanged; each row chained (in a legacy
    chain, tickets and purges are not: the old code did not chain them, the first keyed append does)."""
    problems: list[str] = []
    seen: dict[str, set[str]] = defaultdict(set)
    for entry in entries:
        table, key = entry["table_name"], entry["row_key"]
        seen[table].add(key)
        if table in chain.VERSIONED and latest[(table, key)] is not entry:
            continue  # an earlier version of a changing row: superseded
        row = tables.get(table, {}).get(key)
        if row is None:
            if accepted.get((table, key), -1) < entry["seq"]:
                problems.append(f"{where(entry)}: the record was deleted")
        elif chain.row_hash(table, row) != entry["row_hash"]:
            problems.append(
                f"{where(entry)}: ticket {ticket_key(int(key))} differs from its last chained version "
                "(changed outside mrm)"
                if table == "mrm_tickets"
                else f"{where(entry)}: the record was edited after it was written"
            )
    for table, rows in tables.items():
        if legacy and table in chain.ADOPTED:
            continue
        for key in sorted(set(rows) - seen[table]):
            problems.append(_unchained(table, key, rows[key]))
    return problems


def _unchained(table: str, key: str, row: dict) -> str:
    if table == "mrm_tickets":
        return f"ticket {ticket_key(int(key))} is not in the chain (inserted outside mrm)"
    if table == "mrm_purges":
        return (
            f"purge {key} (records before {row['before_date']}, by {row['purged_by']}) is not in the chain "
            "(inserted outside mrm): the records it lists are not accepted as purged"
        )
    return f"{table} {key}: the record is not in the chain (inserted outside mrm)"


def _purges(
    tables: dict, latest: dict, floor: int, legacy: bool
) -> tuple[dict[tuple[str, str], int], list[str]]:
    """The rows chained purges removed ((table, key) -> the purge's entry seq), and the purges that
    break the retention policy (their rows are not accepted as gone)."""
    accepted: dict[tuple[str, str], int] = {}
    problems: list[str] = []
    for pid, purge in tables["mrm_purges"].items():
        entry = latest.get(("mrm_purges", pid))
        if legacy and entry is None:  # written by the old code, which did not chain purges
            entry = {"seq": math.inf, "row_hash": chain.row_hash("mrm_purges", purge)}
        if entry is None or chain.row_hash("mrm_purges", purge) != entry["row_hash"]:
            continue  # reported as not chained, or as edited
        label = f"purge {pid} (records before {purge['before_date']}, by {purge['purged_by']})"
        days, purged_on = purge["retention_days"], _aware(purge["purged_at"]).date()
        if days < floor:
            problems.append(
                f"{label} kept records only {days} days, below the retention floor of {floor} days: the "
                "records it removed are reported as deleted"
            )
            continue
        if purge["before_date"] > purged_on - timedelta(days=days):
            problems.append(
                f"{label} removed records younger than its retention period of {days} days (it ran on "
                f"{purged_on}): the records it removed are reported as deleted"
            )
            continue
        for table, row_keys in purge["keys"].items():
            accepted.update(((table, str(k)), entry["seq"]) for k in row_keys)
    return accepted, problems


def _ticket_states(entries: list[dict], tables: dict) -> list[str]:
    """Each ticket's open/closed state agrees with the last state event of its chained trail."""
    events = tables["mrm_ticket_events"]
    trail: dict[int, list[str]] = defaultdict(list)
    for entry in entries:
        event = events.get(entry["row_key"]) if entry["table_name"] == "mrm_ticket_events" else None
        if event is not None and event["kind"] in STATE_EVENTS:
            trail[event["ticket_id"]].append(event["kind"])
    problems = []
    for ticket in tables["mrm_tickets"].values():
        states, label = trail.get(ticket["ticket_id"]), ticket_key(ticket["ticket_id"])
        if not states:  # its trail purged (or never chained: reported above)
            continue
        if ticket["status"] == "closed" and states[-1] != "closed":
            problems.append(
                f"ticket {label} is closed but its trail has no closed event: changed outside mrm"
            )
        elif ticket["status"] != "closed" and states[-1] == "closed":
            problems.append(
                f"ticket {label} is {ticket['status']} but its trail ends with a closed event: "
                "changed outside mrm"
            )
    return problems


def _run_order(entries: list[dict], runs: dict[str, dict]) -> list[str]:
    """For the runs of one model, date and kind, finished_at follows the order they were chained in
    (the current run is the latest finished); an Airflow run's tries are chained in increasing order."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    seen: set[str] = set()
    for entry in entries:
        run = runs.get(entry["row_key"]) if entry["table_name"] == "mrm_runs" else None
        if run is not None and run["run_id"] not in seen:
            seen.add(run["run_id"])
            groups[(run["model_id"], run["logical_date"], run["kind"])].append(run)
    problems = []
    for group in groups.values():
        for i, run in enumerate(group):
            later = [r for r in group[i + 1 :] if _aware(r["finished_at"]) < _aware(run["finished_at"])]
            if later:
                problems.append(
                    f"run {run['run_id']} claims to have finished after run {later[0]['run_id']}, written "
                    "after it: its finished_at was forged"
                )
        problems += _try_order(group)
    return problems


def _try_order(group: list[dict]) -> list[str]:
    last: dict[str, tuple[int, str]] = {}
    problems = []
    for run in group:
        parsed = _airflow_try(run["triggered_by"])
        if parsed is None:
            continue
        airflow_run, attempt = parsed
        if airflow_run in last and attempt <= last[airflow_run][0]:
            problems.append(
                f"run {run['run_id']} (try {attempt} of Airflow run {airflow_run}) was written after run "
                f"{last[airflow_run][1]} (try {last[airflow_run][0]}): its triggered_by was forged"
            )
        last[airflow_run] = (attempt, run["run_id"])
    return problems


def _airflow_try(triggered_by: str) -> tuple[str, int] | None:
    """``airflow:<dag>/<run>/try<n>`` -> (``<dag>/<run>``, n); None for anything else."""
    if not triggered_by.startswith("airflow:"):
        return None
    airflow_run, _, attempt = triggered_by.removeprefix("airflow:").rpartition("/")
    digits = attempt.removeprefix("try")
    return (
        (airflow_run, int(digits)) if airflow_run and attempt.startswith("try") and digits.isdigit() else None
    )


def _aware(when: Any) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=UTC)
