"""Reruns say what they replaced and why; a rerun that shows its day better than it was first recorded is
flagged, however it was written (SQLite and PostgreSQL). The attacks are written as an insider with the
app's credentials (INSERT rights) and the code in hand would write them: through HistoryStore.record_run."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from mrm.airflow.run_notes import note_for
from mrm.controls import AMBER, GREEN, INSUFFICIENT, RED, Evaluated
from mrm.core.results import MetricResult
from mrm.store import HistoryStore, RunRecord, chain, reruns

DAY = date(2026, 9, 5)
T0 = datetime(2026, 9, 6, 6, 0, tzinfo=UTC)
DAG = "mrm_monitor__toy_model"
AIRFLOW = f"airflow:{DAG}/scheduled__2026-09-05T00:00:00+00:00/try{{n}}"


@pytest.fixture
def store(any_history) -> HistoryStore:
    return any_history


def run(
    run_id: str,
    status: str,
    *,
    minutes: int = 0,
    day: date = DAY,
    kind: str = "monitoring",
    by: str = "test",
    reason: str | None = None,
    model_id: str = "toy_model",
) -> RunRecord:
    finished = T0 + timedelta(minutes=minutes)
    return RunRecord(
        run_id=run_id, model_id=model_id, model_version="1.0.0", logical_date=day,
        status="failed" if status == "ERROR" else "completed", overall_status=status,
        started_at=finished - timedelta(minutes=5), finished_at=finished, triggered_by=by,
        inventory_hash="f" * 64, kind=kind, rerun_reason=reason,
    )  # fmt: skip


def metric(status: str) -> list[Evaluated]:
    value = {GREEN: 0.01, AMBER: 0.07, RED: 0.31}[status]
    return [Evaluated(MetricResult("quality", "null_rate", "amount", value), 0.05, 0.10, status)]


# -- what a rerun records ------------------------------------------------------------------------------
def test_record_run_fills_supersedes_with_the_run_current_for_the_model_date_and_kind(store):
    store.record_run(run("r1", RED))
    store.record_run(run("r2", GREEN, minutes=10, reason="the feed was re-delivered"))
    store.record_run(run("r3", GREEN, minutes=20, reason="again"))
    store.record_run(run("g1", GREEN, minutes=30, kind="governance"))  # another kind: its own first run
    store.record_run(run("d2", GREEN, minutes=40, day=DAY + timedelta(days=1)))  # another date
    store.record_run(run("o1", GREEN, minutes=50, model_id="other_model"))  # another model

    got = {r: (store.run(r)["supersedes"], store.run(r)["rerun_reason"]) for r in ("r1", "r2", "r3")}
    assert got == {"r1": (None, None), "r2": ("r1", "the feed was re-delivered"), "r3": ("r2", "again")}
    assert [store.run(r)["supersedes"] for r in ("g1", "d2", "o1")] == [None, None, None]


def test_the_supersedes_a_caller_gives_is_replaced_by_the_one_recorded_under_the_lock(store):
    store.record_run(run("r1", RED))
    forged = run("r2", GREEN, minutes=10)
    forged.supersedes = "nothing-to-see"

    store.record_run(forged)

    assert store.run("r2")["supersedes"] == forged.supersedes == "r1"


def test_supersedes_and_the_reason_are_chained(store):
    store.record_run(run("r1", RED))
    store.record_run(run("r2", GREEN, minutes=10, reason="why"))
    problems, _, count = chain.verify(store.engine)
    assert (problems, count) == ([], 2)

    with store.engine.begin() as conn:  # the reason edited afterwards (SQLite: no trigger stops it)
        if conn.dialect.name == "postgresql":  # the test's role is a superuser: past the triggers
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql("UPDATE mrm_runs SET rerun_reason = 'planned' WHERE run_id = 'r2'")

    problems, _, _ = chain.verify(store.engine)
    assert len(problems) == 1 and "r2" in problems[0]


# -- flags --------------------------------------------------------------------------------------------
def test_a_forged_green_rerun_of_a_red_day_is_flagged_though_the_chain_is_intact(store):
    store.record_run(run("real", RED), metric(RED))
    attacker = HistoryStore(store.url)  # the app's credentials, the code in hand
    attacker.record_run(run("forged", GREEN, minutes=10, by=AIRFLOW.format(n=1)), metric(GREEN))
    attacker.engine.dispose()

    assert chain.verify(store.engine)[0] == []  # chained like a real rerun: the chain alone cannot tell
    assert [m["status"] for m in store.metrics()] == [GREEN]  # and the current history hides the RED
    (flag,) = reruns.rerun_flags(store.engine)

    assert {k: flag[k] for k in ("run_id", "status", "replaced_run_id", "replaced_status", "supersedes")} == {
        "run_id": "forged", "status": GREEN, "replaced_run_id": "real", "replaced_status": RED,
        "supersedes": "real",
    }  # fmt: skip
    assert (flag["model_id"], flag["logical_date"], flag["kind"], flag["reason"]) == (
        "toy_model", DAY, "monitoring", None,
    )  # fmt: skip
    assert reruns.format_flags([flag]) == [
        f"flag: toy_model 2026-09-05 monitoring: run forged replaced run real: rerun turned RED into GREEN "
        f"— reason: none given by {AIRFLOW.format(n=1)}"
    ]


def test_two_forged_reruns_in_a_row_are_still_flagged_against_the_red(store):
    store.record_run(run("real", RED))
    store.record_run(run("green1", GREEN, minutes=10, reason="first"))
    store.record_run(run("green2", GREEN, minutes=20, reason="launder the flag"))

    (flag,) = reruns.rerun_flags(store.engine)

    assert (flag["run_id"], flag["supersedes"], flag["replaced_run_id"], flag["reason"]) == (
        "green2", "green1", "real", "launder the flag",
    )  # fmt: skip


def test_a_run_inserted_without_record_run_is_flagged_too(store):
    """supersedes NULL (written by hand) does not hide the flag: every earlier run of the day counts."""
    store.record_run(run("real", RED))
    with store.engine.begin() as conn:
        from mrm.store import schema

        values = {**run("byhand", GREEN, minutes=10).__dict__}
        conn.execute(schema.runs.insert().values(**values))

    assert [f["run_id"] for f in reruns.rerun_flags(store.engine)] == ["byhand"]
    assert any("byhand" in p for p in chain.verify(store.engine)[0])  # and verify names it (not chained)


@pytest.mark.parametrize(
    ("before", "after", "flagged"),
    [
        (RED, GREEN, True), (RED, AMBER, True), (RED, INSUFFICIENT, True), ("ERROR", GREEN, True),
        ("ERROR", AMBER, True), (AMBER, GREEN, True), (INSUFFICIENT, GREEN, True),
        (GREEN, RED, False), (RED, RED, False), (GREEN, GREEN, False), (AMBER, AMBER, False),
        (AMBER, RED, False), ("ERROR", RED, False), (RED, "ERROR", False), (GREEN, "ERROR", False),
        (RED, "ACCEPTED", True), ("ACCEPTED", GREEN, True),  # a rerun under a risk accepted since: flagged
        (AMBER, "ACCEPTED", False), ("ACCEPTED", RED, False),
    ],
)  # fmt: skip
def test_which_reruns_are_flagged(before, after, flagged):
    assert reruns.better(after, before) is flagged


def test_only_the_current_run_is_flagged_and_a_worse_rerun_is_not(store):
    store.record_run(run("a", RED))
    store.record_run(run("b", GREEN, minutes=10))
    store.record_run(run("c", RED, minutes=20, reason="back to the truth"))  # current again: RED

    assert reruns.rerun_flags(store.engine) == []


def test_flags_are_per_kind_and_filtered_by_model_and_dates(store):
    store.record_run(run("m1", RED))
    store.record_run(run("g1", GREEN, minutes=5, kind="governance"))  # another kind: not a rerun of m1
    store.record_run(run("m2", GREEN, minutes=10))
    store.record_run(run("n1", AMBER, day=DAY + timedelta(days=1), model_id="other"))
    store.record_run(run("n2", GREEN, minutes=10, day=DAY + timedelta(days=1), model_id="other"))

    flags = lambda **kw: [f["run_id"] for f in reruns.rerun_flags(store.engine, **kw)]  # noqa: E731
    assert flags() == ["m2", "n2"]
    assert flags(model_id="other") == ["n2"]
    assert flags(since=DAY + timedelta(days=1)) == ["n2"] and flags(until=DAY) == ["m2"]


def test_an_untouched_history_has_no_flags(store):
    store.record_run(run("a", RED))
    store.record_run(run("b", GREEN, day=DAY + timedelta(days=1)))
    assert reruns.rerun_flags(store.engine) == []


def test_a_flag_is_one_line_whatever_the_reason_holds():
    flag = {"model_id": "m", "logical_date": DAY, "kind": "monitoring", "run_id": "b", "replaced_run_id": "a",
            "status": GREEN, "replaced_status": RED, "triggered_by": "cli:eve",
            "reason": "ok\nflag: fake\n" * 80}  # fmt: skip
    (line,) = reruns.format_flags([flag])
    assert "\n" not in line and line.endswith("… by cli:eve") and len(line) < 450


# -- the reason a run records ---------------------------------------------------------------------------
def test_the_first_airflow_run_of_a_day_records_no_reason_and_a_retry_its_run_and_try(store):
    reason = lambda by, given=None: reruns.rerun_reason(store.engine, "toy_model", DAY, by, given)  # noqa: E731
    assert reason(AIRFLOW.format(n=1)) is None
    assert reason(AIRFLOW.format(n=2)) == f"Airflow {DAG}/scheduled__2026-09-05T00:00:00+00:00 try 2"
    assert reason(AIRFLOW.format(n=3), "source late") == "source late"

    store.record_run(run("r1", RED, by=AIRFLOW.format(n=1)))
    second = "airflow:mrm_monitor__toy_model/manual__2026-09-07T10:00:00+00:00/try1"  # a new DAG run
    assert reason(second) == "Airflow mrm_monitor__toy_model/manual__2026-09-07T10:00:00+00:00 try 1"
    assert reason(second, "labels corrected") == "labels corrected"
    assert reruns.rerun_reason(store.engine, "toy_model", DAY, second, None, "governance") is None


def test_other_triggers_record_the_reason_given():
    assert reruns.rerun_reason(None, "m", DAY, "cli:alice (os user, …)", "why") == "why"  # type: ignore[arg-type]
    assert reruns.rerun_reason(None, "m", DAY, "demo", None) is None  # type: ignore[arg-type]
    assert reruns.airflow_try("airflow:d/r/with/slash/try12") == ("d", "r/with/slash", 12)
    assert reruns.airflow_try("airflow:d/try2") is None and reruns.airflow_try("cli:x") is None


# -- the Airflow run note -------------------------------------------------------------------------------
def test_the_run_note_of_a_flagged_rerun_starts_with_the_flag(store):
    store.record_run(run("r1", RED, by=AIRFLOW.format(n=1)), metric(RED))
    by = "airflow:mrm_monitor__toy_model/manual__again/try1"
    store.record_run(run("r2", GREEN, minutes=10, by=by, reason="feed re-delivered"), metric(GREEN))

    note = note_for(store, DAG, "manual__again")
    first = note_for(store, DAG, "scheduled__2026-09-05T00:00:00+00:00")

    flag = f"flag: rerun turned RED into GREEN — reason: feed re-delivered by {by}; "
    assert note == flag + "GREEN: 1 controls within thresholds"
    assert first is not None and first.startswith("1 RED: null_rate(amount)=0.31 > 0.1")
