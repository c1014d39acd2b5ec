"""The aggregate-first engine: every metric equals what today's GX/Evidently path stores (same names,
columns and details), PSI equals mrm.checks.stats to 1e-9 on demo and adversarial data, the counts equal
pandas, batch size changes nothing, KS and Wasserstein stay within their stated bounds against scipy, the
evidence is drawn from a labelled sample, and memory does not grow with the day's rows."""

from __future__ import annotations

import copy
import io
import json
import shutil
import subprocess
import sys
import textwrap
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from oracles.engine_metrics import metrics_from_aggregates
from scipy import stats as sst

from mrm.checks import drift_methods as dm
from mrm.checks import sample_evidence as se
from mrm.checks import stats
from mrm.checks.drift import drift_results, psi_value
from mrm.checks.engine import aggregate as ag
from mrm.checks.engine.day_aggregate import DayAggregate
from mrm.checks.engine.profile import ProfileSettings, ReferenceProfile
from mrm.checks.engine.profiling import profile_from_frame
from mrm.checks.reference import reference_profile
from mrm.errors import SchemaError, SourceError
from mrm.inventory import ModelEntry
from mrm.sources.contract import conform, required_columns
from mrm.sources.parquet_stream import scan_day

DAY = date(2026, 9, 1)
TOL = 1e-9


def info_of(frame: pd.DataFrame, entry: ModelEntry) -> dict:
    """The reference information the pipeline computes (pipeline._reference)."""
    days = frame.groupby("_dt").size()
    return {
        "daily_rows": [int(n) for n in days],
        "median_daily_rows": float(days.median()),
        "null_rates": {c: float(frame[c].isna().mean()) for c in required_columns(entry)},
    }


@pytest.fixture(scope="module")
def entry(make_entry) -> ModelEntry:
    raw = copy.deepcopy(make_entry().model_dump(mode="json"))
    raw["monitoring"]["features"][0]["drift_methods"] = ["ks", "wasserstein", "jensenshannon"]
    raw["monitoring"]["features"][1]["drift_methods"] = ["jensenshannon"]
    raw["monitoring"]["features"][2]["drift_methods"] = ["chisquare", "jensenshannon"]
    return ModelEntry.model_validate(raw)


@pytest.fixture(scope="module")
def frames(entry, make_scoring_frame):
    """Reference and a shifted day with nulls, new and missing categories, duplicates, values out of
    range, events outside the day and an extra column."""
    reference = make_scoring_frame(entry, 3000, seed=1)
    reference["_dt"] = [date(2026, 8, 18) + timedelta(days=i % 14) for i in range(3000)]
    current = make_scoring_frame(entry, 2000, seed=2, shift=0.5)
    reference.loc[:9, "amount"] = np.nan
    current.loc[:19, "amount"] = np.nan
    current.loc[20:24, "region"] = None
    current.loc[25:39, "region"] = "west"
    current.loc[40:44, "region"] = stats.MISSING
    current.loc[50:59, "event_id"] = current.loc[60:69, "event_id"].to_numpy()
    current.loc[70:80, "tenure"] = 77.0
    current.loc[81:85, "decision"] = "escalate"
    current.loc[86:90, "decision"] = None
    ts = current["event_ts"].copy()
    ts.iloc[100:110] = pd.Timestamp("2026-08-31T23:00:00Z")
    ts.iloc[110:112] = pd.NaT
    ts.iloc[112] = pd.Timestamp("2026-09-01T21:30:15.25Z")
    current["event_ts"] = ts
    current["risk_flag"] = 1
    return conform(reference, entry, "reference"), conform(current, entry, "current")


@pytest.fixture(scope="module")
def profile(entry, frames):
    reference, _ = frames
    return profile_from_frame(reference, entry, info_of(reference, entry))


@pytest.fixture(scope="module")
def aggregated(entry, frames, profile):
    return ag.aggregate_frame(frames[1], entry, profile, DAY, batch_rows=700)


