"""Controls evaluated again within segments (each value of a categorical feature such as country).

Segment metrics use the same definitions and thresholds as the population's; they are computed from
the frames directly (PSI via :mod:`mrm.checks.stats`), since the Evidently report covers the whole
population. A segment with fewer than ``min_rows`` rows today or in the reference gives None
(INSUFFICIENT_DATA) rather than a noisy number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mrm.checks import stats
from mrm.core.results import MetricResult
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    import pandas as pd

CHECK_OF = {"null_rate": "quality", "psi": "drift", "score_psi": "drift", "mean_score": "drift"}


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
