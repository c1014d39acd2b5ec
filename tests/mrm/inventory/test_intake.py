"""AI/ML use-case intake: the tiering rule of the default policy (a table of cases, edges included), the
rationale, the flags, the strict answers (one line per bad key) and the proposed entry it builds."""

from __future__ import annotations

from datetime import date

import pytest
import yaml
from pydantic import ValidationError

from mrm.errors import InventoryError
from mrm.inventory import ModelEntry, Policy
from mrm.inventory.intake import IntakeAnswers, entry_from, propose
from mrm.inventory.load import load_answers

BASE = {
    "name": "Collections next best action",
    "purpose": "Suggest which collections treatment to offer",
    "decision": "the treatment an agent offers a customer in arrears",
    "business_line": "Collections",
    "automation": "advisory",
    "customers_affected": 0,
    "yearly_decisions": 5_000,
    "personal_data": False,
    "uses_protected_attributes": False,
    "model_type": "rules",
    "vendor": "in-house",
    "regulatory_scope": ["none"],
    "owner": "collections-owner@example.com",
    "developer": "collections-ds@example.com",
}


def answers(**changes) -> IntakeAnswers:
    return IntakeAnswers.model_validate({**BASE, **changes})


FULL, HITL, ADVISORY = "fully_automated", "human_in_the_loop", "advisory"

TIER_CASES = [
    # (case, changes, tier)
    ("annex iii credit alone is tier 1, even advisory and internal",
     {"regulatory_scope": ["eu_ai_act_annex_iii_credit"]}, 1),
    ("fully automated on customers with personal data",
     {"automation": FULL, "customers_affected": 10, "personal_data": True}, 1),
    ("gdpr art 22 automated decision with personal data",
     {"automation": FULL, "customers_affected": 50_000, "personal_data": True,
      "regulatory_scope": ["gdpr_art22"]}, 1),
    ("fully automated on customers without personal data",
     {"automation": FULL, "customers_affected": 10, "personal_data": False}, 2),
    ("fully automated with personal data but internal only (no customer impact), low volume",
     {"automation": FULL, "customers_affected": 0, "personal_data": True}, 3),
    ("human in the loop affecting a single customer", {"automation": HITL, "customers_affected": 1}, 2),
    ("human in the loop, internal, volume exactly at the threshold",
     {"automation": HITL, "yearly_decisions": 100_000}, 3),
    ("human in the loop, internal, one decision above the threshold",
     {"automation": HITL, "yearly_decisions": 100_001}, 2),
    ("advisory affecting customers with personal data, low volume",
     {"automation": ADVISORY, "customers_affected": 5_000, "personal_data": True}, 3),
    ("advisory and internal at high volume", {"yearly_decisions": 10_000_000}, 2),
    ("advisory, internal, low volume: the default", {}, 3),
    ("annex iii other (not credit) stays with the other rules",
     {"regulatory_scope": ["eu_ai_act_annex_iii_other"]}, 3),
    ("an LLM vendor model, advisory and internal: flags, not a tier",
     {"model_type": "llm", "vendor": "OpenAI"}, 3),
    ("zero decisions and zero customers", {"yearly_decisions": 0}, 3),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "tier"), [c[1:] for c in TIER_CASES], ids=[c[0] for c in TIER_CASES])
def test_the_default_rule_proposes_the_tier(changes, tier):
    assert propose(answers(**changes), Policy()).tier == tier


def test_every_matching_rule_is_a_line_of_the_rationale_most_material_first():
    proposal = propose(
        answers(automation=FULL, customers_affected=200_000, yearly_decisions=250_000, personal_data=True),
        Policy(),
    )
    assert proposal.rationale == (
        "tier 1: fully automated decisions on customers from their personal data (automation "
        "fully_automated; 200,000 customers affected a year; personal data used)",
        "tier 2: decisions that affect customers, taken or prepared by the model (automation "
        "fully_automated; 200,000 customers affected a year)",
        "tier 2: material volume: more than 100,000 decisions a year (250,000 decisions a year)",
    )


def test_without_a_matching_rule_the_rationale_is_the_default_tiers():
    assert propose(answers(), Policy()).rationale == (
        "tier 3: advisory or internal use, below the volume of the tier-2 rule",
    )


