"""Frame-based reference implementations of the quality, drift and segment metrics: what the checks
computed on whole pandas frames before the aggregate-first engine (GX and Evidently on every row). The
engine's metrics are tested against them (same names, columns, details and values), and they are tested
against hand computations and scipy.

- :func:`check_drift`: PSI through an Evidently stattest (``mrm_psi``) and the drift methods the
  inventory asks for, Evidently's HTML report, decision shifts and the mean score.
- :func:`check_segments`: the segment metrics, with PSI from :mod:`mrm.checks.stats` on each segment.
- :func:`check_quality_extras`: what GX lacks (robust volume, null-rate increase, out-of-day events,
  freshness, extra columns). GX itself is :func:`mrm.checks.quality_gx.check_quality`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from mrm import metrics
from mrm.checks import stats
from mrm.checks.drift import drifted_share, stattest_name
from mrm.checks.evidently_report import data_definition, render_html, with_missing_marker
from mrm.checks.segments import CHECK_OF
from mrm.core.results import MetricResult
from mrm.errors import CheckError
from mrm.inventory import ModelEntry
from mrm.sources.contract import declared_columns

_registered: set[int] = set()


# -- drift ------------------------------------------------------------------------------------------------
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
    definition = data_definition(entry, columns)
    cur = Dataset.from_pandas(with_missing_marker(current[columns], categorical), data_definition=definition)
    ref = Dataset.from_pandas(
        with_missing_marker(reference[columns], categorical), data_definition=definition
    )
    wanted = [(c, psi_method) for c in columns]
    wanted += [(c, m) for c in columns if c in features for m in features[c].drift_methods]
    # scipy's chi-square of a category the reference never saw divides by zero (inf, as documented)
    with np.errstate(divide="ignore"):
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
            {
                "method": psi,
                "bins": entry.monitoring.psi_bins,
                **binning_detail(reference, current, entry, f.name),
            },
        )
        for f in entry.monitoring.features
    ]
    for f in entry.monitoring.features:
        for method in f.drift_methods:
            name = metrics.EVIDENTLY_METHODS[method]
            results.append(
                MetricResult("drift", name, f.name, values.get((f.name, method)), {"method": method})
            )
    results.append(drifted_share(results, entry))
    score_detail = {"method": psi, **binning_detail(reference, current, entry, "score")}
    results.append(MetricResult("drift", "score_psi", None, values.get(("score", psi)), score_detail))
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


def numpy_binning_edges(ref: np.ndarray, bins: int) -> dict[str, np.ndarray | None]:
    """Each PSI binning's inner edges, in plain numpy from the non-null reference values: the quantiles
    by numpy's default (linear) rule de-duplicated; those plus the next double above each one that
    several quantiles share; the distinct values (None above stats.MAX_DISTINCT_BINS of them)."""
    quantiles = np.quantile(ref, np.arange(1, bins) / bins)
    deciles, repeats = np.unique(quantiles, return_counts=True)
    singles = np.nextafter(deciles[repeats > 1], np.inf)
    distinct = np.unique(ref)
    return {
        "deciles": deciles,
        "deciles_mass_points": np.unique(np.r_[deciles, singles]),
        "distinct_values": distinct if distinct.size <= stats.MAX_DISTINCT_BINS else None,
    }


def numpy_psi(ref: np.ndarray, cur: np.ndarray, edges: np.ndarray) -> float:
    """PSI over half-open bins [e_k, e_{k+1}) with open ends, empty bins at 1e-4, in plain numpy."""
    e = np.histogram(ref, np.r_[-np.inf, edges, np.inf])[0] / ref.size  # last bin closed: +inf only
    a = np.histogram(cur, np.r_[-np.inf, edges, np.inf])[0] / cur.size
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def binning_detail(reference: pd.DataFrame, current: pd.DataFrame, entry: ModelEntry, column: str) -> dict:
    """The PSI detail's binning, PSI under each binning and why one is not given, from the frames."""
    if column != "score" and entry.feature(column).type == "categorical":
        return {"binning": "categories"}
    ref, cur = (f[column].to_numpy(dtype="float64") for f in (reference, current))
    ref, cur = ref[~np.isnan(ref)], cur[~np.isnan(cur)]
    wanted = entry.monitoring.binning_of(column)
    if ref.size == 0:
        return {"binning": wanted, "psi_by_binning": dict.fromkeys(stats.BINNINGS)}
    edges = numpy_binning_edges(ref, entry.monitoring.psi_bins)
    used = "deciles_mass_points" if edges[wanted] is None else wanted
    values = {b: None if e is None or cur.size == 0 else numpy_psi(ref, cur, e) for b, e in edges.items()}
    out = {"binning": used, "psi_by_binning": values}
    if edges["distinct_values"] is None:
        out["not_computable"] = {"distinct_values": stats.too_many_distinct(ref)}
    return out


