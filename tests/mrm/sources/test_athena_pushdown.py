"""The Athena pushdown (``aggregate: pushdown``): the counts query (include/sql/scoring_log_aggregate.sql)
run on DuckDB over the same Parquet files the streamed engine reads gives the same DayAggregate, for the
example models' days with nulls, values out of range, new and hostile categories, segments and duplicated
event ids; what it returns is the counts and the sample, not the day; Athena's rendering of the
reference edges is bit-exact and fits Athena's query length.

DuckDB stands in for Athena (Trino) through the one dialect map of mrm.sources.athena.pushdown
(DUCKDB_MACROS, DUCKDB_SPELLING and the array literal of the edges)."""

from __future__ import annotations

import base64
import copy
import io
import re
from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mrm.checks.engine.aggregate import aggregate_frame
from mrm.checks.engine.bounds import MAX_VALUE_CHARS
from mrm.checks.engine.counted import aggregate_counted, plan_for
from mrm.checks.engine.day_aggregate import DayAggregate, DayAggregator
from mrm.checks.engine.profiling import profile_from_frame
from mrm.demo.data import day as demo_day
from mrm.demo.data import scoring_log
from mrm.errors import ConfigError, NoDataError
from mrm.inventory import ModelEntry, load_inventory
from mrm.settings import REPO_ROOT
from mrm.sources.athena.pushdown import (
    MAX_QUERY_BYTES,
    PushdownDay,
    duckdb_dialect,
    edges_sql,
    load_pushdown_template,
)
from mrm.sources.athena.source import _normalised
from mrm.sources.athena.template import load_template, query_parameters
from mrm.sources.contract import conform

duckdb = pytest.importorskip("duckdb")

SAMPLE = 500
LONG = "x" * 250 + "\n"


def entry_of(model_id: str) -> ModelEntry:
    """The example model, with PSI and score PSI within segments too (card_fraud's country)."""
    entry = load_inventory(REPO_ROOT / "include" / "inventory")[0].get(model_id)
    raw = copy.deepcopy(entry.model_dump(mode="json"))
    if raw["monitoring"].get("segments"):
        raw["monitoring"]["segments"]["metrics"] = ["null_rate", "psi", "score_psi"]
    return ModelEntry.model_validate(raw)


def hostile(frame: pd.DataFrame, entry: ModelEntry) -> pd.DataFrame:
    """The day with NaN, out-of-range values, new, long and multi-line categories, a new segment value,
    duplicated ids and events outside the day."""
    out = frame.copy()
    numeric = [f.name for f in entry.monitoring.features if f.type == "numeric"]
    categorical = [f.name for f in entry.monitoring.features if f.type == "categorical"]
    out.loc[:9, numeric[0]] = np.nan
    out.loc[10:14, numeric[0]] = 1e12
    out.loc[15:17, "score"] = 1.5
    out.loc[18:22, categorical[0]] = "brand_new"
    out.loc[23:24, categorical[0]] = LONG
    out.loc[25:26, categorical[0]] = "two\nlines"
    out.loc[27:28, categorical[0]] = None
    out.loc[29:31, "decision"] = "o'brien"
    out.loc[40:49, "event_id"] = out.loc[50:59, "event_id"].to_numpy()
    out.loc[60:62, "event_ts"] = out.loc[60, "event_ts"] - pd.Timedelta(days=2)
    out.loc[63, "event_ts"] = pd.NaT
    if entry.monitoring.segments:
        seg = entry.monitoring.segments.columns[0]
        out.loc[70:79, seg] = "ZZ"
        out.loc[80:84, seg] = None
    return out


CASES = [("card_fraud", 5, False), ("card_fraud", 6, True), ("aml_alert", 10, False), ("aml_alert", 45, True),
         ("aml_alert", 30, False), ("aml_alert", 12, False), ("credit_line", 22, True)]  # fmt: skip


