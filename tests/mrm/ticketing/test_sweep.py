"""Nothing RED stays unticketed: a process really killed (SIGKILL) between recording a run and ticketing
it leaves REDs without a ticket; the model's next run, or the governance DAG's sweep, tickets them, and
the history still verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from datetime import UTC, datetime

import pytest

from mrm import governance, pipeline
from mrm.cli import main
from mrm.demo.data import day
from mrm.store import RunRecord, chain
from mrm.ticketing import sweep
from mrm.ticketing.lifecycle import TicketLifecycle
from mrm.ticketing.tracker import BuiltinTracker

MODEL = "card_fraud"
CONTROL = "quality.null_rate[device_score]{country=NL}"  # RED on demo days 5, 6 and 7

KILLED_AFTER_RECORD = """
import os, signal, sys
from mrm import pipeline
from mrm.demo.data import day

ctx = pipeline.start(sys.argv[1], day(int(sys.argv[2])))
evidence = [pipeline.quality(ctx), pipeline.drift(ctx), pipeline.performance(ctx)]
print(pipeline.record(ctx, *evidence)["run_id"], flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the worker dies before open_tickets
"""


def record_then_die(tmp_path, n: int) -> str:
    """Run day ``n`` of the model up to ``record`` in another process, which is then killed."""
    script = tmp_path / "record_then_die.py"
    script.write_text(KILLED_AFTER_RECORD)
    done = subprocess.run(
        [sys.executable, str(script), MODEL, str(n)],
        env=os.environ,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    return done.stdout.strip().splitlines()[-1]


def tickets() -> list[dict]:
    return BuiltinTracker(pipeline.get_store()).tickets(MODEL, "all")


def events(ticket_id: int) -> list[tuple[str, object]]:
    return [(e["kind"], e["logical_date"]) for e in BuiltinTracker(pipeline.get_store()).events(ticket_id)]


def assert_history_verifies(capsys) -> None:
    problems, _, checked = chain.verify(pipeline.get_store().engine)
    assert problems == [] and checked > 0
    assert main(["audit", "verify"]) == 0
    assert "intact" in capsys.readouterr().out


@pytest.fixture
def history(mrm_home, file_inventory):
    return pipeline.get_store()


def test_the_next_run_tickets_the_red_a_killed_process_left_unticketed(history, tmp_path, capsys):
    run_id = record_then_die(tmp_path, 5)
    red = [m for m in history.metrics(run_id=run_id) if m["status"] == "RED"]
    assert red and tickets() == []  # recorded, never ticketed

    result = pipeline.run_model(MODEL, day(6))

    (ticket,) = [t for t in tickets() if t["control"] == CONTROL]
    assert events(ticket["ticket_id"]) == [("opened", day(5)), ("occurrence", day(6))]
    assert (ticket["first_logical_date"], ticket["last_logical_date"], ticket["occurrences"]) == (
        day(5), day(6), 2
    )  # fmt: skip
    assert ticket["opened_run_id"] == run_id  # filed as the killed run would have filed it
    assert {"ticket_id": ticket["ticket_id"], "key": ticket["key"], "action": "occurrence"} in result[
        "tickets"
    ]
    assert_history_verifies(capsys)


def test_the_governance_sweep_tickets_it_once(history, tmp_path, capsys):
    from mrm.wiring import get_inventory

    run_id = record_then_die(tmp_path, 5)

    filed = governance.ticket_unticketed(day(5), get_inventory(), history)
    again = governance.ticket_unticketed(day(5), get_inventory(), history)

    ((swept,),) = [[f for f in filed if f["model_id"] == MODEL]]
    assert (swept["run_id"], swept["logical_date"]) == (run_id, day(5).isoformat())
    assert CONTROL in swept["controls"] and again == []
    (ticket,) = [t for t in tickets() if t["control"] == CONTROL]
    assert events(ticket["ticket_id"]) == [("opened", day(5))]
    # the run's own step, retried late, finds everything counted
    assert all(a["action"] == "already_recorded" for a in TicketLifecycle(history, get_inventory()).on_run(
        get_inventory().get(MODEL), run_id, day(5)))  # fmt: skip
    assert events(ticket["ticket_id"]) == [("opened", day(5))]
    assert_history_verifies(capsys)


def test_a_failed_run_recorded_without_its_ticket_gets_a_could_not_run_ticket(history):
    from mrm.wiring import get_inventory

    entry, now = get_inventory().get(MODEL), datetime.now(UTC)
    history.record_run(
        RunRecord("failed-run", MODEL, entry.version, day(9), "failed", now, now, "test", entry.fingerprint(),
                  overall_status="ERROR", reason="read scoring log: no partition dt=2026-09-10")
    )  # fmt: skip

    filed = sweep.unticketed(TicketLifecycle(history, get_inventory()), day(9), [MODEL])

    assert [(f["run_id"], f["controls"]) for f in filed] == [("failed-run", ["run.could_not_run"])]
    (ticket,) = tickets()
    assert ticket["control"] == "run.could_not_run" and ticket["opened_run_id"] == "failed-run"
    assert events(ticket["ticket_id"]) == [("opened", day(9))]
    assert sweep.unticketed(TicketLifecycle(history, get_inventory()), day(9), [MODEL]) == []


def test_the_sweep_looks_back_a_bounded_window_and_before_the_day_when_asked(history):
    from mrm.wiring import get_inventory

    entry, now = get_inventory().get(MODEL), datetime.now(UTC)
    history.record_run(
        RunRecord("failed-run", MODEL, entry.version, day(9), "failed", now, now, "test", entry.fingerprint(),
                  overall_status="ERROR", reason="record: disk full")
    )  # fmt: skip
    lifecycle = TicketLifecycle(history, get_inventory())

    assert sweep.unticketed(lifecycle, day(9), [MODEL], before=True) == []  # the day itself is the run's
    assert sweep.unticketed(lifecycle, day(9 + sweep.SWEEP_DAYS + 1), [MODEL]) == []  # too long ago
    assert tickets() == []
    assert [f["run_id"] for f in sweep.unticketed(lifecycle, day(10), [MODEL])] == ["failed-run"]


KILLED_AFTER_OUTCOME = """
import os, signal, sys
from mrm import outcomes, pipeline
from mrm.demo.data import day

ctx = outcomes.outcome_context(sys.argv[1], day(int(sys.argv[2])), sys.argv[3])
print(outcomes.record_outcome(ctx, pipeline.performance(ctx))["run_id"], flush=True)
os.kill(os.getpid(), signal.SIGKILL)  # the worker dies before the performance run's tickets
"""


def always_red_coverage(folder) -> None:
    """label_coverage RED at any value (it breaches when <= 1.0): every matured cohort breaches."""
    import yaml

    from mrm.wiring import clear_caches

    path = folder / f"{MODEL}.yaml"
    data = yaml.safe_load(path.read_text())
    data["monitoring"]["controls"] = {"label_coverage": {"amber": 1.01, "red": 1.0}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    clear_caches()


@pytest.mark.parametrize("kind", ["performance", "backtest"])
def test_a_performance_run_is_swept_and_a_backtest_is_not(history, file_inventory, tmp_path, kind):
    """A run of kind performance (a date without its log) tickets its REDs like a monitoring run, so a
    worker killed before its tickets leaves work for the sweep; a back-test is analysis and never tickets."""
    from mrm.wiring import get_inventory

    always_red_coverage(file_inventory)
    script = tmp_path / "outcome_then_die.py"
    script.write_text(KILLED_AFTER_OUTCOME)
    done = subprocess.run(
        [sys.executable, str(script), MODEL, "35", kind], env=os.environ, capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == -signal.SIGKILL, done.stderr
    run_id = done.stdout.strip().splitlines()[-1]
    control = "performance.label_coverage"
    assert [m["status"] for m in history.metrics(run_id=run_id) if m["metric"] == "label_coverage"] == ["RED"]

    filed = sweep.unticketed(TicketLifecycle(history, get_inventory()), day(36), [MODEL])

    if kind == "backtest":
        assert filed == [] and tickets() == []
        return
    assert [(f["run_id"], f["logical_date"]) for f in filed] == [(run_id, day(35).isoformat())]
    assert control in filed[0]["controls"]
    (ticket,) = [t for t in tickets() if t["control"] == control]
    assert ticket["opened_run_id"] == run_id and events(ticket["ticket_id"]) == [("opened", day(35))]
    assert sweep.unticketed(TicketLifecycle(history, get_inventory()), day(36), [MODEL]) == []
