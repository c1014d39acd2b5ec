"""The inventory as a register: people, risk, lifecycle and approval evidence, each rule with its message."""

from __future__ import annotations

from datetime import date

import pytest

from mrm.errors import InventoryError
from mrm.inventory import load_entry


def problems(tmp_path, write_yaml, raw) -> list[str]:
    with pytest.raises(InventoryError) as exc:
        load_entry(write_yaml(tmp_path, raw["model_id"], raw))
    return exc.value.lines()


def test_the_examples_carry_the_register_fields(examples_dir):
    entry = load_entry(examples_dir / "credit_line.yaml")

    assert entry.validator == "model-validation@example.com"
    assert "eu_ai_act_high_risk" in entry.regulatory_flags
    assert entry.approval.validation_report.startswith("s3://")
    assert entry.validation_due == date(2027, 6, 20)  # tier 1: last validation + 12 months


@pytest.mark.parametrize("who", ["developer", "owner"])
def test_the_validator_must_be_independent(tmp_path, example_raw, write_yaml, who):
    raw = example_raw()
    raw["validator"] = raw[who]

    (line,) = problems(tmp_path, write_yaml, raw)

    assert line.endswith(f"validator {raw[who]} must be independent of the developer and the model owner")


@pytest.mark.parametrize("status", ["approved", "suspended"])
def test_approved_or_suspended_needs_approval_evidence(tmp_path, example_raw, write_yaml, status):
    raw = example_raw()
    raw["status"] = status
    del raw["approval"]

    (line,) = problems(tmp_path, write_yaml, raw)

    assert f"status {status} needs approval evidence (approval: approver, date, validation_report)" in line


def test_a_tier_1_model_needs_performance_monitoring(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    del raw["monitoring"]["performance"]

    (line,) = problems(tmp_path, write_yaml, raw)

    assert "a tier-1 model needs performance monitoring (monitoring.performance)" in line


def test_a_retired_model_with_monitoring_enabled_is_rejected(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["status"] = "retired"

    (line,) = problems(tmp_path, write_yaml, raw)

    assert "a retired model must not be monitored: set monitoring.enabled: false" in line


def test_an_approved_model_needs_a_monitoring_plan_but_a_proposed_one_does_not(
    tmp_path, example_raw, write_yaml
):
    raw = example_raw()
    del raw["monitoring"]
    assert "an approved model needs a monitoring plan" in problems(tmp_path, write_yaml, raw)[0]

    raw["status"] = "proposed"
    del raw["approval"]
    entry = load_entry(write_yaml(tmp_path, raw["model_id"], raw))
    assert entry.monitoring is None and not entry.monitored


def test_several_broken_rules_are_reported_together(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["validator"] = raw["developer"]
    del raw["approval"]

    (line,) = problems(tmp_path, write_yaml, raw)

    assert "must be independent" in line and "needs approval evidence" in line


def test_an_unknown_regulatory_flag_lists_the_allowed_ones(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["regulatory_flags"] = ["eu_ai_act"]

    (line,) = problems(tmp_path, write_yaml, raw)

    assert ": regulatory_flags.0: " in line and "'eu_ai_act_high_risk'" in line and "got 'eu_ai_act'" in line


@pytest.mark.parametrize(
    ("tier", "due"), [(1, date(2027, 1, 31)), (2, date(2028, 1, 31)), (3, date(2029, 1, 31))]
)
def test_next_validation_defaults_by_tier(tmp_path, example_raw, write_yaml, tier, due):
    raw = example_raw("aml_alert")
    raw["risk_tier"] = tier
    raw["last_validation"] = "2026-01-31"
    raw["monitoring"]["performance"] = raw["monitoring"].get("performance") or {}

    entry = load_entry(write_yaml(tmp_path, "aml_alert", raw))

    assert entry.validation_due == due


def test_an_explicit_next_validation_date_wins(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["next_validation_due"] = "2026-12-01"

    assert load_entry(write_yaml(tmp_path, "credit_line", raw)).validation_due == date(2026, 12, 1)