def test_a_policy_of_its_own_changes_the_proposal():
    policy = Policy.model_validate(
        {
            "intake": {
                "rules": [
                    {"tier": 1, "when": {"model_type": ["llm"]}, "because": "all LLMs are tier 1 here"}
                ],
                "default_tier": 2,
                "default_because": "nothing is tier 3 in this bank",
            }
        }
    )
    assert propose(answers(model_type="llm"), policy).tier == 1
    assert propose(answers(yearly_decisions=10_000_000), policy).tier == 2  # the default rules are replaced
    assert propose(answers(), policy).rationale == ("tier 2: nothing is tier 3 in this bank",)


FLAG_CASES = [
    ("protected_attributes", {"uses_protected_attributes": True, "protected_attributes": ["age"]}),
    ("generative_model", {"model_type": "llm"}),
    ("generative_model", {"model_type": "generative"}),
    ("vendor_model", {"vendor": "Acme Scoring Ltd"}),
    ("fully_automated", {"automation": FULL}),
    ("eu_ai_act_high_risk", {"regulatory_scope": ["eu_ai_act_annex_iii_credit"]}),
    ("eu_ai_act_high_risk", {"regulatory_scope": ["eu_ai_act_annex_iii_other", "gdpr_art22"]}),
]


@pytest.mark.parametrize(
    ("flag", "changes"), FLAG_CASES, ids=[f"{f}-{i}" for i, (f, _) in enumerate(FLAG_CASES)]
)
def test_each_heightened_risk_raises_its_own_flag_and_only_it(flag, changes):
    assert [f.flag for f in propose(answers(**changes), Policy()).flags] == [flag]


def test_a_plain_in_house_advisory_rules_model_has_no_flag():
    assert propose(answers(), Policy()).flags == ()


@pytest.mark.parametrize("vendor", ["in-house", "In-House", "in_house", " inhouse "])
def test_in_house_spellings_are_not_a_vendor_model(vendor):
    assert "vendor_model" not in [f.flag for f in propose(answers(vendor=vendor), Policy()).flags]


def test_a_flag_keeps_the_policys_reason():
    (flag,) = propose(answers(model_type="llm"), Policy()).flags
    assert flag.because == "an LLM or generative model: hallucination, prompt injection and output controls"


BAD_ANSWERS = [
    ({"automation": "auto"}, "automation: Input should be 'advisory', 'human_in_the_loop' or "
     "'fully_automated', got 'auto'"),
    ({"customers_affected": "1000"}, "customers_affected: Input should be a valid integer"),
    ({"customers_affected": -1}, "customers_affected: Input should be greater than or equal to 0"),
    ({"personal_data": "yes please"}, "personal_data: Input should be a valid boolean"),
    ({"uses_protected_attributes": True}, "(top level): uses_protected_attributes is true: list them in "
     "protected_attributes"),
    ({"protected_attributes": ["age"]}, "(top level): protected_attributes lists age but "
     "uses_protected_attributes is false; set it true or empty the list"),
    ({"regulatory_scope": ["none", "aml"]}, "(top level): regulatory_scope: 'none' cannot be listed with "
     "other scopes"),
    ({"regulatory_scope": []}, "regulatory_scope: List should have at least 1 item"),
    ({"regulatory_scope": ["eu_ai_act"]}, "regulatory_scope.0: Input should be"),
    ({"model_type": "xgboost"}, "model_type: Input should be 'rules', 'scorecard'"),
    ({"owner": "nobody"}, "owner: value is not a valid email address"),
    ({"purpose": "short"}, "purpose: String should have at least 10 characters"),
    ({"colour": "blue"}, "colour: unknown key (check the spelling; see docs/inventory.md for allowed keys)"),
]  # fmt: skip


@pytest.mark.parametrize(("changes", "message"), BAD_ANSWERS, ids=[next(iter(c)) for c, _ in BAD_ANSWERS])
def test_a_bad_answer_is_one_line_naming_the_file_and_the_key(tmp_path, changes, message):
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes}))
    with pytest.raises(InventoryError) as err:
        load_answers(path)
    (line,) = err.value.lines()
    assert line.startswith(f"{path}: {message}")


def test_every_bad_answer_is_its_own_line(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump({**BASE, "automation": "auto", "yearly_decisions": "many", "vendor": ""}))
    with pytest.raises(InventoryError) as err:
        load_answers(path)
    assert [line.split(": ")[1] for line in err.value.lines()] == ["automation", "yearly_decisions", "vendor"]


