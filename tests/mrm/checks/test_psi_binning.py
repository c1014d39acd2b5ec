"""The PSI binning convention is a per-model (and per-feature) choice, ``monitoring.psi_binning``:
``deciles`` (the reference quantiles by numpy's linear rule, half-open [q_k, q_{k+1}), open ends),
``deciles_mass_points`` (the default: the same, plus a bin of its own for a value several quantiles
share) or ``distinct_values`` (one bin per distinct reference value, at most 50, else the default). Each
convention's PSI is checked against a hand computation on fixed data with a mass point; the drift
detail names the binning and gives the PSI under all three from the same counts; the default keeps
today's numbers; the setting is validated and is part of the profile's fingerprint."""

from __future__ import annotations

import copy
import math
import typing
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from oracles.frame_checks import numpy_binning_edges, numpy_psi
from pydantic import ValidationError

from mrm.checks import stats
from mrm.checks.drift import drift_results
from mrm.checks.engine import aggregate as ag
from mrm.checks.engine.profile import ProfileSettings, ReferenceProfile
from mrm.checks.engine.profiling import profile_from_frame
from mrm.checks.reference import reference_profile
from mrm.inventory import ModelEntry
from mrm.inventory.schema import PsiBinning
from mrm.sources.contract import conform, required_columns

DAY = date(2026, 9, 1)
EPS = 1e-4

# 21 reference values: 9 zeros (a mass point), then 1..12. With n - 1 = 20 the linear rule's deciles fall
# on order statistics 2, 4, ..., 18: 0, 0, 0, 0, 2, 4, 6, 8, 10. A day of 20 values moves zeros to ones.
REFERENCE = [0.0] * 9 + [float(v) for v in range(1, 13)]
CURRENT = [0.0] * 4 + [1.0] * 6 + [float(v) for v in range(2, 12)]

# Bins and counts by hand, (reference of 21, day of 20), the bins in order from -inf:
HAND_EDGES = {
    "deciles": [0, 2, 4, 6, 8, 10],  # the quantiles de-duplicated
    "deciles_mass_points": [0, 5e-324, 2, 4, 6, 8, 10],  # [0, next double) holds exactly the zeros
    "distinct_values": list(range(13)),  # [0,1), [1,2), ..., [12, inf)
}
HAND_COUNTS = {
    # (-inf,0) [0,2)   [2,4)  [4,6)  [6,8)  [8,10) [10,inf)
    "deciles": [(0, 0), (10, 10), (2, 2), (2, 2), (2, 2), (2, 2), (3, 2)],
    # (-inf,0) {0}  (0,2)  [2,4) ...                          [10,inf)
    "deciles_mass_points": [(0, 0), (9, 4), (1, 6), (2, 2), (2, 2), (2, 2), (2, 2), (3, 2)],
    # (-inf,0) [0,1) [1,2) [2,3) ... [11,12): one each on both sides, [12,inf): the reference's 12 only
    "distinct_values": [(0, 0), (9, 4), (1, 6), *[(1, 1)] * 10, (1, 0)],
}


def hand_psi(counts: list[tuple[int, int]]) -> float:
    total = 0.0
    for ref, cur in counts:
        e, a = max(ref / 21, EPS), max(cur / 20, EPS)
        total += (a - e) * math.log(a / e)
    return total


HAND_PSI = {binning: hand_psi(counts) for binning, counts in HAND_COUNTS.items()}


def entry_with(make_entry, binning: str | None = None, **features: str) -> ModelEntry:
    """The toy entry with ``monitoring.psi_binning`` (unset: the default) and per-feature overrides."""
    raw = copy.deepcopy(make_entry().model_dump(mode="json"))
    if binning is not None:
        raw["monitoring"]["psi_binning"] = binning
    for f in raw["monitoring"]["features"]:
        if f["name"] in features:
            f["psi_binning"] = features[f["name"]]
    return ModelEntry.model_validate(raw)


def run_drift(entry: ModelEntry, make_scoring_frame, reference_amount, current_amount):
    """The profile and the day's drift results by metric and column, with ``amount`` set as given."""
    reference = make_scoring_frame(entry, len(reference_amount), seed=1)
    current = make_scoring_frame(entry, len(current_amount), seed=2, shift=0.3)
    reference["amount"], current["amount"] = reference_amount, current_amount
    reference["_dt"] = date(2026, 8, 20)
    reference, current = conform(reference, entry, "reference"), conform(current, entry, "current")
    info = {
        "daily_rows": [len(reference)],
        "median_daily_rows": float(len(reference)),
        "null_rates": {c: float(reference[c].isna().mean()) for c in required_columns(entry)},
    }
    profile = profile_from_frame(reference, entry, info)
    results = drift_results(ag.aggregate_frame(current, entry, profile, DAY, batch_rows=7), profile, entry)
    return profile, {(r.metric, r.column): r for r in results if r.segment is None}


def test_the_hand_computation_differs_by_convention_as_the_mass_point_moves():
    # guards the fixture: a mass point that splits changes the PSI, and the three are distinct numbers
    assert HAND_PSI["deciles"] < HAND_PSI["deciles_mass_points"] < HAND_PSI["distinct_values"]
    assert [round(v, 4) for v in HAND_PSI.values()] == [0.0174, 0.6549, 0.9329]


