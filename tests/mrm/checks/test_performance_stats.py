"""Discrimination and calibration statistics, checked against independent implementations.

Independent references: scikit-learn (``roc_auc_score``, ``brier_score_loss``,
``precision_recall_fscore_support``, ``confusion_matrix``), scipy (``ks_2samp``, ``chi2.sf``, ``norm.ppf``),
R's pROC on its own aSAH data (published values), DeLong's variance written from its definition with
the m × n comparison matrix, a percentile bootstrap, pandas for the Hosmer–Lemeshow bins, and hand
computations written out below. Tolerances: 1e-12 where only summation order differs; 1e-9 relative
against numbers printed by other software; rounding to the printed digits for published results.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from sklearn.metrics import (
    brier_score_loss,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
)

from mrm.checks import performance_stats as ps

TOL = 1e-12
Z95 = float(scipy_stats.norm.ppf(0.975))


def _cohort(
    n: int, seed: int, decimals: int | None = None, slope: float = 1.2
) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from the score itself (so the score is calibrated), optionally rounded into ties."""
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-(-1.0 + slope * rng.normal(size=n))))
    y = (rng.random(n) < p).astype(int)
    return y, p if decimals is None else np.round(p, decimals)


def _datasets() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    rare = np.zeros(2000, dtype=int)
    rare[rng.choice(2000, 5, replace=False)] = 1
    two_values = rng.integers(0, 2, 500)
    return {
        "continuous": _cohort(1000, 1),
        "ties, one decimal": _cohort(1000, 2, decimals=1),
        "ties, two score values": (two_values, np.where(rng.random(500) < 0.3 + 0.4 * two_values, 0.8, 0.2)),
        "constant score": (rng.integers(0, 2, 300), np.full(300, 0.5)),
        "five positives in 2000": (rare, rng.random(2000)),
        "perfectly separated": (np.repeat([0, 1], 50), np.linspace(0, 1, 100)),
        "perfectly inverted": (np.repeat([1, 0], 50), np.linspace(0, 1, 100)),
    }


DATASETS = _datasets()
CASES = pytest.mark.parametrize("name", list(DATASETS))

# Six rows written out by hand. Positives score 0.4, 0.7, 0.9; negatives 0.1, 0.4, 0.8.
HAND_Y = np.array([0, 0, 0, 1, 1, 1])
HAND_SCORE = np.array([0.1, 0.4, 0.8, 0.4, 0.7, 0.9])


# -- discrimination ------------------------------------------------------------------------------------


@CASES
def test_auc_equals_scikit_learn(name):
    y, score = DATASETS[name]
    assert ps.auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=TOL)


def test_auc_and_gini_on_six_rows_match_the_pair_count():
    # Of the 3 × 3 (positive, negative) pairs the positive wins: 0.4 beats 0.1 and ties 0.4 (1.5),
    # 0.7 beats 0.1 and 0.4 (2), 0.9 beats all three (3): AUC = 6.5 / 9 = 13/18, Gini = 26/18 − 1 = 4/9.
    assert ps.auc(HAND_Y, HAND_SCORE) == pytest.approx(13 / 18, abs=TOL)
    assert ps.gini(ps.auc(HAND_Y, HAND_SCORE)) == pytest.approx(4 / 9, abs=TOL)


@CASES
def test_gini_is_twice_the_auc_minus_one(name):
    y, score = DATASETS[name]
    assert ps.gini(ps.auc(y, score)) == pytest.approx(2 * roc_auc_score(y, score) - 1, abs=TOL)


@CASES
def test_ks_equals_scipy_two_sample_ks(name):
    y, score = DATASETS[name]
    expected = scipy_stats.ks_2samp(score[y == 1], score[y == 0]).statistic
    assert ps.ks_statistic(y, score) == pytest.approx(expected, abs=TOL)