def view(model_id: str, k: int, bad: bool) -> str:
    return f"{model_id}_{k}_{'hostile' if bad else 'plain'}"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Per case: the entry, its reference profile, the day's frame, and DuckDB with the views named like
    the Athena tables over the day's Parquet partition."""
    root = tmp_path_factory.mktemp("pushdown")
    con = duckdb.connect()
    duckdb_dialect(con)
    con.execute("CREATE SCHEMA mrm")
    profiles, frames = {}, {}
    for model_id in sorted({m for m, _, _ in CASES}):
        entry = entry_of(model_id)
        ref = pd.concat(
            [scoring_log(model_id, k).assign(_dt=demo_day(k)) for k in (-2, -1, 0)], ignore_index=True
        )
        profiles[model_id] = (entry, profile_from_frame(conform(ref, entry, "reference"), entry, {}))
    for model_id, k, bad in CASES:  # a table per case: a Glue table has one schema for all its days
        entry = profiles[model_id][0]
        frame = scoring_log(model_id, k)
        frame = hostile(frame, entry) if bad else frame
        frames[(model_id, k, bad)] = frame
        folder = root / view(model_id, k, bad) / f"dt={demo_day(k).isoformat()}"
        folder.mkdir(parents=True)
        pq.write_table(pa.Table.from_pandas(frame.assign(model_id=model_id), preserve_index=False),
                       folder / "part-0000.parquet")  # fmt: skip
        pattern = (folder.parent / "dt=*" / "*.parquet").as_posix()
        con.execute(
            f"CREATE VIEW mrm.{view(model_id, k, bad)} AS SELECT * FROM read_parquet('{pattern}', "
            "hive_partitioning = true, hive_types_autocast = false)"
        )
    yield profiles, frames, con
    con.close()


def duck_day(con, table: str, model_id: str, day: date) -> PushdownDay:
    """The day as the source gives it, its queries run on DuckDB; bytes returned: the result as Parquet
    (what Athena's UNLOAD writes); DuckDB does not report bytes scanned."""
    template = load_template("scoring_log.sql")

    def execute(sql, values, which):
        table = con.sql(sql, params=values).to_arrow_table()
        buf = io.BytesIO()
        pq.write_table(table, buf)
        return table, {"bytes_scanned": None, "bytes_returned": len(buf.getvalue())}

    sql = template.render("duckdb", f'"mrm"."{table}"')
    return PushdownDay(
        "duckdb", sql, query_parameters(model_id, day), execute, lambda t: _normalised(t, ["dt"])
    )


def pushed(world, model_id, k, bad) -> DayAggregate:
    profiles, _, con = world
    entry, profile = profiles[model_id]
    day = demo_day(k)
    pushdown = duck_day(con, view(model_id, k, bad), model_id, day)
    return aggregate_counted(pushdown, entry, profile, day, sample_rows=SAMPLE, seed=0, where="test",
                             empty="no rows")  # fmt: skip


def assert_same(a: DayAggregate, b: DayAggregate) -> None:
    """Counts exactly; sums to 1e-9 relative; the newest event to the millisecond."""
    assert (a.rows, a.columns) == (b.rows, b.columns)
    for c, x in a.numeric.items():
        y = b.numeric[c]
        assert (x.nulls, x.n, x.out_of_range) == (y.nulls, y.n, y.out_of_range), c
        assert (x.min, x.max) == (y.min, y.max), c
        np.testing.assert_array_equal(x.counts, y.counts, err_msg=c)
        assert x.total == pytest.approx(y.total, rel=1e-12, abs=1e-9), c
        assert (x.below_sum, x.above_sum) == pytest.approx((y.below_sum, y.above_sum), rel=1e-9, abs=1e-9), c
        if x.sums is not None:
            np.testing.assert_allclose(x.sums, y.sums, rtol=1e-9, atol=1e-9, err_msg=c)
    for c, x in a.categorical.items():
        y = b.categorical[c]
        assert (x.counts, x.nulls, x.oversized) == (y.counts, y.nulls, y.oversized), c
    assert (a.ids.nulls, a.ids.n, a.ids.duplicated) == (b.ids.nulls, b.ids.n, b.ids.duplicated)
    assert (a.times.nulls, a.times.outside) == (b.times.nulls, b.times.outside)
    assert a.times.newest // 10**6 == b.times.newest // 10**6
    assert set(a.segments) == set(b.segments)
    for seg, g in a.segments.items():
        h = b.segments[seg]
        assert (g.rows, g.nulls) == (h.rows, h.nulls), seg
        assert set(g.score) == set(h.score)
        for v, (total, n) in g.score.items():
            assert (total, n) == (pytest.approx(h.score[v][0], rel=1e-9), h.score[v][1]), (seg, v)
        assert set(g.counts) == set(h.counts)
        for key, counts in g.counts.items():
            np.testing.assert_array_equal(counts, h.counts[key], err_msg=str(key))
        assert {k: (c.counts, c.nulls) for k, c in g.categories.items()} == {
            k: (c.counts, c.nulls) for k, c in h.categories.items()
        }