@pytest.mark.parametrize("binning", stats.BINNINGS)
def test_each_conventions_psi_equals_the_hand_computation(binning, make_entry, make_scoring_frame):
    entry = entry_with(make_entry, binning)
    profile, found = run_drift(entry, make_scoring_frame, REFERENCE, CURRENT)
    psi = found[("psi", "amount")]

    assert profile.numeric["amount"].psi_edges.tolist() == HAND_EDGES[binning]
    assert psi.value == pytest.approx(HAND_PSI[binning], abs=1e-12)
    assert psi.detail["binning"] == binning
    assert psi.detail["psi_by_binning"] == pytest.approx(HAND_PSI, abs=1e-12)
    assert "not_computable" not in psi.detail


def test_values_on_an_edge_count_in_the_bin_above_it(make_entry, make_scoring_frame):
    # the day: all at the edge 2 of the deciles ([2,4)) and all at 10 ([10, inf)): half-open bins
    entry = entry_with(make_entry, "deciles")
    _, found = run_drift(entry, make_scoring_frame, REFERENCE, [2.0] * 10 + [10.0] * 10)
    expected = hand_psi([(0, 0), (10, 0), (2, 10), (2, 0), (2, 0), (2, 0), (3, 10)])
    assert found[("psi", "amount")].value == pytest.approx(expected, abs=1e-12)


def test_the_default_is_deciles_with_mass_points_and_keeps_todays_numbers(make_entry, make_scoring_frame):
    entry = make_entry()
    assert entry.monitoring.psi_binning == "deciles_mass_points" == stats.DEFAULT_BINNING
    assert ProfileSettings.for_entry(entry).binning_of("amount") == "deciles_mass_points"
    reference = np.random.default_rng(5).integers(0, 30, 500).astype("float64")
    reference[:200] = 3.0  # a mass point across several deciles
    current = np.random.default_rng(6).integers(0, 40, 400).astype("float64")

    profile, found = run_drift(entry, make_scoring_frame, reference, current)

    assert np.array_equal(profile.numeric["amount"].psi_edges, stats.decile_edges(reference, 10))
    assert found[("psi", "amount")].value == pytest.approx(stats.psi_numeric(reference, current), abs=1e-12)
    assert found[("psi", "amount")].detail["binning"] == "deciles_mass_points"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("binning", stats.BINNINGS)
def test_the_psi_under_each_convention_equals_numpy_on_the_values(seed, binning, make_entry,
                                                                  make_scoring_frame):  # fmt: skip
    rng = np.random.default_rng(seed)
    reference = np.where(rng.random(900) < 0.3, 0.0, rng.integers(0, 45, 900)).astype("float64")  # ties
    current = np.where(rng.random(700) < 0.15, 0.0, rng.integers(0, 50, 700)).astype("float64")
    entry = entry_with(make_entry, binning)

    _, found = run_drift(entry, make_scoring_frame, reference, current)

    edges = numpy_binning_edges(reference, 10)
    detail = found[("psi", "amount")].detail
    assert detail["psi_by_binning"] == pytest.approx(
        {b: numpy_psi(reference, current, e) for b, e in edges.items()}, abs=1e-12
    )
    assert found[("psi", "amount")].value == pytest.approx(numpy_psi(reference, current, edges[binning]))


def test_distinct_values_beyond_the_cap_falls_back_to_the_default_and_says_so(make_entry,
                                                                             make_scoring_frame):  # fmt: skip
    entry = entry_with(make_entry, "distinct_values")
    reference = np.random.default_rng(3).normal(50, 10, 400)
    current = np.random.default_rng(4).normal(55, 10, 300)

    _, found = run_drift(entry, make_scoring_frame, reference, current)

    detail = found[("psi", "amount")].detail
    assert detail["binning"] == "deciles_mass_points"
    assert detail["psi_by_binning"]["distinct_values"] is None
    assert detail["not_computable"] == {
        "distinct_values": "400 distinct reference values, more than 50: not binned by value"
    }
    assert found[("psi", "amount")].value == pytest.approx(stats.psi_numeric(reference, current), abs=1e-12)


def test_a_feature_sets_its_own_binning_and_the_score_follows_the_model(make_entry, make_scoring_frame):
    entry = entry_with(make_entry, "deciles", amount="distinct_values")
    assert entry.monitoring.binning_of("amount") == "distinct_values"
    assert entry.monitoring.binning_of("tenure") == entry.monitoring.binning_of("score") == "deciles"

    profile, found = run_drift(entry, make_scoring_frame, REFERENCE, CURRENT)

    assert found[("psi", "amount")].value == pytest.approx(HAND_PSI["distinct_values"], abs=1e-12)
    keys = [("psi", "amount"), ("psi", "tenure"), ("score_psi", None)]
    assert [found[k].detail["binning"] for k in keys] == ["distinct_values", "deciles", "deciles"]
    assert found[("psi", "region")].detail["binning"] == "categories"
    assert profile.settings.psi_binning_columns == {"amount": "distinct_values"}


