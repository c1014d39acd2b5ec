"""Review acts are rows of the chained history: written with who, how authenticated, when, what and
why, read back in order; `mrm audit verify` names an act edited, deleted or inserted behind mrm's back,
on SQLite and on PostgreSQL (where the triggers refuse the UPDATE in the first place)."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from support import file_red_ticket

from mrm.errors import StoreError
from mrm.store import acts, chain

DAY = date(2026, 9, 1)
WHEN = datetime(2026, 9, 2, 8, 30, tzinfo=UTC)


def ticket_of(store) -> int:
    return file_red_ticket(store, owner="owner@example.com", day=DAY)


def write_acts(store) -> int:
    tid = ticket_of(store)
    with store.engine.begin() as conn:
        acts.insert_act(
            conn,
            "acknowledge",
            "owner@example.com",
            "airflow",
            "looking at the vendor feed",
            WHEN,
            model_id="card_fraud",
            ticket_id=tid,
            control="drift.psi[amount]",
            action_date=date(2026, 9, 5),
        )
        acts.insert_act(
            conn,
            "accept_risk",
            "rev@example.com",
            "airflow",
            "new merchants, expected",
            WHEN,
            model_id="card_fraud",
            ticket_id=tid,
            control="drift.psi[amount]",
            until_date=date(2026, 10, 1),
            conditions=["review weekly"],
        )
        acts.insert_act(
            conn,
            "attest",
            "rev@example.com",
            "cli: not authenticated by Airflow",
            "reviewed",
            WHEN,
            logical_date=DAY,
            via="cli:bob (os user, not authenticated by Airflow)",
        )
    return tid


def tamper(store, sql: str) -> None:
    with store.engine.begin() as conn:
        if store.engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.exec_driver_sql(sql)


def test_acts_are_read_back_in_order_with_who_when_what_and_why(any_history):
    tid = write_acts(any_history)
    with any_history.engine.connect() as conn:
        on_ticket = acts.acts(conn, ticket_id=tid)
        holding = acts.acceptances(conn, "card_fraud", on=date(2026, 10, 1))
        expired = acts.acceptances(conn, "card_fraud", on=date(2026, 10, 2))
        attested = acts.attestations(conn, DAY)
        by_person = acts.acts(conn, person="rev@example.com", since=WHEN.date(), until=WHEN.date())
    assert [a["kind"] for a in on_ticket] == ["acknowledge", "accept_risk"]
    ack = on_ticket[0]
    assert (ack["person"], ack["authenticated"], ack["acted_at"], ack["action_date"]) == (
        "owner@example.com",
        "airflow",
        WHEN,
        date(2026, 9, 5),
    )
    assert [a["conditions"] for a in holding] == [["review weekly"]] and expired == []
    assert [(a["model_id"], a["logical_date"], a["via"]) for a in attested] == [
        (None, DAY, "cli:bob (os user, not authenticated by Airflow)")
    ]
    assert [a["kind"] for a in by_person] == ["accept_risk", "attest"]
    assert chain.verify(any_history.engine)[0] == []


def test_an_unknown_kind_or_field_is_refused(any_history):
    with any_history.engine.begin() as conn:
        with pytest.raises(StoreError, match="unknown review act 'approve'; the acts are acknowledge"):
            acts.insert_act(conn, "approve", "p", "airflow", "x", WHEN)
        with pytest.raises(StoreError, match="a review act has no field severity"):
            acts.insert_act(conn, "comment", "p", "airflow", "x", WHEN, severity="RED")


def test_verify_names_an_act_edited_with_sql(any_history):
    write_acts(any_history)
    tamper(any_history, "UPDATE mrm_review_acts SET until_date = '2027-12-31' WHERE kind = 'accept_risk'")
    problems, _, _ = chain.verify(any_history.engine)
    with any_history.engine.connect() as conn:
        (act_id,) = conn.execute(
            sa.text("SELECT act_id FROM mrm_review_acts WHERE kind = 'accept_risk'")
        ).one()
        seq = conn.execute(
            sa.text(
                f"SELECT seq FROM mrm_chain WHERE table_name = 'mrm_review_acts' AND row_key = '{act_id}'"
            )
        ).scalar()
    assert problems == [
        f"chain entry {seq} (mrm_review_acts {act_id}): the record was edited after it was written"
    ]


def test_verify_names_an_act_deleted_or_inserted_outside_mrm(any_history):
    tid = write_acts(any_history)
    with any_history.engine.connect() as conn:
        ack, *_, last = (a["act_id"] for a in acts.acts(conn))
    tamper(any_history, f"DELETE FROM mrm_review_acts WHERE act_id = {ack}")
    tamper(
        any_history,
        "INSERT INTO mrm_review_acts (act_id, kind, ticket_id, person, authenticated, acted_at, "
        f"comment) VALUES ({last + 1}, 'close', {tid}, 'mallory', 'airflow', "
        "'2026-09-03 00:00:00+00', 'forged')",
    )
    problems = chain.verify(any_history.engine)[0]
    assert len(problems) == 2
    assert problems[0].endswith(f"(mrm_review_acts {ack}): the record was deleted")
    assert problems[1] == f"mrm_review_acts {last + 1}: the record is not in the chain (inserted outside mrm)"


def test_postgresql_refuses_changing_an_act(any_history):
    if any_history.engine.dialect.name != "postgresql":
        pytest.skip("the append-only triggers are PostgreSQL's")
    write_acts(any_history)
    refused = pytest.raises(sa.exc.DBAPIError, match="mrm history is append-only: UPDATE on mrm_review_acts")
    with refused, any_history.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE mrm_review_acts SET comment = 'changed'")


def test_holding_gives_each_control_the_acceptance_that_holds_longest_on_a_date(any_history):
    tid = write_acts(any_history)  # accepts drift.psi[amount] until 2026-10-01
    with any_history.engine.begin() as conn:
        for until, control in ((date(2026, 10, 20), "drift.psi[amount]"), (date(2026, 9, 10), "quality.x")):
            acts.insert_act(
                conn, "accept_risk", "rev@example.com", "cli: not authenticated by Airflow", "known", WHEN,
                model_id="card_fraud", ticket_id=tid, control=control, until_date=until,
            )  # fmt: skip
    with any_history.engine.connect() as conn:
        on_sept_5 = acts.holding(conn, "card_fraud", date(2026, 9, 5))
        on_oct_2 = acts.holding(conn, "card_fraud", date(2026, 10, 2))
        after = acts.holding(conn, "card_fraud", date(2026, 10, 21))
        other = acts.holding(conn, "credit_line", date(2026, 9, 5))
    assert {c: h["until"] for c, h in on_sept_5.items()} == {
        "drift.psi[amount]": "2026-10-20",  # the longer of its two acceptances
        "quality.x": "2026-09-10",
    }
    assert on_oct_2["drift.psi[amount]"] == {
        "act_id": on_sept_5["drift.psi[amount]"]["act_id"],
        "until": "2026-10-20",
        "by": "rev@example.com",
        "authenticated": "cli: not authenticated by Airflow",
    }
    assert list(on_oct_2) == ["drift.psi[amount]"] and after == {} and other == {}