# -- segments ---------------------------------------------------------------------------------------------
def _psi(entry: ModelEntry, column: str, ref: pd.DataFrame, cur: pd.DataFrame) -> float:
    if column != "score" and entry.feature(column).type == "categorical":
        return stats.psi_categorical(ref[column].tolist(), cur[column].tolist())
    ref_values, cur_values = ref[column].to_numpy(dtype="float64"), cur[column].to_numpy(dtype="float64")
    return stats.psi_numeric(ref_values, cur_values, entry.monitoring.psi_bins)


def _segment_metrics(entry: ModelEntry, seg_col: str, ref: pd.DataFrame, cur: pd.DataFrame, small: bool):
    features = [f.name for f in entry.monitoring.features if f.name != seg_col]
    for metric in entry.monitoring.segments.metrics:
        if metric == "null_rate":
            for col in features:
                yield metric, col, None if small else float(cur[col].isna().mean())
        elif metric == "psi":
            for col in features:
                has_values = cur[col].notna().any() and ref[col].notna().any()
                yield metric, col, None if small or not has_values else _psi(entry, col, ref, cur)
        elif metric == "score_psi":
            yield metric, None, None if small else _psi(entry, "score", ref, cur)
        elif metric == "mean_score":
            yield metric, None, None if small else float(cur["score"].mean())


def check_segments(reference: pd.DataFrame, current: pd.DataFrame, entry: ModelEntry) -> list[MetricResult]:
    config = entry.monitoring.segments
    if config is None:
        return []
    out = []
    for seg_col in config.columns:
        values = sorted(
            {str(v) for v in current[seg_col].dropna()} | {str(v) for v in reference[seg_col].dropna()}
        )
        for value in values:
            cur = current[current[seg_col].notna() & (current[seg_col].astype(str) == value)]
            ref = reference[reference[seg_col].notna() & (reference[seg_col].astype(str) == value)]
            small = len(cur) < config.min_rows or len(ref) < config.min_rows
            detail = {"rows": len(cur), "reference_rows": len(ref), "min_rows": config.min_rows}
            for metric, column, value_ in _segment_metrics(entry, seg_col, ref, cur, small):
                out.append(
                    MetricResult(
                        CHECK_OF[metric], metric, column, value_, detail, segment=f"{seg_col}={value}"
                    )
                )
    return out


# -- quality ----------------------------------------------------------------------------------------------
def check_quality_extras(
    current: pd.DataFrame, entry: ModelEntry, reference: dict[str, Any], day: date
) -> list[MetricResult]:
    """What GX lacks: volume against the reference's robust band, null rates against the reference,
    events outside the logical day, unexpected extra columns, and how complete the day is."""
    rows = len(current)
    counts = np.asarray(reference["daily_rows"], dtype="float64")
    median = float(np.median(counts))
    mad = float(np.median(np.abs(counts - median))) * 1.4826
    results = [
        MetricResult(
            "quality",
            "volume_robust_z",
            None,
            abs(rows - median) / max(mad, 1.0),
            {"rows": rows, "reference_median": median, "reference_mad_scaled": mad},
        )
    ]
    for col, ref_rate in reference["null_rates"].items():
        if col in current.columns:
            now = float(current[col].isna().mean())
            results.append(
                MetricResult("quality", "null_rate_increase", col, now - ref_rate, {"reference": ref_rate})
            )
    start = pd.Timestamp(day, tz="UTC")
    end = start + pd.Timedelta(days=1)
    ts = pd.to_datetime(current["event_ts"], utc=True, errors="coerce", format="ISO8601")
    outside = float(((ts < start) | (ts >= end) | ts.isna()).mean()) if rows else None
    results.append(MetricResult("quality", "out_of_day_rate", None, outside, {"day": day.isoformat()}))
    newest = ts[(ts >= start) & (ts < end)].max()
    gap = None if pd.isna(newest) else max((end - newest).total_seconds() / 3600, 0.0)
    results.append(MetricResult("quality", "freshness_hours", None, gap, {"newest_event": str(newest)}))
    categorical = [*(f.name for f in entry.monitoring.features if f.type == "categorical"), "decision"]
    for col in categorical:  # values longer than 200 characters (mrm keeps them truncated)
        present = current[col].dropna().astype(str)
        long = int((present.str.len() > 200).sum())
        rate = long / len(present) if len(present) else 0.0
        detail = {"values": long, "limit_chars": 200}
        results.append(MetricResult("quality", "oversized_value_rate", col, rate, detail))
    extra = sorted(set(current.columns) - declared_columns(entry))
    results.append(MetricResult("quality", "extra_column_count", None, float(len(extra)), {"columns": extra}))
    return results