def test_ks_on_six_rows_matches_the_cdf_gaps():
    # t:           0.1  0.4  0.7  0.8  0.9
    # F_pos(t):    0    1/3  2/3  2/3  1
    # F_neg(t):    1/3  2/3  2/3  1    1      largest gap 1/3
    assert ps.ks_statistic(HAND_Y, HAND_SCORE) == pytest.approx(1 / 3, abs=TOL)


def test_discrimination_is_none_with_one_class_only():
    y, score = np.ones(5, dtype=int), np.linspace(0.1, 0.9, 5)
    assert ps.auc(y, score) is None
    assert ps.ks_statistic(y, score) is None
    assert ps.delong_ci(y, score) is None
    assert ps.delong_ci(np.array([0, 0, 0, 1]), np.array([0.1, 0.2, 0.3, 0.4])) is None  # one positive


# -- DeLong --------------------------------------------------------------------------------------------


def delong_by_definition(y: np.ndarray, score: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """DeLong et al. (1988) from the comparison matrix ψ(X_i, Y_j) = 1, ½, 0 (no ranks), O(m·n)."""
    x, v = score[y == 1], score[y == 0]
    psi = (x[:, None] > v[None, :]) + 0.5 * (x[:, None] == v[None, :])
    area, v10, v01 = psi.mean(), psi.mean(axis=1), psi.mean(axis=0)
    s10 = np.sum((v10 - area) ** 2) / (x.size - 1)
    s01 = np.sum((v01 - area) ** 2) / (v.size - 1)
    half = scipy_stats.norm.ppf(0.5 + level / 2) * math.sqrt(s10 / x.size + s01 / v.size)
    return max(0.0, area - half), min(1.0, area + half)


# pROC's aSAH data (Turck et al. 2010, Intensive Care Med 36:107; shipped with R's pROC): 113 patients,
# y = outcome "Poor", and the biomarker s100b and the WFNS grade (five levels: heavy ties).
ASAH_Y = np.array([
    0, 0, 0, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 0, 1, 0, 1, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0,
    1, 1, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 1, 1, 1, 0, 1, 1, 0,
    1, 1, 1, 1, 0, 0, 0, 1, 1, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1,
    1, 0, 0, 0, 1, 0, 0, 0,
])  # fmt: skip
ASAH_S100B = np.array([
    0.13, 0.14, 0.10, 0.04, 0.13, 0.10, 0.47, 0.16, 0.18, 0.10, 0.12, 0.10, 0.44, 0.71, 0.04, 0.08, 0.49,
    0.04, 0.07, 0.33, 0.09, 0.09, 0.07, 0.11, 0.07, 0.17, 0.07, 0.11, 0.13, 0.19, 0.05, 0.16, 0.41, 0.14,
    0.34, 0.35, 0.48, 0.09, 0.96, 0.25, 0.50, 0.46, 0.16, 0.07, 0.43, 0.45, 0.11, 0.08, 0.09, 0.86, 0.52,
    0.08, 0.06, 0.13, 2.07, 0.10, 0.14, 0.15, 0.07, 0.06, 0.77, 0.05, 0.09, 0.30, 0.03, 0.09, 0.04, 0.23,
    0.70, 0.09, 0.27, 0.71, 0.08, 0.26, 0.08, 0.16, 0.09, 0.13, 0.10, 0.08, 0.11, 0.33, 0.11, 0.28, 0.07,
    0.10, 0.32, 0.22, 0.07, 0.05, 0.24, 0.38, 0.10, 0.15, 0.08, 0.14, 0.10, 0.07, 0.04, 0.19, 0.56, 0.14,
    0.58, 0.32, 0.82, 0.74, 0.15, 0.47, 0.17, 0.44, 0.15, 0.50, 0.48,
])  # fmt: skip
ASAH_WFNS = np.array([
    1, 1, 1, 1, 3, 2, 5, 4, 1, 2, 5, 2, 5, 5, 1, 2, 5, 2, 2, 5, 2, 1, 1, 1, 1, 2, 1, 2, 1, 1, 3, 4, 2, 1, 4,
    5, 4, 1, 4, 2, 5, 5, 1, 1, 2, 4, 1, 1, 2, 5, 5, 2, 1, 2, 5, 1, 2, 2, 2, 1, 5, 1, 1, 2, 5, 2, 1, 4, 5, 2,
    4, 4, 1, 4, 1, 2, 1, 4, 2, 1, 2, 3, 2, 4, 2, 1, 4, 5, 1, 1, 5, 4, 2, 2, 1, 1, 1, 3, 1, 2, 5, 2, 2, 5, 5,
    5, 2, 4, 4, 5, 1, 1, 1,
], dtype=float)  # fmt: skip


def test_delong_reproduces_proc_on_its_asah_example():
    """pROC's documented example, ``roc(aSAH$outcome, aSAH$s100b)`` then ``ci(...)``, prints
    "Area under the curve: 0.7314" and "95% CI: 0.6301-0.8326 (DeLong)"."""
    assert (ASAH_Y.size, ASAH_Y.sum()) == (113, 41)
    low, high = ps.delong_ci(ASAH_Y, ASAH_S100B)
    assert round(ps.auc(ASAH_Y, ASAH_S100B), 4) == 0.7314
    assert (round(low, 4), round(high, 4)) == (0.6301, 0.8326)


@pytest.mark.parametrize(
    ("marker", "proc_auc", "proc_var"),
    [  # pROC 1.19.1, auc() and var(method = "delong"), printed with format(digits = 17)
        (ASAH_S100B, 0.73136856368563685, 0.0026686824571724378),
        (ASAH_WFNS, 0.82367886178861793, 0.0014699147088236264),
    ],
    ids=["s100b", "wfns"],
)
def test_delong_variance_matches_proc_to_nine_digits(marker, proc_auc, proc_var):
    low, high = ps.delong_ci(ASAH_Y, marker)
    assert ps.auc(ASAH_Y, marker) == pytest.approx(proc_auc, rel=1e-12)
    assert ((high - low) / (2 * Z95)) ** 2 == pytest.approx(proc_var, rel=1e-9)


@pytest.mark.parametrize(
    "name", ["continuous", "ties, one decimal", "ties, two score values", "constant score"]
)
def test_delong_equals_the_definition_with_the_comparison_matrix(name):
    y, score = DATASETS[name]
    assert ps.delong_ci(y, score) == pytest.approx(delong_by_definition(y, score), abs=TOL)
    assert ps.delong_ci(y, score, level=0.8) == pytest.approx(delong_by_definition(y, score, 0.8), abs=TOL)


def test_delong_interval_is_clipped_to_the_unit_interval():
    assert ps.delong_ci(*DATASETS["perfectly separated"]) == (1.0, 1.0)  # no variance at all
    y, score = np.array([0, 0, 0, 1, 1, 1]), np.array([0.1, 0.2, 0.5, 0.4, 0.8, 0.9])
    low, high = ps.delong_ci(y, score)
    assert high == 1.0 and low == pytest.approx(delong_by_definition(y, score)[0], abs=TOL)


def test_delong_interval_contains_the_auc_and_narrows_like_one_over_root_n():
    small, large = _cohort(200, 11), _cohort(2000, 12)
    (lo_s, hi_s), (lo_l, hi_l) = ps.delong_ci(*small), ps.delong_ci(*large)
    assert lo_s < ps.auc(*small) < hi_s and lo_l < ps.auc(*large) < hi_l
    assert 2.0 < (hi_s - lo_s) / (hi_l - lo_l) < 4.5  # √10 ≈ 3.16 expected


def test_delong_interval_agrees_with_a_percentile_bootstrap():
    """n = 2000, 500 resamples scored by scikit-learn: each end within ±0.02 of the bootstrap's 2.5% and
    97.5% quantiles, and the width within 15% (Monte Carlo error of the bootstrap width ≈ 3%)."""
    y, score = _cohort(2000, 3)
    rows = np.random.default_rng(103).integers(0, y.size, size=(500, y.size))
    boot = np.quantile([roc_auc_score(y[r], score[r]) for r in rows], [0.025, 0.975])
    low, high = ps.delong_ci(y, score)
    assert low == pytest.approx(boot[0], abs=0.02) and high == pytest.approx(boot[1], abs=0.02)
    assert (high - low) / (boot[1] - boot[0]) == pytest.approx(1.0, abs=0.15)


# -- at a threshold ------------------------------------------------------------------------------------


def _none_for_nan(value: float) -> float | None:
    return None if math.isnan(value) else float(value)


@CASES
@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.8, 1.5])
def test_precision_recall_f1_equal_scikit_learn_with_zero_division_nan(name, threshold):
    y, score = DATASETS[name]
    predicted = (score >= threshold).astype(int)
    p, r, f, _ = precision_recall_fscore_support(y, predicted, average="binary", zero_division=np.nan)
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    got = ps.confusion_at(y, score, threshold)
    assert (got["tp"], got["fp"], got["fn"], got["tn"]) == (tp, fp, fn, tn)
    for key, expected in (("precision", p), ("recall", r), ("f1", f)):
        assert got[key] == pytest.approx(_none_for_nan(expected), abs=TOL), key
    assert got["positive_rate"] == pytest.approx(predicted.mean(), abs=TOL)


