"""The model inventory: examples load, and every kind of mistake yields one actionable line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from mrm import metrics
from mrm.errors import InventoryError
from mrm.inventory import load_entry, load_inventory

EXAMPLE_IDS = ["aml_alert", "card_fraud", "credit_line"]


def problems_of(path: Path) -> list[str]:
    with pytest.raises(InventoryError) as exc:
        load_entry(path)
    return exc.value.lines()


def single_problem(path: Path) -> str:
    lines = problems_of(path)
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: "), "every line names the file first"
    return lines[0]


# -- the examples -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("model_id", EXAMPLE_IDS)
def test_each_example_file_loads_and_is_monitored(examples_dir, model_id):
    entry = load_entry(examples_dir / f"{model_id}.yaml")

    assert entry.model_id == model_id
    assert entry.monitored
    assert entry.monitoring.reference.end < entry.monitoring.start_date


def test_the_example_folder_loads_strictly_with_no_problems(examples_dir):
    inventory, problems = load_inventory(examples_dir)

    assert problems == []
    assert sorted(inventory.entries) == EXAMPLE_IDS
    assert [e.model_id for e in inventory.monitored()] == EXAMPLE_IDS


def test_a_per_column_override_is_kept_on_the_control(examples_dir):
    entry = load_entry(examples_dir / "credit_line.yaml")

    override = entry.monitoring.controls["null_rate"].columns["utilization"]
    assert (override.amber, override.red) == (0.08, 0.20)


# -- one line per problem, naming file, field path and what is allowed ----------------------------------


def test_an_unknown_top_level_key_is_named_with_a_hint(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["ownr"] = "someone@example.com"

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert re.fullmatch(r".*credit_line\.yaml: ownr: unknown key \(check the spelling.*\)", line)


def test_an_unknown_nested_key_is_named_by_its_dotted_path(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["monitoring"]["featurez"] = []

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert ": monitoring.featurez: unknown key" in line


def test_a_flavor_in_a_model_file_names_where_it_goes(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw.setdefault("notifications", {})["flavor"] = "cloud"

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert line.endswith(
        "credit_line.yaml: notifications.flavor: not read here: flavor goes in _policy.yaml's "
        "notifications.channels.jira (flavor: cloud or datacenter)"
    )


def test_a_bad_owner_email_is_rejected(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["owner"] = "credit-risk-models"

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert re.search(r": owner: value is not a valid email address: .*@-sign", line)


def test_risk_tier_4_lists_the_allowed_tiers_and_the_value_given(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["risk_tier"] = 4

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert line.endswith(": risk_tier: Input should be 1, 2 or 3, got 4")


def test_an_unknown_status_lists_the_lifecycle_states(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["status"] = "live"

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert ": status: " in line
    for state in ["proposed", "in_validation", "approved", "suspended", "retired"]:
        assert f"'{state}'" in line
    assert line.endswith("got 'live'")


def test_an_unknown_control_metric_lists_every_valid_metric(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["monitoring"]["controls"]["psi_score"] = {"amber": 0.1, "red": 0.25}

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert ": monitoring.controls: unknown metric 'psi_score'; valid: " in line
    assert line.endswith(", ".join(sorted(metrics.CATALOGUE)))


def test_amber_above_red_is_rejected_for_a_higher_is_worse_metric(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["monitoring"]["controls"]["psi"] = {"amber": 0.3, "red": 0.2}
    path = write_yaml(tmp_path, "credit_line", raw)

    with pytest.raises(InventoryError, match=r"psi: amber 0\.3 must be <= red 0\.2 \(higher is worse\)"):
        load_entry(path)


def test_amber_below_red_is_rejected_for_a_lower_is_worse_metric(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["monitoring"]["controls"]["volume_ratio"] = {"amber": 0.5, "red": 0.8}
    path = write_yaml(tmp_path, "credit_line", raw)

    with pytest.raises(
        InventoryError, match=r"volume_ratio: amber 0\.5 must be >= red 0\.8 \(lower is worse\)"
    ):
        load_entry(path)


def test_a_per_column_override_in_the_wrong_order_names_the_column(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["monitoring"]["controls"]["null_rate"]["columns"]["utilization"] = {"amber": 0.3, "red": 0.2}
    path = write_yaml(tmp_path, "credit_line", raw)

    with pytest.raises(InventoryError, match=r"null_rate column utilization: amber 0\.3 must be <= red 0\.2"):
        load_entry(path)


def test_an_override_of_an_unknown_column_is_named(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["monitoring"]["controls"]["null_rate"]["columns"]["salary"] = {"amber": 0.1, "red": 0.2}

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert line.endswith(": monitoring: control null_rate overrides unknown columns: salary")


@pytest.mark.parametrize("end", ["2026-09-01", "2026-09-15"])
def test_a_reference_window_ending_on_or_after_monitoring_start_is_rejected(
    tmp_path, example_raw, write_yaml, end
):
    raw = example_raw()
    raw["monitoring"]["reference"]["end"] = end

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert line.endswith(
        f": monitoring: reference window ends {end}, on or after monitoring start 2026-09-01"
    )


def test_a_feature_listed_twice_is_named(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["monitoring"]["features"].append({"name": "income", "type": "numeric"})

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert line.endswith(": monitoring: features listed twice: income")


def test_a_categorical_feature_with_min_is_rejected_at_its_position(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    position = next(i for i, f in enumerate(raw["monitoring"]["features"]) if f["type"] == "categorical")
    raw["monitoring"]["features"][position]["min"] = 0

    line = single_problem(write_yaml(tmp_path, "credit_line", raw))

    assert line.endswith(f": monitoring.features.{position}: min/max apply to numeric features only")


def test_a_model_id_that_does_not_match_the_file_name_is_rejected(tmp_path, example_raw, write_yaml):
    path = write_yaml(tmp_path, "credit_line_v2", example_raw())

    line = single_problem(path)

    assert line == f"{path}: model_id 'credit_line' must match the file name 'credit_line_v2.yaml'"


def test_two_problems_in_one_file_give_two_lines(tmp_path, example_raw, write_yaml):
    raw = example_raw()
    raw["owner"] = "nobody"
    raw["risk_tier"] = 9
    path = write_yaml(tmp_path, "credit_line", raw)

    lines = problems_of(path)

    assert [line.split(": ")[1] for line in lines] == ["owner", "risk_tier"]
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_a_yaml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "credit_line.yaml"
    path.write_text("model_id: credit_line\nfeatures: [income, debt\n")

    line = single_problem(path)

    assert line.startswith(f"{path}: invalid YAML at line ")


def test_a_yaml_syntax_error_names_the_line_of_the_mistake(tmp_path):
    path = tmp_path / "credit_line.yaml"
    path.write_text("model_id: credit_line\nname: x\n  version: 1\n")

    with pytest.raises(InventoryError, match=r"line 3"):
        load_entry(path)


@pytest.mark.parametrize(
    ("text", "kind"), [("- model_id: credit_line\n", "list"), ("just a string\n", "str"), ("", "NoneType")]
)
def test_a_file_that_is_not_a_mapping_is_rejected(tmp_path, text, kind):
    path = tmp_path / "credit_line.yaml"
    path.write_text(text)

    line = single_problem(path)

    assert line == f"{path}: expected a mapping of keys (model_id, name, ...), got {kind}"


def test_a_file_that_is_not_utf8_is_reported_as_a_problem_not_a_crash(tmp_path, examples_dir):
    text = (examples_dir / "credit_line.yaml").read_text().replace("Logistic", "Logistische Zürich")
    (tmp_path / "credit_line.yaml").write_bytes(text.encode("latin-1"))

    _, problems = load_inventory(tmp_path, strict=False)

    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / 'credit_line.yaml'}: ")


# -- the folder -------------------------------------------------------------------------------------------


def test_a_duplicate_model_id_across_files_is_reported_once(tmp_path, example_raw, write_yaml):
    write_yaml(tmp_path, "credit_line", example_raw())
    (tmp_path / "credit_line.yml").write_text(yaml.safe_dump(example_raw()))

    with pytest.raises(InventoryError) as exc:
        load_inventory(tmp_path)

    assert exc.value.lines() == [
        f"{tmp_path / 'credit_line.yml'}: model_id 'credit_line' is already defined in another file"
    ]


def test_a_missing_folder_says_how_to_point_at_the_inventory(tmp_path):
    folder = tmp_path / "nowhere"

    with pytest.raises(InventoryError, match=r"nowhere: inventory folder not found \(set MRM_INVENTORY"):
        load_inventory(folder)


def test_non_strict_loading_returns_the_good_entries_and_the_problems(
    tmp_path, examples_dir, example_raw, write_yaml
):
    for model_id in EXAMPLE_IDS:
        write_yaml(tmp_path, model_id, example_raw(model_id))
    broken = example_raw("card_fraud")
    broken["model_id"] = "broken_model"
    broken["risk_tier"] = 4
    write_yaml(tmp_path, "broken_model", broken)
    (tmp_path / "notes.txt").write_text("not an inventory file")

    inventory, problems = load_inventory(tmp_path, strict=False)

    assert sorted(inventory.entries) == EXAMPLE_IDS
    assert problems == [f"{tmp_path / 'broken_model.yaml'}: risk_tier: Input should be 1, 2 or 3, got 4"]
    with pytest.raises(InventoryError, match=re.escape(problems[0])):
        load_inventory(tmp_path)


def test_retired_models_are_loaded_but_not_monitored(tmp_path, example_raw, write_yaml):
    write_yaml(tmp_path, "credit_line", example_raw("credit_line"))
    retired = example_raw("aml_alert")
    retired["status"] = "retired"
    retired["monitoring"]["enabled"] = False
    write_yaml(tmp_path, "aml_alert", retired)

    inventory, _ = load_inventory(tmp_path)

    assert sorted(inventory.entries) == ["aml_alert", "credit_line"]
    assert [e.model_id for e in inventory.monitored()] == ["credit_line"]


def test_getting_an_unknown_model_lists_the_known_ones(examples_dir):
    inventory, _ = load_inventory(examples_dir)

    with pytest.raises(InventoryError) as exc:
        inventory.get("card_fruad")

    assert str(exc.value) == (
        f"model 'card_fruad' is not in the inventory at {examples_dir} "
        "(models: aml_alert, card_fraud, credit_line)"
    )


# -- fingerprint ------------------------------------------------------------------------------------------


def test_the_fingerprint_is_stable_across_loads_and_key_order(tmp_path, examples_dir, example_raw):
    original = load_entry(examples_dir / "credit_line.yaml").fingerprint()
    raw = example_raw()
    reordered = dict(reversed(list(raw.items())))
    reordered["monitoring"] = dict(reversed(list(raw["monitoring"].items())))
    reordered["monitoring"]["controls"] = dict(reversed(list(raw["monitoring"]["controls"].items())))
    path = tmp_path / "credit_line.yaml"
    path.write_text(yaml.safe_dump(reordered, sort_keys=False))

    assert load_entry(examples_dir / "credit_line.yaml").fingerprint() == original
    assert load_entry(path).fingerprint() == original
    assert re.fullmatch(r"[0-9a-f]{64}", original)


@pytest.mark.parametrize(
    "change",
    [
        lambda raw: raw["monitoring"]["controls"]["null_rate"].update(red=0.11),
        lambda raw: raw["monitoring"]["controls"]["null_rate"]["columns"]["utilization"].update(amber=0.11),
    ],
    ids=["control threshold", "per-column override"],
)
def test_the_fingerprint_changes_when_a_threshold_changes(
    tmp_path, examples_dir, example_raw, write_yaml, change
):
    raw = example_raw()
    change(raw)

    changed = load_entry(write_yaml(tmp_path / "changed", "credit_line", raw)).fingerprint()

    assert changed != load_entry(write_yaml(tmp_path / "same", "credit_line", example_raw())).fingerprint()


# -- tier defaults (_policy.yaml) ------------------------------------------------------------------------


def test_tier_defaults_apply_and_a_model_file_overrides_them_metric_by_metric(examples_dir):
    from mrm.inventory import load_inventory

    inventory, problems = load_inventory(examples_dir)
    fraud, credit, aml = (inventory.get(m) for m in ("card_fraud", "credit_line", "aml_alert"))

    assert problems == []
    assert fraud.monitoring.controls["psi"].red == 0.25  # tier 1 default, not in the model file
    assert aml.monitoring.controls["volume_ratio"].red == 0.5  # tier 2 is looser than tier 1 (0.6)
    assert fraud.monitoring.controls["volume_ratio"].red == 0.6
    assert credit.monitoring.controls["null_rate"].columns["utilization"].amber == 0.08  # the file wins
    assert fraud.monitoring.persistence.amber_runs_to_red == 3


def test_a_broken_policy_file_is_reported_with_its_path_and_field(tmp_path, example_raw, write_yaml):
    from mrm.inventory import load_inventory

    write_yaml(tmp_path, "credit_line", example_raw())
    (tmp_path / "_policy.yaml").write_text("tiers:\n  1:\n    controls:\n      psy: {amber: 0.1, red: 0.2}\n")

    _, problems = load_inventory(tmp_path, strict=False)

    assert len(problems) == 1
    assert problems[0].startswith(f"{tmp_path / '_policy.yaml'}: tiers.1")
    assert "unknown metric 'psy'" in problems[0]


def test_notification_routing_is_validated_and_merged_per_model(tmp_path, example_raw, write_yaml):
    from mrm.inventory import load_inventory
    from mrm.inventory.notifications import routing

    (tmp_path / "_policy.yaml").write_text("notifications:\n  red_alerts: [email, pager]\n")
    write_yaml(tmp_path, "credit_line", example_raw())
    _, problems = load_inventory(tmp_path, strict=False)
    assert len(problems) == 1 and problems[0].startswith(
        f"{tmp_path / '_policy.yaml'}: notifications.red_alerts"
    )
    assert "'email', 'slack' or 'sns'" in problems[0]

    (tmp_path / "_policy.yaml").write_text(
        "notifications:\n  tickets: [jira]\n  red_alerts: [email, slack]\n  amber_digest: [email]\n"
    )
    write_yaml(tmp_path, "credit_line", {**example_raw(), "notifications": {"red_alerts": ["sns"]}})
    inventory, problems = load_inventory(tmp_path, strict=False)
    assert problems == []
    merged = routing(inventory.policy.notifications, inventory.get("credit_line").notifications)
    assert (merged.tickets, merged.red_alerts, merged.amber_digest) == (["jira"], ["sns"], ["email"])


@pytest.mark.parametrize("key", ['RISK" OR project = HR', "risk", "R", "1RISK", "RISK-2", "RISK\n"])
def test_a_jira_project_that_is_not_a_project_key_is_one_line_from_validate(
    tmp_path, example_raw, write_yaml, capsys, key
):
    """The key goes into JQL (finding 26): only Jira's key format is accepted."""
    from mrm.cli import main

    write_yaml(tmp_path, "credit_line", example_raw())
    policy = {"notifications": {"channels": {"jira": {"project": key}}}}
    (tmp_path / "_policy.yaml").write_text(yaml.safe_dump(policy))

    code = main(["inventory", "validate", "--inventory", str(tmp_path)])

    out, err = capsys.readouterr()
    [line] = [row for row in (out + err).splitlines() if "_policy.yaml" in row]
    assert code == 1
    assert line.startswith(f"{tmp_path / '_policy.yaml'}: notifications.channels.jira.project: ")
    assert "is not a Jira project key: use the key Jira shows for the project" in line


@pytest.mark.parametrize("key", ["MRM", "RISK", "RISK_2", "AB9"])
def test_jira_project_keys_in_jiras_format_load(tmp_path, example_raw, write_yaml, key):
    write_yaml(tmp_path, "credit_line", example_raw())
    policy = {"notifications": {"channels": {"jira": {"project": key}}}}
    (tmp_path / "_policy.yaml").write_text(yaml.safe_dump(policy))

    inventory, problems = load_inventory(tmp_path, strict=False)

    assert problems == []
    assert inventory.policy.notifications.channels.jira.project == key
