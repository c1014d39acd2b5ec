"""A day's aggregate from counts its source computed (the Athena pushdown,
:mod:`mrm.sources.athena.pushdown`):
:func:`plan_for` says what to count (the reference's edges and categories, the inventory's bounds, the
stated limits of :mod:`mrm.checks.engine.bounds`), :func:`aggregate_counted` runs the sample and the
counts and fills the same accumulators the streamed day fills, so every check reads it unchanged.

Equal to the streamed aggregate on the same rows: every count exactly; sums (the bins' sums, the score's
total) to floating-point rounding (the engine adds in its own order); the newest event to the millisecond
(Athena's timestamp). Where it differs by design: the sample (the rows with the smallest seeded hash of
their event id, not the streamed reservoir's), and, only past the stated limits, which values are kept
one by one (the day's largest, where the stream keeps them as they come).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import numpy as np

from mrm.checks.engine.bounds import (
    HASH_DIGITS,
    MAX_SEGMENT_VALUE_CHARS,
    MAX_SEGMENT_VALUES,
    MAX_VALUE_CHARS,
    OTHER_SEGMENT,
    bounded_table,
    escaped,
    folded_sample,
    label,
)
from mrm.checks.engine.day_aggregate import DayAggregate, DayAggregator
from mrm.checks.engine.profile import ReferenceProfile
from mrm.errors import NoDataError
from mrm.inventory import ModelEntry
from mrm.sources.athena.pushdown import CategoricalSpec, NumericSpec, Plan, SegmentSpec
from mrm.sources.contract import (
    categorical_columns,
    check_batch_types,
    check_columns,
    numeric_columns,
    required_columns,
)


def plan_for(agg: DayAggregator, sample_rows: int, seed: int) -> Plan:
    """What the source must count for ``agg``'s accumulators (fresh, from :class:`DayAggregator`)."""
    numeric = [
        NumericSpec(
            c,
            a.profile.sketch.edges if a.profile.sketch is not None else None,
            a.low,
            a.high,
            a.with_sums or a.with_total,
        )
        for c, a in agg.numeric.items()
    ]
    categorical = [CategoricalSpec(c, tuple(sorted(a.keep)), a.new) for c, a in agg.categorical.items()]
    segments = []
    numeric_names = set(numeric_columns(agg.entry))
    for seg, g in agg.segments.items():
        for c in dict.fromkeys([*g.features, *g.psi, "score"]):
            is_numeric, psi = c in numeric_names, c in g.psi
            edges = {v: p.numeric[c].edges for v, p in g.profiles.items() if psi and c in p.numeric}
            keep = sorted(
                {k for p in g.profiles.values() if c in p.categorical for k in p.categorical[c].counts}
            )
            segments.append(SegmentSpec(
                seg, c, is_numeric, {v: e for v, e in edges.items() if v != OTHER_SEGMENT},
                edges.get(OTHER_SEGMENT), tuple(keep if psi else ()), tuple(sorted(g.profiles)),
            ))  # fmt: skip
    plan = Plan(numeric, categorical, segments, sample_rows, seed, MAX_VALUE_CHARS, MAX_SEGMENT_VALUE_CHARS,
                MAX_SEGMENT_VALUES)  # fmt: skip
    return replace(plan, sample_rows=sample_size(plan, sample_rows))


# -- what leaves the engine ---------------------------------------------------------------------------------
RETURN_BYTES = 1_000_000  # per model-day at most, counts and sample together, as UNLOAD's Parquet files
MIN_SAMPLE_ROWS = 500  # the evidence sample's floor (the report's plots, the GX result on a sample)
# Bytes of a result row in UNLOAD's Parquet (snappy), taken above what bench/bench_pushdown.py measures on
# the bench_scale shape: a numeric bin with its sum 13.5 (14 taken), without 4.5 (5); a category or a
# segment's bin about 10 (16); a sample row 8 per number or timestamp (random doubles do not compress),
# 16 for the event id, 2 per categorical (dictionary codes); a result file's footer about 3 kB (8 kB).
BIN_SUM_BYTES, BIN_BYTES, ROW_BYTES, FILE_BYTES = 14, 5, 16, 8_000


def counts_bytes(plan: Plan) -> int:
    """The counts' bytes if every fine bin and every reference category is returned (an upper estimate: a
    day fills at most the reference's bins, plus a null row; new categories and segment values apart)."""
    bins = sum(((s.edges.size + 2) if s.edges is not None else 2) * (BIN_SUM_BYTES if s.sums else BIN_BYTES)
               for s in plan.numeric)  # fmt: skip
    categories = sum(len(s.keep) + 2 for s in plan.categorical) * ROW_BYTES
    segments = 0
    for s in plan.segments:
        per_value = max((e.size + 2 for e in s.edges.values()), default=2) if s.numeric else len(s.keep) + 2
        segments += (len(s.named) + 1) * per_value * ROW_BYTES
    return bins + categories + segments + 2 * ROW_BYTES + FILE_BYTES * 3