def test_a_score_equal_to_the_threshold_is_predicted_positive():
    got = ps.confusion_at(HAND_Y, HAND_SCORE, 0.4)  # predicted: 0.4, 0.8 | 0.4, 0.7, 0.9
    assert (got["tp"], got["fp"], got["fn"], got["tn"]) == (3, 2, 0, 1)
    assert (got["precision"], got["recall"], got["f1"]) == pytest.approx((3 / 5, 1.0, 6 / 8))
    assert got["positive_rate"] == pytest.approx(5 / 6)


def test_undefined_ratios_are_none_and_f1_is_zero_when_positives_are_missed():
    nothing_predicted = ps.confusion_at(HAND_Y, HAND_SCORE, 0.95)
    assert nothing_predicted["precision"] is None and nothing_predicted["recall"] == 0.0
    assert nothing_predicted["f1"] == 0.0  # 2·0 / (0 + 0 + 3), as scikit-learn
    no_positives = ps.confusion_at(np.zeros(4, dtype=int), np.full(4, 0.2), 0.5)
    assert no_positives["precision"] is None and no_positives["recall"] is None and no_positives["f1"] is None


# -- calibration ---------------------------------------------------------------------------------------


@CASES
def test_brier_equals_scikit_learn(name):
    y, score = DATASETS[name]
    assert ps.brier(y, score) == pytest.approx(brier_score_loss(y, score), abs=TOL)


