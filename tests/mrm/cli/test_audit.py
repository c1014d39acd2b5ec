"""`mrm audit acts` as an auditor runs it: the desk's acts from the view mrm_v_review_acts, filtered by
person, model and the UTC date they were made, as an aligned table, CSV (formulas neutralised, every
column of the view) or JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

from mrm.cli import main


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- mrm audit acts: the desk's acts from the view mrm_v_review_acts -------------------------------------
def desk_acts(examples_dir) -> dict:
    """Through the Desk on the MRM_HOME history: an owner acknowledges, a reviewer accepts the risk and
    attests the portfolio's day (a comment a spreadsheet would run as a formula)."""
    from datetime import timedelta

    from mrm import wiring
    from mrm.inventory import load_inventory
    from mrm.inventory.roles import Roles
    from mrm.ticketing import Breach, BuiltinTracker
    from mrm.ticketing.desk import Actor, Desk

    inventory, _ = load_inventory(examples_dir)
    inventory.policy = inventory.policy.model_copy(
        update={"roles": Roles(model_risk_team=["rev@example.com"])}
    )
    store = wiring.get_store()
    breach = Breach("card_fraud", "fraud-models@example.com", "drift.psi[amount]", "drift", "psi", "amount",
                    "RED", 0.3, 0.1, 0.25, "run-1", date(2026, 9, 30), "psi breached")  # fmt: skip
    tid = BuiltinTracker(store).file(breach, 1).ticket_id
    desk, today = Desk(store, inventory), datetime.now(UTC).date()
    desk.acknowledge(Actor("fraud-models@example.com"), tid, "looking", today + timedelta(days=2))
    desk.accept(
        Actor("rev@example.com"), tid, "known segment", today + timedelta(days=7), ["weekly", "no RED"]
    )
    desk.attest(Actor("rev@example.com"), date(2026, 9, 30), None, "=SUM(A1) reviewed")
    return {"ticket": f"MRM-{tid}", "today": today}


def test_audit_acts_lists_the_acts_by_person_model_and_date(capsys, mrm_home, examples_dir):
    import csv
    import io
    from datetime import timedelta

    from mrm.store.review_views import ACT_COLUMNS

    made = desk_acts(examples_dir)
    today = str(made["today"])

    code, out, err = run(capsys, "audit", "acts", "--format", "json")
    assert code == 0, err
    every = json.loads(out)
    assert [(a["person"], a["kind"], a["ticket_key"]) for a in every] == [
        ("fraud-models@example.com", "acknowledge", made["ticket"]),
        ("rev@example.com", "accept_risk", made["ticket"]),
        ("rev@example.com", "attest", None),
    ]
    assert list(every[0]) == ACT_COLUMNS and every[1]["conditions"] == ["weekly", "no RED"]
    assert every[2]["acted_on"] == today and datetime.fromisoformat(every[2]["acted_at"]).tzinfo is not None

    code, out, _ = run(capsys, "audit", "acts", "--person", "rev@example.com", "--model", "card_fraud",
                       "--since", today, "--until", today, "--format", "csv")  # fmt: skip
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [r["kind"] for r in rows] == ["accept_risk"]
    assert (rows[0]["conditions"], rows[0]["control"]) == ("weekly; no RED", "drift.psi[amount]")
    assert list(rows[0]) == ACT_COLUMNS

    code, out, _ = run(capsys, "audit", "acts", "--person", "rev@example.com", "--format", "csv")
    assert [r["comment"] for r in csv.DictReader(io.StringIO(out))] == ["known segment", "'=SUM(A1) reviewed"]

    code, out, _ = run(capsys, "audit", "acts")
    lines = out.splitlines()
    assert code == 0 and lines[0].split() == ["act_id", "acted_at", "person", "authenticated", "kind",
                                              "model_id", "ticket_key", "control", "logical_date",
                                              "until_date", "cause", "comment"]  # fmt: skip
    assert len(lines) == 4 and lines[3].split()[:6] == ["3", today, lines[3].split()[2], "UTC",
                                                        "rev@example.com", "airflow"]  # fmt: skip
    assert lines[3].split()[6:] == ["attest", "2026-09-30", "=SUM(A1)", "reviewed"]

    tomorrow = str(made["today"] + timedelta(days=1))
    assert run(capsys, "audit", "acts", "--since", tomorrow) == (0, "(no rows)\n", "")