def test_every_metric_equals_what_the_gx_and_evidently_path_stores(entry, frames, profile, aggregated):
    from oracles.frame_checks import check_drift, check_quality_extras

    from mrm.checks.quality_gx import check_quality

    reference, current = frames
    info = info_of(reference, entry)
    today = check_quality(current, entry, info["median_daily_rows"]).results
    today += check_quality_extras(current, entry, info, DAY) + check_drift(reference, current, entry).results

    mine = metrics_from_aggregates(aggregated, profile, entry)

    assert sorted(r.key for r in mine) == sorted(r.key for r in today)
    by_key = {r.key: r for r in today}
    for ours in mine:
        theirs = by_key[ours.key]
        assert ours.detail == theirs.detail, ours.key
        if theirs.value is None:
            assert ours.value is None, ours.key
        else:
            assert ours.value == pytest.approx(theirs.value, rel=1e-12, abs=1e-15), ours.key


def psi_direct(
    reference: pd.DataFrame, current: pd.DataFrame, column: str, categorical: bool, bins: int = 10
):
    if categorical:
        return stats.psi_categorical(reference[column].tolist(), current[column].tolist())
    ref, cur = reference[column].to_numpy(dtype="float64"), current[column].to_numpy(dtype="float64")
    if np.isnan(ref).all() or np.isnan(cur).all():
        return None
    return stats.psi_numeric(ref, cur, bins)


def assert_psi_equal(agg, profile, entry, reference, current):
    categorical = {f.name for f in entry.monitoring.features if f.type == "categorical"}
    for column in [*(f.name for f in entry.monitoring.features), "score"]:
        expected = psi_direct(reference, current, column, column in categorical, entry.monitoring.psi_bins)
        got = psi_value(agg, profile, column)
        if expected is None:
            assert got is None, column
        else:
            assert abs(got - expected) <= TOL, (column, got, expected)


def test_psi_equals_the_statistics_module_on_the_demo_scoring_logs(demo_files, tmp_path):
    """Every example model, days with incidents (nulls, a segment outage, new categories, duplicates)."""
    from oracles.frame_checks import check_segments
    from support import local_inventory

    from mrm.demo.data import day
    from mrm.inventory import load_inventory
    from mrm.sources.parquet import PartitionedParquet

    inventory = load_inventory(local_inventory(tmp_path / "inventory", demo_files))[0]
    checked = 0
    for model_id, days in {"card_fraud": (6, 26), "credit_line": (22, 13), "aml_alert": (10, 31)}.items():
        entry = inventory.get(model_id)
        profile, _ = reference_profile(entry, (tmp_path / "profiles").as_uri())
        source = PartitionedParquet(entry.monitoring.scoring_log)
        reference = conform(source.read_days(entry.monitoring.reference.days()).frame, entry, "reference")
        for n in days:
            files = source.files(day(n))
            current = conform(source.read_day(day(n)).frame, entry, "current")
            agg = ag.aggregate_day([f.uri for f in files], entry, profile, day(n), batch_rows=512)
            assert_psi_equal(agg, profile, entry, reference, current)
            segments = [(r.key, r.value) for r in drift_results(agg, profile, entry) if r.segment]
            expected = [(r.key, r.value) for r in check_segments(reference, current, entry)]
            assert [k for k, _ in segments] == [k for k, _ in expected]
            assert all(
                a == pytest.approx(b, abs=TOL) for (_, a), (_, b) in zip(segments, expected, strict=True)
            )
            checked += 1
    assert checked == 6


def adversarial(entry, make_scoring_frame, seed: int, shift: float) -> pd.DataFrame:
    frame = make_scoring_frame(entry, 1500, seed=seed, shift=shift)
    rng = np.random.default_rng(seed)
    frame["amount"] = np.where(rng.random(1500) < 0.7, 0.0, frame["amount"])  # a mass point at 0
    frame["tenure"] = np.round(frame["tenure"])  # few distinct values: mass points everywhere
    return frame


