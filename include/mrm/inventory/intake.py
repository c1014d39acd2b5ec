"""AI/ML use-case intake: the answers a model-risk intake asks, the tier the policy's rule proposes with
its rationale and flags (:func:`propose`), and the ``proposed`` inventory entry that keeps every answer
(:func:`entry_from`). Pure: no files are read or written here (``mrm intake new`` does that).

The entry is only proposed: moving it to ``in_validation`` and ``approved`` stays governed by the
inventory's own rules (an independent validator, approval evidence, a monitoring plan)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import ConfigDict, EmailStr, Field, model_validator

from mrm.inventory.base import Strict
from mrm.inventory.intake_policy import Automation, Condition, IntakePolicy, ModelType, Scope, Tier

IN_HOUSE = ("in-house", "in_house", "inhouse")
# the entry's regulatory_flags a regulatory scope implies
SCOPE_FLAGS = {
    "eu_ai_act_annex_iii_credit": "eu_ai_act_high_risk",
    "eu_ai_act_annex_iii_other": "eu_ai_act_high_risk",
    "consumer_duty": "consumer_duty",
    "aml": "aml_cft",
    "gdpr_art22": "gdpr_automated_decision",
    "fair_lending": "fair_lending",
    "sr_26_2": "sr_26_2",
}
Text = Annotated[str, Field(min_length=10)]


class IntakeAnswers(Strict):
    """One use case's answers, as ``mrm intake new --answers FILE.yaml`` reads them (strict types)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    name: Annotated[str, Field(min_length=1)]
    purpose: Text
    decision: Text  # the decision the model supports
    business_line: Annotated[str, Field(min_length=1)]
    automation: Automation
    customers_affected: Annotated[int, Field(ge=0)]  # customers a year; 0: internal use only
    yearly_decisions: Annotated[int, Field(ge=0)]
    personal_data: bool
    uses_protected_attributes: bool
    protected_attributes: list[Annotated[str, Field(min_length=1)]] = Field(default_factory=list)
    model_type: ModelType
    model_description: str | None = None  # e.g. "XGBoost classifier on bureau data"
    vendor: Annotated[str, Field(min_length=1)]  # "in-house", or the vendor's name
    regulatory_scope: Annotated[list[Scope], Field(min_length=1)]  # [none] when none applies
    owner: EmailStr
    developer: EmailStr
    business_owner: EmailStr | None = None
    validator: EmailStr | None = None  # None: the policy's model_risk_team until one is assigned
    version: Annotated[str, Field(min_length=1)] = "0.1.0"

    @model_validator(mode="after")
    def _consistent(self) -> IntakeAnswers:
        if self.uses_protected_attributes and not self.protected_attributes:
            raise ValueError("uses_protected_attributes is true: list them in protected_attributes")
        if not self.uses_protected_attributes and self.protected_attributes:
            raise ValueError(
                f"protected_attributes lists {', '.join(self.protected_attributes)} but "
                "uses_protected_attributes is false; set it true or empty the list"
            )
        if "none" in self.regulatory_scope and len(self.regulatory_scope) > 1:
            raise ValueError("regulatory_scope: 'none' cannot be listed with other scopes")
        return self

    @property
    def vendor_model(self) -> bool:
        return self.vendor.strip().lower() not in IN_HOUSE


class IntakeFlag(Strict):
    flag: str
    because: str


class IntakeRecord(Strict):
    """What an entry keeps of its intake (``intake:``): the answers, and what the rule proposed."""

    date: date
    answers: IntakeAnswers
    proposed_tier: Tier
    rationale: Annotated[list[str], Field(min_length=1)]
    flags: list[IntakeFlag] = Field(default_factory=list)


@dataclass(frozen=True)
class Proposal:
    tier: int
    rationale: tuple[str, ...]  # one line per matching rule (or the default)
    flags: tuple[IntakeFlag, ...]


def _facts(answers: IntakeAnswers) -> dict[str, object]:
    return {
        "automation": answers.automation,
        "customer_impact": answers.customers_affected > 0,
        "personal_data": answers.personal_data,
        "protected_attributes": answers.uses_protected_attributes,
        "vendor_model": answers.vendor_model,
        "model_type": answers.model_type,
    }


def _holds(key: str, wanted, answers: IntakeAnswers) -> bool:
    if key == "regulatory_scope":
        return bool(set(wanted) & set(answers.regulatory_scope))
    if key == "yearly_decisions_above":
        return answers.yearly_decisions > wanted
    if key == "customers_above":
        return answers.customers_affected > wanted
    fact = _facts(answers)[key]
    return fact in wanted if isinstance(wanted, list) else fact == wanted


