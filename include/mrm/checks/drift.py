"""Drift of features, score and decisions against the reference window, run through Evidently.

The PSI in the credit-risk convention (:mod:`mrm.checks.stats`) is registered as an Evidently
stattest named ``mrm_psi``; Evidently's report runs it per column, so the HTML evidence shows the very
numbers that the history stores.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mrm.checks import stats
from mrm.checks.results import MetricResult
from mrm.errors import CheckError
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    import pandas as pd

STATTEST = "mrm_psi"
_registered = False


def _mrm_psi(reference_data, current_data, feature_type, threshold):
    from evidently.legacy.core import ColumnType

    if feature_type == ColumnType.Categorical:
        value = stats.psi_categorical(reference_data.tolist(), current_data.tolist())
    else:
        value = stats.psi_numeric(
            reference_data.to_numpy(dtype="float64"), current_data.to_numpy(dtype="float64")
        )
    return value, value >= threshold


def register_stattest() -> None:
    """Make ``mrm_psi`` selectable in Evidently (ValueDrift(method="mrm_psi"), presets)."""
    global _registered
    if _registered:
        return
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    test = StatTest(
        name=STATTEST,
        display_name="PSI (reference deciles, mrm)",
        allowed_feature_types=[ColumnType.Numerical, ColumnType.Categorical],
        default_threshold=0.1,
    )
    register_stattest(test, _mrm_psi)
    _registered = True


@dataclass
class DriftOutcome:
    results: list[MetricResult]
    report_html: bytes


def _definition(entry: ModelEntry):
    from evidently import DataDefinition

    return DataDefinition(
        numerical_columns=[f.name for f in entry.monitoring.features if f.type == "numeric"] + ["score"],
        categorical_columns=[f.name for f in entry.monitoring.features if f.type == "categorical"],
    )


def _evidently_values(
    reference: pd.DataFrame, current: pd.DataFrame, entry: ModelEntry
) -> tuple[dict, bytes]:
    from evidently import Dataset, Report
    from evidently.metrics import ValueDrift

    register_stattest()
    columns = [f.name for f in entry.monitoring.features] + ["score"]
    definition = _definition(entry)
    cur = Dataset.from_pandas(current[columns], data_definition=definition)
    ref = Dataset.from_pandas(reference[columns], data_definition=definition)
    snapshot = Report([ValueDrift(column=c, method=STATTEST) for c in columns]).run(cur, ref)
    values = {}
    for item in snapshot.dict()["metrics"]:
        values[item["config"]["column"]] = float(item["value"])
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "drift.html"
        snapshot.save_html(str(path))
        html = path.read_bytes()
    return values, html


def _decision_shift(reference: pd.DataFrame, current: pd.DataFrame, entry: ModelEntry) -> list[MetricResult]:
    ref_share = reference["decision"].value_counts(normalize=True)
    cur_share = current["decision"].value_counts(normalize=True)
    out = []
    for decision in entry.monitoring.decisions:
        e, a = float(ref_share.get(decision, 0.0)), float(cur_share.get(decision, 0.0))
        out.append(
            MetricResult("drift", "decision_rate_shift", decision, abs(a - e), {"reference": e, "current": a})
        )
    return out


def check_drift(reference: pd.DataFrame, current: pd.DataFrame, entry: ModelEntry) -> DriftOutcome:
    """PSI per feature (CSI) and of the score, decision-rate shifts, mean score; plus the HTML report."""
    try:
        values, html = _evidently_values(reference, current, entry)
    except Exception as exc:  # Evidently raises many types; name the model and the cause
        raise CheckError(
            f"{entry.model_id}: Evidently drift report failed: {type(exc).__name__}: {exc}"
        ) from exc
    results = [
        MetricResult("drift", "psi", f.name, values[f.name], {"method": STATTEST, "bins": stats.DEFAULT_BINS})
        for f in entry.monitoring.features
    ]
    results.append(MetricResult("drift", "score_psi", None, values["score"], {"method": STATTEST}))
    results.extend(_decision_shift(reference, current, entry))
    results.append(
        MetricResult(
            "drift",
            "mean_score",
            None,
            float(current["score"].mean()),
            {"reference": float(reference["score"].mean())},
        )
    )
    return DriftOutcome(results, html)