def test_a_missing_answer_is_named(tmp_path):
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump({k: v for k, v in BASE.items() if k != "automation"}))
    with pytest.raises(InventoryError, match=r"answers.yaml: automation: Field required"):
        load_answers(path)


def _entry(**changes) -> dict:
    a = answers(**changes)
    return entry_from(a, propose(a, Policy()), "nba_collections", validator="model-risk@example.com",
                      on=date(2026, 12, 6))  # fmt: skip


def test_the_entry_is_proposed_valid_and_keeps_every_answer():
    raw = _entry(
        automation=HITL, customers_affected=30_000, vendor="Acme", regulatory_scope=["consumer_duty"]
    )
    entry = ModelEntry.model_validate(raw)
    assert (entry.status, entry.risk_tier, entry.monitored) == ("proposed", 2, False)
    assert entry.intake.answers == answers(
        automation=HITL, customers_affected=30_000, vendor="Acme", regulatory_scope=["consumer_duty"]
    )
    assert entry.intake.proposed_tier == 2 and entry.intake.date == date(2026, 12, 6)
    assert [f.flag for f in entry.intake.flags] == ["vendor_model"]
    assert entry.tier_rationale.startswith("Proposed by intake: tier 2: decisions that affect customers")
    assert (entry.vendor, entry.model_type, entry.regulatory_flags) == ("Acme", "rules", ["consumer_duty"])
    assert entry.description == "Decision supported: the treatment an agent offers a customer in arrears"


def test_the_scopes_give_the_entrys_regulatory_flags():
    raw = _entry(regulatory_scope=["eu_ai_act_annex_iii_credit", "aml", "gdpr_art22", "fair_lending"])
    assert raw["regulatory_flags"] == [
        "aml_cft",
        "eu_ai_act_high_risk",
        "fair_lending",
        "gdpr_automated_decision",
    ]
    assert _entry()["regulatory_flags"] == []  # scope: none


def test_an_in_house_model_has_no_vendor_and_the_description_is_the_model_type():
    raw = _entry(model_description="XGBoost classifier on bureau data")
    assert "vendor" not in raw and raw["model_type"] == "XGBoost classifier on bureau data"


def test_the_validator_of_the_answers_wins_and_the_owner_may_be_given():
    a = answers(validator="independent-validator@example.com")
    raw = entry_from(a, propose(a, Policy()), "nba_collections", "signed-in-owner@example.com",
                     validator="model-risk@example.com")  # fmt: skip
    assert (raw["validator"], raw["owner"]) == (
        "independent-validator@example.com",
        "signed-in-owner@example.com",
    )


def test_an_intake_entry_still_needs_the_inventorys_sign_offs_to_be_approved():
    raw = {**_entry(), "status": "approved"}
    with pytest.raises(ValidationError, match="status approved needs approval evidence"):
        ModelEntry.model_validate(raw)
    with pytest.raises(ValidationError, match="must be independent of the developer and the model owner"):
        ModelEntry.model_validate({**_entry(), "validator": BASE["developer"]})


def test_an_entry_without_intake_hashes_as_before_the_key_existed(examples_dir):
    import hashlib
    import json

    from mrm.inventory import load_inventory

    inventory, _ = load_inventory(examples_dir)
    for entry in inventory.entries.values():
        old = {k: v for k, v in entry.model_dump(mode="json").items() if k != "intake"}
        canonical = json.dumps(old, sort_keys=True, separators=(",", ":"))
        assert entry.fingerprint() == hashlib.sha256(canonical.encode()).hexdigest()
    with_intake = ModelEntry.model_validate(_entry())
    assert (
        with_intake.fingerprint()
        != ModelEntry.model_validate({k: v for k, v in _entry().items() if k != "intake"}).fingerprint()
    )


def test_the_history_keeps_what_the_fingerprint_hashes():
    import hashlib
    import json

    for raw in (_entry(), {k: v for k, v in _entry().items() if k != "intake"}):
        entry = ModelEntry.model_validate(raw)
        canonical = json.dumps(entry.document(), sort_keys=True, separators=(",", ":"))
        assert entry.fingerprint() == hashlib.sha256(canonical.encode()).hexdigest()
        assert ("intake" in entry.document()) == ("intake" in raw)
