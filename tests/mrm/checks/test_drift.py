"""Drift through real Evidently with the mrm_psi stattest (the frame-based oracle the engine is tested
against, oracles.frame_checks): the numbers equal the credit-risk PSI.

Each PSI from the Evidently report is compared with :mod:`mrm.checks.stats` called directly and, for one
numeric and one categorical column, with a hand computation in pure Python (tolerance 1e-12).
"""

from __future__ import annotations

import bisect
import math
import statistics

import numpy as np
import pandas as pd
import pytest
from oracles.frame_checks import DriftOutcome, check_drift

from mrm.checks import stats
from mrm.errors import CheckError

TOL = 1e-12
EPS = 1e-4


@pytest.fixture(scope="module")
def entry(make_entry):
    return make_entry()


@pytest.fixture(scope="module")
def frames(entry, make_scoring_frame) -> tuple[pd.DataFrame, pd.DataFrame]:
    reference = make_scoring_frame(entry, 300, seed=1)
    current = make_scoring_frame(entry, 200, seed=2, shift=0.5)
    reference.loc[:9, "amount"] = np.nan
    current.loc[:19, "amount"] = np.nan
    current.loc[20:24, "region"] = None
    current.loc[25:39, "region"] = "west"  # never seen in the reference: both share the "other" bin
    current.loc[40:44, "region"] = "mars"
    return reference, current


@pytest.fixture(scope="module")
def outcome(frames, entry) -> DriftOutcome:
    return check_drift(*frames, entry)


def result(outcome: DriftOutcome, metric: str, column: str | None):
    [found] = [r for r in outcome.results if r.metric == metric and r.column == column]
    return found


def hand_psi(expected_counts: list[int], actual_counts: list[int]) -> float:
    e_total, a_total = sum(expected_counts), sum(actual_counts)
    total = 0.0
    for e_n, a_n in zip(expected_counts, actual_counts, strict=True):
        e, a = max(e_n / e_total, EPS), max(a_n / a_total, EPS)
        total += (a - e) * math.log(a / e)
    return total


def test_feature_and_score_psi_equal_the_statistics_called_directly(outcome, frames, entry):
    reference, current = frames

    for f in entry.monitoring.features:
        if f.type == "numeric":
            direct = stats.psi_numeric(reference[f.name].to_numpy(), current[f.name].to_numpy())
        else:
            direct = stats.psi_categorical(reference[f.name].tolist(), current[f.name].tolist())
        assert result(outcome, "psi", f.name).value == pytest.approx(direct, abs=TOL), f.name
    direct_score = stats.psi_numeric(reference["score"].to_numpy(), current["score"].to_numpy())
    assert result(outcome, "score_psi", None).value == pytest.approx(direct_score, abs=TOL)


def test_numeric_psi_equals_a_hand_computation_on_reference_deciles(outcome, frames):
    reference, current = frames
    ref = [v for v in reference["amount"] if not math.isnan(v)]
    cur = [v for v in current["amount"] if not math.isnan(v)]
    edges = sorted(set(np.quantile(ref, [k / 10 for k in range(1, 10)]).tolist()))

    def counts(values: list[float]) -> list[int]:
        out = [0] * (len(edges) + 1)
        for v in values:
            out[bisect.bisect_right(edges, v)] += 1  # [q_k, q_k+1): a value on an edge goes up
        return out

    expected = hand_psi(counts(ref), counts(cur))

    assert result(outcome, "psi", "amount").value == pytest.approx(expected, abs=TOL)
    assert expected > 0.1  # the shifted frame really drifted, so the comparison is not 0 == 0


def test_categorical_psi_equals_a_hand_computation_with_other_and_missing_bins(outcome, frames):
    reference, current = frames
    categories = sorted(set(reference["region"]))
    cur = list(current["region"])

    expected = hand_psi(
        [list(reference["region"]).count(c) for c in categories] + [0, 0],
        [cur.count(c) for c in categories]
        + [sum(v is not None and v not in categories for v in cur), sum(v is None for v in cur)],
    )

    assert not {"west", "mars"} & set(categories) and (cur.count("west"), cur.count("mars")) == (15, 5)
    assert cur.count(None) == 5  # the nulls reach the "missing" bin even though Evidently drops nulls
    assert result(outcome, "psi", "region").value == pytest.approx(expected, abs=TOL)


def test_psi_bins_on_the_reference_not_on_the_current_window(outcome, frames):
    reference, current = frames
    swapped = stats.psi_numeric(current["tenure"].to_numpy(), reference["tenure"].to_numpy())

    assert abs(result(outcome, "psi", "tenure").value - swapped) > 1e-6


def test_decision_rate_shift_is_the_absolute_change_of_each_share(outcome, frames, entry):
    reference, current = frames
    ref, cur = list(reference["decision"]), list(current["decision"])

    for decision in entry.monitoring.decisions:
        e, a = ref.count(decision) / len(ref), cur.count(decision) / len(cur)
        found = result(outcome, "decision_rate_shift", decision)
        assert found.value == pytest.approx(abs(a - e), abs=TOL), decision
        assert found.detail == pytest.approx({"reference": e, "current": a}, abs=TOL)


def test_a_decision_absent_from_the_day_shifts_by_its_whole_reference_share(entry, frames):
    reference, current = frames
    day = current[current["decision"] != "decline"].reset_index(drop=True)

    shift = result(check_drift(reference, day, entry), "decision_rate_shift", "decline")

    assert shift.value == pytest.approx(
        list(reference["decision"]).count("decline") / len(reference), abs=TOL
    )


def test_mean_score_is_the_mean_of_the_day(outcome, frames):
    reference, current = frames
    found = result(outcome, "mean_score", None)

    assert found.value == pytest.approx(statistics.fmean(current["score"]), abs=TOL)
    assert found.detail["reference"] == pytest.approx(statistics.fmean(reference["score"]), abs=TOL)


def test_every_result_names_its_method(outcome, entry):
    psi_columns = [r.column for r in outcome.results if r.metric == "psi"]

    assert psi_columns == [f.name for f in entry.monitoring.features]
    assert {r.detail["method"] for r in outcome.results if "psi" in r.metric} == {"mrm_psi"}


def test_the_report_is_html_showing_the_mrm_psi_test(outcome, entry):
    html = outcome.report_html.decode("utf-8")

    assert html.lstrip().lower().startswith("<!doctype html>")
    assert "PSI (reference deciles, mrm)" in html
    for f in entry.monitoring.features:
        assert f.name in html


def test_a_missing_column_is_a_check_error_naming_the_model(frames, entry):
    reference, current = frames

    with pytest.raises(CheckError, match=r"^toy_model: Evidently drift report failed: KeyError: .*tenure"):
        check_drift(reference, current.drop(columns=["tenure"]), entry)


@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")
def test_a_feature_that_is_entirely_null_leaves_the_other_drift_metrics(frames, entry):
    reference, current = frames
    day = current.assign(tenure=np.nan)

    outcome = check_drift(reference, day, entry)

    assert result(outcome, "psi", "tenure").value is None
    assert result(outcome, "score_psi", None).value == pytest.approx(
        stats.psi_numeric(reference["score"].to_numpy(), day["score"].to_numpy()), abs=TOL
    )
