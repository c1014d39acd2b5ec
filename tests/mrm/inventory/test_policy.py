"""The desk's targets per tier in ``_policy.yaml``: defaults by tier, a tier's own keys, and the limits
``mrm inventory validate`` reports with the file and key."""

from __future__ import annotations

import pytest

from mrm.inventory import load_inventory
from mrm.inventory.policy import Policy, Targets


def test_each_tier_has_its_default_targets():
    policy = Policy()
    assert [policy.targets(t) for t in (1, 2, 3)] == [Targets(1, 10, 1), Targets(2, 20, 2), Targets(5, 30, 5)]
    assert policy.targets(None) == Targets(5, 30, 5)  # a model gone from the inventory: tier 3's


def test_a_tier_gives_some_targets_and_keeps_the_defaults_of_the_others():
    policy = Policy.model_validate(
        {"tiers": {1: {"close_within_days": 5}, 2: {"acknowledge_within_business_days": 3}, 3: {}}}
    )
    assert policy.targets(1) == Targets(1, 5, 1)
    assert policy.targets(2) == Targets(3, 20, 2)
    assert policy.targets(3) == Targets(5, 30, 5)


@pytest.mark.parametrize(
    ("tier", "problem"),
    [
        ({"acknowledge_within_business_days": 0}, "tiers.1.acknowledge_within_business_days: Input should be "
         "greater than or equal to 1"),
        ({"attest_within_business_days": 61}, "tiers.1.attest_within_business_days: Input should be less "
         "than or equal to 60"),
        ({"close_within_days": 0}, "tiers.1.close_within_days: Input should be greater than or equal to 1"),
        ({"acknowledge_within_business_days": 12}, "tiers: tier 1: acknowledge_within_business_days (12) "
         "is more than close_within_days (10): a ticket would be due closed before it is due acknowledged; "
         "lower the first or raise the second"),
        ({"acknowledge_within_business_days": 5, "close_within_days": 4}, "tiers: tier 1: "
         "acknowledge_within_business_days (5) is more than close_within_days (4)"),
    ],
)  # fmt: skip
def test_targets_are_validated_with_the_file_and_key(tmp_path, example_raw, write_yaml, tier, problem):
    import yaml

    write_yaml(tmp_path, "credit_line", example_raw())
    (tmp_path / "_policy.yaml").write_text(yaml.safe_dump({"tiers": {1: tier}}))
    _, problems = load_inventory(tmp_path, strict=False)
    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / '_policy.yaml'}: {problem}"), problems[0]