def sample_row_bytes(plan: Plan) -> int:
    """A sample row's bytes (event_ts and the numbers 8, event_id 16, a categorical 2)."""
    return 8 * (len(plan.numeric) + 1) + 16 + 2 * len(plan.categorical)


def sample_size(plan: Plan, wanted: int) -> int:
    """The sample's rows: ``wanted`` (MRM_SAMPLE_ROWS) if the counts leave room for them within
    :data:`RETURN_BYTES`, else as many as fit, at least :data:`MIN_SAMPLE_ROWS`. Every stored metric comes
    from the counts; the sample feeds the report's plots and the GX result (labelled as a sample), and
    the exact KS/Wasserstein only when it holds the whole day (else the sketch's stated bounds hold)."""
    room = (RETURN_BYTES - counts_bytes(plan) - FILE_BYTES) // sample_row_bytes(plan)
    return int(min(wanted, max(room, MIN_SAMPLE_ROWS)))


def aggregate_counted(
    pushdown, entry: ModelEntry, profile: ReferenceProfile, day: date, *, sample_rows: int, seed: int,
    where: str, empty: str,
) -> DayAggregate:  # fmt: skip
    """Ask ``pushdown`` (a :class:`~mrm.sources.athena.pushdown.PushdownDay`) for the day's sample (its
    schema is checked against the contract first), then its counts, into a :class:`DayAggregate`."""
    import time as clock

    import pyarrow as pa

    started = clock.perf_counter()
    agg = DayAggregator(entry, profile, day, sample_rows, seed)
    plan = plan_for(agg, sample_rows, seed)
    sample = pushdown.sample(plan)
    agg.columns.update(sample.schema.names)
    check_columns(agg.columns, entry, where)
    if sample.num_rows == 0:
        raise NoDataError(empty)
    check_batch_types(sample.to_batches()[0] if sample.num_rows else sample, entry, where)
    fill(agg, _typed(pushdown.counts(plan)).to_pylist())
    agg.ids.finish()
    for a in [*agg.categorical.values(), *(a for g in agg.segments.values() for a in g.categories.values())]:
        a.fold()
    sample = pa.Table.from_batches(sample.to_batches(), sample.schema)  # the contract's columns, as streamed
    sample = sample.select([c for c in required_columns(entry) if c in sample.column_names])
    kept = folded_sample(bounded_table(sample), categorical_columns(entry))
    info = {"files": 0, "batch_rows": 0, "seconds": round(clock.perf_counter() - started, 3),
            "pushdown": pushdown.info(),
            "sample": {"rows": kept.num_rows, "size": plan.sample_rows, "seed": seed, "population": agg.rows,
                       "method": "smallest xxhash64(seed || event_id)",
                       "budget": {"bytes": RETURN_BYTES, "counts_estimate": counts_bytes(plan),
                                  "row_bytes": sample_row_bytes(plan), "wanted": sample_rows}}}  # fmt: skip
    return DayAggregate(day, agg.rows, sorted(agg.columns), agg.numeric, agg.categorical, agg.ids, agg.times,
                        kept, info, agg.segments)  # fmt: skip


_INTEGERS = ("slen", "len", "bin", "n", "out")


def _typed(table):
    """The counts with integers as int64 and sums as float64 (DuckDB's sum of a bigint is a 128-bit one)."""
    import pyarrow as pa

    for i, name in enumerate(table.column_names):
        kind = pa.int64() if name in _INTEGERS else pa.float64() if name in ("total", "lo", "hi") else None
        if kind is not None and table.schema.field(i).type != kind:
            table = table.set_column(i, name, table.column(i).cast(kind))
    return table


def fill(agg: DayAggregator, facts: list[dict[str, Any]]) -> None:
    """The accumulators of ``agg`` from the counts query's rows (the template's header says each kind)."""
    inside = 0
    for f in facts:
        kind = f["kind"]
        if kind == "numeric":
            _numeric(agg.numeric[f["col"]], f)
        elif kind == "categorical":
            _categorical(agg.categorical[f["col"]], f)
        elif kind == "ids":
            agg.ids.nulls, agg.ids.n, agg.ids.duplicated = f["bin"] or 0, f["n"] or 0, f["out"] or 0
            agg.rows = agg.ids.nulls + agg.ids.n
        elif kind == "times":
            agg.times.nulls, inside = f["bin"] or 0, f["n"] or 0
            if f["hi"] is not None:
                agg.times.newest = int(f["hi"]) * 10**6
    agg.times.outside = agg.rows - inside
    for seg, g in agg.segments.items():
        _segment(g, [f for f in facts if f["kind"] == "segment" and f["col"].split("/")[0] == seg])


