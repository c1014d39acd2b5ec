"""The mrm_governance DAG, run by Airflow on two consecutive days over an inventory crafted with one
gap of each kind: each finding is recorded, and ticketed to the model risk team exactly once."""

from __future__ import annotations

from collections import Counter
from datetime import date

import pytest
from support import INVENTORY, clear_caches, local_inventory

from mrm.demo import data

pytestmark = pytest.mark.integration

DAY = data.day(20)  # 2026-09-20


@pytest.fixture(scope="module")
def governed(dagbag, demo_files, tmp_path_factory):
    import os

    folder = local_inventory(tmp_path_factory.mktemp("gov_inventory"), demo_files)
    reports = tmp_path_factory.mktemp("reports")
    (reports / "card_fraud.pdf").write_bytes(b"%PDF validation report")

    def edit(model_id, *changes):
        path = folder / f"{model_id}.yaml"
        text = path.read_text()
        for old, new in changes:
            assert old in text, old
            text = text.replace(old, new)
        path.write_text(text)

    # card_fraud: validation overdue; its report exists
    edit(
        "card_fraud",
        ("last_validation: 2026-07-10", "next_validation_due: 2026-09-10"),
        (f"{demo_files}/validation-reports/card_fraud-4.2.0.pdf", (reports / "card_fraud.pdf").as_uri()),
    )
    # credit_line: validation due in 10 days; report missing; never monitored
    edit(
        "credit_line",
        ("last_validation: 2026-06-20", "next_validation_due: 2026-09-30"),
        (f"{demo_files}/validation-reports/credit_line-2.0.1.pdf", (reports / "missing.pdf").as_uri()),
    )
    # aml_alert: no business owner; the inventory approves 1.4.0 but production logs 1.3.0; no report
    edit(
        "aml_alert",
        ("business_owner: mlro@example.com\n", ""),
        ('version: "1.3.0"', 'version: "1.4.0"'),
        (f"  validation_report: {demo_files}/validation-reports/aml_alert-1.3.0.pdf\n", ""),
    )
    # the tier-1 policy forgets performance controls
    policy = (INVENTORY / "_policy.yaml").read_text()
    for line in (
        "      gini_drop: {amber: 0.07, red: 0.12}\n",
        "      ks_drop: {amber: 0.07, red: 0.12}\n",
        "      calibration_ratio: {amber: 0.15, red: 0.30}\n",
        "      label_coverage: {amber: 0.95, red: 0.80}\n",
    ):
        policy = policy.replace(line, "", 1)
    policy = policy[: policy.index("\nnotifications:")]  # tickets stay in the built-in tracker here
    (folder / "_policy.yaml").write_text(policy)

    saved = {k: os.environ.get(k) for k in ("MRM_HOME", "MRM_INVENTORY")}
    os.environ.update(MRM_HOME=str(tmp_path_factory.mktemp("gov_home")), MRM_INVENTORY=str(folder))
    clear_caches()
    from mrm import pipeline
    from mrm.airflow import local as local_airflow

    for model_id in ("card_fraud", "aml_alert"):  # credit_line never ran
        pipeline.run_model(model_id, data.day(19), "test")
    dag = dagbag.get_dag("mrm_governance")
    states = [local_airflow.run_dag(dag, DAY), local_airflow.run_dag(dag, data.day(21))]
    yield states, pipeline.get_store()
    clear_caches()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


EXPECTED = {
    "card_fraud": {("validation_overdue", "RED"), ("performance_control_missing", "RED")},
    "credit_line": {("validation_due_soon", "AMBER"), ("approval_evidence_missing", "RED"),
                    ("no_recent_monitoring", "RED"), ("performance_control_missing", "RED")},
    "aml_alert": {("owner_missing", "AMBER"), ("approval_evidence_missing", "RED"),
                  ("unapproved_model_version", "RED")},
}  # fmt: skip


def findings(store, model_id: str, day: date) -> set[tuple[str, str]]:
    rows = [m for m in store.metrics(model_id, day, day) if m["check"] == "governance"]
    return {(m["metric"], m["status"]) for m in rows if m["status"] != "GREEN"}


@pytest.mark.parametrize("model_id", sorted(EXPECTED))
def test_each_gap_is_a_finding_on_both_days(governed, model_id):
    states, store = governed
    assert all(s["_dag_run"] == "success" for s in states)
    assert findings(store, model_id, DAY) == EXPECTED[model_id]
    assert findings(store, model_id, data.day(21)) == EXPECTED[model_id]


def test_every_red_finding_has_exactly_one_ticket_for_the_model_risk_team(governed):
    _, store = governed
    from mrm.ticketing import BuiltinTracker

    tickets = [
        t for t in BuiltinTracker(store).tickets(status="all") if t["control"].startswith("governance.")
    ]
    reds = {(m, f"governance.{name}") for m, found in EXPECTED.items() for name, s in found if s == "RED"}
    assert {(t["model_id"], t["control"]) for t in tickets} == reds
    assert max(Counter((t["model_id"], t["control"]) for t in tickets).values()) == 1
    assert all(t["occurrences"] == 2 and t["owner"] == "model-risk@example.com" for t in tickets)


def test_governance_runs_do_not_replace_monitoring_runs(governed):
    _, store = governed
    (run,) = store.runs("card_fraud", data.day(19), data.day(19))
    assert run["kind"] == "monitoring"
    assert {r["kind"] for r in store.runs("card_fraud", kind=None)} == {"monitoring", "governance"}
    version = next(
        m for m in store.metrics("aml_alert", DAY, DAY) if m["metric"] == "unapproved_model_version"
    )
    assert version["detail"]["seen"] == ["1.3.0"] and version["detail"]["approved"] == "1.4.0"
