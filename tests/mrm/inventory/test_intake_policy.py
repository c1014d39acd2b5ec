"""``_policy.yaml``'s ``intake:``: the defaults are the documented rule (and the example policy states
them), a policy without the section needs no change, and a broken rule is one line naming the key."""

from __future__ import annotations

import shutil

import pytest
import yaml

from mrm.errors import InventoryError
from mrm.inventory import Policy, load_inventory, load_policy
from mrm.inventory.intake_policy import DEFAULT_FLAGS, DEFAULT_RULES, IntakePolicy


def test_a_policy_without_intake_gets_the_default_rule():
    assert Policy().intake.rules == DEFAULT_RULES and Policy().intake.flags == DEFAULT_FLAGS
    assert Policy().intake.default_tier == 3


def test_the_example_policy_states_the_default_rule(examples_dir):
    assert "intake" in yaml.safe_load((examples_dir / "_policy.yaml").read_text())
    assert load_policy(examples_dir).intake == IntakePolicy()


def test_the_default_rule_has_the_tiers_and_flags_of_the_documentation():
    assert [r.tier for r in DEFAULT_RULES] == [1, 1, 2, 2]
    assert [f.flag for f in DEFAULT_FLAGS] == [
        "protected_attributes", "generative_model", "vendor_model", "fully_automated", "eu_ai_act_high_risk",
    ]  # fmt: skip


def test_giving_only_the_default_tier_keeps_the_default_rules_and_flags():
    policy = Policy.model_validate({"intake": {"default_tier": 2}})
    assert (policy.intake.default_tier, policy.intake.rules, policy.intake.flags) == (
        2,
        DEFAULT_RULES,
        DEFAULT_FLAGS,
    )


BAD_INTAKE = [
    ({"rules": [{"tier": 1, "when": {}, "because": "nothing is tested here"}]},
     "intake.rules.0.when: a condition must test at least one answer (e.g. automation: [fully_automated]); "
     "keys: automation, customer_impact, "),
    ({"rules": [{"tier": 4, "when": {"personal_data": True}, "because": "a tier that does not exist"}]},
     "intake.rules.0.tier: Input should be 1, 2 or 3, got 4"),
    ({"rules": [{"tier": 1, "when": {"automation": ["robotic"]}, "because": "an unknown automation level"}]},
     "intake.rules.0.when.automation.0: Input should be 'advisory', 'human_in_the_loop' or "
     "'fully_automated'"),
    ({"rules": [{"tier": 1, "when": {"volume": 3}, "because": "a key that is not a condition"}]},
     "intake.rules.0.when.volume: unknown key"),
    ({"rules": [{"tier": 2, "when": {"personal_data": True}, "because": "short"}]},
     "intake.rules.0.because: String should have at least 10 characters"),
    ({"flags": [{"flag": "llm", "when": {"model_type": ["llm"]}, "because": "an LLM, first rule"},
                {"flag": "llm", "when": {"model_type": ["generative"]}, "because": "an LLM, second rule"}]},
     "intake.flags: flag(s) llm defined twice; give each flag one rule"),
    ({"flags": [{"flag": "Bad Name", "when": {"vendor_model": True}, "because": "a name with spaces"}]},
     "intake.flags.0.flag: String should match pattern"),
    ({"rules": [{"tier": 2, "when": {"yearly_decisions_above": -1}, "because": "a negative volume"}]},
     "intake.rules.0.when.yearly_decisions_above: Input should be greater than or equal to 0"),
]  # fmt: skip


@pytest.mark.parametrize(("intake", "problem"), BAD_INTAKE, ids=[p.split(":")[0] for _, p in BAD_INTAKE])
def test_a_broken_intake_rule_is_one_line_of_inventory_validate(tmp_path, examples_dir, intake, problem):
    folder = tmp_path / "inventory"
    shutil.copytree(examples_dir, folder)
    policy = yaml.safe_load((folder / "_policy.yaml").read_text())
    policy["intake"] = intake
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy))
    with pytest.raises(InventoryError) as err:
        load_inventory(folder)
    (line,) = err.value.lines()
    assert line.startswith(f"{folder / '_policy.yaml'}: {problem}")
