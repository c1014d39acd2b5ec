"""The DAG files' shared helpers: the run's logical date, who triggered it, the model card."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from types import SimpleNamespace

from mrm.airflow.dag import logical_date, model_card, trigger_of
from mrm.inventory import load_inventory


def test_the_logical_date_is_the_utc_day_of_the_runs_logical_date():
    late_in_new_york = datetime(2026, 9, 4, 22, 30, tzinfo=timezone(timedelta(hours=-4)))
    assert logical_date({"logical_date": late_in_new_york}) == date(2026, 9, 5)


def test_a_run_without_a_logical_date_takes_the_day_of_its_run_after():
    run = SimpleNamespace(run_after=datetime(2026, 9, 7, 3, 0, tzinfo=UTC))
    assert logical_date({"logical_date": None, "dag_run": run}) == date(2026, 9, 7)


def test_the_trigger_names_the_dag_the_run_and_the_try():
    ti = SimpleNamespace(dag_id="mrm_monitor__card_fraud", run_id="manual__2026-09-05", try_number=2)
    assert trigger_of({"ti": ti}) == "airflow:mrm_monitor__card_fraud/manual__2026-09-05/try2"


def test_the_card_of_a_model_without_approval_says_so_and_lists_the_controls_sorted(examples_dir):
    approved = load_inventory(examples_dir)[0].get("card_fraud")
    entry = approved.model_copy(update={"status": "proposed", "approval": None})
    card = model_card(entry)
    assert card.startswith(f"### {entry.name} (`card_fraud` v{entry.version})\n\n")
    assert "- **Status:** proposed; **approval:** none recorded\n" in card
    rows = card.split("| control | amber | red |\n|---|---|---|\n")[1].splitlines()
    controls = sorted(entry.monitoring.controls.items())
    assert rows == [f"| `{name}` | {c.amber:g} | {c.red:g} |" for name, c in controls]
    assert len(rows) > 1
