"""`mrm findings [add | update | close | import]` record as the OS user, marked not authenticated by
Airflow: the role map decides who may act (the team adds and closes, an owner submits remediation), a
refusal is one line, the list prints table, JSON and CSV, and a bad import prints one line per bad row
and records nothing."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from mrm import wiring
from mrm.cli import main
from mrm.store import findings as store_findings

MARK = "cli: not authenticated by Airflow"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def roles(tmp_path, examples_dir, monkeypatch, mrm_home):
    """Sets the role map of a copy of the example inventory: ``roles("team")`` puts the OS user in the
    model risk team, ``roles("owner")`` makes them an owner of card_fraud."""
    folder = tmp_path / "inventory"
    shutil.copytree(examples_dir, folder)
    monkeypatch.setenv("MRM_INVENTORY", str(folder))

    def set_roles(as_: str) -> None:
        policy = yaml.safe_load((folder / "_policy.yaml").read_text())
        me = wiring.os_user()
        policy["roles"] = (
            {"model_risk_team": [me]} if as_ == "team" else {"models": {"card_fraud": {"owners": [me]}}}
        )
        (folder / "_policy.yaml").write_text(yaml.safe_dump(policy))

    return set_roles


ADD = ("findings", "add", "--model", "card_fraud", "--id", "VAL-2026-001", "--severity", "high", "--due",
       "2026-10-01", "--description", "overrides are not monitored", "--owner", "fixer@example.com",
       "--evidence", "s3://val/a.pdf", "s3://val/b.pdf")  # fmt: skip


def test_the_team_adds_an_owner_submits_and_the_team_closes(capsys, roles):
    roles("team")
    code, out, err = run(capsys, *ADD)
    assert (code, err) == (0, "")
    assert out == ("VAL-2026-001 added: high finding of card_fraud, open, due 2026-10-01, owner "
                   "fixer@example.com\n")  # fmt: skip
    roles("owner")
    code, out, err = run(capsys, "findings", "update", "VAL-2026-001", "--plan", "weekly override report",
                         "--status", "remediation_submitted", "--evidence", "https://git/pr/1")  # fmt: skip
    assert (code, err) == (0, "") and "remediation_submitted" in out
    code, _, err = run(capsys, "findings", "close", "VAL-2026-001", "--reason", "mine")
    assert code == 1 and err.startswith(f"mrm: error: {wiring.os_user()} may not verify and close finding")
    roles("team")
    code, out, err = run(capsys, "findings", "close", "VAL-2026-001", "--reason", "report verified")
    assert (code, err) == (0, "") and out.startswith("VAL-2026-001 verified closed:")

    with wiring.get_store().engine.connect() as conn:
        trail = store_findings.history(conn, "VAL-2026-001")
    assert {(e["person"], e["authenticated"]) for e in trail} == {(wiring.os_user(), MARK)}
    assert trail[0]["via"] == wiring.cli_trigger()
    code, out, _ = run(capsys, "findings", "--format", "json")
    (row,) = json.loads(out)
    assert (row["status"], row["evidence"]) == ("verified_closed", ["s3://val/a.pdf", "s3://val/b.pdf",
                                                                   "https://git/pr/1"])  # fmt: skip
    code, out, _ = run(capsys, "findings", "--status", "open", "--format", "csv")
    assert (
        out.splitlines()[0].startswith("finding_id,model_id,severity,status,due_date")
        and len(out.splitlines()) == 1
    )
    code, out, _ = run(capsys, "findings", "--model", "card_fraud")
    assert "VAL-2026-001" in out and "s3://val/a.pdf s3://val/b.pdf https://git/pr/1" in out


def test_an_owner_may_not_add_and_the_refusal_is_one_line(capsys, roles):
    roles("owner")
    code, out, err = run(capsys, *ADD)
    assert (code, out) == (1, "")
    assert err == (f"mrm: error: {wiring.os_user()} may not add finding VAL-2026-001 (model card_fraud): "
                   "they are owner there, and this needs the model's validator or a member of the model risk "
                   "team (the entry's validator, roles in _policy.yaml)\n")  # fmt: skip


def test_a_bad_import_prints_one_line_per_bad_row_and_records_nothing(capsys, roles, tmp_path):
    roles("team")
    path = tmp_path / "f.csv"
    path.write_text("id,model,severity,due,description,owner\n"
                    "VAL-2026-001,card_fraud,high,2026-10-01,ok,fixer@example.com\n"
                    "VAL-2026-002,card_fraud,severe,2026-10-01,ok,fixer@example.com\n"
                    "VAL-2026-003,card_fraud,low,31/12/2026,ok,fixer@example.com\n")  # fmt: skip
    code, out, err = run(capsys, "findings", "import", str(path))
    assert (code, out) == (1, "")
    assert err.splitlines() == [
        f"mrm: {path}: row 3: severity: 'severe' is not one of high, medium, low",
        f"mrm: {path}: row 4: due: '31/12/2026' is not a date; use YYYY-MM-DD",
        f"mrm: {path}: nothing was recorded; fix the rows above and import again",
    ]
    assert run(capsys, "findings", "--format", "json")[1] == "[]\n"
    path.write_text("id,model,severity,due,description,owner\n"
                    "VAL-2026-001,card_fraud,high,2026-10-01,ok,fixer@example.com\n")  # fmt: skip
    code, out, err = run(capsys, "findings", "import", str(path))
    assert (code, err, out) == (0, "", f"1 finding(s) recorded from {path}: VAL-2026-001\n")