def _given(condition: Condition) -> dict[str, object]:
    return {key: value for key, value in condition if value is not None}


def matches(condition: Condition, answers: IntakeAnswers) -> bool:
    """Whether every key the condition gives holds of the answers."""
    return all(_holds(key, wanted, answers) for key, wanted in _given(condition).items())


def _evidence(condition: Condition, answers: IntakeAnswers) -> str:
    """The answers that made a condition hold, as the rationale shows them."""
    shown = {
        "automation": f"automation {answers.automation}",
        "customer_impact": f"{answers.customers_affected:,} customers affected a year",
        "personal_data": "personal data " + ("used" if answers.personal_data else "not used"),
        "protected_attributes": "protected attributes "
        + (", ".join(answers.protected_attributes) if answers.uses_protected_attributes else "not used"),
        "vendor_model": f"vendor {answers.vendor}",
        "model_type": f"model type {answers.model_type}",
        "regulatory_scope": "regulatory scope " + ", ".join(answers.regulatory_scope),
        "yearly_decisions_above": f"{answers.yearly_decisions:,} decisions a year",
        "customers_above": f"{answers.customers_affected:,} customers affected a year",
    }
    return "; ".join(shown[key] for key in _given(condition))


def propose(answers: IntakeAnswers, policy) -> Proposal:
    """The tier the policy's intake rule proposes (``policy``: a Policy or its IntakePolicy), why, and
    the flags of heightened risk. The most material matching rule wins; all of them are the rationale."""
    rules: IntakePolicy = getattr(policy, "intake", policy)
    hits = [rule for rule in rules.rules if matches(rule.when, answers)]
    if hits:
        tier = min(rule.tier for rule in hits)
        rationale = [
            f"tier {rule.tier}: {rule.because} ({_evidence(rule.when, answers)})"
            for rule in sorted(hits, key=lambda r: r.tier)
        ]
    else:
        tier, rationale = rules.default_tier, [f"tier {rules.default_tier}: {rules.default_because}"]
    flags = [IntakeFlag(flag=f.flag, because=f.because) for f in rules.flags if matches(f.when, answers)]
    return Proposal(tier, tuple(rationale), tuple(flags))


def entry_from(
    answers: IntakeAnswers,
    proposal: Proposal,
    model_id: str,
    owner: str | None = None,
    *,
    validator: str | None = None,
    on: date | None = None,
) -> dict:
    """A ``proposed`` inventory entry (the mapping of its YAML file) with every answer under ``intake:``.
    ``owner`` overrides the answers' owner; ``validator``: who validates when the answers name nobody
    (``mrm intake new`` gives the policy's model_risk_team); ``on``: the intake's date (today, UTC)."""
    scopes = [s for s in answers.regulatory_scope if s in SCOPE_FLAGS]
    entry = {
        "model_id": model_id,
        "name": answers.name,
        "version": answers.version,
        "purpose": answers.purpose,
        "business_line": answers.business_line,
        "model_type": answers.model_description or answers.model_type.replace("_", " "),
        "vendor": answers.vendor if answers.vendor_model else None,
        "description": f"Decision supported: {answers.decision}",
        "business_owner": answers.business_owner,
        "owner": owner or answers.owner,
        "developer": answers.developer,
        "validator": answers.validator or validator,
        "risk_tier": proposal.tier,
        "tier_rationale": "Proposed by intake: " + "; ".join(proposal.rationale),
        "regulatory_flags": sorted({SCOPE_FLAGS[s] for s in scopes}),
        "status": "proposed",
        "intake": {
            "date": (on or datetime.now(UTC).date()).isoformat(),
            "answers": answers.model_dump(mode="json", exclude_none=True),
            "proposed_tier": proposal.tier,
            "rationale": list(proposal.rationale),
            "flags": [f.model_dump() for f in proposal.flags],
        },
    }
    return {key: value for key, value in entry.items() if value is not None}


def describe(condition: Condition) -> str:
    """A condition as ``mrm intake rules`` prints it: ``automation in [fully_automated] and ...``."""
    parts = []
    for key, wanted in _given(condition).items():
        if key == "regulatory_scope":
            parts.append(f"regulatory_scope any of [{', '.join(wanted)}]")
        elif key.endswith("_above"):
            parts.append(f"{key.removesuffix('_above')} > {wanted:,}")
        elif isinstance(wanted, list):
            parts.append(f"{key} in [{', '.join(wanted)}]")
        else:
            parts.append(f"{key} is {str(wanted).lower()}")
    return " and ".join(parts)
