"""One inventory entry: the model's identity, people, risk, lifecycle and monitoring plan."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Annotated, Literal

from pydantic import EmailStr, Field, model_validator

from mrm.inventory.base import Strict as _Strict
from mrm.inventory.intake import IntakeRecord
from mrm.inventory.notifications import ModelNotifications
from mrm.inventory.schema import Feature, Monitoring

Status = Literal["proposed", "in_validation", "approved", "suspended", "retired"]

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
    # the AI/ML use-case intake it was proposed from (`mrm intake new`): answers, proposed tier, flags
    intake: IntakeRecord | None = None

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

    def document(self) -> dict:
        """The entry as JSON data, as the history keeps it (and :meth:`fingerprint` hashes it). Without an
        ``intake:`` record the key is left out, so entries hash as before it existed (no new version)."""
        return self.model_dump(mode="json", exclude={"intake"} if self.intake is None else None)

    def fingerprint(self) -> str:
        """SHA-256 of the entry's canonical JSON (:meth:`document`): which thresholds applied to a run."""
        canonical = json.dumps(self.document(), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()
