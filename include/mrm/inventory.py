"""The model inventory: one YAML file per model, validated with pydantic (unknown keys rejected).

Only this module and :mod:`mrm.metrics` are imported by DAG files, so it must stay light.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, field_validator, model_validator

from mrm import metrics
from mrm.errors import InventoryError
from mrm.notify.config import ModelNotifications, Notifications
from mrm.sources.athena import AthenaSourceConfig
from mrm.sources.sagemaker_capture import CaptureSourceConfig

RESERVED_COLUMNS = ("event_id", "event_ts", "model_id", "model_version", "score", "decision")
Status = Literal["proposed", "in_validation", "approved", "suspended", "retired"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


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

    @model_validator(mode="after")
    def _shape(self) -> Feature:
        if self.name in RESERVED_COLUMNS:
            raise ValueError(f"'{self.name}' is a scoring-log contract column, not a feature")
        if self.type == "categorical" and (self.min is not None or self.max is not None):
            raise ValueError("min/max apply to numeric features only")
        if self.type == "numeric" and self.categories is not None:
            raise ValueError("categories apply to categorical features only")
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


class Performance(_Strict):
    """Outcome analysis on matured labels: each run evaluates the cohort scored
    ``label_maturity_days`` before its logical date (``cohort_days`` wide)."""

    label_maturity_days: Annotated[int, Field(ge=1, le=730)]
    cohort_days: Annotated[int, Field(ge=1, le=92)] = 7
    threshold: Annotated[float, Field(gt=0, lt=1, description="operating threshold: score >= t is positive")]
    min_positives: Annotated[int, Field(ge=1)] = 30
    min_negatives: Annotated[int, Field(ge=1)] = 30


class Segments(_Strict):
    """Controls evaluated again within each value of a categorical feature."""

    columns: Annotated[list[str], Field(min_length=1)]
    metrics: Annotated[list[str], Field(min_length=1)] = ["null_rate", "psi", "score_psi"]
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


REGULATORY_FLAGS = Literal[
    "eu_ai_act_high_risk", "fair_lending", "gdpr_automated_decision", "sr_26_2", "aml_cft", "consumer_duty"
]
VALIDATION_MONTHS = {1: 12, 2: 24, 3: 36}  # default validation cycle by risk tier


class Approval(_Strict):
    """Evidence of review and approval: who approved, when, on which validation report, on what terms."""

    approver: EmailStr
    date: date
    validation_report: Annotated[str, Field(pattern=r"^(s3|file|https?)://.+")] | None = None
    conditions: list[str] = Field(default_factory=list)


def _add_months(day: date, months: int) -> date:
    import calendar

    year, month = divmod(day.month - 1 + months, 12)
    year, month = day.year + year, month + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


class ModelEntry(_Strict):
    # identity
    model_id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")]
    name: Annotated[str, Field(min_length=1)]
    version: Annotated[str, Field(min_length=1)]
    purpose: Annotated[str, Field(min_length=10, description="the use case, in a sentence or two")]
    business_line: Annotated[str, Field(min_length=1)]
    model_type: Annotated[
        str, Field(min_length=1, description="e.g. gradient boosting classifier, scorecard")
    ]
    vendor: str | None = None  # None: developed in-house
    description: str = ""
    # people (emails are used for routing)
    business_owner: EmailStr | None = None
    owner: EmailStr  # the model owner: receives tickets and alerts
    developer: EmailStr
    validator: EmailStr  # independent validation: must differ from developer and owner
    # risk
    risk_tier: Literal[1, 2, 3]
    tier_rationale: Annotated[str, Field(min_length=20)]
    regulatory_flags: list[REGULATORY_FLAGS] = Field(default_factory=list)
    limitations: list[str] = Field(default_factory=list)
    conditions_of_use: list[str] = Field(default_factory=list)
    # lifecycle
    status: Status
    approval: Approval | None = None
    last_validation: date | None = None
    next_validation_due: date | None = None  # default: last validation (or approval) + 12/24/36 months
    # the monitoring plan
    monitoring: Monitoring | None = None
    notifications: ModelNotifications | None = None  # overrides of the policy's routing

    @model_validator(mode="after")
    def _governance(self) -> ModelEntry:
        problems = []
        if self.validator in (self.developer, self.owner):
            problems.append(
                f"validator {self.validator} must be independent of the developer and the model owner"
            )
        if self.status in ("approved", "suspended") and self.approval is None:
            problems.append(
                f"status {self.status} needs approval evidence (approval: approver, date, validation_report)"
            )
        if self.status == "approved" and self.monitoring is None:
            problems.append("an approved model needs a monitoring plan (monitoring: ...)")
        if (
            self.status == "approved"
            and self.risk_tier == 1
            and self.monitoring
            and not self.monitoring.performance
        ):
            problems.append("a tier-1 model needs performance monitoring (monitoring.performance)")
        if self.status == "retired" and self.monitoring and self.monitoring.enabled:
            problems.append("a retired model must not be monitored: set monitoring.enabled: false")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @property
    def validation_due(self) -> date | None:
        """When the next independent validation is due (explicit, or by the tier's cycle)."""
        if self.next_validation_due:
            return self.next_validation_due
        last = self.last_validation or (self.approval.date if self.approval else None)
        return _add_months(last, VALIDATION_MONTHS[self.risk_tier]) if last else None

    @property
    def monitored(self) -> bool:
        """Only approved models with an enabled monitoring plan get a DAG and can be run."""
        return self.status == "approved" and self.monitoring is not None and self.monitoring.enabled

    def feature(self, name: str) -> Feature:
        return next(f for f in self.monitoring.features if f.name == name)

    def fingerprint(self) -> str:
        """SHA-256 of the entry's canonical JSON: which thresholds applied to a run."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


class Inventory:
    """All valid entries of an inventory folder, keyed by model id."""

    def __init__(
        self,
        entries: dict[str, ModelEntry],
        folder: Path,
        policy: Policy | None = None,
        problems: list[str] | None = None,
    ):
        self.entries = entries
        self.folder = folder
        self.policy = policy or Policy()
        self.problems = problems or []  # of the files that were skipped (load_inventory(strict=False))

    def get(self, model_id: str) -> ModelEntry:
        try:
            return self.entries[model_id]
        except KeyError:
            broken = [p for p in self.problems if Path(p.split(": ", 1)[0]).stem == model_id]
            if broken:
                more = f" (and {len(broken) - 1} more problem(s))" if len(broken) > 1 else ""
                message = (
                    f"model '{model_id}' has an invalid inventory entry: {broken[0]}{more}; fix the file "
                    "(`mrm inventory validate` lists every problem), then rerun"
                )
                raise InventoryError([message]) from None
            known = ", ".join(sorted(self.entries)) or "none"
            raise InventoryError(
                [f"model '{model_id}' is not in the inventory at {self.folder} (models: {known})"]
            ) from None

    def monitored(self) -> list[ModelEntry]:
        return [e for e in sorted(self.entries.values(), key=lambda e: e.model_id) if e.monitored]


def _describe(err: ValidationError, path: Path) -> list[str]:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/inventory.md for allowed keys)"
        elif e["type"] == "literal_error":
            msg = f"{msg}, got {e.get('input')!r}"
        lines.append(f"{path}: {loc}: {msg}")
    return lines


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader when available: ~10x faster


def _read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InventoryError([f"{path}: invalid YAML at {where}{exc.problem or exc.context}"]) from None
    except UnicodeDecodeError as exc:
        raise InventoryError([f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"]) from None
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InventoryError([f"{path}: cannot read YAML: {first}"]) from None


class Governance(_Strict):
    stale_monitoring_days: Annotated[int, Field(ge=1)] = 3  # approved model without a completed run
    validation_due_warning_days: Annotated[int, Field(ge=1)] = 30


class TierDefaults(_Strict):
    controls: dict[str, Control] = Field(default_factory=dict)
    persistence: Persistence = Persistence()

    @field_validator("controls")
    @classmethod
    def _known_metrics(cls, controls: dict[str, Control]) -> dict[str, Control]:
        return check_controls(controls)


class Policy(_Strict):
    """Defaults by risk tier (``_policy.yaml`` in the inventory folder). A model file's controls
    override these metric by metric; its persistence rule replaces the tier's."""

    tiers: dict[Literal[1, 2, 3], TierDefaults] = Field(default_factory=dict)
    model_risk_team: EmailStr = "model-risk@example.com"  # receives governance tickets
    governance: Governance = Field(default_factory=lambda: Governance())
    notifications: Notifications = Field(default_factory=lambda: Notifications())

    def apply(self, raw: dict) -> dict:
        """The raw model mapping with its tier's defaults filled in (the file's own values win)."""
        defaults = self.tiers.get(raw.get("risk_tier"))
        monitoring = raw.get("monitoring")
        if defaults is None or not isinstance(monitoring, dict):
            return raw
        merged = {**defaults.model_dump(mode="json")["controls"], **(monitoring.get("controls") or {})}
        monitoring = {**monitoring, "controls": merged}
        monitoring.setdefault("persistence", defaults.persistence.model_dump(mode="json"))
        return {**raw, "monitoring": monitoring}


POLICY_FILE = "_policy.yaml"


def load_policy(folder: Path) -> Policy:
    path = folder / POLICY_FILE
    if not path.exists():
        return Policy()
    raw = _read_yaml(path)
    try:
        return Policy.model_validate(raw or {})
    except ValidationError as exc:
        raise InventoryError(_describe(exc, path)) from None


def load_entry(path: Path, policy: Policy | None = None) -> ModelEntry:
    """Parse and validate one inventory file; raise InventoryError with one line per problem."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise InventoryError(
            [f"{path}: expected a mapping of keys (model_id, name, ...), got {type(raw).__name__}"]
        )
    try:
        entry = ModelEntry.model_validate((policy or Policy()).apply(raw))
    except ValidationError as exc:
        raise InventoryError(_describe(exc, path)) from None
    if path.stem != entry.model_id:
        raise InventoryError(
            [f"{path}: model_id '{entry.model_id}' must match the file name '{path.stem}.yaml'"]
        )
    return entry


def inventory_files(folder: Path) -> list[Path]:
    """Model files: every *.yaml / *.yml except those starting with "_" (e.g. _policy.yaml)."""
    return sorted(p for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")] if not p.name.startswith("_"))


def load_inventory(folder: Path, *, strict: bool = True) -> tuple[Inventory, list[str]]:
    """Load every file. ``strict``: raise on any problem; otherwise skip broken files and return them."""
    if not folder.is_dir():
        raise InventoryError([f"{folder}: inventory folder not found (set MRM_INVENTORY or --inventory DIR)"])
    entries: dict[str, ModelEntry] = {}
    problems: list[str] = []
    try:
        policy = load_policy(folder)
    except InventoryError as exc:
        problems.extend(exc.lines())
        policy = Policy()
    for path in inventory_files(folder):
        try:
            entry = load_entry(path, policy)
        except InventoryError as exc:
            problems.extend(exc.lines())
            continue
        if entry.model_id in entries:
            problems.append(f"{path}: model_id '{entry.model_id}' is already defined in another file")
            continue
        entries[entry.model_id] = entry
    if strict and problems:
        raise InventoryError(problems)
    return Inventory(entries, folder, policy, problems), problems
