"""Expected performance from calibrated probabilities (CBPE): a hand computation of the expected
confusion matrix, the expected AUC against a brute-force double sum, the estimates against
scikit-learn when the probabilities are the labels themselves, and the stated coverage of the band on
synthetic calibrated data (labels drawn from the known p, the realised metrics from scikit-learn)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import (
    f1_score,
    precision_recall_fscore_support,
    precision_score,
    recall_score,
    roc_auc_score,
)

from mrm.checks import estimation_stats as es

# ten rows: scores and their calibrated probabilities; threshold 0.5 -> the first five predicted positive
S = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
P = np.array([0.9, 0.7, 0.6, 0.5, 0.5, 0.3, 0.2, 0.2, 0.1, 0.0])


def test_the_expected_confusion_matrix_by_hand():
    c = es.expected_confusion(P, S, 0.5)
    # TP = 0.9 + 0.7 + 0.6 + 0.5 + 0.5 = 3.2; FP = 5 - 3.2 = 1.8
    # FN = 0.3 + 0.2 + 0.2 + 0.1 + 0.0 = 0.8; TN = 5 - 0.8 = 4.2
    assert c["tp"] == pytest.approx(3.2, abs=1e-12)
    assert c["fp"] == pytest.approx(1.8, abs=1e-12)
    assert c["fn"] == pytest.approx(0.8, abs=1e-12)
    assert c["tn"] == pytest.approx(4.2, abs=1e-12)
    assert (c["predicted"], c["n"]) == (5, 10)
    e = es.estimates(P, S, 0.5)
    assert e["precision"][0] == pytest.approx(3.2 / 5, abs=1e-12)  # TP / (TP + FP)
    assert e["recall"][0] == pytest.approx(3.2 / 4.0, abs=1e-12)  # TP / (TP + FN), Σp = 4.0
    assert e["f1"][0] == pytest.approx(6.4 / 9.0, abs=1e-12)  # 2TP / (2TP + FP + FN)
    assert e["positive_rate"] == (0.5, 0.5, 0.5)  # known without labels


def brute_force_auc(p: np.ndarray, s: np.ndarray) -> float:
    """Σ_{i≠j} p_i (1 − p_j) ([s_i > s_j] + ½ [s_i = s_j]) / Σ_{i≠j} p_i (1 − p_j), term by term."""
    num = den = 0.0
    for i in range(s.size):
        for j in range(s.size):
            if i != j:
                w = p[i] * (1 - p[j])
                num += w * (1.0 if s[i] > s[j] else 0.5 if s[i] == s[j] else 0.0)
                den += w
    return num / den


def test_the_expected_auc_equals_the_double_sum_with_ties():
    rng = np.random.default_rng(5)
    s = np.round(rng.random(60), 1)  # ties
    p = rng.random(60)
    assert es.expected_auc(p, s)[0] == pytest.approx(brute_force_auc(p, s), abs=1e-12)
    assert es.expected_auc(P, S)[0] == pytest.approx(brute_force_auc(P, S), abs=1e-12)


def test_with_known_labels_the_estimates_are_the_realised_metrics():
    rng = np.random.default_rng(11)
    s = np.round(rng.random(500), 2)
    y = (rng.random(500) < s).astype(int)
    e = es.estimates(y.astype(float), s, 0.4)
    pred = (s >= 0.4).astype(int)
    assert e["auc"][0] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    assert e["precision"][0] == pytest.approx(precision_score(y, pred), abs=1e-12)
    assert e["recall"][0] == pytest.approx(recall_score(y, pred), abs=1e-12)
    assert e["f1"][0] == pytest.approx(f1_score(y, pred), abs=1e-12)
    for name in ("auc", "precision", "recall", "f1"):  # no label uncertainty: a band of width 0
        assert e[name][1] == pytest.approx(e[name][0], abs=1e-12) == e[name][2]


def test_undefined_ratios_are_none():
    e = es.estimates(np.zeros(4), np.array([0.1, 0.2, 0.3, 0.4]), 0.9)
    assert e["precision"] == (None, None, None)  # nothing predicted positive
    assert e["recall"] == (None, None, None)  # no positive expected
    assert e["auc"] == (None, None, None)
    assert e["f1"] == (None, None, None)


def test_invalid_input_is_refused():
    with pytest.raises(ValueError, match="probabilities"):
        es.estimates(np.array([1.5]), np.array([0.2]), 0.5)
    with pytest.raises(ValueError, match="confidence"):
        es.estimates(P, S, 0.5, confidence=1.0)


@pytest.mark.parametrize("confidence", [0.95, 0.80])
def test_the_band_holds_the_realised_metrics_at_the_stated_coverage(confidence):
    """Known calibrated p, 400 label draws: the share of draws whose realised metric (scikit-learn)
    lies in the band is the stated confidence within 3.5 binomial standard errors."""
    rng = np.random.default_rng(20261202)
    n, draws, threshold = 3000, 400, 0.3
    s = rng.beta(1.2, 5.0, n)
    p = np.clip(1.1 * s, 0.0, 1.0)  # the calibrated probability: a known function of the score
    e = es.estimates(p, s, threshold, confidence)
    pred = (s >= threshold).astype(int)
    inside = dict.fromkeys(("auc", "precision", "recall", "f1"), 0)
    for _ in range(draws):
        y = (rng.random(n) < p).astype(int)
        precision, recall, f1, _ = precision_recall_fscore_support(y, pred, average="binary")
        realised = {"auc": roc_auc_score(y, s), "precision": precision, "recall": recall, "f1": f1}
        for name, value in realised.items():
            inside[name] += e[name][1] <= value <= e[name][2]
    slack = 3.5 * np.sqrt(confidence * (1 - confidence) / draws)
    for name, hits in inside.items():
        assert abs(hits / draws - confidence) <= slack, (name, hits / draws)


def test_on_one_large_calibrated_day_the_realised_metrics_fall_in_the_band():
    rng = np.random.default_rng(42)
    n = 200_000
    s = rng.beta(0.8, 6.0, n)
    p = s  # calibrated scores
    y = (rng.random(n) < p).astype(int)
    e = es.estimates(p, s, 0.25)
    pred = (s >= 0.25).astype(int)
    realised = {
        "auc": roc_auc_score(y, s),
        "precision": precision_score(y, pred),
        "recall": recall_score(y, pred),
        "f1": f1_score(y, pred),
    }
    for name, value in realised.items():
        assert e[name][1] <= value <= e[name][2], (name, value, e[name])
        assert e[name][2] - e[name][1] < 0.02  # and the band is narrow at this size


def _calibrated_day(seed: int = 11):
    from mrm.checks import isotonic

    rng = np.random.default_rng(seed)
    ref = rng.beta(2, 5, 3000)
    cal = isotonic.fit(ref, (rng.random(ref.size) < ref).astype("float64"))
    day = rng.beta(2, 5, 2000)
    return cal, day


@pytest.mark.parametrize("metric", ["auc", "precision", "recall", "f1"])
def test_the_calibrator_term_equals_the_finite_difference_gradient(metric):
    """The calibrator's variance of each estimate: the estimate's derivative with respect to each isotonic
    block's value taken by moving that value and estimating again (central differences), squared and
    weighted by the block's binomial variance y(1 − y)/w; equal to the analytic term."""
    from mrm.checks import isotonic

    cal, day = _calibrated_day()
    out = es.estimates(cal.predict(day), day, 0.4, 0.95, cal.variance_of(day))
    first = np.flatnonzero(np.concatenate([[True], cal.y[1:] != cal.y[:-1]]))
    blocks = np.searchsorted(first, np.arange(cal.y.size), side="right") - 1
    want, eps = 0.0, 1e-6
    for b, start in enumerate(first):
        y, w = cal.y[start], cal.w[start]
        if y * (1 - y) == 0:  # a block of one class only: no variance (and no room to move it)
            continue

        def moved(sign, b=b):
            p = isotonic.Isotonic(cal.x, cal.y + sign * eps * (blocks == b)).predict(day)
            return es.estimates(p, day, 0.4)[metric][0]

        derivative = (moved(1) - moved(-1)) / (2 * eps)
        want += derivative**2 * y * (1 - y) / w
    assert out["se"][metric][1] ** 2 == pytest.approx(want, rel=1e-5)
    plain = es.estimates(cal.predict(day), day, 0.4, 0.95)
    assert plain["se"][metric][1] is None and plain["se"][metric][0] == pytest.approx(out["se"][metric][0])
    low, high = out[metric][1:], plain[metric][1:]
    assert low[0] <= high[0] and low[1] >= high[1]  # the band with the calibrator's error is wider