def _numeric(a, f: dict[str, Any]) -> None:
    n = int(f["n"])
    if f["bin"] is None:
        a.nulls += n
        return
    a.n += n
    if a.with_total:
        a._total += np.longdouble(f["total"])
    lo, hi = f["lo"], f["hi"]  # on the lowest bin only, and on the highest
    a.min, a.max = min(a.min, a.min if lo is None else lo), max(a.max, a.max if hi is None else hi)
    a.out_of_range += int(f["out"] or 0)
    sketch = a.profile.sketch
    if sketch is None:
        return
    b = int(f["bin"])
    if a.counts is None:
        a.counts = np.zeros(sketch.bins, dtype=np.int64)
        if a.with_sums:
            a.sums = np.zeros(sketch.bins)
    a.counts[b] += n
    if a.with_sums:
        a.sums[b] += float(f["total"])
    if b == 0:
        a.below_sum += float(f["total"])
    if b == sketch.bins - 1:
        a.above_sum += float(f["total"])


def label_of(key: str, length: int | None, digest: str | None, limit: int) -> str:
    """:func:`~mrm.checks.engine.bounds.label` of a value from its first characters, length and sha256
    (a value longer than ``limit`` is returned as those three)."""
    if digest is None:
        return label(key, limit)
    marker = f"…[{length} chars, sha256 {digest[:HASH_DIGITS]}]"
    return escaped(key)[: max(limit - len(marker), 0)] + marker


def _categorical(a, f: dict[str, Any]) -> None:
    from mrm.checks.engine.bounds import OTHER_CATEGORIES

    n = int(f["n"])
    if f["out"]:
        a.counts[OTHER_CATEGORIES] = a.counts.get(OTHER_CATEGORIES, 0) + n
        a.oversized += int(f["total"] or 0)
    elif f["key"] is None:
        a.nulls += n
    else:
        key = label_of(f["key"], f["len"], f["digest"], MAX_VALUE_CHARS)
        a.counts[key] = a.counts.get(key, 0) + n
        a.oversized += n if f["len"] > MAX_VALUE_CHARS else 0


def _segment(g, facts: list[dict[str, Any]]) -> None:
    """One segment column's accumulator from its facts (``col``: segment/column)."""
    from mrm.checks.engine.accumulators import CategoricalAgg

    values = _capped(g, facts)
    for f in facts:
        v, c, n = values[_raw(f)], f["col"].split("/", 1)[1], int(f["n"])
        missing = f["bin"] is None and f["key"] is None and f["digest"] is None
        if c == _first(g):
            g.rows[v] = g.rows.get(v, 0) + n
        g.nulls[(v, c)] = g.nulls.get((v, c), 0) + (n if missing else 0)
        if c == "score" and not missing:
            total = g.score.setdefault(v, [0.0, 0])
            total[0] += float(f["total"] or 0.0)
            total[1] += n
        ref = g.profiles.get(v)
        if ref is None or c not in g.psi:
            continue
        if c in ref.numeric:
            counts = g.counts.setdefault((v, c), np.zeros(ref.numeric[c].edges.size + 1, dtype=np.int64))
            if not missing:
                counts[int(f["bin"])] += n
            continue
        keep = frozenset(ref.categorical[c].counts) if c in ref.categorical else frozenset()
        cat = g.categories.setdefault((v, c), CategoricalAgg(keep=keep, new=0))
        if missing:
            cat.nulls += n
        else:
            key = label(f["key"]) if f["key"] is not None else "\n(not a reference category)"
            cat.counts[key] = cat.counts.get(key, 0) + n
    for v in g.rows:
        g.score.setdefault(v, [0.0, 0])


def _first(g) -> str:
    return next(iter(dict.fromkeys([*g.features, *g.psi, "score"])))


def _raw(f: dict[str, Any]) -> tuple:
    return (f["out"], f["seg"], f["slen"], f["sdigest"])


def _capped(g, facts: list[dict[str, Any]]) -> dict[tuple, str]:
    """Each returned segment value's label: the reference's values, then the new ones with most rows
    while room is left (``MAX_SEGMENT_VALUES``); the others, and those returned together, ``(other)``."""
    rows: dict[tuple, int] = {}
    first = f"{g.column}/{_first(g)}"
    for f in facts:
        if f["col"] == first:
            rows[_raw(f)] = rows.get(_raw(f), 0) + int(f["n"])
    labels = {r: OTHER_SEGMENT if r[0] else label_of(r[1], r[2], r[3], MAX_SEGMENT_VALUE_CHARS) for r in rows}
    room = MAX_SEGMENT_VALUES - len(set(g.profiles) - {OTHER_SEGMENT})
    new = sorted((r for r, v in labels.items() if v not in g.profiles and v != OTHER_SEGMENT),
                 key=lambda r: (-rows[r], labels[r]))  # fmt: skip
    for r in new[max(room, 0) :]:
        labels[r] = OTHER_SEGMENT
    return labels
