"""The run note's wording: each finding against the threshold it crossed, in the right direction; a day
attested on the desk ends the note with who reviewed it and when, on SQLite and PostgreSQL, and an
attestation made after the runs refreshes their notes in Airflow's metadata database."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from mrm.airflow.run_notes import MAX_NOTE, _cut, _finding, note_for, notes_of_day, refresh_notes
from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.inventory import load_inventory
from mrm.inventory.roles import Roles
from mrm.store import RunRecord
from mrm.ticketing.desk import Actor, Desk


def row(metric, column, value, amber, red, status, segment=None):
    return {"metric": metric, "column": column, "segment": segment, "value": value,
            "amber_threshold": amber, "red_threshold": red, "status": status}  # fmt: skip


def test_higher_is_worse_shows_the_red_limit_with_greater_than():
    assert _finding(row("psi", "amount", 0.3123, 0.1, 0.25, "RED")) == "psi(amount)=0.312 > 0.25"


def test_lower_is_worse_shows_less_than_and_amber_shows_the_amber_limit():
    assert _finding(row("volume_ratio", None, 0.47, 0.8, 0.6, "RED")) == "volume_ratio=0.47 < 0.6"
    assert _finding(row("label_coverage", None, 0.91, 0.95, 0.8, "AMBER")) == "label_coverage=0.91 < 0.95"


def test_segment_and_missing_values_are_shown():
    r = row("null_rate", "device_score", None, 0.05, 0.1, "RED", segment="country=NL")
    assert _finding(r) == "null_rate(device_score){country=NL}=n/a > 0.1"


def test_a_long_note_is_cut_to_airflows_limit():
    assert len(_cut("x" * 5000)) == MAX_NOTE and _cut("short") == "short"


# -- "reviewed by ... at ...": the desk's attestations ---------------------------------------------------
DAY = date(2026, 9, 5)
DAG = "mrm_monitor__card_fraud"
REVIEWER, SECOND = Actor("rev@example.com"), Actor("second@example.com")


@pytest.fixture
def desk(any_history, examples_dir) -> Desk:
    inventory, _ = load_inventory(examples_dir)
    roles = Roles(model_risk_team=[REVIEWER.person, SECOND.person])
    inventory.policy = inventory.policy.model_copy(update={"roles": roles})
    return Desk(any_history, inventory)


def record(store, run_id: str, by: str, *, model_id="card_fraud", kind="monitoring", minutes=0, day=DAY):
    at = datetime(2026, 9, 6, 6, minutes, tzinfo=UTC)
    run = RunRecord(run_id, model_id, "1", day, "completed", at, at, by, "h" * 64, kind=kind,
                    rerun_reason="again" if minutes else None)  # fmt: skip
    status = "RED" if kind == "monitoring" else "GREEN"
    store.record_run(run, [Evaluated(MetricResult("drift", "psi", "amount", 0.31), 0.1, 0.25, status)])


def by(dag: str, run_id: str) -> str:
    return f"airflow:{dag}/{run_id}/try1"


def stamp(recorded) -> str:
    return f"{recorded.act['acted_at'].astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def test_an_attested_day_ends_the_note_with_the_latest_reviewer_and_when(desk):
    store = desk.store
    record(store, "r1", by(DAG, "scheduled__1"))
    assert note_for(store, DAG, "scheduled__1") == "1 RED: psi(amount)=0.31 > 0.25"

    first = desk.attest(REVIEWER, DAY, None, "portfolio reviewed")
    desk.attest(SECOND, DAY, "credit_line", "another model")  # not this run's model
    desk.attest(SECOND, DAY + timedelta(days=1), "card_fraud", "another day")
    assert note_for(store, DAG, "scheduled__1") == (
        f"1 RED: psi(amount)=0.31 > 0.25; reviewed by rev@example.com at {stamp(first)}"
    )
    latest = desk.attest(SECOND, DAY, "card_fraud", "card fraud reviewed")
    assert note_for(store, DAG, "scheduled__1").endswith(
        f"; reviewed by second@example.com at {stamp(latest)}"
    )
    assert re.search(
        r"; reviewed by \S+ at \d{4}-\d\d-\d\d \d\d:\d\d UTC$", note_for(store, DAG, "scheduled__1")
    )


def test_a_governance_run_counts_only_the_portfolios_attestation(desk):
    store = desk.store
    record(store, "g1", by("mrm_governance", "scheduled__1"), kind="governance")
    desk.attest(REVIEWER, DAY, "card_fraud", "one model")
    assert "reviewed by" not in note_for(store, "mrm_governance", "scheduled__1")
    portfolio = desk.attest(SECOND, DAY, None, "every model")
    assert note_for(store, "mrm_governance", "scheduled__1").endswith(
        f"; reviewed by second@example.com at {stamp(portfolio)}"
    )


def test_a_long_note_keeps_its_review_at_the_end():
    cut = _cut("x" * 5000, keep=60)
    assert len(cut) == MAX_NOTE - 60 and cut.endswith("…") and _cut("short", keep=60) == "short"


def test_the_notes_of_a_day_are_those_of_the_dag_runs_that_wrote_it(desk):
    store = desk.store
    record(store, "r1", by(DAG, "scheduled__1"))
    record(store, "r2", by(DAG, "manual__again"), minutes=5)  # a rerun of the day: its own DAG run
    record(store, "c1", "cli:bob", minutes=6)  # no DAG run
    record(store, "o1", by("mrm_monitor__credit_line", "scheduled__1"), model_id="credit_line")
    record(store, "d1", by(DAG, "scheduled__2"), day=DAY + timedelta(days=1))  # another day
    attested = desk.attest(REVIEWER, DAY, "card_fraud", "reviewed")

    notes = notes_of_day(store, "card_fraud", DAY)
    assert sorted(notes) == [(DAG, "manual__again"), (DAG, "scheduled__1")]
    assert all(n.endswith(f"; reviewed by rev@example.com at {stamp(attested)}") for n in notes.values())
    every = notes_of_day(store, None, DAY)
    assert sorted(every) == [(DAG, "manual__again"), (DAG, "scheduled__1"),
                             ("mrm_monitor__credit_line", "scheduled__1")]  # fmt: skip
    assert "reviewed by" not in every[("mrm_monitor__credit_line", "scheduled__1")]


def test_refreshing_sets_the_notes_of_the_existing_dag_runs_in_airflow(desk, airflow_db):
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from airflow.utils.state import DagRunState
    from airflow.utils.types import DagRunType

    store, tag = desk.store, uuid.uuid4().hex[:8]  # the Airflow database is the session's: own run ids
    scheduled, rerun = f"scheduled__{tag}", f"manual__{tag}"
    record(store, "r1", by(DAG, scheduled))
    record(store, "r2", by(DAG, rerun), minutes=5)
    record(store, "o1", by("mrm_monitor__credit_line", scheduled), model_id="credit_line")
    with create_session() as session:  # the DAG runs as Airflow keeps them; the credit_line one is gone
        for run_id in (scheduled, rerun):  # no logical date: unique per DAG in the session's database
            session.add(DagRun(dag_id=DAG, run_id=run_id, run_type=DagRunType.MANUAL, note="before",
                               logical_date=None, state=DagRunState.SUCCESS))  # fmt: skip
    attested = desk.attest(REVIEWER, DAY, None, "portfolio reviewed")

    assert refresh_notes(store, "card_fraud", DAY) == 2
    assert refresh_notes(store, None, DAY) == 2  # the credit_line run has no DAG run left in Airflow
    assert refresh_notes(store, "card_fraud", DAY + timedelta(days=1)) == 0
    with create_session() as session:
        notes = {
            r.run_id: r.note for r in session.query(DagRun).filter(DagRun.run_id.in_([scheduled, rerun]))
        }
    ending = f"; reviewed by rev@example.com at {stamp(attested)}"
    assert notes[scheduled] == note_for(store, DAG, scheduled) and notes[scheduled].endswith(ending)
    assert notes[rerun] == note_for(store, DAG, rerun) and notes[rerun].endswith(ending)


def test_an_accepted_control_shows_its_verdict_limit_and_until_when():
    accepted = row("volume_ratio", None, 0.72, 0.8, 0.6, "ACCEPTED")
    accepted["detail"] = {"accepted": {"act_id": 3, "verdict": "AMBER", "until": "2026-10-31", "by": "rev"}}
    assert _finding(accepted) == "volume_ratio=0.72 < 0.8 (AMBER, accepted until 2026-10-31)"
    accepted["detail"]["accepted"]["verdict"] = "RED"
    assert _finding(accepted) == "volume_ratio=0.72 < 0.6 (RED, accepted until 2026-10-31)"
