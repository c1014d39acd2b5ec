"""The tamper-evident chain over the metrics history.

Every row appended to a chained table gets an entry in ``mrm_chain``: the SHA-256 of the row's canonical
content (as stored), and a chain hash over the previous entry's chain hash and this row's hash. Editing
a row changes its hash; deleting a row leaves an entry without its row; inserting a row outside the
pipeline leaves a row without an entry; deleting or reordering entries breaks the chain hashes.
``verify`` walks the chain and names the first such record. (Cutting the newest entries together with
their rows needs an outside anchor: keep the head hash that ``verify`` prints.)

Chained: runs, metric results, ticket events and inventory versions. The tickets table itself holds the
mutable open/closed state and is not chained; its trail (ticket events) is.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from mrm.store import schema

GENESIS = "0" * 64
CHAINED = {
    "mrm_runs": (schema.runs, "run_id"),
    "mrm_metrics": (schema.metric_results, "id"),
    "mrm_ticket_events": (schema.ticket_events, "id"),
    "mrm_inventory_versions": (schema.inventory_versions, "inventory_hash"),
    "mrm_purges": (schema.purges, "purge_id"),
}


def _norm(value: Any) -> Any:
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return {str(k): _norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


def row_hash(table: str, row: dict[str, Any]) -> str:
    canonical = json.dumps({k: _norm(v) for k, v in row.items()}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{table}|{canonical}".encode()).hexdigest()


def link(prev: str, table: str, key: str, rhash: str) -> str:
    return hashlib.sha256(f"{prev}|{table}|{key}|{rhash}".encode()).hexdigest()


def lock(conn: Connection) -> None:
    """Serialise appenders: PostgreSQL takes a transaction-scoped advisory lock; SQLite transactions
    already begin IMMEDIATE (see mrm.store.history), which allows one writer at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7277001)"))


def append(conn: Connection, table: str, keys: list[Any]) -> None:
    """Chain the given rows of ``table`` (read back as stored), inside the caller's transaction."""
    if not keys:
        return
    lock(conn)
    tbl, key_col = CHAINED[table]
    c = schema.chain
    prev = conn.execute(select(c.c.chain_hash).order_by(c.c.seq.desc()).limit(1)).scalar() or GENESIS
    rows = {
        str(r[key_col]): dict(r) for r in conn.execute(select(tbl).where(tbl.c[key_col].in_(keys))).mappings()
    }
    now = datetime.now(UTC)
    for key in keys:
        rhash = row_hash(table, rows[str(key)])
        chash = link(prev, table, str(key), rhash)
        conn.execute(
            c.insert().values(table_name=table, row_key=str(key), row_hash=rhash, prev_hash=prev,
                              chain_hash=chash, created_at=now)
        )  # fmt: skip
        prev = chash


def verify(engine: Engine) -> tuple[list[str], str, int]:
    """Problems found walking the chain (first problem first), the head hash, and the entries checked."""
    c = schema.chain
    problems: list[str] = []
    prev, expected_seq, count = GENESIS, None, 0
    with engine.connect() as conn:
        tables = {
            name: {str(r[key]): dict(r) for r in conn.execute(select(tbl)).mappings()}
            for name, (tbl, key) in CHAINED.items()
        }
        seen: dict[str, set[str]] = {name: set() for name in CHAINED}
        purged = purged_keys(conn)  # removed by a recorded purge after their retention period
        for entry in conn.execute(select(c).order_by(c.c.seq)).mappings():
            count += 1
            where = f"chain entry {entry['seq']} ({entry['table_name']} {entry['row_key']})"
            if expected_seq is not None and entry["seq"] != expected_seq:
                problems.append(f"{where}: entries {expected_seq}..{entry['seq'] - 1} are missing (deleted)")
            expected_seq = entry["seq"] + 1
            if (
                entry["prev_hash"] != prev
                or link(prev, entry["table_name"], entry["row_key"], entry["row_hash"]) != entry["chain_hash"]
            ):
                problems.append(
                    f"{where}: chain hash does not follow from the previous entry (altered or reordered)"
                )
            prev = entry["chain_hash"]
            row = tables.get(entry["table_name"], {}).get(entry["row_key"])
            seen.setdefault(entry["table_name"], set()).add(entry["row_key"])
            if row is None and (entry["table_name"], entry["row_key"]) not in purged:
                problems.append(f"{where}: the record was deleted")
            elif row is not None and row_hash(entry["table_name"], row) != entry["row_hash"]:
                problems.append(f"{where}: the record was edited after it was written")
        for name, rows in tables.items():
            for key in sorted(set(rows) - seen[name]):
                problems.append(f"{name} {key}: the record is not in the chain (inserted outside mrm)")
    return problems, prev, count


def head(conn: Connection) -> str:
    c = schema.chain
    return conn.execute(select(c.c.chain_hash).order_by(c.c.seq.desc()).limit(1)).scalar() or GENESIS


def purged_keys(conn) -> set[tuple[str, str]]:
    """(table, key) of every row a recorded purge removed (verify accepts their absence)."""
    out = set()
    for (keys_by_table,) in conn.execute(select(schema.purges.c["keys"])):  # .c.keys is a method
        for table, keys in keys_by_table.items():
            out.update((table, str(k)) for k in keys)
    return out
