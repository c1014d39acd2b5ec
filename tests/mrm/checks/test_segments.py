"""Controls evaluated within segments (the frame-based oracle, oracles.frame_checks): per-segment null
rates counted by hand, PSI equal to the statistics on the segment's rows, small segments
INSUFFICIENT_DATA, the segment column never its own feature."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from oracles.frame_checks import check_segments

from mrm.checks import stats

TOL = 1e-12
FEATURES = [
    {"name": "amount", "type": "numeric", "min": 0, "max": 100},
    {"name": "tenure", "type": "numeric", "min": 0, "max": 50},
    {"name": "region", "type": "categorical", "categories": ["north", "south", "east"]},
    {"name": "channel", "type": "categorical", "categories": ["web", "app"]},
]
ALL_METRICS = ["null_rate", "psi", "score_psi", "mean_score"]
MIN_ROWS = 30


@pytest.fixture(scope="module")
def entry(make_entry):
    segments = {"columns": ["region", "channel"], "metrics": ALL_METRICS, "min_rows": MIN_ROWS}
    return make_entry(features=FEATURES, segments=segments)


def frame(rows: int, seed: int, regions: list[str], p: list[float], shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "event_id": [f"{seed}-{i}" for i in range(rows)],
            "score": rng.beta(2.0 + shift, 5.0, rows),
            "decision": "approve",
            "amount": rng.normal(40 + 10 * shift, 10, rows),
            "tenure": rng.normal(20, 5, rows),
            "region": pd.Series(rng.choice(regions, rows, p=p), dtype="object"),
            "channel": pd.Series(rng.choice(["web", "app"], rows, p=[0.6 - 0.2 * shift, 0.4 + 0.2 * shift])),
        }
    )


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    reference = frame(600, 1, ["north", "south", "east"], [0.5, 0.4, 0.1])
    current = frame(400, 2, ["north", "south", "east", "west"], [0.55, 0.38, 0.04, 0.03], shift=0.5)
    reference.loc[reference.index[:40], "amount"] = np.nan
    current.loc[current.index[:60], "amount"] = np.nan
    current.loc[current.index[60:75], "channel"] = None
    current.loc[current.index[75:85], "region"] = None  # in no region segment
    current.loc[current["region"] == "south", "tenure"] = np.nan  # no tenure values in the south today
    return reference, current


@pytest.fixture(scope="module")
def results(frames, entry):
    out = check_segments(*frames, entry)
    keys = [r.key for r in out]
    assert len(keys) == len(set(keys)), "one result per control instance"
    return {(r.metric, r.column, r.segment): r for r in out}


def rows_of(frame: pd.DataFrame, column: str, value: str) -> pd.DataFrame:
    return frame[[v == value for v in frame[column]]]


def present(frames, column: str) -> list[str]:
    return sorted({v for f in frames for v in f[column] if isinstance(v, str)})


def test_segments_are_every_value_seen_today_or_in_the_reference(results, frames):
    segments = sorted({seg for *_, seg in results})

    assert present(frames, "region") == ["east", "north", "south", "west"]
    assert segments == [
        "channel=app",
        "channel=web",
        "region=east",
        "region=north",
        "region=south",
        "region=west",
    ]


def test_each_segment_reports_every_configured_metric_for_the_other_features(results):
    for segment, own in (("region=north", "region"), ("channel=web", "channel")):
        found = sorted((m, c or "") for m, c, s in results if s == segment)
        others = sorted(f["name"] for f in FEATURES if f["name"] != own)
        expected = sorted(
            [("null_rate", c) for c in others]
            + [("psi", c) for c in others]
            + [("score_psi", ""), ("mean_score", "")]
        )
        assert found == expected, segment


def test_results_carry_their_check_segment_and_control_key(results):
    r = results[("null_rate", "amount", "region=north")]
    assert (r.check, r.key) == ("quality", "quality.null_rate[amount]{region=north}")
    r = results[("psi", "channel", "region=north")]
    assert (r.check, r.key) == ("drift", "drift.psi[channel]{region=north}")
    assert results[("score_psi", None, "channel=app")].key == "drift.score_psi{channel=app}"
    assert results[("mean_score", None, "channel=app")].check == "drift"


@pytest.mark.parametrize("segment", ["north", "south"])
@pytest.mark.parametrize("column", ["amount", "tenure", "channel"])
def test_segment_null_rate_equals_a_hand_count(results, frames, segment, column):
    _, current = frames
    values = list(rows_of(current, "region", segment)[column])
    nulls = sum(v is None or (isinstance(v, float) and math.isnan(v)) for v in values)

    assert results[("null_rate", column, f"region={segment}")].value == nulls / len(values)


def test_segment_psi_equals_the_statistics_on_the_segment_rows(results, frames):
    reference, current = frames
    for segment in ("north", "south"):
        ref, cur = rows_of(reference, "region", segment), rows_of(current, "region", segment)
        amount = stats.psi_numeric(ref["amount"].to_numpy(dtype="float64"), cur["amount"].to_numpy())
        channel = stats.psi_categorical(ref["channel"].tolist(), cur["channel"].tolist())
        score = stats.psi_numeric(ref["score"].to_numpy(), cur["score"].to_numpy())

        assert results[("psi", "amount", f"region={segment}")].value == pytest.approx(amount, abs=TOL)
        assert results[("psi", "channel", f"region={segment}")].value == pytest.approx(channel, abs=TOL)
        assert results[("score_psi", None, f"region={segment}")].value == pytest.approx(score, abs=TOL)
        assert results[("mean_score", None, f"region={segment}")].value == pytest.approx(
            sum(cur["score"]) / len(cur), abs=TOL
        )


def test_segment_categorical_psi_puts_nulls_in_the_missing_bin(results, frames):
    reference, current = frames
    ref, cur = rows_of(reference, "region", "north"), rows_of(current, "region", "north")
    with_none = cur["channel"].tolist()
    without = [v for v in with_none if v is not None]

    assert None in with_none
    value = results[("psi", "channel", "region=north")].value
    assert value == pytest.approx(stats.psi_categorical(ref["channel"].tolist(), with_none), abs=TOL)
    assert abs(value - stats.psi_categorical(ref["channel"].tolist(), without)) > 1e-6


def test_segment_psi_differs_from_the_population_psi(results, frames):
    reference, current = frames
    population = stats.psi_numeric(reference["amount"].to_numpy(), current["amount"].to_numpy())

    assert abs(results[("psi", "amount", "region=north")].value - population) > 1e-6


def test_a_feature_with_no_values_in_a_segment_has_no_psi_but_a_null_rate_of_one(results):
    assert results[("psi", "tenure", "region=south")].value is None
    assert results[("null_rate", "tenure", "region=south")].value == 1.0
    assert results[("psi", "tenure", "region=north")].value is not None


@pytest.mark.parametrize("segment", ["region=east", "region=west"])
def test_a_segment_below_min_rows_today_or_in_the_reference_is_insufficient(results, frames, segment):
    reference, current = frames
    value = segment.split("=")[1]
    rows, ref_rows = len(rows_of(current, "region", value)), len(rows_of(reference, "region", value))
    found = [r for (*_, s), r in results.items() if s == segment]

    assert min(rows, ref_rows) < MIN_ROWS
    assert len(found) == 2 * 3 + 2
    assert all(r.value is None for r in found)
    assert found[0].detail == {"rows": rows, "reference_rows": ref_rows, "min_rows": MIN_ROWS}


def test_a_segment_with_exactly_min_rows_on_both_sides_is_computed(make_entry):
    entry = make_entry(segments={"columns": ["region"], "metrics": ["null_rate"], "min_rows": 5})
    reference = pd.DataFrame({"region": ["north"] * 5, "amount": 1.0, "tenure": 2.0, "score": 0.1})
    current = reference.assign(amount=[np.nan, 1.0, 2.0, 3.0, 4.0])

    out = {r.column: r.value for r in check_segments(reference, current, entry)}

    assert out == {"amount": 0.2, "tenure": 0.0}


def test_the_segment_column_is_not_a_feature_of_its_own_segments(results):
    for (_, column, segment), _r in results.items():
        assert column != segment.split("=")[0]


def test_without_a_segments_plan_there_are_no_segment_results(make_entry, frames):
    assert check_segments(*frames, make_entry()) == []


def test_a_categorical_segment_column_of_integer_codes_is_segmented(make_entry):
    features = [*FEATURES[:2], {"name": "region", "type": "categorical"}]
    entry = make_entry(
        features=features, segments={"columns": ["region"], "metrics": ["null_rate"], "min_rows": 2}
    )
    reference = pd.DataFrame(
        {"region": pd.Series([1, 1, 2, 2], dtype="object"), "amount": 1.0, "tenure": 1.0, "score": 0.2}
    )
    current = reference.assign(amount=[np.nan, 1.0, 1.0, 1.0])

    out = {(r.segment, r.column): r.value for r in check_segments(reference, current, entry)}

    assert out[("region=1", "amount")] == 0.5
    assert out[("region=2", "amount")] == 0.0
