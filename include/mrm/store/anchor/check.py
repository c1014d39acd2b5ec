"""Checking the history against its anchors (``mrm audit verify --anchor URI``).

Every anchor (every version of it, on S3) is read and its signature checked; then every (seq, chain hash)
any well-signed anchor vouches for must still be in the chain with that hash. A keyed chain can still be
recomputed by whoever holds the chain key; the anchors cannot be, so this catches an edit with recomputed
hashes, a reorder, a forged insert and a truncation of the newest records.
"""

from __future__ import annotations

import hmac
import json
from dataclasses import dataclass, field
from itertools import groupby
from typing import TYPE_CHECKING

from sqlalchemy import select

from mrm.errors import StoreError
from mrm.store import schema
from mrm.store.anchor import FORMAT, canonical, keyring_of
from mrm.store.anchor.stores import Stored, anchor_store, seq_of

if TYPE_CHECKING:
    from mrm.store.history import HistoryStore
    from mrm.store.keys import Keyring


@dataclass(frozen=True)
class Anchor:
    where: str
    seq: int
    chain_hash: str
    at: str
    entries: tuple[tuple[int, str], ...]


@dataclass
class Checked:
    uri: str
    anchors: list[Anchor] = field(default_factory=list)  # the well-signed ones, by seq
    problems: list[str] = field(default_factory=list)  # first by seq
    unanchored: tuple[int, int] | None = None  # chain entries after the newest anchor


def _parse(stored: Stored, ring: Keyring) -> Anchor | str:
    """The anchor, or the problem with it (naming the file)."""
    where = stored.where
    if stored.data is None:
        return f"anchor {where}: cannot be read ({stored.error})"
    try:
        doc = json.loads(stored.data)
        assert isinstance(doc, dict) and doc.get("format") == FORMAT, f"not {FORMAT}"
        anchor = Anchor(where, int(doc["seq"]), str(doc["chain_hash"]), str(doc["at"]),
                        tuple((int(s), str(h)) for s, h in doc["entries"]))  # fmt: skip
        kid, signature = str(doc["key_id"]), str(doc["signature"])
    except (ValueError, TypeError, KeyError, AssertionError) as exc:
        return f"anchor {where}: not a readable mrm anchor (garbled: {type(exc).__name__} {exc})"
    if seq_of(where.split("?", 1)[0]) != anchor.seq:
        return f"anchor {where}: its name does not match the chain entry it anchors ({anchor.seq})"
    try:
        expected = ring.mac(kid, canonical(doc))
    except StoreError as exc:
        return f"anchor {where}: cannot check its signature: {exc}"
    if not hmac.compare_digest(expected, signature):
        return f"anchor {where}: the signature does not match its content: the anchor was altered or forged"
    return anchor


def _compare(anchors: list[Anchor], chain: dict[int, tuple[str, str]]) -> list[tuple[int, str]]:
    """Problems (seq, line): anchored entries missing, rewritten (the first only: the rest follow from
    it), or beyond the end of the chain."""
    claims = sorted({(s, h, a.at, a.where) for a in anchors for s, h in (*a.entries, (a.seq, a.chain_hash))})
    last, newest = max(chain, default=0), max((a.seq for a in anchors), default=0)
    out: list[tuple[int, str]] = []
    missing: list[tuple[int, str, str]] = []  # (seq, at, where) of anchored entries no longer there
    rewritten = False
    for seq, group in groupby(claims, key=lambda c: c[0]):
        group = list(group)
        _, _, at, where = group[0]
        if seq > last:
            out.append((seq, f"the history ends at chain entry {last}, but entry {seq} was anchored at {at} "
                             f"({where}) and the anchors reach entry {newest}: the newest records were cut "
                             "off (truncated)"))  # fmt: skip
            break
        if seq not in chain:
            missing.append((seq, at, where))
            continue
        chash, what = chain[seq]
        wrong = [c for c in group if c[1] != chash]
        if wrong and not rewritten:
            rewritten = True
            _, _, at, where = wrong[0]
            out.append((seq, f"chain entry {seq} ({what}) differs from the hash anchored at {at} ({where}): "
                             "the chain was rewritten from this entry on (an edit with recomputed hashes, a "
                             "reorder or a forged insert)"))  # fmt: skip
    for gap in _consecutive(missing):
        (seq, at, where), end = gap[0], gap[-1][0]
        more = f" (nor are the next {len(gap) - 1} anchored entries, to {end})" if len(gap) > 1 else ""
        out.append((seq, f"chain entry {seq} was anchored at {at} ({where}) but is no longer in the "
                         f"history{more}: records were cut or deleted"))  # fmt: skip
    return out


def _consecutive(items: list[tuple]) -> list[list[tuple]]:
    """``items`` (sorted by their first field, a seq) in runs of consecutive seqs."""
    runs: list[list[tuple]] = []
    for item in items:
        if runs and runs[-1][-1][0] == item[0] - 1:
            runs[-1].append(item)
        else:
            runs.append([item])
    return runs


def _chain(store: HistoryStore) -> dict[int, tuple[str, str]]:
    c = schema.chain
    with store.engine.connect() as conn:
        rows = conn.execute(select(c.c.seq, c.c.chain_hash, c.c.table_name, c.c.row_key).order_by(c.c.seq))
        return {r.seq: (r.chain_hash, f"{r.table_name} {r.row_key}") for r in rows}


def check(store: HistoryStore, uri: str) -> Checked:
    """Read every anchor at ``uri`` and check the history's chain against them."""
    target = anchor_store(uri)
    ring = keyring_of(store)
    found, bad = [], []
    for stored in target.read_all():
        parsed = _parse(stored, ring)
        if isinstance(parsed, Anchor):
            found.append(parsed)
        else:
            bad.append((seq_of(stored.where.split("?", 1)[0]) or 0, parsed))
    chain = _chain(store)
    out = Checked(target.uri, sorted(found, key=lambda a: (a.seq, a.at, a.where)))
    problems = bad + _compare(out.anchors, chain)
    if chain and not found and not bad:
        problems.append((0, f"no anchors in {target.uri}: nothing outside the database vouches for the "
                            "chain; run `mrm audit anchor` (or check the anchor URI)"))  # fmt: skip
    out.problems = [line for _, line in sorted(problems, key=lambda p: p[0])]
    newest, last = max((a.seq for a in found), default=0), max(chain, default=0)
    if last > newest:
        out.unanchored = (newest + 1, last)
    return out