@pytest.mark.parametrize(("model_id", "k", "bad"), CASES, ids=lambda v: str(v))
def test_the_pushed_down_aggregate_equals_the_streamed_one(world, model_id, k, bad):
    profiles, frames, _ = world
    entry, profile = profiles[model_id]
    frame = frames[(model_id, k, bad)]

    streamed = aggregate_frame(
        frame.assign(model_id=model_id), entry, profile, demo_day(k), sample_rows=SAMPLE
    )
    got = pushed(world, model_id, k, bad)

    assert_same(got, streamed)
    assert got.rows == len(frame) > 1000
    if bad:
        c = next(f.name for f in entry.monitoring.features if f.type == "categorical")
        counts = got.categorical[c].counts
        assert counts["brand_new"] == 5 and counts["two\\nlines"] == 2 and got.categorical[c].oversized == 2
        [long] = [k for k in counts if k.startswith("x" * 10)]
        assert len(long) == MAX_VALUE_CHARS and f"…[{len(LONG)} chars, sha256 " in long and counts[long] == 2
        assert got.ids.duplicated >= 20 and got.times.outside >= 4
        assert got.categorical["decision"].counts["o'brien"] == 3
    # the DayAggregate round-trips as the streamed one does (what the next task reads)
    again = DayAggregate.from_bytes(got.to_bytes(), profile, entry)
    assert_same(again, streamed)


def test_what_leaves_the_engine_is_the_counts_and_a_seeded_sample(world):
    frames = world[1]
    got = pushed(world, "card_fraud", 6, True)
    again = pushed(world, "card_fraud", 6, True)
    info = got.info["pushdown"]

    frame = frames[("card_fraud", 6, True)]
    assert got.sample.num_rows == SAMPLE < len(frame)
    assert set(got.sample.column("event_id").to_pylist()) <= set(frame["event_id"])
    assert got.sample.equals(again.sample)  # the same rows every time (seeded hash, not a random draw)
    streamed = aggregate_frame(frame.assign(model_id="card_fraud"), *world[0]["card_fraud"], demo_day(6))
    assert got.sample.column_names == streamed.sample.column_names  # the contract's columns only
    assert got.info["sample"]["method"].startswith("smallest xxhash64")
    counts = info["queries"]["counts"]
    assert counts["rows_returned"] < 20_000 and counts["bytes_returned"] < 1_000_000
    assert info["bytes_returned"] == counts["bytes_returned"] + info["queries"]["sample"]["bytes_returned"]
    assert info["engine"] == "duckdb" and info["bytes_scanned"] is None


def test_the_counts_returned_do_not_grow_with_the_rows(world):
    profiles, _, _ = world
    entry, profile = profiles["aml_alert"]
    con = duckdb.connect()
    duckdb_dialect(con)
    con.execute("CREATE SCHEMA mrm")
    sizes = []
    for rows in (2_000, 40_000):
        frame = scoring_log("aml_alert", 11, rows=rows).assign(model_id="aml_alert")
        con.register(f"f{rows}", pa.Table.from_pandas(frame, preserve_index=False))
        con.execute(f"CREATE OR REPLACE VIEW mrm.aml_{rows} AS SELECT *, '{demo_day(11)}' AS dt FROM f{rows}")
        pushdown = duck_day(con, f"aml_{rows}", "aml_alert", demo_day(11))
        aggregate_counted(
            pushdown, entry, profile, demo_day(11), sample_rows=SAMPLE, seed=0, where="t", empty="e"
        )
        sizes.append(pushdown.queries["counts"]["rows_returned"])
    assert sizes[1] < 2 * sizes[0]  # bins fill up; the rows grew 20-fold
    con.close()


def test_an_empty_day_is_no_data(world):
    profiles, _, con = world
    entry, profile = profiles["aml_alert"]
    pushdown = duck_day(con, view("aml_alert", 10, False), "aml_alert", date(2026, 8, 1))
    with pytest.raises(NoDataError, match="no rows here"):
        aggregate_counted(pushdown, entry, profile, date(2026, 8, 1), sample_rows=SAMPLE, seed=0, where="t",
                          empty="no rows here")  # fmt: skip


def test_athena_gets_the_reference_edges_bit_exact_and_the_query_fits(world):
    profiles, _, _ = world
    entry, profile = profiles["card_fraud"]
    plan = plan_for(DayAggregator(entry, profile, demo_day(5), SAMPLE, 0), SAMPLE, 0)
    edges = plan.numeric[0].edges
    sql = edges_sql(edges, "athena")
    [packed] = re.findall(r"from_base64\('([A-Za-z0-9+/=]+)'\)", sql)
    decoded = np.frombuffer(base64.b64decode(packed), dtype=">f8").astype("float64")
    assert decoded.tobytes() == np.asarray(edges, dtype="float64").tobytes()
    assert f"sequence(0, {edges.size - 1})" in sql
    day_sql = load_template("scoring_log.sql").render("athena", '"mrm"."card_fraud_scoring_log"')
    [counts], sample = load_pushdown_template().render(plan, day_sql, "athena")  # one query
    assert len(counts.encode()) <= MAX_QUERY_BYTES
    assert "%(dt)s" in counts and "%(seed)s" in sample and "LIMIT 500" in sample
    assert "'2026" not in counts  # values stay bound
    wide = type(plan)(plan.numeric * 40, *list(plan.__dict__.values())[1:])  # 200 numeric columns
    split, _ = load_pushdown_template().render(wide, day_sql, "athena")
    assert len(split) > 10 and all(len(q.encode()) <= MAX_QUERY_BYTES for q in split)
    assert sum(q.count("'numeric'") for q in split) == 200 and split[0].count("'ids'") == 1


