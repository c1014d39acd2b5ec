"""`mrm tickets ack | comment | propose-close | close | accept | attest` record through the desk as the OS
user, marked not authenticated by Airflow: a RED closure is recorded as a proposal (and says so), the
role map decides who may act, a refusal is one line, and `mrm tickets show` lists the acts."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from support import file_red_ticket

from mrm import wiring
from mrm.cli import main
from mrm.store import acts as store_acts
from mrm.ticketing import BuiltinTracker

MARK = "cli: not authenticated by Airflow"  # the acts' authenticated column


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def inventory(tmp_path, examples_dir, monkeypatch, roles: dict):
    folder = tmp_path / "inventory"
    shutil.copytree(examples_dir, folder)
    policy = yaml.safe_load((folder / "_policy.yaml").read_text())
    policy["notifications"]["tickets"] = []  # no ticket sink: nothing to deliver in these tests
    policy["roles"] = roles
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy))
    monkeypatch.setenv("MRM_INVENTORY", str(folder))
    return folder


@pytest.fixture
def as_reviewer(tmp_path, examples_dir, monkeypatch, mrm_home):
    inventory(tmp_path, examples_dir, monkeypatch, {"model_risk_team": [wiring.os_user()]})
    return file_red_ticket(wiring.get_store())


@pytest.fixture
def as_owner(tmp_path, examples_dir, monkeypatch, mrm_home):
    inventory(tmp_path, examples_dir, monkeypatch, {"models": {"card_fraud": {"owners": [wiring.os_user()]}}})
    return file_red_ticket(wiring.get_store())


def test_a_red_close_from_the_cli_is_a_proposal_and_says_so(capsys, as_reviewer):
    code, out, err = run(
        capsys,
        "tickets",
        "close",
        f"MRM-{as_reviewer}",
        "--reason",
        "fixed upstream",
        "--cause",
        "data_issue",
        "--by",
        "head-of-model-risk",
    )
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        f"MRM-{as_reviewer} closure proposed by {wiring.cli_trigger('head-of-model-risk')}, awaiting a "
        "reviewer: fixed upstream (cause data_issue)",
        f"recorded as a proposal: RED ticket MRM-{as_reviewer} is closed only when a member of the model "
        "risk "
        "team confirms it in the Model Risk page (this closure was not authenticated by Airflow)",
    ]
    assert BuiltinTracker(wiring.get_store()).tickets()[0]["status"] == "open"


def test_a_reviewer_accepts_and_attests_and_show_lists_the_acts(capsys, as_reviewer):
    me, until = wiring.cli_trigger(), datetime.now(UTC).date() + timedelta(days=30)
    key = f"MRM-{as_reviewer}"
    assert run(capsys, "tickets", "comment", key, "--comment", "why did the segment grow?")[0] == 0
    code, out, err = run(
        capsys,
        "tickets",
        "accept",
        key,
        "--until",
        f"{until}",
        "--reason",
        "known segment",
        "--condition",
        "watch weekly",
    )
    assert (code, err) == (0, "")
    assert out == f"{key} risk accepted by {me} until {until}: known segment (conditions: watch weekly)\n"
    code, out, err = run(capsys, "tickets", "attest", "--date", "2026-09-30", "--comment", "morning review")
    assert (code, err) == (0, "")
    assert out == f"review of 2026-09-30 attested by {me} for the portfolio: morning review\n"

    code, out, err = run(capsys, "tickets", "show", key)
    acts = [line for line in out.splitlines() if line.startswith("  act #")]
    assert code == 0 and len(acts) == 2
    assert acts[0].endswith(f"comment by {me}: why did the segment grow?")
    assert acts[1].endswith(f"risk accepted by {me} until {until}: known segment (conditions: watch weekly)")
    with wiring.get_store().engine.connect() as conn:
        stored = store_acts.acts(conn, ticket_id=as_reviewer)
    assert {(a["person"], a["authenticated"]) for a in stored} == {(wiring.os_user(), MARK)}


def test_the_role_map_decides_and_a_refusal_is_one_line(capsys, as_owner):
    me, key = wiring.os_user(), f"MRM-{as_owner}"
    signed = wiring.cli_trigger()
    tomorrow = datetime.now(UTC).date() + timedelta(days=1)
    code, out, err = run(capsys, "tickets", "ack", key, "--comment", "on it", "--action-date", f"{tomorrow}")
    assert (code, err) == (0, "") and out.startswith(f"{key} acknowledged by {signed}, action planned by")
    code, out, err = run(capsys, "tickets", "accept", key, "--until", f"{tomorrow}", "--reason", "mine")
    assert (code, out) == (1, "")
    assert err == (
        f"mrm: error: {me} may not accept the risk of {key} (model card_fraud): they are owner there, and a "
        "risk "
        "is accepted only by a member of the model risk team who neither owns nor develops the model\n"
    )
    code, out, err = run(capsys, "tickets", "attest", "--date", "2026-09-30", "--comment", "x")
    assert code == 1 and err.startswith(f"mrm: error: {me} may not attest the review of 2026-09-30")
