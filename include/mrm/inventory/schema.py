"""The monitoring plan of an inventory entry: features, reference window, controls, performance,
segments, persistence, and where the scoring log comes from."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mrm import metrics
from mrm.inventory.base import RESERVED_COLUMNS
from mrm.inventory.base import Strict as _Strict
from mrm.inventory.sources import AthenaSourceConfig, CaptureSourceConfig

# How numeric PSI bins the reference (mrm.checks.stats.BINNINGS holds the same names; a test holds it):
# "deciles": the reference quantiles (numpy's linear rule), half-open [q_k, q_{k+1}), open ends;
# "deciles_mass_points" (the default): the same, plus a bin of its own for a value several quantiles share;
# "distinct_values": one bin per distinct reference value (at most 50, else deciles_mass_points).
PsiBinning = Literal["deciles", "deciles_mass_points", "distinct_values"]


class Feature(_Strict):
    name: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
    type: Literal["numeric", "categorical"]
    min: float | None = None
    max: float | None = None
    categories: list[str] | None = None
    nullable: bool = True
    drift_methods: list[Literal["ks", "chisquare", "jensenshannon", "wasserstein"]] = Field(
        default_factory=list,
        description="Evidently methods computed besides PSI (metric names in mrm.metrics)",
    )
    psi_binning: PsiBinning | None = Field(
        default=None,
        description="numeric features: this feature's PSI binning (monitoring.psi_binning if unset)",
    )

    @model_validator(mode="after")
    def _shape(self) -> Feature:
        if self.name in RESERVED_COLUMNS:
            raise ValueError(f"'{self.name}' is a scoring-log contract column, not a feature")
        if self.type == "categorical" and (self.min is not None or self.max is not None):
            raise ValueError("min/max apply to numeric features only")
        if self.type == "numeric" and self.categories is not None:
            raise ValueError("categories apply to categorical features only")
        if self.type == "categorical" and self.psi_binning is not None:
            raise ValueError("psi_binning applies to numeric features only (categories are their own bins)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is greater than max {self.max}")
        wrong = {"numeric": {"chisquare"}, "categorical": {"ks", "wasserstein"}}[self.type] & set(
            self.drift_methods
        )
        if wrong:
            raise ValueError(
                f"drift method(s) {', '.join(sorted(wrong))} do not apply to a {self.type} feature"
            )
        return self


class Window(_Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _ordered(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    def days(self) -> list[date]:
        from datetime import timedelta

        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


class Threshold(_Strict):
    amber: float
    red: float


class Control(_Strict):
    amber: float
    red: float
    columns: dict[str, Threshold] = Field(default_factory=dict, description="per-column overrides")


def check_controls(controls: dict[str, Control]) -> dict[str, Control]:
    """Every control names a known metric, with amber and red in the order its direction needs."""
    for name, ctl in controls.items():
        if name not in metrics.CATALOGUE:
            raise ValueError(f"unknown metric '{name}'; valid: {', '.join(sorted(metrics.CATALOGUE))}")
        direction = metrics.get(name).direction
        for where, t in [("", ctl), *[(f" column {c}", t) for c, t in ctl.columns.items()]]:
            if direction == "above" and not t.amber <= t.red:
                raise ValueError(f"{name}{where}: amber {t.amber} must be <= red {t.red} (higher is worse)")
            if direction == "below" and not t.amber >= t.red:
                raise ValueError(f"{name}{where}: amber {t.amber} must be >= red {t.red} (lower is worse)")
    return controls


class Estimation(_Strict):
    """Label-free performance estimates (CBPE) of each run's own day, whose labels are not known yet:
    the day's scores calibrated on the reference window's labelled rows."""

    enabled: bool = False
    calibration: Literal["isotonic", "none"] = Field(
        "isotonic",
        description="isotonic: fit on the reference's (score, label) pairs; none: scores are probabilities",
    )
    confidence: Annotated[float, Field(gt=0, lt=1, description="two-sided level of each estimate's band")] = (
        0.95
    )


class Performance(_Strict):
    """Outcome analysis on matured labels: each run evaluates the cohort scored
    ``label_maturity_days`` before its logical date (``cohort_days`` wide)."""

    label_maturity_days: Annotated[int, Field(ge=1, le=730)]
    cohort_days: Annotated[int, Field(ge=1, le=92)] = 7
    threshold: Annotated[float, Field(gt=0, lt=1, description="operating threshold: score >= t is positive")]
    min_positives: Annotated[int, Field(ge=1)] = 30
    min_negatives: Annotated[int, Field(ge=1)] = 30
    estimation: Estimation = Estimation()  # label-free estimates of the run's own day (off by default)


class Segments(_Strict):
    """Controls evaluated again within each value of a categorical feature."""

    columns: Annotated[list[str], Field(min_length=1)]
    metrics: Annotated[list[str], Field(min_length=1)] = Field(
        default_factory=lambda: ["null_rate", "psi", "score_psi"]
    )
    min_rows: Annotated[int, Field(ge=1)] = 200

    @field_validator("metrics")
    @classmethod
    def _supported(cls, names: list[str]) -> list[str]:
        bad = sorted(set(names) - set(SEGMENT_METRICS))
        if bad:
            raise ValueError(
                f"metric(s) {', '.join(bad)} cannot be segmented; valid: {', '.join(SEGMENT_METRICS)}"
            )
        return names


SEGMENT_METRICS = ("null_rate", "psi", "score_psi", "mean_score")


class Persistence(_Strict):
    amber_runs_to_red: Annotated[int, Field(ge=2)] | None = 3  # None: AMBER never escalates


class AthenaScoringLog(_Strict):
    """``scoring_log: {athena: {table: ..., query: scoring_log.sql, connection: mrm_athena}}``"""

    athena: AthenaSourceConfig


class CaptureScoringLog(_Strict):
    """``scoring_log: {sagemaker_capture: {uri: s3://.../<endpoint>/<variant>/, input_format: csv, ...}}``"""

    sagemaker_capture: CaptureSourceConfig


class Monitoring(_Strict):
    enabled: bool = True
    start_date: date
    # day-partitioned Parquet under a URI, an Athena query, or SageMaker Model Monitor data capture
    scoring_log: Annotated[str, Field(pattern=r"^(s3|file)://.+")] | AthenaScoringLog | CaptureScoringLog
    labels: Annotated[str, Field(pattern=r"^(s3|file)://.+")] | None = None
    reference: Window
    features: Annotated[list[Feature], Field(min_length=1)]
    decisions: list[str] = Field(default_factory=lambda: ["approve", "review", "decline"])
    controls: dict[str, Control] = Field(default_factory=dict)
    persistence: Persistence = Persistence()
    psi_bins: Annotated[int, Field(ge=2, le=50, description="reference quantile bins of numeric PSI")] = 10
    psi_binning: PsiBinning = Field(
        default="deciles_mass_points", description="how numeric PSI bins the reference (and the score)"
    )
    performance: Performance | None = None
    segments: Segments | None = None

    @field_validator("controls")
    @classmethod
    def _known_metrics(cls, controls: dict[str, Control]) -> dict[str, Control]:
        return check_controls(controls)

    @model_validator(mode="after")
    def _consistent(self) -> Monitoring:
        names = [f.name for f in self.features]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"features listed twice: {', '.join(dupes)}")
        if self.reference.end >= self.start_date:
            raise ValueError(
                f"reference window ends {self.reference.end}, on or after monitoring start {self.start_date}"
            )
        if self.performance and not self.labels:
            raise ValueError("performance monitoring needs a labels source (monitoring.labels)")
        if self.segments:
            categorical = {f.name for f in self.features if f.type == "categorical"}
            bad = sorted(set(self.segments.columns) - categorical)
            if bad:
                raise ValueError(f"segment column(s) {', '.join(bad)} must be categorical features")
        known = {*names, "score"}
        for name, ctl in self.controls.items():
            unknown = sorted(set(ctl.columns) - known - set(self.decisions))
            if unknown:
                raise ValueError(f"control {name} overrides unknown columns: {', '.join(unknown)}")
        return self

    def binning_of(self, column: str) -> str:
        """The PSI binning of a numeric column: its feature's ``psi_binning``, else the model's."""
        found = next((f.psi_binning for f in self.features if f.name == column), None)
        return found or self.psi_binning

    @property
    def uses_athena_pool(self) -> bool:
        """Whether reading the scoring log runs Athena queries: the tasks then share MRM_ATHENA_POOL."""
        return isinstance(self.scoring_log, AthenaScoringLog)
