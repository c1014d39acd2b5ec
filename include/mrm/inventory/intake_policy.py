"""``_policy.yaml``'s ``intake:`` section: the rule that proposes a risk tier for a new AI/ML use case
from its intake answers, and the flags of heightened risk (:mod:`mrm.inventory.intake` applies them).

The rule is data: a list of rules, each a tier, a condition and the reason. Every rule whose condition
holds matches; the proposed tier is the most material (lowest number) of the matching rules, and every
match is a line of the rationale. With no match, ``default_tier`` with ``default_because``. A condition
holds when every key it gives holds (keys not given are not tested); a list key holds when the answer is
one of its values (``regulatory_scope``: when any scope of the answers is in it)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from mrm.inventory.base import Strict

Automation = Literal["advisory", "human_in_the_loop", "fully_automated"]
ModelType = Literal[
    "rules", "scorecard", "regression", "gradient_boosting", "random_forest", "neural_network", "llm",
    "generative", "other",
]  # fmt: skip
Scope = Literal[
    "eu_ai_act_annex_iii_credit", "eu_ai_act_annex_iii_other", "consumer_duty", "aml", "gdpr_art22",
    "fair_lending", "sr_26_2", "none",
]  # fmt: skip
Tier = Literal[1, 2, 3]
Because = Annotated[str, Field(min_length=10, description="why, in words a committee reads")]


class Condition(Strict):
    """What must hold of the answers; every key given must hold, keys not given are not tested."""

    automation: list[Automation] | None = None
    customer_impact: bool | None = None  # customers_affected > 0
    personal_data: bool | None = None
    protected_attributes: bool | None = None  # uses_protected_attributes
    vendor_model: bool | None = None  # a vendor's model (vendor is not in-house)
    model_type: list[ModelType] | None = None
    regulatory_scope: list[Scope] | None = None  # any scope of the answers in this list
    yearly_decisions_above: Annotated[int, Field(ge=0)] | None = None
    customers_above: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _tests_something(self) -> Condition:
        if all(value is None for _, value in self):
            raise ValueError(
                "a condition must test at least one answer (e.g. automation: [fully_automated]); "
                f"keys: {', '.join(type(self).model_fields)}"
            )
        return self


class IntakeRule(Strict):
    tier: Tier
    when: Condition
    because: Because


class FlagRule(Strict):
    flag: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,62}$")]
    when: Condition
    because: Because


DEFAULT_RULES = [
    IntakeRule(
        tier=1,
        when=Condition(regulatory_scope=["eu_ai_act_annex_iii_credit"]),
        because="creditworthiness of natural persons is high-risk under the EU AI Act (Annex III 5(b))",
    ),
    IntakeRule(
        tier=1,
        when=Condition(automation=["fully_automated"], customer_impact=True, personal_data=True),
        because="fully automated decisions on customers from their personal data",
    ),
    IntakeRule(
        tier=2,
        when=Condition(automation=["human_in_the_loop", "fully_automated"], customer_impact=True),
        because="decisions that affect customers, taken or prepared by the model",
    ),
    IntakeRule(
        tier=2,
        when=Condition(yearly_decisions_above=100_000),
        because="material volume: more than 100,000 decisions a year",
    ),
]
DEFAULT_FLAGS = [
    FlagRule(
        flag="protected_attributes",
        when=Condition(protected_attributes=True),
        because="uses protected attributes: fairness testing and a legal review are needed",
    ),
    FlagRule(
        flag="generative_model",
        when=Condition(model_type=["llm", "generative"]),
        because="an LLM or generative model: hallucination, prompt injection and output controls",
    ),
    FlagRule(
        flag="vendor_model",
        when=Condition(vendor_model=True),
        because="a vendor's model: limited transparency; vendor due diligence and access to documentation",
    ),
    FlagRule(
        flag="fully_automated",
        when=Condition(automation=["fully_automated"]),
        because="no person reviews the decisions: human oversight and a fallback are needed",
    ),
    FlagRule(
        flag="eu_ai_act_high_risk",
        when=Condition(regulatory_scope=["eu_ai_act_annex_iii_credit", "eu_ai_act_annex_iii_other"]),
        because="high-risk under the EU AI Act: Art. 9-15 obligations (risk management, logging, oversight)",
    ),
]


class IntakePolicy(Strict):
    """The tiering rule and the flags of ``mrm intake new``; the defaults are the documented rule."""

    rules: list[IntakeRule] = Field(default_factory=lambda: list(DEFAULT_RULES))
    default_tier: Tier = 3
    default_because: Because = "advisory or internal use, below the volume of the tier-2 rule"
    flags: list[FlagRule] = Field(default_factory=lambda: list(DEFAULT_FLAGS))

    @field_validator("flags")
    @classmethod
    def _unique_flags(cls, flags: list[FlagRule]) -> list[FlagRule]:
        names = [f.flag for f in flags]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"flag(s) {', '.join(twice)} defined twice; give each flag one rule")
        return flags