@pytest.mark.parametrize(
    "damage",
    ["none", "current_numeric_all_null", "reference_numeric_all_null", "new_categories",
     "categorical_all_null", "constant", "negative_zero_and_infinities"],
)  # fmt: skip
def test_psi_equals_the_statistics_module_on_adversarial_data(make_entry, make_scoring_frame, damage):
    entry = make_entry(psi_bins=7)
    reference = adversarial(entry, make_scoring_frame, 1, 0.0)
    current = adversarial(entry, make_scoring_frame, 2, 0.4)
    if damage == "current_numeric_all_null":
        current["amount"] = np.nan
    if damage == "reference_numeric_all_null":
        reference["tenure"] = np.nan
    if damage == "new_categories":
        current.loc[:300, "region"] = [f"new_{i % 7}" for i in range(301)]
        current.loc[301:320, "region"] = stats.MISSING
    if damage == "categorical_all_null":
        current["region"] = None
    if damage == "constant":
        reference["amount"], current.loc[:100, "amount"] = 5.0, 5.0
    if damage == "negative_zero_and_infinities":
        current.loc[:50, "amount"] = -0.0
        current.loc[51:53, "amount"] = [np.inf, -np.inf, np.inf]
    reference["_dt"] = date(2026, 8, 20)
    reference, current = conform(reference, entry, "reference"), conform(current, entry, "current")
    profile = profile_from_frame(reference, entry, info_of(reference, entry))

    agg = ag.aggregate_frame(current, entry, profile, DAY, batch_rows=333)

    assert_psi_equal(agg, profile, entry, reference, current)


def test_counts_equal_pandas_on_the_same_frame(entry, frames, aggregated):
    _, current = frames
    start = pd.Timestamp(DAY, tz="UTC")
    ts = pd.to_datetime(current["event_ts"], utc=True)
    inside = (ts >= start) & (ts < start + pd.Timedelta(days=1))

    assert aggregated.rows == len(current)
    for column in ["amount", "tenure", "score"]:
        a, values = aggregated.numeric[column], current[column]
        assert (a.nulls, a.n) == (int(values.isna().sum()), int(values.notna().sum()))
        assert (a.min, a.max) == (values.min(), values.max())
        assert int(a.counts.sum()) == a.n
    assert aggregated.numeric["score"].total == pytest.approx(current["score"].sum(), rel=1e-15)
    assert aggregated.numeric["tenure"].out_of_range == int((current["tenure"] > 50).sum())
    for column in ["region", "decision"]:
        counts = current[column].value_counts().to_dict()
        assert aggregated.categorical[column].counts == counts
        assert aggregated.categorical[column].nulls == int(current[column].isna().sum())
    assert aggregated.ids.duplicated == int(current["event_id"].duplicated(keep=False).sum()) == 20
    assert aggregated.times.outside == int((~inside).sum()) == 12
    assert pd.Timestamp(aggregated.times.newest, tz="UTC") == ts[inside].max()
    assert "risk_flag" in aggregated.columns


def test_batch_size_changes_no_result_and_not_the_sample(entry, frames, profile):
    _, current = frames
    runs = [
        ag.aggregate_frame(current, entry, profile, DAY, batch_rows=b, sample_rows=300)
        for b in (3, 64, 10**6)
    ]

    results = [{r.key: r for r in metrics_from_aggregates(agg, profile, entry)} for agg in runs]
    mean = [r.pop("drift.mean_score") for r in results]
    assert results[0] == results[1] == results[2]
    # a sum of floats depends on the order of additions: the mean may move in its last bit
    assert mean[0].value == pytest.approx(mean[1].value, rel=1e-15) == pytest.approx(mean[2].value, rel=1e-15)
    assert runs[0].sample.equals(runs[1].sample) and runs[1].sample.equals(runs[2].sample)
    assert runs[0].sample.num_rows == 300 and not runs[0].complete


# -- KS and Wasserstein: exact, or within the stated bound ------------------------------------------------
SHAPES = {
    "normal": lambda rng, n, s: rng.normal(s, 1, n),
    "lognormal": lambda rng, n, s: np.exp(rng.normal(s, 1, n)) * 50,
    "student_t3": lambda rng, n, s: rng.standard_t(3, n) + s,
    "discrete": lambda rng, n, s: np.round(rng.normal(s, 1, n) * 3),
    "zero_inflated": lambda rng, n, s: np.where(rng.random(n) < 0.6, 0.0, np.exp(rng.normal(3 + s, 1, n))),
}