def test_the_calibrator_term_matches_refitting_on_fresh_references():
    """The calibrator's error simulated: 300 references of 3,000 rows drawn from one known calibration,
    each refit, the same day's estimates computed; their spread against the predicted standard error
    (first order, the pooling taken as fixed; measured within 3 %, asserted within 10 %)."""
    from mrm.checks import isotonic

    rng = np.random.default_rng(21)
    day = rng.beta(2, 5, 2000)
    values = {m: [] for m in ("auc", "precision", "recall", "f1")}
    predicted = {m: [] for m in values}
    for _ in range(300):
        ref = rng.beta(2, 5, 3000)
        cal = isotonic.fit(ref, (rng.random(ref.size) < ref).astype("float64"))
        out = es.estimates(cal.predict(day), day, 0.4, 0.95, cal.variance_of(day))
        for m in values:
            values[m].append(out[m][0])
            predicted[m].append(out["se"][m][1])
    for m in values:
        assert np.std(values[m]) == pytest.approx(np.median(predicted[m]), rel=0.10), m


def test_a_day_given_as_distinct_scores_and_counts_has_the_rows_estimates():
    """The estimates are functions of the scores, so a day of rows and the same day as its distinct
    scores with their row counts (how :mod:`mrm.checks.estimation` gives it) agree to rounding, bands,
    standard errors and the calibrator's term included."""
    from mrm.checks import isotonic

    rng = np.random.default_rng(8)
    cal, _ = _calibrated_day()
    day = np.round(rng.beta(2, 5, 5000), 3)  # about 600 distinct scores, many rows each
    rows = es.estimates(cal.predict(day), day, 0.4, 0.95, cal.variance_of(day))
    values, counts = np.unique(day, return_counts=True)
    grouped = es.estimates(cal.predict(values), values, 0.4, 0.95, cal.variance_of(values), counts)

    assert grouped["confusion"]["n"] == 5000 and values.size < 1000
    assert grouped["confusion"] == pytest.approx(rows["confusion"], rel=1e-12)
    for metric in es.METRICS:
        assert grouped[metric] == pytest.approx(rows[metric], rel=1e-10, abs=1e-14), metric
        assert grouped["se"][metric] == pytest.approx(rows["se"][metric], rel=1e-9), metric
    assert isotonic.Isotonic(cal.x, cal.y).variance_of(values) is None