def test_calibration_table_matches_the_hand_computation():
    score = np.array([0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.5, 0.9])
    y = np.array([0, 0, 1, 0, 0, 0, 1, 1])
    # quartiles by linear interpolation at positions 1.75, 3.5, 5.25 of the sorted scores: 0.1, 0.1,
    # 0.1 + 0.25·(0.5 − 0.1) = 0.2; de-duplicated edges 0.1, 0.2, so bins [0, 0.1) (empty, left out),
    # [0.1, 0.2) (the six 0.1s: an edge value goes up) and [0.2, 1] (0.5 and 0.9).
    rows = ps.calibration_table(y, score, bins=4)
    assert [(r["bin"], r["n"]) for r in rows] == [(1, 6), (2, 2)]
    assert [bound for r in rows for bound in (r["lower"], r["upper"])] == pytest.approx([0.1, 0.2, 0.2, 1.0])
    assert [r["expected_rate"] for r in rows] == pytest.approx([0.1, 0.7], abs=TOL)
    assert [r["observed_rate"] for r in rows] == pytest.approx([1 / 6, 1.0], abs=TOL)


def test_calibration_table_open_ends_are_reported_as_zero_and_one():
    rows = ps.calibration_table(*_cohort(1000, 4), bins=10)
    assert len(rows) == 10 and rows[0]["lower"] == 0.0 and rows[-1]["upper"] == 1.0
    assert sum(r["n"] for r in rows) == 1000
    assert [r["upper"] for r in rows[:-1]] == [r["lower"] for r in rows[1:]]