def numeric_day(entry, values: np.ndarray, seed: int) -> pd.DataFrame:
    n = values.size
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "event_id": [f"e{seed}-{i}" for i in range(n)],
        "event_ts": pd.Timestamp(datetime(2026, 9, 1, 12, tzinfo=UTC)),
        "score": rng.beta(2, 5, n), "decision": "approve", "amount": values,
        "tenure": rng.uniform(0, 50, n), "region": "north",
    })  # fmt: skip


@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("shift", [0.0, 0.05, 0.5])
def test_sketch_ks_and_wasserstein_stay_within_their_stated_bounds_of_scipy(make_entry, shape, shift):
    entry = make_entry(features=[
        {"name": "amount", "type": "numeric", "drift_methods": ["ks", "wasserstein"]},
        {"name": "tenure", "type": "numeric"}, {"name": "region", "type": "categorical"},
    ])  # fmt: skip
    rng = np.random.default_rng(11)
    ref_values, cur_values = SHAPES[shape](rng, 120_000, 0.0), SHAPES[shape](rng, 90_000, shift)
    reference = numeric_day(entry, ref_values, 1).assign(_dt=date(2026, 8, 20))
    profile = profile_from_frame(reference, entry, info_of(reference, entry), ProfileSettings(exact_limit=0))
    agg = ag.aggregate_frame(numeric_day(entry, cur_values, 2), entry, profile, DAY, sample_rows=1000)
    p, a = profile.numeric["amount"], agg.numeric["amount"]

    d_true = sst.ks_2samp(ref_values, cur_values).statistic
    low, high = dm.ks_bounds(p, a)
    assert low - 1e-12 <= d_true <= high + 1e-12
    assert high - low <= 2 / 2048
    w_true = sst.wasserstein_distance(ref_values, cur_values)
    estimate, error = dm.wasserstein_bounds(p, a)
    assert abs(estimate - w_true) <= error + 1e-9 * w_true
    assert error / np.std(ref_values) < 0.01

    value, detail = dm.method_value(agg, profile, "amount", "ks")
    assert value == dm.ks_pvalue(low, p.n, a.n) and detail["statistic_bounds"] == [low, high]
    assert value == pytest.approx(sst.kstwo.sf(low, round(p.n * a.n / (p.n + a.n))), rel=0.01, abs=1e-12)
    value, detail = dm.method_value(agg, profile, "amount", "wasserstein")
    assert abs(value - w_true / np.std(ref_values)) <= detail["error_bound"] + 1e-12


def test_a_day_held_whole_gets_scipys_exact_values(make_entry):
    entry = make_entry(features=[
        {"name": "amount", "type": "numeric", "drift_methods": ["ks", "wasserstein", "jensenshannon"]},
        {"name": "tenure", "type": "numeric"}, {"name": "region", "type": "categorical"},
    ])  # fmt: skip
    rng = np.random.default_rng(5)
    ref_values, cur_values = rng.normal(0, 1, 8000), rng.normal(0.1, 1, 6000)
    reference = numeric_day(entry, ref_values, 1).assign(_dt=date(2026, 8, 20))
    profile = profile_from_frame(reference, entry, info_of(reference, entry))
    agg = ag.aggregate_frame(numeric_day(entry, cur_values, 2), entry, profile, DAY)

    assert agg.complete
    assert dm.method_value(agg, profile, "amount", "ks") == (sst.ks_2samp(ref_values, cur_values).pvalue, {})
    w = sst.wasserstein_distance(ref_values, cur_values) / np.std(ref_values)
    assert dm.method_value(agg, profile, "amount", "wasserstein")[0] == pytest.approx(w, rel=1e-12)


# -- evidence ---------------------------------------------------------------------------------------------
def test_the_report_shows_whole_day_values_over_sample_plots(entry, frames, profile):
    _, current = frames
    agg = ag.aggregate_frame(current, entry, profile, DAY, sample_rows=400)
    results = metrics_from_aggregates(agg, profile, entry)
    psi = {r.column: r.value for r in results if r.metric == "psi"}

    html = se.drift_report_html(agg, profile, entry, results).decode()
    gx = json.loads(se.quality_gx_json(agg, entry))

    assert "Drift scores are computed on all 2,000 rows of 2026-09-01" in html
    assert "400 current rows (seed 0)" in html and "3,000 reference rows" in html
    assert f"{psi['amount']:.6g}" in html and "PSI (reference deciles), whole day" in html
    assert gx["meta"]["mrm_sample"]["rows"] == 400 and gx["meta"]["mrm_sample"]["population"] == 2000
    summary = se.summary(agg, profile)
    assert (
        summary["engine"] == "aggregate"
        and summary["sample"]["seed"] == 0
        and not summary["exact_numeric_methods"]
    )


