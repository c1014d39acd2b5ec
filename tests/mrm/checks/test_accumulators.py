"""The accumulators a day is counted into: the reservoir is a uniform seeded sample whatever the batch
boundaries, and the event-id hashes find exactly the duplicates pandas finds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy import stats as sst

from mrm.checks.engine import accumulators as acc


def test_the_reservoir_is_a_uniform_seeded_sample():
    table = pa.table({"i": np.arange(20_000)})
    picks = []
    for seed in range(40):
        reservoir = acc.Reservoir(500, seed)
        for batch in table.to_batches(max_chunksize=1234):
            reservoir.add(batch)
        picks.append(reservoir.table().column("i").to_numpy())
    assert all(p.size == 500 and np.unique(p).size == 500 for p in picks)
    counts = np.bincount(np.concatenate(picks) // 2000, minlength=10)  # 20,000 draws over 10 deciles
    assert sst.chisquare(counts).pvalue > 0.001
    again = acc.Reservoir(500, 3)
    again.add(table.to_batches()[0])
    assert np.array_equal(again.table().column("i").to_numpy(), picks[3])


def test_id_hashes_find_exactly_the_duplicates_pandas_finds():
    rng = np.random.default_rng(1)
    ids = [
        f"id-{'x' * int(k)}-{v}"
        for k, v in zip(rng.integers(0, 9, 30_000), rng.integers(0, 25_000, 30_000), strict=True)
    ]
    ids[:10] = [None] * 10
    column = pa.array(ids)
    agg = acc.IdAgg()
    for start in range(0, len(ids), 4096):
        agg.add(column.slice(start, 4096))
    agg.finish()

    expected = pd.Series(ids).dropna().duplicated(keep=False).sum()
    assert (agg.nulls, agg.n, agg.duplicated) == (10, 29_990, expected)
    assert np.unique(acc.id_hashes(pa.array([str(i) for i in range(200_000)]))).size == 200_000
    assert np.array_equal(acc.id_hashes(pa.array([5, 7, None])), np.array([5, 7], dtype=np.uint64))