def test_hosmer_lemeshow_matches_the_hand_computation():
    score = np.repeat([0.1, 0.4, 0.8], 4)
    y = np.array([1, 0, 0, 0, 1, 1, 0, 0, 1, 1, 1, 0])
    # tertile edges 0.3 and 0.5333: three groups of four. Per group, over both outcomes,
    # (O₁ − E₁)²/E₁ + (O₀ − E₀)²/E₀:
    #   0.1: (1 − 0.4)²/0.4 + (3 − 3.6)²/3.6 = 0.9 + 0.1
    #   0.4: (2 − 1.6)²/1.6 + (2 − 2.4)²/2.4 = 0.1 + 1/15
    #   0.8: (3 − 3.2)²/3.2 + (1 − 0.8)²/0.8 = 0.0125 + 0.05
    statistic = 0.9 + 0.1 + 0.1 + 1 / 15 + 0.0125 + 0.05
    got = ps.hosmer_lemeshow(y, score, groups=3)
    assert got["groups"] == 3
    assert got["statistic"] == pytest.approx(statistic, abs=TOL)
    assert got["p_value"] == pytest.approx(scipy_stats.chi2.sf(statistic, 1), rel=1e-10)


def hosmer_lemeshow_by_pandas(y: np.ndarray, score: np.ndarray, groups: int = 10) -> tuple[float, int]:
    """(statistic, groups): bins by ``pandas.cut(right=False)`` on the score deciles, and the two-outcome
    form Σ (O₁ − E₁)²/E₁ + (O₀ − E₀)²/E₀."""
    edges = np.unique(np.quantile(score, np.arange(1, groups) / groups))
    frame = pd.DataFrame({"y": y, "p": score, "bin": pd.cut(score, [-np.inf, *edges, np.inf], right=False)})
    g = frame.groupby("bin", observed=True).agg(o=("y", "sum"), e=("p", "sum"), n=("y", "size"))
    return float((((g.o - g.e) ** 2) / g.e + ((g.o - g.e) ** 2) / (g.n - g.e)).sum()), len(g)


def test_hosmer_lemeshow_matches_pandas_bins_and_scipy_on_a_cohort():
    y, score = _cohort(3000, 5, slope=1.5)
    score = np.clip(score * 1.1, 0, 1)  # over-predicting, so the p-value is small but not 0
    statistic, groups = hosmer_lemeshow_by_pandas(y, score)
    got = ps.hosmer_lemeshow(y, score)
    assert got["groups"] == groups == 10
    assert got["statistic"] == pytest.approx(statistic, rel=1e-12)
    assert got["p_value"] == pytest.approx(scipy_stats.chi2.sf(statistic, 8), rel=1e-10)
    assert 1e-12 < got["p_value"] < 0.05


@pytest.mark.parametrize("df", [1, 2, 3, 7, 8, 9, 18, 41])
@pytest.mark.parametrize("x", [1e-8, 0.3, 1.0, 6.5, 20.0, 90.0, 700.0])
def test_chi_square_tail_equals_scipy(df, x):
    assert ps._chi2_sf(x, df) == pytest.approx(scipy_stats.chi2.sf(x, df), rel=1e-10, abs=0)