def test_the_evidently_stattest_returns_the_stored_whole_day_value(entry, frames, profile):
    from evidently import Report
    from evidently.metrics import ValueDrift

    _, current = frames
    agg = ag.aggregate_frame(current, entry, profile, DAY, sample_rows=400)
    se._register_full_stattests()
    ref, cur = se.sample_frames(agg, profile, entry)
    token = se._full_values.set({("amount", "psi"): 0.4242})
    try:
        snapshot = Report([ValueDrift(column="amount", method="mrm_full_psi")]).run(
            cur[["amount"]], ref[["amount"]]
        )
    finally:
        se._full_values.reset(token)
    assert snapshot.dict()["metrics"][0]["value"] == 0.4242


# -- files, errors, memory --------------------------------------------------------------------------------
def test_a_day_is_read_from_several_files_as_one(entry, frames, profile, tmp_path):
    _, current = frames
    table = pa.Table.from_pandas(current, preserve_index=False)
    paths = []
    for i, (start, stop) in enumerate([(0, 700), (700, 1500), (1500, 2000)]):
        paths.append(tmp_path / f"part-{i}.parquet")
        part = table.slice(start, stop - start)
        pq.write_table(part.drop(["risk_flag"]) if i == 1 else part, paths[-1])

    agg = ag.aggregate_day([p.as_uri() for p in paths], entry, profile, DAY, batch_rows=256)
    whole = ag.aggregate_frame(current, entry, profile, DAY)

    assert agg.rows == 2000 and agg.info["files"] == 3
    assert [r.to_dict() for r in drift_results(agg, profile, entry)] == [
        r.to_dict() for r in drift_results(whole, profile, entry)
    ]


def test_schema_problems_are_reported_like_the_contract_does(entry, frames, profile):
    _, current = frames
    with pytest.raises(SchemaError, match=r"scoring log of 2026-09-01 lacks required column.*tenure"):
        ag.aggregate_frame(current.drop(columns=["tenure"]), entry, profile, DAY)
    with pytest.raises(SchemaError, match="wrong column types: amount is object, expected numeric"):
        ag.aggregate_frame(current.assign(amount="12"), entry, profile, DAY)


def test_a_damaged_file_is_a_source_error_naming_it(entry, profile, tmp_path):
    bad = tmp_path / "part-0.parquet"
    bad.write_bytes(b"PAR1 not really")

    message = (
        r"cannot read scoring log file .*part-0\.parquet \(model toy_model, [^)]*\): "
        r"not valid Parquet \(.+\); re-export the partition, then rerun this date$"
    )
    with pytest.raises(SourceError, match=message):
        scan_day([bad.as_uri()], entry, "day")  # what the run's first step does first
    with pytest.raises(SourceError, match=message):
        ag.aggregate_day([bad.as_uri()], entry, profile, DAY)


MEMORY_PROBE = textwrap.dedent("""
    import json, sys
    from datetime import date
    import numpy as np, pandas as pd, pyarrow as pa, pyarrow.parquet as pq
    from mrm.checks.engine import aggregate as ag
    from mrm.checks.engine.profiling import profile_from_frame
    from mrm.inventory import ModelEntry

    entry = ModelEntry.model_validate(json.loads(sys.argv[1]))
    path, rows = sys.argv[2], int(sys.argv[3])
    reference = pq.read_table(path).slice(0, 50_000).to_pandas()
    reference["_dt"] = date(2026, 8, 20)
    info = {"daily_rows": [1], "median_daily_rows": 1.0, "null_rates": {}}
    profile = profile_from_frame(reference, entry, info)
    del reference
    def hwm():
        return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM")).split()[1]) // 1024
    before = hwm()
    agg = ag.aggregate_day([path], entry, profile, date(2026, 9, 1), batch_rows=65536, sample_rows=20_000)
    print(json.dumps({"before_mb": before, "peak_mb": hwm(), "rows": agg.rows}))
""")


