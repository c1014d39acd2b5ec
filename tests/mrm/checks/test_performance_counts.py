"""The performance statistics from per-distinct-score counts equal the row-based ones on the same rows.

Independent references: scikit-learn (``roc_auc_score``, ``brier_score_loss``,
``precision_recall_fscore_support``), scipy (``ks_2samp``, ``chi2.sf``), numpy's ``np.quantile``, DeLong's
variance from the m × n comparison matrix, and the row-based :mod:`mrm.checks.performance_stats`
(itself verified against those in test_performance_stats.py). Tolerance: 1e-12 absolute (only
summation order differs); decile edges, bin memberships, confusion counts and KS exactly equal.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats
from sklearn.metrics import brier_score_loss, precision_recall_fscore_support, roc_auc_score

from mrm.checks import performance_counts as pc
from mrm.checks import performance_stats as ps

TOL = 1e-12


def cohort(n: int, seed: int, decimals: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = 1 / (1 + np.exp(-(-1.0 + 1.2 * rng.normal(size=n))))
    y = (rng.random(n) < p).astype(int)
    return y, (p if decimals is None else np.round(p, decimals))


def assert_same_statistics(y: np.ndarray, s: np.ndarray, threshold: float = 0.4) -> None:
    rows, counts = ps.performance(y, s, threshold), pc.performance(pc.ScoreCounts.of(y, s), threshold)
    assert rows.keys() == counts.keys()
    for key, want in rows.items():
        got = counts[key]
        if want is None or got is None:
            assert got is want, key
        elif math.isinf(want):
            assert got == want, key
        else:
            assert got == pytest.approx(want, abs=TOL, rel=1e-12), key
    c = pc.ScoreCounts.of(y, s)
    assert pc.ks_statistic(c) == ps.ks_statistic(y, s)  # the same integer CDFs: bit for bit
    assert pc.confusion_at(c, threshold) == ps.confusion_at(y, s, threshold)
    table_rows, table_counts = ps.calibration_table(y, s), pc.calibration_table(c)
    assert [(b["bin"], b["lower"], b["upper"], b["n"]) for b in table_counts] == [
        (b["bin"], b["lower"], b["upper"], b["n"]) for b in table_rows
    ]
    for a, b in zip(table_counts, table_rows, strict=True):
        assert a["expected_rate"] == pytest.approx(b["expected_rate"], abs=TOL)
        assert a["observed_rate"] == pytest.approx(b["observed_rate"], abs=TOL)


@pytest.mark.parametrize(
    ("n", "seed", "decimals"),
    [(600, 1, None), (5000, 2, 2), (5000, 3, 1), (3000, 4, 3), (40, 5, None)],
    ids=["continuous", "two-decimals", "one-decimal", "three-decimals", "small"],
)
def test_counts_give_the_row_based_statistics(n, seed, decimals):
    y, s = cohort(n, seed, decimals)
    assert_same_statistics(y, s)


def test_counts_equal_scikit_learn_and_scipy_on_tied_scores():
    y, s = cohort(20_000, 7, decimals=2)
    c = pc.ScoreCounts.of(y, s)
    predicted = (s >= 0.4).astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(y, predicted, average="binary")
    at = pc.confusion_at(c, 0.4)

    assert c.values.size <= 101 < s.size  # the ties collapse: counts are far fewer than rows
    assert pc.auc(c) == pytest.approx(roc_auc_score(y, s), abs=TOL)
    assert pc.ks_statistic(c) == pytest.approx(scipy_stats.ks_2samp(s[y == 1], s[y == 0]).statistic, abs=TOL)
    assert pc.brier(c) == pytest.approx(brier_score_loss(y, s), abs=TOL)
    assert (at["precision"], at["recall"], at["f1"]) == pytest.approx((precision, recall, f1), abs=TOL)
    hl = pc.hosmer_lemeshow(c)
    assert hl["p_value"] == pytest.approx(scipy_stats.chi2.sf(hl["statistic"], hl["groups"] - 2), rel=1e-9)


def test_the_delong_interval_equals_the_comparison_matrix_with_ties():
    y, s = cohort(900, 11, decimals=1)  # heavy ties: ten distinct scores
    pos, neg = s[y == 1], s[y == 0]
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    variance = v10.var(ddof=1) / pos.size + v01.var(ddof=1) / neg.size
    c = pc.ScoreCounts.of(y, s)

    value, var = pc.delong(c)
    assert value == pytest.approx(psi.mean(), abs=TOL)
    assert var == pytest.approx(variance, rel=1e-12)
    assert pc.delong_ci(c) == pytest.approx(ps.delong_ci(y, s), abs=TOL)


@pytest.mark.parametrize("value", [0.0, 0.3, 1.0])
def test_all_equal_scores(value):
    y = np.array([1] * 40 + [0] * 60)
    s = np.full(100, value)
    assert_same_statistics(y, s)
    c = pc.ScoreCounts.of(y, s)
    assert pc.auc(c) == 0.5 and pc.ks_statistic(c) == 0.0
    assert c.values.tolist() == [value] and (c.n_positive, c.n_negative) == (40, 60)


def test_a_score_decile_of_exact_zeros_with_a_positive_gives_an_infinite_statistic():
    y = np.array([1] + [0] * 59 + [1, 0] * 120)
    s = np.concatenate([np.zeros(60), np.linspace(0.1, 0.9, 240)])
    hl = pc.hosmer_lemeshow(pc.ScoreCounts.of(y, s))

    assert hl == ps.hosmer_lemeshow(y, s) and math.isinf(hl["statistic"]) and hl["p_value"] == 0.0


def test_a_cohort_of_a_million_rows_gives_the_row_based_statistics():
    y, s = cohort(1_000_000, 2026)
    assert_same_statistics(y, s)
    y, s = cohort(1_000_000, 2027, decimals=4)
    assert_same_statistics(y, s)


@pytest.mark.parametrize("n", [1, 2, 3, 10, 11, 999, 1000, 1001])
@pytest.mark.parametrize("decimals", [None, 1, 3])
def test_quantiles_from_counts_equal_numpy_bit_for_bit(n, decimals):
    rng = np.random.default_rng(n)
    rows = rng.random(n) if decimals is None else np.round(rng.random(n), decimals)
    values, counts = np.unique(rows, return_counts=True)
    q = np.arange(1, 10) / 10

    assert np.array_equal(pc.quantiles(values, counts, q), np.quantile(rows, q))
    assert np.array_equal(pc.quantiles(values, counts, np.array([0.0, 1.0])), [rows.min(), rows.max()])


def test_invalid_counts_are_refused_with_one_line():
    with pytest.raises(ValueError, match=r"^y and score are empty: there are no labelled rows to assess$"):
        pc.performance(pc.ScoreCounts.empty(), 0.5)
    with pytest.raises(ValueError, match=r"^score must be a probability in \[0, 1\]; found 1.5 in 2 rows$"):
        pc.brier(pc.ScoreCounts.of(np.array([1, 0, 1]), np.array([1.5, 1.5, 0.2])))
    with pytest.raises(ValueError, match=r"^score must be finite; found nan in 1 rows$"):
        pc.auc(pc.ScoreCounts.of(np.array([1, 0]), np.array([np.nan, 0.2])))
    with pytest.raises(ValueError, match=r"^y must hold only 0 and 1; found 2 in 1 rows$"):
        pc.ScoreCounts.of(np.array([2, 0]), np.array([0.1, 0.2]))
    with pytest.raises(ValueError, match=r"^threshold must be a finite number, got inf$"):
        pc.confusion_at(pc.ScoreCounts.of(np.array([1, 0]), np.array([0.1, 0.2])), math.inf)


def test_one_class_only_gives_none_for_discrimination():
    c = pc.ScoreCounts.of(np.zeros(50, dtype=int), np.linspace(0, 1, 50))
    assert pc.auc(c) is None and pc.ks_statistic(c) is None and pc.delong_ci(c) is None
    assert pc.confusion_at(c, 0.5)["recall"] is None


PROPERTIES = settings(max_examples=200, deadline=None, database=None)


@st.composite
def labelled(draw: st.DrawFn, grid: bool = False) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 80))
    y = draw(st.lists(st.integers(0, 1), min_size=n, max_size=n).filter(lambda v: 0 < sum(v) < len(v)))
    one = st.integers(0, 16).map(lambda k: k / 16) if grid else st.floats(0.0, 1.0)
    return np.array(y), np.array(draw(st.lists(one, min_size=n, max_size=n)))


@PROPERTIES
@given(labelled())
def test_property_counts_equal_rows_on_arbitrary_scores(case):
    assert_same_statistics(*case)


@PROPERTIES
@given(labelled(grid=True), st.floats(0.0, 1.0))
def test_property_counts_equal_rows_on_tied_scores_at_any_threshold(case, threshold):
    y, s = case
    assert_same_statistics(y, s, threshold)
    assert pc.auc(pc.ScoreCounts.of(y, s)) == pytest.approx(roc_auc_score(y, s), abs=TOL)


@pytest.mark.parametrize("decimals", [None, 6, 2, 0])
def test_distinct_scores_are_numpy_unique_with_its_inverse(decimals):
    rng = np.random.default_rng(decimals or 11)
    s = rng.normal(size=20_000)
    s = s if decimals is None else np.round(s, decimals)
    s[::97], s[5::101], s[7] = np.nan, -0.0, 0.0  # NaNs (one value, last), a signed zero equal to zero

    values, inverse = pc.unique_inverse(s)
    want_values, want_inverse = np.unique(s, return_inverse=True)
    assert np.array_equal(values, want_values, equal_nan=True)
    assert np.array_equal(inverse, want_inverse)
