"""The tamper-evident chain over the metrics history, keyed with a secret held outside the database.

Every row mrm writes to a chained table, and every change of a ticket, gets an entry in ``mrm_chain``:
the SHA-256 of the row's canonical content (as stored) and a chain hash, HMAC-SHA256 with the chain key
(:mod:`mrm.store.keys`) over the previous entry's chain hash, the table, the row's key and the row hash.
The entry names the key (``key_id``); entries written before the chain was keyed (``key_id`` NULL) are
checked as the old unkeyed SHA-256 and counted as legacy. ``verify`` (in :mod:`mrm.store.verify`) walks
the chain and reports, one line each:

- a row edited after it was written (its hash no longer matches its entry); a ticket changed other than
  by mrm (its row does not match its latest chained version, or its open/closed state disagrees with its
  chained trail of events);
- a row deleted (an entry without its row), unless a chained purge lists it, came after it and kept the
  retention floor; a purge row not in the chain, below the floor or purging too young a date;
- a row inserted outside mrm (a row without an entry);
- an entry deleted, altered, inserted or reordered: its link to the entry before it breaks (sequence
  numbers are not used: PostgreSQL leaves gaps after a rollback);
- an entry made with a key the keyring does not hold, and a change of key not recorded as a rotation;
- a run whose finished_at contradicts the order the runs of its model, date and kind were written in
  (so a forged finished_at cannot make it the current run), and Airflow tries written out of order.

Not detected: whoever holds the chain key (or a worker running mrm's code) can write chained rows that
look genuine (finding 4: a plausible rerun); cutting the newest entries together with their rows, or
rewriting the whole chain in the legacy unkeyed form (it then verifies as all legacy: ``examine`` counts
those entries), shows only against a head kept outside the database. Two runs of one model and date
finishing within moments of each other but written in the other order would be reported as forged.

Chained: runs, metric results, ticket events, tickets (every version), inventory versions, purges, key
rotations, review acts and the events of validation findings. Tickets and purges written before 0006 are
chained as found by the first keyed append.
"""

from __future__ import annotations

import hashlib
import json
import weakref
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select, text

from mrm.errors import StoreError
from mrm.store import keys, schema

GENESIS = "0" * 64
CHAINED = {
    "mrm_runs": (schema.runs, "run_id"),
    "mrm_metrics": (schema.metric_results, "id"),
    "mrm_ticket_events": (schema.ticket_events, "id"),
    "mrm_inventory_versions": (schema.inventory_versions, "inventory_hash"),
    "mrm_tickets": (schema.tickets, "ticket_id"),  # versioned: one entry per insert and per update
    "mrm_purges": (schema.purges, "purge_id"),
    "mrm_key_rotations": (schema.key_rotations, "key_id"),
    "mrm_review_acts": (schema.review_acts, "act_id"),
    "mrm_findings_events": (schema.findings_events, "event_id"),
}
VERSIONED = ("mrm_tickets",)  # rows that change: verify compares each with its latest chained version
ADOPTED = ("mrm_tickets", "mrm_purges")  # not chained before 0006: chained as found when first keyed
ROTATED_BY = "mrm"


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


def message(prev: str, table: str, key: str, rhash: str) -> str:
    """What a chain hash is computed over."""
    return f"{prev}|{table}|{key}|{rhash}"


def link(prev: str, table: str, key: str, rhash: str) -> str:
    """The legacy, unkeyed chain hash (entries with key_id NULL, written before the chain was keyed)."""
    return hashlib.sha256(message(prev, table, key, rhash).encode()).hexdigest()


def keyed_link(ring: keys.Keyring, kid: str | None, prev: str, table: str, key: str, rhash: str) -> str:
    """The chain hash of an entry made with key ``kid`` (None: the legacy unkeyed form)."""
    if kid is None:
        return link(prev, table, key, rhash)
    return ring.mac(kid, message(prev, table, key, rhash))


# -- the keyring of an engine: resolved on the first append or verify, never for reads ---------------
_SOURCES: weakref.WeakKeyDictionary[Engine, keys.KeySource] = weakref.WeakKeyDictionary()


def bind(engine: Engine, key_source: keys.KeySource) -> None:
    """Where appends and verification on ``engine`` get the keyring from (HistoryStore binds its own)."""
    _SOURCES[engine] = key_source


