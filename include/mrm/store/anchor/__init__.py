"""Anchors: the chain head published outside the database, where the workers cannot rewrite it.

An anchor is one JSON object, ``<prefix>/<seq:012d>.json``, written once::

    {"format": "mrm-anchor/1", "history": <the history's URL without password>, "seq": N,
     "chain_hash": <entry N's chain hash>, "key_id": <chain key id>, "at": <UTC ISO time>,
     "entries": [[seq, chain_hash], ...],   # every entry after the previous anchor (all, for the first)
     "signature": <HMAC-SHA256 of the canonical JSON without "signature", with the chain key>}

Whoever holds the database (even with the chain key, so every HMAC in the chain can be recomputed) cannot
change what the anchors say: ``mrm audit verify --anchor URI`` (:func:`mrm.store.anchor.check.check`)
then finds every anchored entry missing, rewritten or cut off. Every monitoring and governance run anchors
after it records (:func:`after_record`); ``mrm audit anchor`` does it by hand.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from sqlalchemy import select

from mrm import settings
from mrm.errors import MrmError, StoreError
from mrm.store import keys, schema
from mrm.store.anchor.stores import anchor_store, name_of

if TYPE_CHECKING:
    from mrm.store.history import HistoryStore

FORMAT = "mrm-anchor/1"
log = logging.getLogger("mrm.anchor")

__all__ = ["FORMAT", "Published", "after_record", "canonical", "keyring_of", "publish"]


def keyring_of(store: HistoryStore) -> keys.Keyring:
    """The chain's keyring: the store's own when it has one, else from the settings."""
    if callable(getattr(store, "keyring", None)):
        return store.keyring()
    return keys.from_settings(store.url)


def canonical(doc: dict) -> str:
    """What the signature covers: the anchor without its signature, as sorted compact JSON."""
    return json.dumps(
        {k: v for k, v in doc.items() if k != "signature"}, sort_keys=True, separators=(",", ":")
    )


@dataclass(frozen=True)
class Published:
    store_uri: str  # the anchor store
    where: str  # the anchor object of the head
    seq: int
    chain_hash: str
    entries: int  # entries this anchor covers (0 when the head was already anchored)
    written: bool  # False: the head was already anchored (by an earlier or a concurrent anchor)


def _chain_from(store: HistoryStore, first: int) -> tuple[int, str, dict[int, str]]:
    """The head (seq, hash) and the entries from ``first`` on up to the head, in one read."""
    c = schema.chain
    with store.engine.connect() as conn:
        head = conn.execute(select(c.c.seq, c.c.chain_hash).order_by(c.c.seq.desc()).limit(1)).first()
        if head is None:
            return 0, "", {}
        rows = conn.execute(
            select(c.c.seq, c.c.chain_hash).where(c.c.seq >= first, c.c.seq <= head.seq).order_by(c.c.seq)
        )
        return head.seq, head.chain_hash, {r.seq: r.chain_hash for r in rows}


def _anchored_hash(target, seq: int) -> str | None:
    try:
        return json.loads(target.read(seq) or b"null")["chain_hash"]
    except (ValueError, TypeError, KeyError):
        return None  # garbled: `mrm audit verify --anchor` names it


def publish(store: HistoryStore, uri: str) -> Published | None:
    """Anchor the chain head to the store at ``uri`` (None: the history has no entries yet). Safe to run
    concurrently: the second writer of the same head finds it written."""
    target = anchor_store(uri)
    anchored = target.seqs()
    newest = anchored[-1] if anchored else 0
    head, head_hash, chain = _chain_from(store, newest)
    if head == 0:
        return None
    verify = f"run `mrm audit verify --anchor {target.uri}`"
    if newest > head:
        raise StoreError(
            f"the anchor store {target.uri} holds an anchor of chain entry {newest}, but the history at "
            f"{store.safe_url} ends at entry {head}: records were cut off, or the anchors are another "
            f"history's; {verify}"
        )
    if newest and _anchored_hash(target, newest) not in (None, chain.get(newest)):
        raise StoreError(  # never anchor on top of a rewritten chain: say so where it is noticed
            f"chain entry {newest} of {store.safe_url} differs from its anchor "
            f"{target.uri}{name_of(newest)}: the chain was rewritten since; {verify}"
        )
    where = target.uri + name_of(head)
    if newest == head:
        return Published(target.uri, where, head, head_hash, 0, False)
    entries = [[seq, h] for seq, h in chain.items() if seq > newest]
    ring = keyring_of(store)
    doc = {"format": FORMAT, "history": store.safe_url, "seq": head, "chain_hash": head_hash,
           "key_id": ring.current_id, "at": datetime.now(UTC).isoformat(timespec="seconds"),
           "entries": entries}  # fmt: skip
    doc["signature"] = ring.mac(ring.current_id, canonical(doc))
    written = target.write_once(head, (json.dumps(doc, sort_keys=True) + "\n").encode())
    return Published(target.uri, where, head, head_hash, len(entries) if written else 0, written)


def after_record(store: HistoryStore, model_id: str, day: date) -> Published | None:
    """Anchor after a run was recorded. The run is committed already: a failure here must not lose,
    duplicate or retry it, so it is logged as one line and the next anchor covers these entries."""
    uri = settings.audit_anchor_uri()
    try:
        return publish(store, uri)
    except Exception as exc:  # any failure: logged, never raised over a recorded run
        reason = str(exc) if isinstance(exc, MrmError) else f"{type(exc).__name__}: {exc}"
        log.error(
            "%s %s: the run is recorded, but the chain head was not anchored to %s: %s; run `mrm audit "
            "anchor` (the next anchor covers these records)", model_id, day, uri, reason.splitlines()[0]
        )  # fmt: skip
        return None