def test_hosmer_lemeshow_edge_cases_are_documented_values():
    few = ps.hosmer_lemeshow(np.array([0, 1, 0, 1]), np.array([0.2, 0.2, 0.6, 0.6]), groups=2)
    assert few["groups"] == 2 and few["p_value"] is None  # 0 degrees of freedom
    assert few["statistic"] == pytest.approx((1 - 0.4) ** 2 / (0.4 * 0.8) + (1 - 1.2) ** 2 / (1.2 * 0.4))
    sure = np.array([0.0, 0.0, 0.0, 0.5, 0.5, 0.5, 0.9, 0.9, 0.9])
    missed = ps.hosmer_lemeshow(np.array([1, 0, 0, 0, 1, 0, 1, 1, 1]), sure, groups=3)
    assert missed["statistic"] == math.inf and missed["p_value"] == 0.0  # a positive at probability 0
    kept = ps.hosmer_lemeshow(np.array([0, 0, 0, 0, 1, 0, 1, 1, 1]), sure, groups=3)
    assert kept["statistic"] == pytest.approx((1 - 1.5) ** 2 / (1.5 * 0.5) + (3 - 2.7) ** 2 / (2.7 * 0.1))


# -- everything at once --------------------------------------------------------------------------------


def test_performance_gathers_every_statistic_from_independent_references():
    y, score = _cohort(1500, 6, decimals=2)
    got = ps.performance(y, score, threshold=0.5)
    p, r, f, _ = precision_recall_fscore_support(y, score >= 0.5, average="binary", zero_division=np.nan)
    low, high = delong_by_definition(y, score)
    area, (hl, groups) = roc_auc_score(y, score), hosmer_lemeshow_by_pandas(y, score)
    expected = {
        "auc": area,
        "auc_ci_low": low,
        "auc_ci_high": high,
        "gini": 2 * area - 1,
        "ks": scipy_stats.ks_2samp(score[y == 1], score[y == 0]).statistic,
        "precision": p,
        "recall": r,
        "f1": f,
        "positive_rate": np.mean(score >= 0.5),
        "brier": brier_score_loss(y, score),
        "hl_statistic": hl,
        "hl_p_value": scipy_stats.chi2.sf(hl, groups - 2),
        "n": 1500,
        "positives": int(y.sum()),
        "negatives": 1500 - int(y.sum()),
    }
    assert set(got) == set(expected)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, rel=1e-10, abs=TOL), key


def test_performance_on_one_class_leaves_discrimination_none():
    got = ps.performance(np.zeros(50, dtype=int), np.linspace(0, 0.5, 50), threshold=0.3)
    assert [got[k] for k in ("auc", "auc_ci_low", "auc_ci_high", "gini", "ks", "recall")] == [None] * 6
    assert got["precision"] == 0.0 and got["f1"] == 0.0  # 2·0 / (0 + FP + 0), as scikit-learn
    assert got["brier"] == pytest.approx(np.mean(np.linspace(0, 0.5, 50) ** 2))
    assert (got["n"], got["positives"], got["negatives"]) == (50, 0, 50)


# -- input validation ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("y", "score", "message"),
    [
        ([0, 1, 1], [0.1, 0.2], r"^y and score differ in length: 3 labels, 2 scores$"),
        ([], [], r"^y and score are empty: there are no labelled rows to assess$"),
        ([[0, 1]], [[0.1, 0.2]], r"^y and score must be one-dimensional, got shapes \(1, 2\) and \(1, 2\)$"),
        (
            [0, 2, 1, -1, 2],
            [0.1] * 5,
            r"^y must hold only 0 and 1; found 2, -1 in 3 of 5 rows, first at row 1$",
        ),
        (
            [0, 1, 0],
            [0.1, float("nan"), np.inf],
            r"^score must be finite; found nan, inf in 2 of 3 rows, first at row 1$",
        ),
        (
            [0, 1, 0, 1],
            [0.1, 0.2, 1.5, -0.25],
            r"^score must be a probability in \[0, 1\]; found 1.5, -0.25 in 2 of 4",
        ),
    ],
    ids=["length", "empty", "2-D", "labels", "non-finite", "out of [0, 1]"],
)
def test_invalid_input_is_refused_with_a_one_line_message(y, score, message):
    with pytest.raises(ValueError, match=message):
        ps.performance(np.array(y), np.array(score), threshold=0.5)


