"""Drift of features, score and decisions against the reference window, run through Evidently.

The PSI in the credit-risk convention (:mod:`mrm.checks.stats`) is registered as an Evidently
stattest named ``mrm_psi``; Evidently's report runs it per column, so the HTML evidence shows the very
numbers that the history stores.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mrm import metrics
from mrm.checks import stats
from mrm.core.results import MetricResult
from mrm.errors import CheckError
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    import pandas as pd

STATTEST = "mrm_psi"  # PSI on reference deciles; "mrm_psi_<n>" for n bins other than 10
_registered: set[int] = set()


def stattest_name(bins: int = stats.DEFAULT_BINS) -> str:
    return STATTEST if bins == stats.DEFAULT_BINS else f"{STATTEST}_{bins}"


def _psi_with(bins: int):
    def mrm_psi(reference_data, current_data, feature_type, threshold):
        from evidently.legacy.core import ColumnType

        if feature_type == ColumnType.Categorical:
            value = stats.psi_categorical(reference_data.tolist(), current_data.tolist())
        else:
            ref, cur = reference_data.to_numpy(dtype="float64"), current_data.to_numpy(dtype="float64")
            value = stats.psi_numeric(ref, cur, bins)
        return value, value >= threshold

    return mrm_psi


def register_stattest(bins: int = stats.DEFAULT_BINS) -> str:
    """Make the PSI selectable in Evidently (ValueDrift(method="mrm_psi"), presets); returns its name."""
    name = stattest_name(bins)
    if bins in _registered:
        return name
    from evidently.legacy.calculations.stattests.registry import StatTest
    from evidently.legacy.calculations.stattests.registry import register_stattest as register
    from evidently.legacy.core import ColumnType

    test = StatTest(
        name=name,
        display_name="PSI (reference deciles, mrm)"
        if bins == 10
        else f"PSI ({bins} reference quantiles, mrm)",
        allowed_feature_types=[ColumnType.Numerical, ColumnType.Categorical],
        default_threshold=0.1,
    )
    register(test, _psi_with(bins))
    _registered.add(bins)
    return name


@dataclass
class DriftOutcome:
    results: list[MetricResult]
    report_html: bytes


# Evidently inlines its 3.5 MB JavaScript bundle and font in every HTML report. Evidence reports
# instead reference one shared copy (written once next to them, see mrm.evidence.shared_files), so a
# daily report is tens of kB rather than 3.9 MB. LIB_DIR is relative to the report's folder.
LIB_DIR = "../../../_lib"


def evidently_lib_files() -> dict[str, bytes]:
    """The files a report made by :func:`render_html` needs, by name under the shared folder."""
    import evidently
    from evidently.legacy.utils.dashboard import STATIC_PATH

    static = Path(STATIC_PATH)
    return {
        f"evidently-{evidently.__version__}.js": (static / "index.js").read_bytes(),
        "material-ui-icons.woff2": (static / "material-ui-icons.woff2").read_bytes(),
    }


def render_html(snapshot) -> bytes:
    """Evidently's own HTML template (evidently.core.metric_types.render_widgets), minus the inlined lib."""
    import uuid

    from evidently.legacy.model.dashboard import DashboardInfo
    from evidently.legacy.model.widget import AdditionalGraphInfo, BaseWidgetInfo
    from evidently.legacy.renderers.html_widgets import group_widget
    from evidently.legacy.utils.dashboard import TemplateParams, file_html_template

    widgets = [group_widget(title="", widgets=snapshot._widgets), *snapshot._tests_widgets]
    graphs = {}
    for widget in widgets:
        for graph in widget.get_additional_graphs():
            info = graph.params if isinstance(graph, AdditionalGraphInfo) else graph
            graphs[str(graph.id)] = info.dict() if isinstance(info, BaseWidgetInfo) else info
    lib, font = evidently_lib_files()
    params = TemplateParams(
        dashboard_id="metric_" + uuid.uuid4().hex,
        dashboard_info=DashboardInfo(name="Report", widgets=widgets),
        additional_graphs=graphs,
        embed_font=False,
        embed_lib=False,
        font_file=f"{LIB_DIR}/{font}",
        include_js_files=[f"{LIB_DIR}/{lib}"],
    )
    return file_html_template(params).encode()


