"""The DAG file: parses cleanly and fast, one DAG per approved model, thin tasks in the documented order."""

from __future__ import annotations

import subprocess
import sys
import time

from support import INVENTORY, REPO, local_inventory

APPROVED = {"aml_alert", "card_fraud", "credit_line"}
TASKS = [
    "read_scoring_log", "data_quality", "drift", "performance", "record_results", "open_tickets",
    "deliver_notifications",
]  # fmt: skip


def test_dagbag_has_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_one_dag_per_approved_model(dagbag):
    assert set(dagbag.dag_ids) == {f"mrm_monitor__{m}" for m in APPROVED} | {"mrm_governance"}


def test_dag_shape_and_schedule(dagbag):
    dag = dagbag.get_dag("mrm_monitor__card_fraud")
    assert sorted(dag.task_ids) == sorted(TASKS)
    assert dag.catchup is True
    assert str(dag.start_date.date()) == "2026-09-01"
    upstream = {t: {u.task_id for u in dag.get_task(t).upstream_list} for t in TASKS}
    assert upstream["data_quality"] == upstream["drift"] == upstream["performance"] == {"read_scoring_log"}
    assert upstream["record_results"] == {"read_scoring_log", "data_quality", "drift", "performance"}
    assert upstream["open_tickets"] == {"read_scoring_log", "record_results"}
    assert upstream["deliver_notifications"] == {"read_scoring_log", "open_tickets"}
    # the matured cohort is evaluated when the day cannot be read; the rest wait for read_scoring_log
    rules = {t: str(dag.get_task(t).trigger_rule.value) for t in TASKS}
    assert rules.pop("performance") == "all_done"
    assert set(rules.values()) == {"all_success"}
    assert "fraud-models@example.com" in dag.doc_md


def test_the_dag_docs_are_the_model_card(dagbag):
    doc = dagbag.get_dag("mrm_monitor__card_fraud").doc_md
    assert "- **Owner:** fraud-models@example.com (validator model-validation@example.com)" in doc
    assert "- **Status:** approved; **approval:** head-of-model-risk@example.com on 2026-07-15" in doc
    assert "[validation report](s3://mrm-demo/validation-reports/card_fraud-4.2.0.pdf)" in doc
    assert "  - Monthly review of the decline rate by country" in doc
    assert "- **Next validation due:** 2027-07-10" in doc  # tier 1: 12 months after the last validation
    assert "[/model-risk/models/card_fraud](/model-risk/models/card_fraud)" in doc
    assert "| `psi` | 0.1 | 0.25 |" in doc and "| `label_coverage` | 0.95 | 0.8 |" in doc


def _parse(folder) -> subprocess.CompletedProcess:
    code = (
        "import time, sys; t=time.perf_counter();"
        "from airflow.dag_processing.dagbag import DagBag;"
        "b=DagBag(dag_folder=sys.argv[1]);"
        "print(sorted(b.dag_ids)); print(b.import_errors); print(time.perf_counter()-t)"
    )
    import os

    env = {**os.environ, "MRM_INVENTORY": str(folder)}
    return subprocess.run(
        [sys.executable, "-c", code, str(REPO / "dags")], env=env, capture_output=True, text=True, check=True
    )


def test_models_not_approved_get_no_dag(tmp_path):
    folder = local_inventory(tmp_path / "inv", "s3://mrm-demo")
    text = (folder / "aml_alert.yaml").read_text().replace("status: approved", "status: retired")
    text = text.replace("monitoring:\n", "monitoring:\n  enabled: false\n")
    (folder / "aml_alert.yaml").write_text(text)
    out = _parse(folder).stdout.splitlines()
    assert out[0] == str(["mrm_governance", "mrm_monitor__card_fraud", "mrm_monitor__credit_line"])


def test_broken_inventory_file_surfaces_as_failing_dag_and_keeps_the_others(tmp_path):
    folder = local_inventory(tmp_path / "inv", "s3://mrm-demo")
    (folder / "credit_line.yaml").write_text(
        (INVENTORY / "credit_line.yaml").read_text().replace("risk_tier: 1", "risk_tier: 7")
    )
    out = _parse(folder).stdout.splitlines()
    assert out[0] == str(
        ["mrm_governance", "mrm_inventory_errors", "mrm_monitor__aml_alert", "mrm_monitor__card_fraud"]
    )


def test_dag_file_imports_no_heavy_libraries_and_parses_fast():
    """DAG files import no pandas / evidently / great_expectations / boto3 at module level."""
    code = (
        "import sys, time, runpy; t=time.perf_counter();"
        f"runpy.run_path({str(REPO / 'dags' / 'mrm_monitor.py')!r});"
        f"runpy.run_path({str(REPO / 'dags' / 'mrm_governance.py')!r});"
        "heavy=[m for m in ('pandas','evidently','great_expectations','boto3') if m in sys.modules];"
        "print(heavy); print(time.perf_counter()-t)"
    )
    t0 = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out[0] == "[]", f"heavy modules imported while parsing: {out[0]}"
    # parse time itself is measured (printed), not asserted: see bench/ for figures
    print(f"parse {float(out[1]):.3f} s, process {time.perf_counter() - t0:.1f} s")


def test_tasks_of_an_athena_sourced_model_share_the_athena_pool(tmp_path, monkeypatch):
    import yaml
    from airflow.dag_processing.dagbag import DagBag

    folder = local_inventory(tmp_path / "inventory", "file:///nowhere", ("card_fraud", "aml_alert"))
    raw = yaml.safe_load((folder / "card_fraud.yaml").read_text())
    raw["monitoring"]["scoring_log"] = {
        "athena": {"table": "card_fraud_scoring_log", "query": "scoring_log.sql"}
    }
    (folder / "card_fraud.yaml").write_text(yaml.safe_dump(raw))
    monkeypatch.setenv("MRM_INVENTORY", str(folder))
    monkeypatch.setenv("MRM_ATHENA_POOL", "athena")

    bag = DagBag(dag_folder=str(REPO / "dags" / "mrm_monitor.py"))

    assert bag.import_errors == {}
    pools = {t.task_id: t.pool for t in bag.get_dag("mrm_monitor__card_fraud").tasks}
    assert {pools[t] for t in ("read_scoring_log", "data_quality", "drift", "performance")} == {"athena"}
    assert pools["record_results"] == pools["open_tickets"] == "default_pool"
    assert {t.pool for t in bag.get_dag("mrm_monitor__aml_alert").tasks} == {"default_pool"}  # Parquet
