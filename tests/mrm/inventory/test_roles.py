"""The role map of `_policy.yaml`: read strictly, checked against the models by `mrm inventory validate`
(unknown model ids; a reviewer who owns or develops the same model), one line per problem; the tier's
max_acceptance_days defaults to 90."""

from __future__ import annotations

import pytest
import yaml

from mrm.cli import main
from mrm.inventory import Policy, load_inventory


def validate(folder, capsys) -> tuple[int, list[str]]:
    code = main(["inventory", "validate", "--inventory", str(folder)])
    out, err = capsys.readouterr()
    return code, [line for line in (out + err).splitlines() if "_policy.yaml" in line]


def policy_with(folder, roles: dict, **more) -> None:
    (folder / "_policy.yaml").write_text(yaml.safe_dump({"roles": roles, **more}))


def test_a_valid_role_map_loads_and_validates(tmp_path, example_raw, write_yaml, capsys):
    write_yaml(tmp_path, "credit_line", example_raw())
    policy_with(
        tmp_path,
        {
            "model_risk_team": ["rev@example.com"],
            "models": {"credit_line": {"owners": ["alice"], "developers": ["dev2"]}},
        },
    )
    inventory, problems = load_inventory(tmp_path, strict=False)
    assert problems == []
    assert inventory.policy.roles.owners("credit_line", "credit-risk-models@example.com") == {
        "alice",
        "credit-risk-models@example.com",
    }
    assert validate(tmp_path, capsys) == (0, [])


@pytest.mark.parametrize(
    ("roles", "line"),
    [
        (
            {"models": {"card_fruad": {"owners": ["alice"]}}},
            "roles.models.card_fruad: unknown model id (models: credit_line)",
        ),
        (
            {"model_risk_team": ["alice"], "models": {"credit_line": {"owners": ["ALICE"]}}},
            "roles: alice is in model_risk_team and owner of credit_line: a reviewer may not review a model "
            "they own "
            "or develop; remove them from one of the two",
        ),
        (
            {"model_risk_team": ["credit-ds-team@example.com"]},  # the entry's own developer
            "roles: credit-ds-team@example.com is in model_risk_team and developer of credit_line",
        ),
        ({"model_risk_team": ["two words"]}, "roles.model_risk_team.0: String should match pattern"),
        ({"reviewers": ["x"]}, "roles.reviewers: unknown key"),
    ],
)
def test_validate_flags_the_role_map(tmp_path, example_raw, write_yaml, capsys, roles, line):
    write_yaml(tmp_path, "credit_line", example_raw())
    policy_with(tmp_path, roles)
    code, lines = validate(tmp_path, capsys)
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith(f"{tmp_path / '_policy.yaml'}: {line}"), lines


def test_a_broken_model_file_is_still_a_known_model_id(tmp_path, example_raw, write_yaml, capsys):
    write_yaml(tmp_path, "credit_line", {**example_raw(), "risk_tier": 7})
    policy_with(tmp_path, {"models": {"credit_line": {"owners": ["alice"]}}})
    code, lines = validate(tmp_path, capsys)
    assert code == 1 and lines == []  # only the model file's own problem


def test_max_acceptance_days_is_per_tier_with_a_default_of_90():
    policy = Policy.model_validate({"tiers": {1: {"max_acceptance_days": 30}, 2: {}}})
    assert [policy.max_acceptance_days(t) for t in (1, 2, 3)] == [30, 90, 90]
