"""Outcome analysis on matured cohorts: the cohort window, the label join, and the metric rows.

Independent references: scikit-learn (``roc_auc_score``, ``brier_score_loss``,
``precision_recall_fscore_support``), scipy (``ks_2samp``, ``chi2.sf``, ``norm.ppf``), DeLong's variance
from the m × n comparison matrix, and hand computations written out below.
"""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from sklearn.metrics import brier_score_loss, precision_recall_fscore_support, roc_auc_score

from mrm import metrics
from mrm.checks.performance import check_performance, cohort_window, labelled, statistics
from mrm.inventory import Performance

TOL = 1e-12
KNOWN_BY = date(2026, 10, 1)
COHORT = (date(2026, 9, 25), date(2026, 10, 1))
PERF = Performance(label_maturity_days=30, cohort_days=7, threshold=0.4, min_positives=30, min_negatives=30)
EXPECTED_METRICS = [
    "label_coverage",
    "auc",
    "gini",
    "ks",
    "precision",
    "recall",
    "f1",
    "positive_rate",
    "brier",
    "hl_p_value",
    "calibration_ratio",
    "gini_drop",
    "ks_drop",
]


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def scored_frame(ids: list[str], scores: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"event_id": ids, "score": scores, "decision": "approve"})


def label_frame(rows: list[tuple[str, int, pd.Timestamp]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["event_id", "label", "label_ts"])


@pytest.fixture(scope="module")
def cohort() -> tuple[pd.DataFrame, pd.DataFrame]:
    """600 scored events, calibrated-ish labels for 540 of them, all known by KNOWN_BY."""
    rng = np.random.default_rng(20260901)
    n = 600
    score = 1 / (1 + np.exp(-(-1.0 + 1.3 * rng.normal(size=n))))
    y = (rng.random(n) < score).astype(int)
    ids = [f"e{i}" for i in range(n)]
    scored = scored_frame(ids, score.tolist())
    when = ts("2026-09-28T12:00:00Z")
    labels = label_frame([(ids[i], int(y[i]), when) for i in range(540)])
    return scored, labels


@pytest.fixture(scope="module")
def joined(cohort) -> tuple[pd.DataFrame, float | None]:
    return labelled(*cohort, KNOWN_BY)


@pytest.fixture(scope="module")
def rows(joined) -> dict[str, object]:
    frame, coverage = joined
    out = check_performance(frame, coverage, PERF, {"gini": 0.62, "ks": 0.55}, COHORT, {"unreadable": []})
    by_metric = {r.metric: r for r in out}
    assert len(by_metric) == len(out), "one row per metric"
    return by_metric


# -- the cohort window ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "maturity", "width", "window"),
    [
        (date(2026, 10, 31), 30, 7, (date(2026, 9, 25), date(2026, 10, 1))),
        (date(2026, 3, 1), 1, 1, (date(2026, 2, 28), date(2026, 2, 28))),
        (date(2028, 3, 1), 1, 2, (date(2028, 2, 28), date(2028, 2, 29))),  # leap year
        (date(2027, 1, 10), 90, 31, (date(2026, 9, 12), date(2026, 10, 12))),
    ],
)
def test_the_cohort_is_the_days_scored_one_maturity_before_the_run(day, maturity, width, window):
    perf = Performance(label_maturity_days=maturity, cohort_days=width, threshold=0.5)

    start, end = cohort_window(day, perf)

    assert (start, end) == window
    assert (day - end).days == maturity
    assert (end - start).days + 1 == width


# -- the label join ------------------------------------------------------------------------------------


def test_labels_known_after_the_run_date_are_ignored():
    scored = scored_frame(["a", "b", "c", "d", "e"], [0.1, 0.2, 0.3, 0.4, 0.5])
    labels = label_frame(
        [
            ("a", 1, ts("2026-10-01T00:00:00Z")),  # start of the run date: known
            ("b", 0, ts("2026-10-01T23:59:59.999Z")),  # end of the run date: known
            ("c", 1, ts("2026-10-02T00:00:00Z")),  # the next day: not yet known
            ("d", 0, ts("2026-10-02T01:00:00+02:00")),  # 2026-10-01T23:00Z: known
            ("e", 1, ts("2026-10-01T23:30:00-01:00")),  # 2026-10-02T00:30Z: not yet known
        ]
    )

    frame, coverage = labelled(scored, labels, KNOWN_BY)

    assert sorted(frame["event_id"]) == ["a", "b", "d"]
    assert coverage == 3 / 5


