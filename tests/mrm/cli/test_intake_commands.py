"""``mrm intake new | rules``: the answers file becomes a proposed entry that the inventory loads, the
proposed tier, its rationale and flags are printed, an existing model is never overwritten, and every
problem is one line."""

from __future__ import annotations

import shutil

import pytest
import yaml

from mrm.cli import main
from mrm.inventory import load_inventory

ANSWERS = {
    "name": "Instant card limit",
    "purpose": "Set the first credit limit of new card customers",
    "decision": "the initial credit limit offered at onboarding",
    "business_line": "Cards",
    "automation": "fully_automated",
    "customers_affected": 200_000,
    "yearly_decisions": 250_000,
    "personal_data": True,
    "uses_protected_attributes": True,
    "protected_attributes": ["age"],
    "model_type": "gradient_boosting",
    "vendor": "Acme Scoring Ltd",
    "regulatory_scope": ["eu_ai_act_annex_iii_credit", "consumer_duty"],
    "owner": "cards-risk@example.com",
    "developer": "cards-ds@example.com",
}


@pytest.fixture
def folder(tmp_path, examples_dir):
    target = tmp_path / "inventory"
    shutil.copytree(examples_dir, target)
    return target


def answers_file(tmp_path, **changes):
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump({**ANSWERS, **changes}))
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_intake_new_writes_a_proposed_entry_that_the_inventory_loads(tmp_path, folder, capsys):
    code, out, err = run(capsys, "intake", "new", "--model-id", "card_limit", "--answers",
                         answers_file(tmp_path), "--inventory", folder)  # fmt: skip
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0] == f"{folder / 'card_limit.yaml'}: proposed entry written; proposed tier 1"
    assert lines[1] == "rationale:" and lines[2].startswith("  - tier 1: creditworthiness of natural persons")
    assert "flags:" in lines
    assert [line.split(":")[0] for line in lines[lines.index("flags:") + 1 :]] == [
        "  - protected_attributes", "  - vendor_model", "  - fully_automated", "  - eu_ai_act_high_risk",
    ]  # fmt: skip
    inventory, problems = load_inventory(folder)
    entry = inventory.get("card_limit")
    assert problems == [] and (entry.status, entry.risk_tier, entry.monitored) == ("proposed", 1, False)
    assert entry.intake.answers.model_dump(mode="json", exclude_none=True, exclude={"version"}) == ANSWERS
    assert str(entry.validator) == "model-risk@example.com"  # the policy's team until one is assigned
    assert run(capsys, "inventory", "validate", "--inventory", folder)[0] == 0


def test_an_advisory_internal_use_case_is_proposed_tier_3_without_flags(tmp_path, folder, capsys):
    path = answers_file(
        tmp_path, automation="advisory", customers_affected=0, yearly_decisions=1_000,
        personal_data=False, uses_protected_attributes=False, protected_attributes=[], vendor="in-house",
        regulatory_scope=["none"],
    )  # fmt: skip
    code, out, _ = run(
        capsys, "intake", "new", "--model-id", "ops_forecast", "--answers", path, "--inventory", folder
    )
    assert code == 0
    assert out.splitlines()[1:] == [
        "rationale:", "  - tier 3: advisory or internal use, below the volume of the tier-2 rule",
        "flags:", "  (none)",
    ]  # fmt: skip


@pytest.mark.parametrize("model_id", ["card_limit", "credit_line"])
def test_an_existing_model_id_is_refused_and_its_file_kept(tmp_path, folder, capsys, model_id):
    path = answers_file(tmp_path)
    if model_id == "card_limit":
        assert (
            run(capsys, "intake", "new", "--model-id", model_id, "--answers", path, "--inventory", folder)[0]
            == 0
        )
    before = (folder / f"{model_id}.yaml").read_text()
    code, out, err = run(
        capsys, "intake", "new", "--model-id", model_id, "--answers", path, "--inventory", folder
    )
    assert (code, out) == (1, "")
    assert err == (f"mrm: {folder / f'{model_id}.yaml'}: model '{model_id}' is already in the inventory; "
                   "choose another --model-id\n")  # fmt: skip
    assert (folder / f"{model_id}.yaml").read_text() == before


def test_bad_answers_are_one_line_each_and_nothing_is_written(tmp_path, folder, capsys):
    path = answers_file(tmp_path, automation="auto", customers_affected="many")
    code, out, err = run(
        capsys, "intake", "new", "--model-id", "card_limit", "--answers", path, "--inventory", folder
    )
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"mrm: {path}: automation: Input should be 'advisory', 'human_in_the_loop' or 'fully_automated', "
        "got 'auto'",
        f"mrm: {path}: customers_affected: Input should be a valid integer",
    ]  # fmt: skip
    assert not (folder / "card_limit.yaml").exists()


@pytest.mark.parametrize(
    ("model_id", "answers", "message"),
    [
        (
            "Card-Limit",
            None,
            "mrm: model id 'Card-Limit' must be lower_snake_case (a-z, 0-9, _), 2 to 63 characters",
        ),
        ("card_limit", "missing.yaml", "missing.yaml: cannot read YAML"),
    ],
)
def test_a_bad_model_id_or_answers_path_is_one_line(tmp_path, folder, capsys, model_id, answers, message):
    path = tmp_path / answers if answers else answers_file(tmp_path)
    code, _, err = run(
        capsys, "intake", "new", "--model-id", model_id, "--answers", path, "--inventory", folder
    )
    assert code == 1 and len(err.splitlines()) == 1 and message in err


def test_an_entry_the_inventory_would_refuse_is_not_left_behind(tmp_path, folder, capsys):
    path = answers_file(tmp_path, validator=ANSWERS["developer"])  # not independent of the developer
    code, _, err = run(
        capsys, "intake", "new", "--model-id", "card_limit", "--answers", path, "--inventory", folder
    )
    assert code == 1 and "must be independent of the developer and the model owner" in err
    assert not (folder / "card_limit.yaml").exists()


def test_intake_rules_prints_the_policys_rule_table_and_flags(folder, capsys):
    code, out, _ = run(capsys, "intake", "rules", "--inventory", folder)
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    assert [r[0] for r in rows[2:7]] == ["1", "1", "2", "2", "3"]
    assert "regulatory_scope any of [eu_ai_act_annex_iii_credit]" in out
    assert "automation in [fully_automated] and customer_impact is true and personal_data is true" in out
    assert "yearly_decisions > 100,000" in out and "(no rule matches)" in out
    assert [r[0] for r in rows[rows.index(["Flags", "of", "heightened", "risk:"]) + 2 :]] == [
        "protected_attributes", "generative_model", "vendor_model", "fully_automated", "eu_ai_act_high_risk",
    ]  # fmt: skip


def test_intake_rules_shows_a_policys_own_rule(folder, capsys):
    policy = yaml.safe_load((folder / "_policy.yaml").read_text())
    policy["intake"] = {
        "rules": [{"tier": 1, "when": {"model_type": ["llm"]}, "because": "every LLM is tier 1"}]
    }
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy))
    _, out, _ = run(capsys, "intake", "rules", "--inventory", folder)
    assert "model_type in [llm]" in out and "every LLM is tier 1" in out and "yearly_decisions" not in out
