"""The catalogue of metrics mrm computes: what each means, which check produces it, and which
direction is worse. Controls in the inventory may only name metrics listed here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["above", "below"]  # "above": breach when value >= threshold; "below": when <=


@dataclass(frozen=True)
class MetricDef:
    name: str
    check: str  # quality | drift | run
    per_column: bool
    direction: Direction
    description: str


CATALOGUE: dict[str, MetricDef] = {
    m.name: m
    for m in [
        MetricDef("row_count", "quality", False, "below", "rows in the day's scoring log"),
        MetricDef(
            "volume_ratio",
            "quality",
            False,
            "below",
            "row count / median daily row count of the reference window",
        ),
        MetricDef("null_rate", "quality", True, "above", "share of rows where the column is null"),
        MetricDef(
            "out_of_range_rate",
            "quality",
            True,
            "above",
            "share of non-null values outside the inventory's [min, max]",
        ),
        MetricDef(
            "unexpected_category_rate",
            "quality",
            True,
            "above",
            "share of non-null values not in the inventory's categories",
        ),
        MetricDef("duplicate_rate", "quality", False, "above", "share of rows whose event_id repeats"),
        MetricDef("psi", "drift", True, "above", "CSI of a feature: PSI on reference deciles / categories"),
        MetricDef("score_psi", "drift", False, "above", "PSI of the model score on reference deciles"),
        MetricDef(
            "decision_rate_shift",
            "drift",
            True,
            "above",
            "absolute change of a decision's share against the reference (column = decision)",
        ),
        MetricDef("mean_score", "drift", False, "above", "mean model score of the day"),
    ]
}


def get(name: str) -> MetricDef:
    return CATALOGUE[name]