def keyring(engine: Engine) -> keys.Keyring:
    """The keyring bound to ``engine``, else the one the settings give for its database."""
    source = _SOURCES.get(engine)
    if source is not None:
        return source()
    return keys.from_settings(engine.url.render_as_string(hide_password=False))  # for the lookup only


def lock(conn: Connection) -> None:
    """Serialise appenders: PostgreSQL takes a transaction-scoped advisory lock; SQLite transactions
    already begin IMMEDIATE (see mrm.store.history), which allows one writer at a time."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(7277001)"))


def _head(conn: Connection) -> tuple[str, str | None, bool]:
    """The head's chain hash and key id, and whether the chain has any entry."""
    c = schema.chain
    row = conn.execute(select(c.c.chain_hash, c.c.key_id).order_by(c.c.seq.desc()).limit(1)).first()
    return (row.chain_hash, row.key_id, True) if row is not None else (GENESIS, None, False)


def head(conn: Connection) -> str:
    return _head(conn)[0]


def append(conn: Connection, table: str, row_keys: list[Any]) -> None:
    """Chain the given rows of ``table`` (read back as stored), inside the caller's transaction, with the
    current key of the engine's keyring; a new current key is first recorded as a rotation."""
    if not row_keys:
        return
    ring = keyring(conn.engine)  # before the lock: finding the key may ask Airflow
    lock(conn)
    prev, kid, started = _head(conn)
    if started and kid != ring.current_id:
        prev = _rotate(conn, ring, prev, kid, (table, row_keys))
    _write(conn, ring, ring.current_id, prev, table, row_keys)


def _write(conn: Connection, ring: keys.Keyring, kid: str | None, prev: str, table: str, row_keys) -> str:
    tbl, key_col = CHAINED[table]
    c = schema.chain
    rows = {
        str(r[key_col]): dict(r)
        for r in conn.execute(select(tbl).where(tbl.c[key_col].in_(row_keys))).mappings()
    }
    now = datetime.now(UTC)
    for key in row_keys:
        rhash = row_hash(table, rows[str(key)])
        chash = keyed_link(ring, kid, prev, table, str(key), rhash)
        conn.execute(
            c.insert().values(table_name=table, row_key=str(key), row_hash=rhash, prev_hash=prev,
                              chain_hash=chash, created_at=now, key_id=kid)
        )  # fmt: skip
        prev = chash
    return prev


def _rotate(conn: Connection, ring: keys.Keyring, prev: str, old: str | None, pending) -> str:
    """Record in the chain, under the old key, that entries from here on use the keyring's current key.
    From the legacy unkeyed chain, first chain the tickets and purges the old code left unchained."""
    new = ring.current_id
    if old is not None and ring.key(old) is None:
        raise StoreError(
            f"the chain was last extended with key {old}, which the keyring from {ring.source} does not "
            "hold: give the current key first and that key after it"
        )
    kr = schema.key_rotations
    if conn.execute(select(kr.c.key_id).where(kr.c.key_id == new)).first() is not None:
        raise StoreError(
            f"chain key {new} (from {ring.source}) was used before and rotated out; rotate to a new key "
            f"and keep {old} after it"
        )
    conn.execute(kr.insert().values(key_id=new, previous_key_id=old, rotated_at=datetime.now(UTC),
                                    rotated_by=ROTATED_BY))  # fmt: skip
    prev = _write(conn, ring, old, prev, "mrm_key_rotations", [new])
    if old is None:
        for table in ADOPTED:
            skip = {str(k) for k in pending[1]} if pending[0] == table else set()
            found = [k for k in _unchained(conn, table) if str(k) not in skip]
            if found:
                prev = _write(conn, ring, new, prev, table, found)
    return prev


def _unchained(conn: Connection, table: str) -> list[Any]:
    tbl, key_col = CHAINED[table]
    c = schema.chain
    chained = {k for (k,) in conn.execute(select(c.c.row_key).where(c.c.table_name == table))}
    return [
        k for (k,) in conn.execute(select(tbl.c[key_col]).order_by(tbl.c[key_col])) if str(k) not in chained
    ]


_VERIFIER: list = []  # mrm.store.verify registers itself there (it needs retention, which needs this module)


def verify(engine: Engine, **options: Any) -> tuple[list[str], str, int]:
    """Problems found walking the chain (first problem first), the head hash, and the entries checked.
    Options: ``key_source`` (a callable returning the keyring), ``retention_floor`` (days); see
    :func:`mrm.store.verify.verify` (importing :mod:`mrm.store` loads it)."""
    return _VERIFIER[0](engine, **options)