def test_counts_split_over_several_queries_are_the_same_counts(world):
    """A model too wide for one Athena query: its counts over several (here forced by a small limit)."""
    profiles, _, con = world
    entry, profile = profiles["card_fraud"]
    pushdown = duck_day(con, view("card_fraud", 6, True), "card_fraud", demo_day(6))
    pushdown.max_bytes = 100_000

    got = aggregate_counted(pushdown, entry, profile, demo_day(6), sample_rows=SAMPLE, seed=0, where="t",
                            empty="e")  # fmt: skip

    assert len([q for q in pushdown.queries if q.startswith("counts")]) > 1
    assert_same(got, pushed(world, "card_fraud", 6, True))
    info = got.info["pushdown"]
    assert info["bytes_returned"] == sum(q["bytes_returned"] for q in info["queries"].values())


def test_a_hostile_literal_stays_a_literal(world):
    from mrm.sources.athena.pushdown import double, ident, string

    assert string("o'brien") == "'o''brien'"
    assert double(0.1) == "0.1E0" and double(1e-05) == "1e-05" and float(double(2.5)) == 2.5
    for bad in (float("nan"), float("inf")):
        with pytest.raises(ConfigError):
            double(bad)
    with pytest.raises(ConfigError):
        ident('amount"; DROP TABLE x; --')


def test_what_returns_stays_bounded_whatever_the_distinct_values(world):
    """3,000 new categories and 300 new segment values: Athena returns at most the stated limits
    (bounds: MAX_NEW_CATEGORIES one by one, MAX_SEGMENT_VALUES segments), the rest counted together."""
    from mrm.checks.engine.bounds import MAX_NEW_CATEGORIES, MAX_SEGMENT_VALUES, OTHER_SEGMENT

    profiles, _, _ = world
    entry, profile = profiles["card_fraud"]
    frame = scoring_log("card_fraud", 7, rows=6_000).assign(model_id="card_fraud")
    frame["merchant_category"] = [f"m{i % 3000}" for i in range(len(frame))]
    frame.loc[:2999, "country"] = [f"c{i % 300}" for i in range(3000)]
    con = duckdb.connect()
    duckdb_dialect(con)
    con.execute("CREATE SCHEMA mrm")
    con.register("f", pa.Table.from_pandas(frame, preserve_index=False))
    con.execute(f"CREATE VIEW mrm.wide AS SELECT *, '{demo_day(7)}' AS dt FROM f")
    pushdown = duck_day(con, "wide", "card_fraud", demo_day(7))

    got = aggregate_counted(
        pushdown, entry, profile, demo_day(7), sample_rows=SAMPLE, seed=0, where="t", empty="e"
    )

    counts = got.categorical["merchant_category"]
    assert len(counts.counts) <= MAX_NEW_CATEGORIES + len(counts.keep) + 1
    assert sum(counts.counts.values()) + counts.nulls == got.rows == len(frame)
    g = got.segments["country"]
    assert len(g.rows) <= MAX_SEGMENT_VALUES + 1 and OTHER_SEGMENT in g.rows
    assert sum(g.rows.values()) == len(frame)
    limit = sum(s.edges.size + 1 for s in pushdown_plan(entry, profile).numeric)
    assert pushdown.queries["counts"]["rows_returned"] < limit + 2 * MAX_NEW_CATEGORIES + 60 * 20
    con.close()


def pushdown_plan(entry, profile):
    return plan_for(DayAggregator(entry, profile, demo_day(7), SAMPLE, 0), SAMPLE, 0)


def test_stream_is_the_default_and_the_setting_is_checked():
    from pydantic import ValidationError

    from mrm.inventory.sources import AthenaSourceConfig

    assert AthenaSourceConfig().aggregate == "stream"
    assert AthenaSourceConfig(aggregate="pushdown").aggregate == "pushdown"
    with pytest.raises(ValidationError, match="aggregate"):
        AthenaSourceConfig(aggregate="push")