def test_the_latest_label_known_by_the_run_date_wins():
    scored = scored_frame(["a", "b", "c"], [0.1, 0.2, 0.3])
    labels = label_frame(
        [
            ("a", 1, ts("2026-09-20T00:00:00Z")),  # a: chargeback reversed later
            ("b", 0, ts("2026-09-20T00:00:00Z")),
            ("a", 0, ts("2026-09-25T00:00:00Z")),
            ("b", 1, ts("2026-09-22T00:00:00Z")),  # b: confirmed fraud later
            ("c", 0, ts("2026-09-21T00:00:00Z")),
            ("c", 1, ts("2026-10-05T00:00:00Z")),  # c: the change is not known yet
        ]
    ).sample(frac=1.0, random_state=3)  # the rows' order must not matter

    frame, coverage = labelled(scored, labels, KNOWN_BY)

    assert dict(zip(frame["event_id"], frame["label"], strict=True)) == {"a": 0, "b": 1, "c": 0}
    assert coverage == 1.0


def test_duplicate_scored_events_count_once_and_unscored_labels_are_ignored():
    scored = scored_frame(["a", "a", "b", "c", "c", "c", "d"], [0.1, 0.1, 0.2, 0.3, 0.3, 0.3, 0.4])
    labels = label_frame(
        [
            ("a", 1, ts("2026-09-20T00:00:00Z")),
            ("c", 0, ts("2026-09-20T00:00:00Z")),
            ("zz", 1, ts("2026-09-20T00:00:00Z")),  # an event outside the cohort
        ]
    )

    frame, coverage = labelled(scored, labels, KNOWN_BY)

    assert sorted(frame["event_id"]) == ["a", "c"]
    assert list(frame.columns) == ["event_id", "score", "label"]
    assert coverage == 2 / 4  # a, b, c, d scored; a and c labelled


def test_without_labels_coverage_is_zero_and_without_events_it_is_none():
    scored = scored_frame(["a", "b"], [0.1, 0.2])
    no_labels = label_frame([])

    frame, coverage = labelled(scored, no_labels, KNOWN_BY)
    assert (len(frame), coverage) == (0, 0.0)
    assert list(frame.columns) == ["event_id", "score", "label"]

    frame, coverage = labelled(scored.iloc[0:0], label_frame([("a", 1, ts("2026-09-20T00:00Z"))]), KNOWN_BY)
    assert (len(frame), coverage) == (0, None)


def test_latest_label_wins_for_iso_strings_in_different_offsets():
    scored = scored_frame(["x"], [0.3])
    labels = label_frame(
        [
            ("x", 0, "2026-09-30T23:00:00+00:00"),  # 23:00Z: the later label
            ("x", 1, "2026-10-01T00:30:00+02:00"),  # 22:30Z: the earlier one
        ]
    )

    frame, _ = labelled(scored, labels, KNOWN_BY)

    assert frame["label"].tolist() == [0]


def test_a_label_without_a_time_is_not_known():
    scored = scored_frame(["a", "b"], [0.3, 0.4])
    labels = label_frame([("a", 1, ts("2026-09-30T10:00:00Z")), ("b", 0, None)])

    frame, coverage = labelled(scored, labels, KNOWN_BY)

    assert frame["event_id"].tolist() == ["a"]
    assert coverage == 0.5


def test_iso_label_times_with_and_without_fractional_seconds_are_all_known():
    scored = scored_frame(["a", "b"], [0.3, 0.4])
    labels = label_frame([("a", 1, "2026-09-30T10:00:00Z"), ("b", 0, "2026-09-30T10:00:00.250Z")])

    _, coverage = labelled(scored, labels, KNOWN_BY)

    assert coverage == 1.0


