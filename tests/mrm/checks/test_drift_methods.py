"""Drift methods besides PSI, the drifted-feature share and categorical nulls, through real Evidently
(the frame-based oracle, oracles.frame_checks).

Independent references: ``scipy.stats.ks_2samp`` on the non-null values (Evidently's ``ks`` stattest
calls it on the values left after dropping nulls); the first Wasserstein distance written out as the
area between the two empirical CDFs and ``scipy.stats.wasserstein_distance``, divided by the
reference's population standard deviation (floored at 0.001), which is how Evidently norms it; and
:mod:`mrm.checks.stats` for PSI (itself checked against hand computations in test_drift.py).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from oracles.frame_checks import check_drift
from scipy import stats as scipy_stats

from mrm.checks import stats

TOL = 1e-12
FEATURES = [
    {"name": "amount", "type": "numeric", "min": 0, "max": 100, "drift_methods": ["ks", "wasserstein"]},
    {"name": "tenure", "type": "numeric", "min": 0, "max": 50},
    {"name": "region", "type": "categorical", "categories": ["north", "south", "east"]},
    {"name": "utilisation", "type": "numeric", "min": 0, "max": 1, "drift_methods": ["ks"]},  # stable
]
CONTROLS = {
    "psi": {"amber": 0.10, "red": 0.25, "columns": {"tenure": {"amber": 0.50, "red": 0.90}}},
    "score_psi": {"amber": 0.10, "red": 0.25},
}


def frame(rows: int, seed: int, amount_mean: float, tenure_mean: float) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "event_id": [f"{seed}-{i}" for i in range(rows)],
            "score": rng.beta(2.0, 5.0, rows),
            "decision": list(rng.choice(["approve", "review", "decline"], rows, p=[0.6, 0.3, 0.1])),
            "amount": rng.normal(amount_mean, 10.0, rows),
            "tenure": rng.normal(tenure_mean, 5.0, rows),
            "region": pd.Series(
                rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2]), dtype="object"
            ),
            "utilisation": rng.uniform(0.0, 1.0, rows),
        }
    )


@pytest.fixture(scope="module")
def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    reference = frame(500, 11, amount_mean=40.0, tenure_mean=20.0)
    current = frame(400, 12, amount_mean=47.0, tenure_mean=22.0)
    reference.loc[reference.index[:25], "amount"] = np.nan
    current.loc[current.index[:30], "amount"] = np.nan
    current.loc[current.index[-20:], "utilisation"] = np.nan
    reference.loc[reference.index[:10], "region"] = None
    current.loc[current.index[30:42], "region"] = None
    current.loc[current.index[42:50], "region"] = np.nan
    return reference, current


@pytest.fixture(scope="module")
def entry(make_entry):
    return make_entry(features=FEATURES, controls=CONTROLS)


@pytest.fixture(scope="module")
def results(frames, entry) -> dict:
    out = check_drift(*frames, entry).results
    by_key = {(r.metric, r.column): r for r in out}
    assert len(by_key) == len(out)
    return by_key


def non_null(series: pd.Series) -> np.ndarray:
    return series.dropna().to_numpy(dtype="float64")


def wasserstein_by_hand(u: np.ndarray, v: np.ndarray) -> float:
    """∫ |F_u(x) − F_v(x)| dx over the merged sample points."""
    u, v = np.sort(u), np.sort(v)
    points = np.sort(np.concatenate([u, v]))
    f_u = np.searchsorted(u, points[:-1], side="right") / u.size
    f_v = np.searchsorted(v, points[:-1], side="right") / v.size
    return float(np.sum(np.abs(f_u - f_v) * np.diff(points)))


def test_requested_methods_give_their_metrics_for_that_feature_only(results):
    assert results[("ks_pvalue", "amount")].detail == {"method": "ks"}
    assert results[("wasserstein", "amount")].detail == {"method": "wasserstein"}
    assert {(m, c) for m, c in results if m in ("ks_pvalue", "wasserstein")} == {
        ("ks_pvalue", "amount"),
        ("wasserstein", "amount"),
        ("ks_pvalue", "utilisation"),
    }
    assert {r.check for r in results.values()} == {"drift"}


@pytest.mark.parametrize("column", ["amount", "utilisation"])
def test_ks_pvalue_equals_scipy_on_the_non_null_values(results, frames, column):
    reference, current = frames
    expected = scipy_stats.ks_2samp(non_null(reference[column]), non_null(current[column])).pvalue
    value = results[("ks_pvalue", column)].value

    assert value == pytest.approx(expected, abs=1e-9)
    assert value == pytest.approx(expected, rel=1e-9)  # amount's p-value is far below 1e-9


def test_ks_pvalues_span_a_real_shift_and_a_stable_feature(results):
    assert results[("ks_pvalue", "amount")].value < 1e-6
    assert 0.01 < results[("ks_pvalue", "utilisation")].value <= 1.0


@pytest.mark.parametrize("column", ["amount", "utilisation"])
def test_ks_pvalue_is_not_the_p_value_with_nulls_imputed(results, frames, column):
    reference, current = frames
    zeros = scipy_stats.ks_2samp(reference[column].fillna(0), current[column].fillna(0)).pvalue

    assert abs(results[("ks_pvalue", column)].value - zeros) > 1e-3 * zeros


def test_wasserstein_is_the_cdf_area_normed_by_the_reference_std(results, frames):
    reference, current = frames
    ref, cur = non_null(reference["amount"]), non_null(current["amount"])
    by_hand = wasserstein_by_hand(ref, cur)

    assert by_hand == pytest.approx(scipy_stats.wasserstein_distance(ref, cur), rel=1e-9)
    assert results[("wasserstein", "amount")].value == pytest.approx(
        by_hand / max(ref.std(), 0.001), rel=1e-9
    )
    assert 0.3 < results[("wasserstein", "amount")].value < 1.5  # about 7 / 10 reference deviations


def test_drifted_share_counts_features_at_the_amber_with_per_column_overrides(results, frames):
    reference, current = frames
    psi = {
        "amount": stats.psi_numeric(reference["amount"].to_numpy(), current["amount"].to_numpy()),
        "tenure": stats.psi_numeric(reference["tenure"].to_numpy(), current["tenure"].to_numpy()),
        "region": stats.psi_categorical(reference["region"].tolist(), current["region"].tolist()),
        "utilisation": stats.psi_numeric(
            reference["utilisation"].to_numpy(), current["utilisation"].to_numpy()
        ),
    }
    r = results[("drifted_feature_share", None)]

    assert (
        psi["amount"] >= 0.50
        and 0.10 <= psi["tenure"] < 0.50
        and max(psi["region"], psi["utilisation"]) < 0.10
    ), psi
    assert {c: results[("psi", c)].value for c in psi} == pytest.approx(psi, abs=TOL)
    assert r.value == 1 / 4  # tenure is past the model-wide 0.10 but below its own 0.50 override
    assert r.detail == {"drifted": ["amount"], "features": 4}


def test_without_a_psi_control_the_drifted_share_uses_0_10(frames, make_entry):
    entry = make_entry(features=FEATURES, controls={"score_psi": {"amber": 0.1, "red": 0.25}})

    [r] = [r for r in check_drift(*frames, entry).results if r.metric == "drifted_feature_share"]

    assert r.value == 2 / 4
    assert r.detail == {"drifted": ["amount", "tenure"], "features": 4}


def test_a_feature_without_values_is_left_out_of_the_share_and_its_methods_are_none(frames, entry):
    reference, current = frames
    out = {
        (r.metric, r.column): r for r in check_drift(reference, current.assign(amount=np.nan), entry).results
    }

    assert out[("psi", "amount")].value is None
    assert out[("ks_pvalue", "amount")].value is None
    assert out[("wasserstein", "amount")].value is None
    assert out[("drifted_feature_share", None)].value == 0.0
    assert out[("drifted_feature_share", None)].detail == {"drifted": [], "features": 3}
    assert out[("ks_pvalue", "utilisation")].value is not None


def test_categorical_nulls_and_nans_land_in_the_missing_bin(results, frames):
    reference, current = frames
    cur = current["region"].tolist()
    without_nulls = [v for v in cur if isinstance(v, str)]

    assert sum(v is None for v in cur) == 12 and sum(isinstance(v, float) for v in cur) == 8
    expected = stats.psi_categorical(reference["region"].tolist(), cur)
    assert results[("psi", "region")].value == pytest.approx(expected, abs=TOL)
    assert abs(expected - stats.psi_categorical(reference["region"].tolist(), without_nulls)) > 1e-3