@pytest.mark.skipif(sys.platform != "linux", reason="reads VmHWM from /proc")
def test_peak_memory_does_not_grow_with_the_rows_of_the_day(make_entry, tmp_path):
    entry = make_entry()
    peaks = {}
    for rows in (200_000, 2_000_000):
        path = tmp_path / f"day_{rows}.parquet"
        rng = np.random.default_rng(0)
        writer = None
        for start in range(0, rows, 200_000):
            n = min(200_000, rows - start)
            table = pa.table({
                "event_id": pa.array(np.char.add("e", (np.arange(n) + start).astype(str))),
                "event_ts": pa.array(np.full(n, np.datetime64("2026-09-01T12:00", "ns"))),
                "score": rng.beta(2, 5, n), "decision": pa.array(np.full(n, "approve")).dictionary_encode(),
                "amount": rng.uniform(0, 100, n), "tenure": rng.normal(20, 5, n),
                "region": pa.array(rng.choice(["north", "south", "east"], n)).dictionary_encode(),
            })  # fmt: skip
            writer = writer or pq.ParquetWriter(path, table.schema)
            writer.write_table(table, row_group_size=100_000)
        writer.close()
        args = [json.dumps(entry.model_dump(mode="json")), str(path), str(rows)]
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, *args], capture_output=True, text=True, check=True
        )
        peaks[rows] = json.loads(out.stdout.strip().splitlines()[-1])
    growth = {rows: p["peak_mb"] - p["before_mb"] for rows, p in peaks.items()}
    print(f"peak RSS growth while aggregating: {growth} MB (rows: MB)")
    # 10x the rows: only the 8 bytes per event_id grow (16 MB + sort); allow generous slack
    assert growth[2_000_000] <= growth[200_000] + 150


def test_segment_metrics_equal_check_segments(make_entry, make_scoring_frame):
    from oracles.frame_checks import check_segments

    entry = make_entry(
        segments={
            "columns": ["region"],
            "metrics": ["null_rate", "psi", "score_psi", "mean_score"],
            "min_rows": 150,
        }
    )
    reference = make_scoring_frame(entry, 3000, seed=4)
    current = make_scoring_frame(entry, 1500, seed=5, shift=0.3)
    current.loc[:200, "amount"] = np.nan
    current.loc[201:220, "region"] = "west"  # a value the reference lacks: too few rows either way
    current.loc[221:230, "region"] = None
    current.loc[current["region"] == "north", "tenure"] = np.nan  # no values within a segment
    reference["_dt"] = date(2026, 8, 20)
    reference, current = conform(reference, entry, "reference"), conform(current, entry, "current")
    profile = profile_from_frame(reference, entry, info_of(reference, entry))

    results = [
        r
        for r in drift_results(
            ag.aggregate_frame(current, entry, profile, DAY, batch_rows=97), profile, entry
        )
        if r.segment
    ]
    expected = check_segments(reference, current, entry)

    assert [r.key for r in results] == [r.key for r in expected] and len(expected) == 4 * 6
    for ours, theirs in zip(results, expected, strict=True):
        assert ours.detail == theirs.detail, ours.key
        if theirs.value is None:
            assert ours.value is None, ours.key
        else:
            assert ours.value == pytest.approx(theirs.value, rel=1e-12, abs=TOL), ours.key
    assert ReferenceProfile.from_files(profile.to_files()).segments["region"]["east"].numeric["amount"].n > 0


def test_an_aggregate_survives_its_bytes(make_entry, make_scoring_frame):
    entry = make_entry(segments={"columns": ["region"], "min_rows": 10})
    raw = copy.deepcopy(entry.model_dump(mode="json"))
    raw["monitoring"]["features"][0]["drift_methods"] = ["ks", "wasserstein"]
    entry = ModelEntry.model_validate(raw)
    reference = make_scoring_frame(entry, 2000, seed=1).assign(_dt=date(2026, 8, 20))
    reference, current = (
        conform(reference, entry, "ref"),
        conform(make_scoring_frame(entry, 900, seed=2), entry, "c"),
    )
    profile = profile_from_frame(reference, entry, info_of(reference, entry))
    agg = ag.aggregate_frame(current, entry, profile, DAY, sample_rows=100)

    back = DayAggregate.from_bytes(agg.to_bytes(), profile, entry)

    assert [r.to_dict() for r in metrics_from_aggregates(back, profile, entry)] == [
        r.to_dict() for r in metrics_from_aggregates(agg, profile, entry)
    ]
    assert back.sample.equals(agg.sample) and back.info == agg.info and back.columns == agg.columns