def test_discrimination_accepts_any_finite_score_but_calibration_needs_probabilities():
    y, raw = np.array([0, 1, 0, 1]), np.array([-3.0, 0.2, 0.5, 7.0])  # positives win 3 of 4 pairs
    assert ps.auc(y, raw) == 0.75 and ps.ks_statistic(y, raw) == 0.5
    with pytest.raises(
        ValueError, match=r"score must be a probability in \[0, 1\]; found -3.0, 7.0 in 2 of 4"
    ):
        ps.brier(y, raw)


def test_bad_parameters_are_refused():
    y, score = HAND_Y, HAND_SCORE
    with pytest.raises(ValueError, match=r"^level must lie strictly between 0 and 1, got 95$"):
        ps.delong_ci(y, score, level=95)
    with pytest.raises(ValueError, match=r"^bins must be a positive integer, got 0$"):
        ps.calibration_table(y, score, bins=0)
    with pytest.raises(ValueError, match=r"^threshold must be a finite number, got nan$"):
        ps.confusion_at(y, score, float("nan"))


# -- properties ----------------------------------------------------------------------------------------

PROPERTIES = settings(max_examples=150, deadline=None, database=None)


@st.composite
def labelled(draw: st.DrawFn, grid: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Both classes present; scores either on the dyadic grid k/64 (exact under 1 − s, many ties) or
    arbitrary floats in [0, 1]."""
    n = draw(st.integers(2, 60))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda v: 0 < sum(v) < len(v)))
    one = st.integers(0, 64).map(lambda k: k / 64) if grid else st.floats(0.0, 1.0)
    return np.array(y), np.array(draw(st.lists(one, min_size=n, max_size=n)))


@PROPERTIES
@given(labelled())
def test_property_auc_lies_in_the_unit_interval_and_equals_scikit_learn(case):
    y, score = case
    assert 0.0 <= ps.auc(y, score) <= 1.0
    assert ps.auc(y, score) == pytest.approx(roc_auc_score(y, score), abs=TOL)


@PROPERTIES
@given(labelled(grid=True))
def test_property_reversing_the_score_order_gives_one_minus_the_auc(case):
    y, score = case
    assert ps.auc(y, 1.0 - score) == pytest.approx(1.0 - ps.auc(y, score), abs=TOL)


@PROPERTIES
@given(labelled())
def test_property_negating_arbitrary_scores_gives_one_minus_the_auc(case):
    y, score = case  # −s is exact for any float, where 1 − s can merge neighbours into a tie
    assert ps.auc(y, -score) == pytest.approx(1.0 - ps.auc(y, score), abs=TOL)


@PROPERTIES
@given(labelled(), st.randoms(use_true_random=False))
def test_property_auc_and_ks_ignore_row_order(case, random):
    y, score = case
    order = np.array(random.sample(range(y.size), y.size))
    assert ps.auc(y[order], score[order]) == ps.auc(y, score)
    assert ps.ks_statistic(y[order], score[order]) == ps.ks_statistic(y, score)


@PROPERTIES
@given(labelled())
def test_property_ks_and_brier_lie_in_the_unit_interval(case):
    y, score = case
    assert 0.0 <= ps.ks_statistic(y, score) <= 1.0
    with warnings.catch_warnings():  # the statistic only: scipy's exact p-value can fail on heavy ties
        # and warn (e.g. 13 positives at 0 or 1 against 13 negatives); the statistic is computed before it
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = scipy_stats.ks_2samp(score[y == 1], score[y == 0]).statistic
    assert ps.ks_statistic(y, score) == pytest.approx(expected, abs=TOL)
    assert 0.0 <= ps.brier(y, score) <= 1.0
