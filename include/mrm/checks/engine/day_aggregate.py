"""A day reduced to counts against the reference profile (:class:`DayAggregate`), which every quality
and drift metric is computed from, and how record batches are counted into one (:class:`DayAggregator`).

The aggregate travels between the run's steps, and stays in the run's evidence, as one ``.npz`` file
(:meth:`DayAggregate.to_bytes`): the counts, JSON scalars, and the sample as compact Parquet.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import numpy as np

from mrm.checks.engine.accumulators import (
    CategoricalAgg,
    IdAgg,
    NumericAgg,
    Reservoir,
    SegmentAgg,
    TimeAgg,
)
from mrm.checks.engine.bounds import label
from mrm.checks.engine.profile import ReferenceProfile
from mrm.checks.engine.profiling import segment_columns
from mrm.checks.engine.sample_parquet import sample_parquet
from mrm.inventory import ModelEntry
from mrm.sources.contract import (
    categorical_columns,
    dtype_name,
    not_numeric,
    numeric_columns,
    numeric_values,
    wrong_types,
)

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass
class DayAggregate:
    """One day's counts per column, its segments' counts and its seeded sample."""

    day: date
    rows: int
    columns: list[str]  # every column of the day's files
    numeric: dict[str, NumericAgg]
    categorical: dict[str, CategoricalAgg]
    ids: IdAgg
    times: TimeAgg
    sample: pa.Table | None
    info: dict[str, Any]  # files, batch_rows, sample (rows, seed, population), seconds
    segments: dict[str, SegmentAgg] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        """True if the sample holds every row of the day (exact statistics on the values)."""
        return self.sample is not None and self.sample.num_rows == self.rows

    def to_bytes(self) -> bytes:
        """The aggregate as one .npz, e.g. for the next task: the counts and sums as deflated arrays,
        ``meta`` (JSON scalars), and ``sample``, the sample as zstd Parquet with each column in its own
        type and smallest encoding (:func:`~mrm.checks.engine.sample_parquet.sample_parquet`), stored
        without a second compression. :meth:`from_bytes` also reads the earlier layouts (snappy Parquet
        in a stored .npz; zstd dictionary Parquet in a deflated one): ``np.load`` and Parquet detect
        their own compression and encodings."""
        import json

        arrays: dict[str, np.ndarray] = {}
        t = self.times
        meta = {"day": self.day.isoformat(), "rows": self.rows, "columns": self.columns, "info": self.info,
                "ids": [self.ids.nulls, self.ids.n, self.ids.duplicated],
                "times": [t.start, t.end, t.nulls, t.outside, t.newest],
                "categorical": {c: [a.counts, a.nulls, a.oversized] for c, a in self.categorical.items()},
                "numeric": {}, "segments": {}}  # fmt: skip
        for c, a in self.numeric.items():
            meta["numeric"][c] = a.state()
            for part in ("counts", "sums"):
                if getattr(a, part) is not None:
                    arrays[f"numeric/{c}/{part}"] = getattr(a, part)
        for i, (seg, g) in enumerate(self.segments.items()):
            keys = list(g.counts)
            arrays.update({f"segments/{i}/{j}": g.counts[k] for j, k in enumerate(keys)})
            meta["segments"][seg] = {
                "index": i, "rows": g.rows, "score": g.score, "counted": keys,
                "nulls": [[v, c, n] for (v, c), n in g.nulls.items()],
                "categories": [[v, c, a.counts, a.nulls] for (v, c), a in g.categories.items()],
            }  # fmt: skip
        arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        stored = {} if self.sample is None else {"sample": sample_parquet(self.sample)}
        return npz_bytes(arrays, stored)

    @classmethod
    def from_bytes(cls, data: bytes, profile: ReferenceProfile, entry: ModelEntry) -> DayAggregate:
        import json

        import pyarrow.parquet as pq

        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays["meta"].tobytes())
        template = DayAggregator(entry, profile, date.fromisoformat(meta["day"]), 0, 0)
        for c, state in meta["numeric"].items():
            template.numeric[c].restore(
                state, arrays.get(f"numeric/{c}/counts"), arrays.get(f"numeric/{c}/sums")
            )
        for c, (counts, nulls, *more) in meta["categorical"].items():
            template.categorical[c] = CategoricalAgg(counts, nulls, *more)
        for seg, m in meta["segments"].items():
            g = template.segments[seg]
            g.rows, g.score = m["rows"], m["score"]
            g.nulls = {(v, c): n for v, c, n in m["nulls"]}
            g.counts = {(v, c): arrays[f"segments/{m['index']}/{j}"] for j, (v, c) in enumerate(m["counted"])}
            g.categories = {(v, c): CategoricalAgg(counts, nulls) for v, c, counts, nulls in m["categories"]}
        template.ids.nulls, template.ids.n, template.ids.duplicated = meta["ids"]
        t = template.times
        t.start, t.end, t.nulls, t.outside, t.newest = meta["times"]
        sample = pq.read_table(io.BytesIO(arrays["sample"].tobytes())) if "sample" in arrays else None
        return cls(
            date.fromisoformat(meta["day"]), meta["rows"], meta["columns"], template.numeric,
            template.categorical, template.ids, template.times, sample, meta["info"], template.segments,
        )  # fmt: skip


class DayAggregator:
    """Counts a day's record batches into the accumulators of each column, then makes the aggregate."""

    def __init__(self, entry: ModelEntry, profile: ReferenceProfile, day: date, sample_rows: int, seed: int):
        self.entry, self.profile = entry, profile
        bounds = {f.name: (f.min, f.max) for f in entry.monitoring.features if f.type == "numeric"}
        bounds["score"] = (0.0, 1.0)
        sums = {f.name for f in entry.monitoring.features if "wasserstein" in f.drift_methods}
        self.numeric = {
            c: NumericAgg(profile.numeric[c], *bounds[c], with_sums=c in sums, with_total=c == "score")
            for c in numeric_columns(entry)
        }
        allowed = {f.name: f.categories or [] for f in entry.monitoring.features if f.type == "categorical"}
        allowed["decision"] = entry.monitoring.decisions
        self.categorical = {
            c: CategoricalAgg(keep=frozenset(profile.categorical[c].counts) | {label(v) for v in allowed[c]})
            for c in categorical_columns(entry)
        }
        self.ids = IdAgg()
        start = datetime.combine(day, time(), tzinfo=UTC)
        ns = int(start.timestamp()) * 10**9
        self.times = TimeAgg(ns, ns + 86_400 * 10**9)
        self.reservoir = Reservoir(sample_rows, seed, categorical_columns(entry))
        self.rows = 0
        self.columns: set[str] = set()
        self.segments = {}
        for seg, found in profile.segments.items():
            features = [f.name for f in entry.monitoring.features if f.name != seg]
            self.segments[seg] = SegmentAgg(seg, found, features, segment_columns(entry, seg))

    def add(self, batch: pa.RecordBatch, where: str) -> None:
        rows, names = batch.num_rows, set(batch.schema.names)
        self.rows += rows
        numeric = {}
        for c, agg in self.numeric.items():
            values = numeric_values(batch.column(c)) if c in names else np.full(rows, np.nan)
            if values is None:
                raise wrong_types(self.entry, where, [not_numeric(c, dtype_name(batch.column(c).type))])
            agg.add(values)
            numeric[c] = values
        for c, agg in self.categorical.items():
            if c in names:
                agg.add(batch.column(c))
            else:
                agg.nulls += rows
        for segment in self.segments.values():
            segment.add(batch, numeric)
        self._add_keys(batch, names, rows)
        self.reservoir.add(batch)

    def _add_keys(self, batch: pa.RecordBatch, names: set[str], rows: int) -> None:
        import pyarrow as pa

        if "event_id" in names:
            self.ids.add(batch.column("event_id"))
        else:
            self.ids.nulls += rows
        self.times.add(
            batch.column("event_ts") if "event_ts" in names else pa.nulls(rows, pa.timestamp("ns"))
        )

    def finish(self, day: date, info: dict[str, Any]) -> DayAggregate:
        self.ids.finish()
        for agg in [
            *self.categorical.values(),
            *(a for g in self.segments.values() for a in g.categories.values()),
        ]:
            agg.fold()
        sample = self.reservoir.table()
        info = {**info, "sample": {"rows": 0 if sample is None else sample.num_rows,
                                   "size": self.reservoir.size, "seed": self.reservoir.seed,
                                   "population": self.rows}}  # fmt: skip
        return DayAggregate(
            day, self.rows, sorted(self.columns), self.numeric, self.categorical, self.ids, self.times,
            sample, info, self.segments,
        )  # fmt: skip


def npz_bytes(arrays: dict[str, np.ndarray], stored: dict[str, bytes]) -> bytes:
    """An .npz (what ``np.load`` reads) of ``arrays``, deflated, and of ``stored``: bytes already
    compressed (e.g. zstd Parquet), kept as uint8 arrays without a second compression."""
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as out:
        kept = {k: np.frombuffer(v, dtype=np.uint8) for k, v in stored.items()}
        items = [*((k, v, zipfile.ZIP_DEFLATED) for k, v in arrays.items()),
                 *((k, v, zipfile.ZIP_STORED) for k, v in kept.items())]  # fmt: skip
        for name, array, method in items:
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = method
            with out.open(info, "w", force_zip64=True) as f:
                np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
    return buf.getvalue()