def test_scanning_the_footers_counts_rows_and_checks_the_contract(entry, frames, tmp_path):
    _, current = frames
    first, second = tmp_path / "part-0.parquet", tmp_path / "part-1.parquet"
    pq.write_table(pa.Table.from_pandas(current.iloc[:1200], preserve_index=False), first)
    pq.write_table(
        pa.Table.from_pandas(current.iloc[1200:].assign(amount=None), preserve_index=False), second
    )
    assert scan_day([first.as_uri(), second.as_uri()], entry, "day") == 2000  # all-null amount is fine

    pq.write_table(pa.Table.from_pandas(current.assign(amount="12"), preserve_index=False), second)
    with pytest.raises(SchemaError, match="day has wrong column types: amount is object, expected numeric"):
        scan_day([first.as_uri(), second.as_uri()], entry, "day")
    pq.write_table(pa.Table.from_pandas(current.drop(columns=["region"]), preserve_index=False), first)
    with pytest.raises(SchemaError, match="toy_model: day lacks required column"):
        scan_day([first.as_uri()], entry, "day")


@pytest.mark.skipif(not shutil.which("chromium"), reason="Chromium not installed for the browser test")
def test_the_sample_report_draws_the_whole_day_psi_in_a_browser(entry, frames, profile, tmp_path):
    from mrm.checks.evidently_report import evidently_lib_files
    from mrm.evidence.writer import EvidenceWriter, write_shared

    _, current = frames
    agg = ag.aggregate_frame(current, entry, profile, DAY, sample_rows=400)
    results = metrics_from_aggregates(agg, profile, entry)
    base = (tmp_path / "evidence").as_uri()
    write_shared(base, evidently_lib_files())
    EvidenceWriter(base, entry.model_id, DAY, "run1").put(
        "drift_report.html", se.drift_report_html(agg, profile, entry, results)
    )
    page = tmp_path / "evidence" / entry.model_id / DAY.isoformat() / "run1" / "drift_report.html"
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--allow-file-access-from-files",
        "--virtual-time-budget=10000", "--dump-dom", f"--user-data-dir={tmp_path / 'chromium'}",
    ]  # fmt: skip
    dom = subprocess.run(
        [shutil.which("chromium"), *flags, page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout

    psi = next(r.value for r in results if r.metric == "psi" and r.column == "amount")
    assert "Drift in column 'amount'" in dom and "PSI (reference deciles), whole day" in dom
    assert f"Drift score: {round(psi, 3):g}" in dom
    assert "Drift scores are computed on all 2,000 rows" in dom


def test_reference_and_day_on_s3_with_the_profile_cached_on_s3(make_entry, make_scoring_frame, aws):
    import boto3

    entry = make_entry(scoring_log="s3://mrm-scoring/toy/")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="mrm-scoring")
    for day, seed in [(date(2026, 8, 20), 1), (date(2026, 8, 21), 2), (DAY, 3)]:
        out = io.BytesIO()
        frame = make_scoring_frame(entry, 500, seed=seed, shift=0.4 * (day == DAY))
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), out)
        s3.put_object(Bucket="mrm-scoring", Key=f"toy/dt={day}/part-0.parquet", Body=out.getvalue())

    profile, cached = reference_profile(entry, "s3://mrm-scoring/profiles")
    again, cached_again = reference_profile(entry, "s3://mrm-scoring/profiles")
    agg = ag.aggregate_day([f"s3://mrm-scoring/toy/dt={DAY}/part-0.parquet"], entry, profile, DAY)

    assert (cached, cached_again) == (False, True) and profile.info["daily_rows"] == [500, 500]
    assert agg.rows == 500 and psi_value(agg, again, "amount") > 0.1
