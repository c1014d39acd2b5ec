"""The evidence pack holds the desk's review acts of the model and period (acts.json), listed in the
manifest with their SHA-256 like every other member, on SQLite and PostgreSQL: acts on the pack's
tickets, the model's acceptances holding in the period, and attestations of the model and of the
portfolio for days of the period; not other models' acts, nor attestations of other days."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from datetime import UTC, date, datetime, timedelta

import pytest

from mrm.evidence.pack import build
from mrm.inventory import load_inventory
from mrm.inventory.roles import Roles
from mrm.store import RunRecord
from mrm.ticketing import Breach, BuiltinTracker
from mrm.ticketing.desk import Actor, Desk, describe

OWNER = "fraud-models@example.com"  # card_fraud's owner in the example inventory
REVIEWER = Actor("rev@example.com")
TODAY = datetime.now(UTC).date()
SINCE = TODAY - timedelta(days=1)  # the pack's period: yesterday and today


@pytest.fixture
def desk(any_history, examples_dir) -> Desk:
    inventory, _ = load_inventory(examples_dir)
    inventory.policy = inventory.policy.model_copy(update={"roles": Roles(model_risk_team=[REVIEWER.person])})
    store = any_history
    for day in (SINCE, TODAY):
        at = datetime(day.year, day.month, day.day, 6, tzinfo=UTC)
        store.record_run(
            RunRecord(f"run-{day}", "card_fraud", "1", day, "completed", at, at, "test", "h" * 64), []
        )
    return Desk(store, inventory)


def ticket(store, model_id: str, owner: str, day: date, column: str = "amount") -> int:
    breach = Breach(model_id, owner, f"drift.psi[{column}]", "drift", "psi", column, "RED", 0.3, 0.1, 0.25,
                    "run-1", day, "psi breached")  # fmt: skip
    return BuiltinTracker(store).file(breach, 1).ticket_id


def pack(store) -> tuple[dict, list[dict], dict]:
    data, returned = build(store, "card_fraud", SINCE, TODAY, describe=describe)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for path, digest in manifest["files"].items():
            assert hashlib.sha256(zf.read(path)).hexdigest() == digest, path
        return manifest, json.loads(zf.read("acts.json")), returned


def test_the_pack_holds_the_models_acts_with_their_text(desk):
    store = desk.store
    inside = ticket(store, "card_fraud", OWNER, TODAY)
    earlier = ticket(
        store, "card_fraud", OWNER, TODAY - timedelta(days=30), "tenure"
    )  # no event in the period
    other = ticket(store, "credit_line", "credit-models@example.com", TODAY)
    desk.acknowledge(Actor(OWNER), inside, "looking", TODAY + timedelta(days=2), today=TODAY)
    desk.close(REVIEWER, inside, "vendor fixed the feed", "data_issue", today=TODAY)
    expired = ticket(store, "card_fraud", OWNER, date(2019, 12, 30), "age")  # an acceptance closes its ticket
    desk.accept(REVIEWER, expired, "expired long ago", date(2020, 1, 10), today=date(2020, 1, 1))
    desk.accept(REVIEWER, earlier, "until the refit", TODAY + timedelta(days=7), ["weekly"], today=TODAY)
    desk.comment(REVIEWER, other, "not this model")
    desk.attest(REVIEWER, SINCE, None, "portfolio reviewed", today=TODAY)
    desk.attest(REVIEWER, TODAY, "card_fraud", "card fraud reviewed", today=TODAY)
    desk.attest(REVIEWER, TODAY, "credit_line", "another model", today=TODAY)
    desk.attest(REVIEWER, TODAY - timedelta(days=5), None, "another day", today=TODAY)

    manifest, acts, returned = pack(store)

    assert "acts.json" in manifest["files"] and manifest == returned and manifest["review_acts"] == 5
    assert [(a["kind"], a["ticket_key"], a["comment"]) for a in acts] == [
        ("acknowledge", f"MRM-{inside}", "looking"),
        ("close", f"MRM-{inside}", "vendor fixed the feed"),
        ("accept_risk", f"MRM-{earlier}", "until the refit"),
        ("attest", None, "portfolio reviewed"),
        ("attest", None, "card fraud reviewed"),
    ]
    assert acts[1]["text"] == "closed by rev@example.com (airflow): vendor fixed the feed (cause data_issue)"
    assert acts[2]["text"] == (
        f"risk accepted by rev@example.com (airflow) until {TODAY + timedelta(days=7)}: until the refit "
        "(conditions: weekly)"
    )
    assert acts[3]["text"] == (
        f"review of {SINCE} attested by rev@example.com (airflow) for the portfolio: portfolio reviewed"
    )
    assert (acts[4]["model_id"], acts[4]["logical_date"], acts[4]["person"]) == (
        "card_fraud",
        str(TODAY),
        "rev@example.com",
    )
    acted_at = datetime.fromisoformat(acts[0]["acted_at"])
    assert acts[0]["authenticated"] == "airflow" and acted_at.utcoffset() == timedelta(0)


def test_a_pack_of_a_period_without_acts_has_an_empty_acts_file(desk):
    manifest, acts, _ = pack(desk.store)
    assert acts == [] and manifest["review_acts"] == 0 and "acts.json" in manifest["files"]