# -- minimum counts ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("positives", "negatives", "enough"),
    [(30, 30, True), (29, 30, False), (30, 29, False), (0, 500, False), (500, 0, False)],
)
def test_a_cohort_below_the_minimum_positives_or_negatives_gives_no_statistics(positives, negatives, enough):
    labels = [1] * positives + [0] * negatives
    scores = np.linspace(0.05, 0.95, len(labels))
    joined = pd.DataFrame({"event_id": range(len(labels)), "score": scores, "label": labels})

    values, reason = statistics(joined, PERF)

    if enough:
        assert reason is None and values["n"] == positives + negatives
    else:
        assert values is None
        assert reason == (
            f"{positives} positives / {negatives} negatives labelled; at least 30 / 30 are needed"
        )


def test_an_empty_cohort_is_insufficient():
    empty = pd.DataFrame({"event_id": [], "score": [], "label": []})

    values, reason = statistics(empty, PERF)

    assert values is None
    assert reason == "0 positives / 0 negatives labelled; at least 30 / 30 are needed"


# -- the metric rows -----------------------------------------------------------------------------------


def test_every_performance_metric_is_reported_once_with_its_cohort(rows):
    assert list(rows) == EXPECTED_METRICS
    for name, r in rows.items():
        assert metrics.get(name).check == "performance"
        assert (r.check, r.column, r.segment) == ("performance", None, None)
        assert (r.cohort_start, r.cohort_end) == ("2026-09-25", "2026-10-01"), name
        assert r.detail["labelled_rows"] == 540
        assert r.detail["unreadable"] == []  # the caller's note reaches every row


def test_label_coverage_is_the_labelled_share_of_scored_events(rows):
    assert rows["label_coverage"].value == 540 / 600


def test_discrimination_equals_scikit_learn_and_scipy(rows, joined):
    frame, _ = joined
    y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
    auc = roc_auc_score(y, s)

    assert rows["auc"].value == pytest.approx(auc, abs=TOL)
    assert rows["gini"].value == pytest.approx(2 * auc - 1, abs=TOL)
    assert rows["ks"].value == pytest.approx(scipy_stats.ks_2samp(s[y == 1], s[y == 0]).statistic, abs=TOL)
    assert 0.6 < auc < 0.95  # a real signal, so the comparisons are not trivial


def test_auc_detail_carries_the_delong_interval_from_the_comparison_matrix(rows, joined):
    frame, _ = joined
    y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    se = math.sqrt(v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size)
    z = scipy_stats.norm.ppf(0.975)
    detail = rows["auc"].detail

    assert detail["ci"] == "DeLong 95%"
    assert detail["ci_low"] == pytest.approx(psi.mean() - z * se, abs=1e-9)
    assert detail["ci_high"] == pytest.approx(psi.mean() + z * se, abs=1e-9)


def test_threshold_metrics_equal_scikit_learn(rows, joined):
    frame, _ = joined
    y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
    predicted = (s >= PERF.threshold).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(y, predicted, average="binary")

    assert rows["precision"].value == pytest.approx(precision, abs=TOL)
    assert rows["recall"].value == pytest.approx(recall, abs=TOL)
    assert rows["f1"].value == pytest.approx(f1, abs=TOL)
    assert rows["positive_rate"].value == pytest.approx(predicted.mean(), abs=TOL)


def test_calibration_equals_the_hand_computation(rows, joined):
    frame, _ = joined
    y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
    edges = np.unique(np.quantile(s, np.arange(1, 10) / 10))
    which = np.searchsorted(edges, s, side="right")
    hl = 0.0
    groups = 0
    for k in np.unique(which):
        o, e, n = y[which == k].sum(), s[which == k].sum(), (which == k).sum()
        hl += (o - e) ** 2 / (e * (1 - e / n))
        groups += 1

    assert rows["brier"].value == pytest.approx(brier_score_loss(y, s), abs=TOL)
    assert rows["hl_p_value"].detail["statistic"] == pytest.approx(hl, rel=1e-12)
    assert rows["hl_p_value"].value == pytest.approx(scipy_stats.chi2.sf(hl, groups - 2), rel=1e-9)
    observed, expected = y.mean(), s.mean()
    assert rows["calibration_ratio"].value == pytest.approx(abs(observed / expected - 1), abs=TOL)
    assert rows["calibration_ratio"].detail["observed_rate"] == pytest.approx(observed, abs=TOL)
    assert rows["calibration_ratio"].detail["expected_rate"] == pytest.approx(expected, abs=TOL)