def _definition(entry: ModelEntry, columns: list[str]):
    from evidently import DataDefinition

    categorical = {f.name for f in entry.monitoring.features if f.type == "categorical"}
    return DataDefinition(
        numerical_columns=[c for c in columns if c not in categorical],
        categorical_columns=[c for c in columns if c in categorical],
    )


def _with_missing_marker(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Categorical nulls become stats.MISSING so that they reach the "missing" PSI bin (Evidently
    drops nulls before calling a stattest)."""
    out = frame.copy()
    for col in categorical:
        out[col] = out[col].astype("object").where(out[col].notna(), stats.MISSING)
    return out


def _evidently_values(
    reference: pd.DataFrame, current: pd.DataFrame, entry: ModelEntry
) -> tuple[dict[tuple[str, str], float], bytes]:
    """Evidently's drift value per (column, method): ``mrm_psi`` for every feature and the score,
    plus the methods each feature asks for. A numeric column with no values on either side has no
    distribution to compare and is left out (its metrics are None: INSUFFICIENT_DATA)."""
    from evidently import Dataset, Report
    from evidently.metrics import ValueDrift

    psi_method = register_stattest(entry.monitoring.psi_bins)
    features = {f.name: f for f in entry.monitoring.features}
    categorical = [n for n, f in features.items() if f.type == "categorical"]
    columns = [
        c
        for c in [*features, "score"]
        if c in categorical or (current[c].notna().any() and reference[c].notna().any())
    ]
    definition = _definition(entry, columns)
    cur = Dataset.from_pandas(_with_missing_marker(current[columns], categorical), data_definition=definition)
    ref = Dataset.from_pandas(
        _with_missing_marker(reference[columns], categorical), data_definition=definition
    )
    wanted = [(c, psi_method) for c in columns]
    wanted += [(c, m) for c in columns if c in features for m in features[c].drift_methods]
    snapshot = Report([ValueDrift(column=c, method=m) for c, m in wanted]).run(cur, ref)
    values = {}
    for item in snapshot.dict()["metrics"]:
        values[(item["config"]["column"], item["config"]["method"])] = float(item["value"])
    return values, render_html(snapshot)


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


def _drifted_share(results: list[MetricResult], entry: ModelEntry) -> MetricResult:
    """Share of features whose PSI reaches the psi control's amber threshold (0.10 without one)."""
    control = entry.monitoring.controls.get("psi")
    psi = [r for r in results if r.metric == "psi" and r.value is not None]
    drifted = (
        [r.column for r in psi if r.value >= (control.columns.get(r.column) or control).amber]
        if control
        else [r.column for r in psi if r.value >= 0.10]
    )
    share = len(drifted) / len(psi) if psi else None
    return MetricResult(
        "drift", "drifted_feature_share", None, share, {"drifted": drifted, "features": len(psi)}
    )


def check_drift(reference: pd.DataFrame, current: pd.DataFrame, entry: ModelEntry) -> DriftOutcome:
    """PSI per feature (CSI) and of the score, decision-rate shifts, mean score; plus the HTML report."""
    try:
        values, html = _evidently_values(reference, current, entry)
    except Exception as exc:  # Evidently raises many types; name the model and the cause
        raise CheckError(
            f"{entry.model_id}: Evidently drift report failed: {type(exc).__name__}: {exc}"
        ) from exc
    psi = stattest_name(entry.monitoring.psi_bins)
    results = [
        MetricResult(
            "drift",
            "psi",
            f.name,
            values.get((f.name, psi)),
            {"method": psi, "bins": entry.monitoring.psi_bins},
        )
        for f in entry.monitoring.features
    ]
    for f in entry.monitoring.features:
        for method in f.drift_methods:
            name = metrics.EVIDENTLY_METHODS[method]
            results.append(
                MetricResult("drift", name, f.name, values.get((f.name, method)), {"method": method})
            )
    results.append(_drifted_share(results, entry))
    results.append(MetricResult("drift", "score_psi", None, values.get(("score", psi)), {"method": psi}))
    results.extend(_decision_shift(reference, current, entry))
    results.append(
        MetricResult(
            "drift",
            "mean_score",
            None,
            float(current["score"].mean()) if current["score"].notna().any() else None,
            {"reference": float(reference["score"].mean())},
        )
    )
    return DriftOutcome(results, html)