def test_segments_bin_within_each_value_by_the_columns_convention(make_entry, make_scoring_frame):
    raw = copy.deepcopy(entry_with(make_entry, "distinct_values").model_dump(mode="json"))
    raw["monitoring"]["segments"] = {"columns": ["region"], "metrics": ["psi"], "min_rows": 1}
    entry = ModelEntry.model_validate(raw)
    reference = np.random.default_rng(7).integers(0, 8, 300).astype("float64")

    profile, _ = run_drift(entry, make_scoring_frame, reference, reference[:200])

    regions = make_scoring_frame(entry, 300, seed=1)["region"].to_numpy()  # as run_drift drew them
    assert sorted(profile.segments["region"]) == sorted(set(regions))
    for value, part in profile.segments["region"].items():
        within = reference[regions == value]
        assert part.numeric["amount"].edges.tolist() == np.unique(within).tolist()
        assert part.numeric["amount"].counts.tolist() == [0, *np.unique(within, return_counts=True)[1]]


def test_the_schema_names_the_conventions_of_the_statistics():
    assert typing.get_args(PsiBinning) == stats.BINNINGS


def test_an_unknown_binning_or_one_on_a_categorical_feature_is_rejected(make_entry):
    with pytest.raises(ValidationError, match="psi_binning"):
        make_entry(psi_binning="quintiles")
    with pytest.raises(ValidationError, match="psi_binning applies to numeric features only"):
        entry_with(make_entry, None, region="deciles")
    with pytest.raises(ValidationError, match="psi_binning"):
        entry_with(make_entry, None, amount="by_value")
    with pytest.raises(ValueError, match="unknown PSI binning 'x'"):
        stats.binning_edges(np.arange(5.0), 10, "x")


def test_the_profile_keeps_its_binning_through_its_files(make_entry, make_scoring_frame):
    profile, _ = run_drift(entry_with(make_entry, "deciles"), make_scoring_frame, REFERENCE, CURRENT)
    again = ReferenceProfile.from_files(profile.to_files())
    p, q = profile.numeric["amount"], again.numeric["amount"]
    assert (q.binning, sorted(q.other_edges), q.not_computable) == (
        "deciles", ["deciles_mass_points", "distinct_values"], {},
    )  # fmt: skip
    assert all(np.array_equal(q.other_edges[b], p.other_edges[b]) for b in p.other_edges)
    assert again.settings == profile.settings


def test_a_changed_binning_rebuilds_the_cached_profile(tmp_path, make_entry, make_scoring_frame):
    root = tmp_path / "scoring"
    entry = make_entry(scoring_log=root.as_uri() + "/")
    for i, day in enumerate(entry.monitoring.reference.days()):
        frame = make_scoring_frame(entry, 100, seed=20 + i)
        frame["amount"] = np.where(np.arange(100) < 60, 0.0, np.arange(100) % 7)  # a mass point at 0
        (root / f"dt={day.isoformat()}").mkdir(parents=True)
        pq.write_table(
            pa.Table.from_pandas(frame, preserve_index=False), root / f"dt={day}" / "part-0.parquet"
        )
    cache = (tmp_path / "profiles").as_uri()
    first, _ = reference_profile(entry, cache)
    raw = copy.deepcopy(entry.model_dump(mode="json"))
    raw["monitoring"]["psi_binning"] = "deciles"

    changed, cached = reference_profile(ModelEntry.model_validate(raw), cache)
    again, cached_again = reference_profile(entry, cache)

    assert not cached and changed.fingerprint != first.fingerprint
    assert first.numeric["amount"].psi_edges.tolist() == [0.0, 5e-324, 1.0, 3.0, 5.0]
    assert changed.numeric["amount"].psi_edges.tolist() == [0.0, 1.0, 3.0, 5.0]
    assert cached_again and again.fingerprint == first.fingerprint


def test_the_reports_banner_names_the_binning_and_the_psi_under_the_others(make_entry, make_scoring_frame):
    from mrm.checks import sample_evidence as se

    entry = entry_with(make_entry, None, amount="deciles")
    reference = make_scoring_frame(entry, 21, seed=1)
    current = make_scoring_frame(entry, 20, seed=2, shift=0.3)
    reference["amount"], current["amount"] = REFERENCE, CURRENT
    reference["_dt"] = date(2026, 8, 20)
    reference, current = conform(reference, entry, "reference"), conform(current, entry, "current")
    info = {"daily_rows": [21], "median_daily_rows": 21.0,
            "null_rates": {c: 0.0 for c in required_columns(entry)}}  # fmt: skip
    profile = profile_from_frame(reference, entry, info)
    agg = ag.aggregate_frame(current, entry, profile, DAY)
    results = drift_results(agg, profile, entry)

    html = se.drift_report_html(agg, profile, entry, results).decode()

    other = f"deciles_mass_points {HAND_PSI['deciles_mass_points']:.6g}"
    assert (
        f"exact, binned by deciles (PSI by {other}, distinct_values {HAND_PSI['distinct_values']:.6g})"
        in html
    )