def test_drops_are_the_reference_minus_this_cohort(rows, joined):
    frame, _ = joined
    y, s = frame["label"].to_numpy(), frame["score"].to_numpy()
    gini = 2 * roc_auc_score(y, s) - 1
    ks = scipy_stats.ks_2samp(s[y == 1], s[y == 0]).statistic

    assert rows["gini_drop"].value == pytest.approx(0.62 - gini, abs=TOL)
    assert rows["ks_drop"].value == pytest.approx(0.55 - ks, abs=TOL)
    assert rows["gini_drop"].detail["reference"] == 0.62
    assert rows["ks_drop"].detail["reference"] == 0.55


def test_a_better_cohort_than_the_reference_gives_a_negative_drop(joined):
    frame, coverage = joined
    out = {r.metric: r for r in check_performance(frame, coverage, PERF, {"gini": 0.0, "ks": 0.0}, COHORT)}

    assert out["gini_drop"].value == pytest.approx(-out["gini"].value, abs=TOL)
    assert out["ks_drop"].value == pytest.approx(-out["ks"].value, abs=TOL)


@pytest.mark.parametrize("reference", [None, {}, {"gini": None, "ks": None}])
def test_without_reference_statistics_the_drops_are_none(joined, reference):
    out = {r.metric: r for r in check_performance(*joined, PERF, reference, COHORT)}

    assert out["gini_drop"].value is None and out["ks_drop"].value is None
    assert out["gini"].value is not None


def test_an_insufficient_cohort_gives_none_for_every_metric_but_label_coverage(cohort):
    scored, labels = cohort
    few = labels.iloc[:40]  # about ten positives
    frame, coverage = labelled(scored, few, KNOWN_BY)

    out = check_performance(frame, coverage, PERF, {"gini": 0.62, "ks": 0.55}, COHORT)

    assert [r.metric for r in out] == EXPECTED_METRICS
    assert out[0].value == 40 / 600
    assert all(r.value is None for r in out[1:]), [(r.metric, r.value) for r in out if r.value is not None]
    positives = int(frame["label"].sum())
    reason = f"{positives} positives / {40 - positives} negatives labelled; at least 30 / 30 are needed"
    assert all(r.detail["insufficient"] == reason for r in out)
    assert all((r.cohort_start, r.cohort_end) == ("2026-09-25", "2026-10-01") for r in out)
    assert "ci_low" not in out[1].detail


def test_a_cohort_with_no_scored_events_has_no_coverage():
    empty = pd.DataFrame({"event_id": [], "score": [], "label": []})

    out = check_performance(empty, None, PERF, None, COHORT)

    assert all(r.value is None for r in out)
    assert out[0].detail["labelled_rows"] == 0


def test_an_infinite_hosmer_lemeshow_statistic_is_stored_as_none():
    # a score decile made only of exact zeros that holds a positive: no variance, so HL is infinite
    zeros = 60
    y = [1] + [0] * (zeros - 1) + [1, 0] * 120
    s = [0.0] * zeros + list(np.linspace(0.1, 0.9, 240))
    joined = pd.DataFrame({"event_id": range(len(y)), "score": s, "label": y})

    out = {r.metric: r for r in check_performance(joined, 1.0, PERF, None, COHORT)}

    assert out["hl_p_value"].value == 0.0
    assert out["hl_p_value"].detail["statistic"] is None
    assert all(r.value is None or math.isfinite(r.value) for r in out.values())


def test_calibration_ratio_is_none_when_every_score_is_zero():
    y = [1] * 30 + [0] * 30
    joined = pd.DataFrame({"event_id": range(60), "score": 0.0, "label": y})

    out = {r.metric: r for r in check_performance(joined, 1.0, PERF, None, COHORT)}

    assert out["calibration_ratio"].value is None
    assert out["auc"].value == 0.5
    assert out["brier"].value == pytest.approx(0.5, abs=TOL)
