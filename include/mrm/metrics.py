"""The catalogue of metrics mrm computes: what each means, which check produces it, and which
direction is worse. Controls in the inventory may only name metrics listed here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Direction = Literal["above", "below"]  # "above": breach when value >= threshold; "below": when <=


@dataclass(frozen=True)
class MetricDef:
    name: str
    check: str  # quality | drift | performance
    per_column: bool
    direction: Direction
    description: str


_ROWS: list[tuple[str, str, bool, Direction, str]] = [
    # quality: observed by Great Expectations
    ("row_count", "quality", False, "below", "rows in the day's scoring log"),
    ("null_rate", "quality", True, "above", "share of rows where the column is null"),
    (
        "out_of_range_rate",
        "quality",
        True,
        "above",
        "share of non-null values outside the inventory's [min, max]",
    ),
    (
        "unexpected_category_rate",
        "quality",
        True,
        "above",
        "share of non-null values not in the inventory's categories",
    ),
    ("duplicate_rate", "quality", False, "above", "share of rows whose event_id repeats"),
    # quality: what GX lacks, computed by mrm
    ("volume_ratio", "quality", False, "below", "row count / median daily row count of the reference window"),
    (
        "volume_robust_z",
        "quality",
        False,
        "above",
        "|row count - reference median| / (1.4826 * MAD of reference daily counts)",
    ),
    (
        "null_rate_increase",
        "quality",
        True,
        "above",
        "null rate today minus null rate in the reference window",
    ),
    (
        "out_of_day_rate",
        "quality",
        False,
        "above",
        "share of events whose event_ts falls outside the logical day (UTC)",
    ),
    (
        "extra_column_count",
        "quality",
        False,
        "above",
        "columns in the scoring log that the inventory does not list",
    ),
    (
        "freshness_hours",
        "quality",
        False,
        "above",
        "hours between the newest event of the day and the end of the day",
    ),
    (
        "oversized_value_rate",
        "quality",
        True,
        "above",
        "share of non-null values of a categorical column longer than 200 characters (kept truncated)",
    ),
    # drift
    (
        "psi",
        "drift",
        True,
        "above",
        "CSI of a feature: PSI on reference deciles / categories + other + missing",
    ),
    ("score_psi", "drift", False, "above", "PSI of the model score on reference deciles"),
    (
        "decision_rate_shift",
        "drift",
        True,
        "above",
        "|share of a decision today - share in the reference| (column = decision)",
    ),
    (
        "drifted_feature_share",
        "drift",
        False,
        "above",
        "share of features whose PSI reaches the psi control's amber threshold",
    ),
    (
        "ks_pvalue",
        "drift",
        True,
        "below",
        "Evidently two-sample Kolmogorov-Smirnov p-value (drift when small)",
    ),
    ("chisquare_pvalue", "drift", True, "below", "Evidently chi-square p-value for a categorical feature"),
    ("jensenshannon", "drift", True, "above", "Evidently Jensen-Shannon distance"),
    ("wasserstein", "drift", True, "above", "Evidently normed Wasserstein distance"),
    ("mean_score", "drift", False, "above", "mean model score of the day"),
    # performance on a matured cohort (labels joined by event_id)
    ("auc", "performance", False, "below", "ROC AUC of the cohort"),
    ("gini", "performance", False, "below", "Gini = 2 * AUC - 1"),
    ("ks", "performance", False, "below", "max gap between the score CDFs of positives and negatives"),
    ("gini_drop", "performance", False, "above", "reference cohort's Gini minus this cohort's Gini (points)"),
    ("ks_drop", "performance", False, "above", "reference cohort's KS minus this cohort's KS"),
    ("precision", "performance", False, "below", "precision at the operating threshold"),
    ("recall", "performance", False, "below", "recall at the operating threshold"),
    ("f1", "performance", False, "below", "F1 at the operating threshold"),
    (
        "positive_rate",
        "performance",
        False,
        "above",
        "share of the cohort at or above the operating threshold",
    ),
    ("brier", "performance", False, "above", "Brier score: mean squared error of the score as a probability"),
    (
        "hl_p_value",
        "performance",
        False,
        "below",
        "Hosmer-Lemeshow p-value over score deciles (miscalibration when small)",
    ),
    (
        "calibration_ratio",
        "performance",
        False,
        "above",
        "|observed positive rate / mean score - 1| of the cohort",
    ),
    (
        "label_coverage",
        "performance",
        False,
        "below",
        "share of the cohort's events with a label known by the run date",
    ),
    # performance estimated without labels (CBPE) on the run's own day, from its calibrated scores
    ("estimated_auc", "performance", False, "below", "expected ROC AUC of the day from calibrated scores"),
    ("estimated_precision", "performance", False, "below", "expected precision at the threshold of the day"),
    ("estimated_recall", "performance", False, "below", "expected recall at the threshold of the day"),
    ("estimated_f1", "performance", False, "below", "expected F1 at the threshold of the day"),
    (
        "estimated_positive_rate",
        "performance",
        False,
        "above",
        "share of the day's events at or above the threshold (known without labels)",
    ),
    (
        "estimation_error_auc",
        "performance",
        False,
        "above",
        "|estimated AUC stored for the matured cohort's end day - that day's realised AUC|",
    ),
    *(
        (
            f"estimation_error_{m}",
            "performance",
            False,
            "above",
            f"|estimated {m} stored for the matured cohort's end day - that day's realised {m}|",
        )
        for m in ("precision", "recall", "f1")
    ),
]

# Evidently's drift methods that an inventory feature may request besides PSI, and their metric names
EVIDENTLY_METHODS = {
    "ks": "ks_pvalue",
    "chisquare": "chisquare_pvalue",
    "jensenshannon": "jensenshannon",
    "wasserstein": "wasserstein",
}

# Controls that apply to every model unless its inventory (or its tier's policy) sets its own: (amber, red).
# oversized_value_rate: any value over the limit is AMBER (it is stored truncated, so the evidence no
# longer shows exactly what the model was given, and a 200+ character category is a feed defect or an
# injection attempt); 1 % of the column's values is RED (the column's category metrics are then
# dominated by such values).
DEFAULT_CONTROLS: dict[str, tuple[float, float]] = {"oversized_value_rate": (1e-9, 0.01)}

CATALOGUE: dict[str, MetricDef] = {row[0]: MetricDef(*row) for row in _ROWS}


def get(name: str) -> MetricDef:
    return CATALOGUE[name]
