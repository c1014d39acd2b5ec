"""``_policy.yaml``: defaults by risk tier, the model risk team, governance rules, notification routing,
the role map of the desk, the intake rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import EmailStr, Field, field_validator

from mrm.inventory.base import Strict as _Strict
from mrm.inventory.intake_policy import IntakePolicy
from mrm.inventory.notifications import Notifications
from mrm.inventory.roles import Roles
from mrm.inventory.schema import Control, Persistence, check_controls
from mrm.settings import DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS


class Governance(_Strict):
    stale_monitoring_days: Annotated[int, Field(ge=1)] = 3  # approved model without a completed run
    validation_due_warning_days: Annotated[int, Field(ge=1)] = 30


DEFAULT_MAX_ACCEPTANCE_DAYS = 90


@dataclass(frozen=True)
class Targets:
    """How quickly the desk is expected to act on a model of one tier (:meth:`Policy.targets`).
    Business days are Monday to Friday, UTC dates, with no holiday calendar."""

    acknowledge_business_days: int  # a ticket is acknowledged within this many business days
    close_days: int  # a ticket is closed within this many calendar days
    attest_business_days: int  # a logical date's review is attested within this many business days


# the targets of a tier that does not give its own (and of a model no longer in the inventory: tier 3's)
DEFAULT_TARGETS = {1: Targets(1, 10, 1), 2: Targets(2, 20, 2), 3: Targets(5, 30, 5)}
BusinessDays = Annotated[int, Field(ge=1, le=60)]


class TierDefaults(_Strict):
    controls: dict[str, Control] = Field(default_factory=dict)
    persistence: Persistence = Persistence()
    max_acceptance_days: Annotated[int, Field(ge=1, le=3660)] = DEFAULT_MAX_ACCEPTANCE_DAYS  # accept_risk
    # the desk's targets (None: DEFAULT_TARGETS of the tier)
    acknowledge_within_business_days: BusinessDays | None = None
    close_within_days: Annotated[int, Field(ge=1, le=3660)] | None = None
    attest_within_business_days: BusinessDays | None = None

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
    retention_days: int = DEFAULT_RETENTION_DAYS  # `mrm purge` keeps at least this (and MRM_RETENTION_DAYS)
    # who may act on the desk (mrm.ticketing.review); None (no ``roles:``): the desk checks no roles
    roles: Roles | None = None
    intake: IntakePolicy = Field(default_factory=lambda: IntakePolicy())  # `mrm intake`: tiering rule, flags

    def targets(self, tier: int | None) -> Targets:
        """The desk's targets for a model of ``tier``: the tier's keys, else :data:`DEFAULT_TARGETS`
        (tier 1: acknowledge within 1 business day, close within 10 days, attest within 1 business day;
        tier 2: 2, 20, 2; tier 3: 5, 30, 5). An unknown tier (None: a model no longer in the inventory)
        gets tier 3's."""
        return _targets(self.tiers.get(tier), tier)

    def max_acceptance_days(self, tier: int) -> int:
        """The longest a risk of a model of ``tier`` may be accepted for (default 90 days)."""
        defaults = self.tiers.get(tier)
        return defaults.max_acceptance_days if defaults else DEFAULT_MAX_ACCEPTANCE_DAYS

    @field_validator("tiers")
    @classmethod
    def _acknowledged_before_closed(cls, tiers: dict[int, TierDefaults]) -> dict[int, TierDefaults]:
        for tier, defaults in sorted(tiers.items()):
            t = _targets(defaults, tier)
            if t.acknowledge_business_days > t.close_days:
                raise ValueError(
                    f"tier {tier}: acknowledge_within_business_days ({t.acknowledge_business_days}) is more "
                    f"than close_within_days ({t.close_days}): a ticket would be due closed before it is due "
                    "acknowledged; lower the first or raise the second"
                )
        return tiers

    @field_validator("retention_days")
    @classmethod
    def _retention_floor(cls, days: int) -> int:
        if days < MIN_RETENTION_DAYS:
            raise ValueError(
                f"retention_days {days} is below the floor of {MIN_RETENTION_DAYS} days (six months, "
                f"EU AI Act Art. 19); give at least {MIN_RETENTION_DAYS} (default {DEFAULT_RETENTION_DAYS}, "
                "seven years)"
            )
        return days

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


def _targets(defaults: TierDefaults | None, tier: int | None) -> Targets:
    base = DEFAULT_TARGETS.get(tier, DEFAULT_TARGETS[3])
    if defaults is None:
        return base
    return Targets(
        defaults.acknowledge_within_business_days or base.acknowledge_business_days,
        defaults.close_within_days or base.close_days,
        defaults.attest_within_business_days or base.attest_business_days,
    )
