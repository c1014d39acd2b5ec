"""The findings register recorded through the rules, on SQLite and PostgreSQL: a finding's life from
added to verified closed, a refusal writes nothing, and an import records every row or none, with one
line per bad row naming the file, the row and the field."""

from __future__ import annotations

from datetime import date

import pytest
from support import REPO

from mrm.errors import FindingNotFoundError, FindingsImportError, SegregationOfDutiesError
from mrm.inventory.load import load_inventory
from mrm.inventory.roles import Roles
from mrm.store import chain
from mrm.store import findings as store_findings
from mrm.ticketing import register
from mrm.ticketing.desk import Actor

VALIDATOR = Actor("model-validation@example.com")  # card_fraud's validator in the example inventory
FIXER = Actor("fixer@example.com")
OWNER = Actor("fraud-models@example.com")  # card_fraud's owner
FIELDS = {"severity": "high", "description": "overrides are not monitored", "owner": "fixer@example.com",
          "plan": None, "due_date": date(2026, 10, 1),
          "evidence": ["s3://val/card_fraud-2026.pdf"]}  # fmt: skip


@pytest.fixture
def inventory():
    inv, _ = load_inventory(REPO / "include" / "inventory")
    inv.policy = inv.policy.model_copy(update={"roles": Roles(model_risk_team=["mrt@example.com"])})
    return inv


def state(store) -> list[tuple]:
    with store.engine.connect() as conn:
        return [(f["finding_id"], f["status"]) for f in store_findings.findings(conn)]


def test_a_finding_lives_from_added_to_verified_closed(any_history, inventory):
    register.add(any_history, inventory, VALIDATOR, "VAL-2026-001", "card_fraud", FIELDS)
    submitted = register.update(any_history, inventory, FIXER, "VAL-2026-001",
                                {"plan": "monitor override rate weekly", "status": "remediation_submitted",
                                 "evidence": ["https://git.example.com/pr/12"]}, "done")  # fmt: skip
    closed = register.close(any_history, inventory, VALIDATOR, "VAL-2026-001", "override report checked")
    assert submitted["status"] == "remediation_submitted" and closed["status"] == "verified_closed"
    assert closed["evidence"] == ["s3://val/card_fraud-2026.pdf", "https://git.example.com/pr/12"]
    with any_history.engine.connect() as conn:
        trail = store_findings.history(conn, "VAL-2026-001")
    assert [(e["event"], e["person"], e["reason"]) for e in trail] == [
        ("added", "model-validation@example.com", None),
        ("remediation_submitted", "fixer@example.com", "done"),
        ("verified_closed", "model-validation@example.com", "override report checked"),
    ]
    assert chain.verify(any_history.engine)[0] == []


def test_a_refused_act_writes_nothing(any_history, inventory):
    register.add(any_history, inventory, VALIDATOR, "VAL-2026-001", "card_fraud", FIELDS)
    register.update(any_history, inventory, FIXER, "VAL-2026-001",
                    {"plan": "fix", "status": "remediation_submitted"})  # fmt: skip
    with pytest.raises(
        SegregationOfDutiesError, match=r"^fraud-models@example\.com may not verify and close"
    ):
        register.close(any_history, inventory, OWNER, "VAL-2026-001", "looks fine to me")
    with pytest.raises(FindingNotFoundError, match="finding VAL-2026-404 is not in the register"):
        register.close(any_history, inventory, VALIDATOR, "VAL-2026-404", "x")
    assert state(any_history) == [("VAL-2026-001", "remediation_submitted")]


GOOD_CSV = """id,model,severity,due,description,owner,plan,evidence
VAL-2026-001,card_fraud,high,2026-10-01,Overrides are not monitored,fixer@example.com,,s3://val/a.pdf
VAL-2026-002,credit_line,Medium,2026-12-31,"Segment PSI, not total",fixer@example.com,segments,s3://a s3://b
"""


def test_an_import_records_every_row(any_history, inventory, tmp_path):
    path = tmp_path / "findings.csv"
    path.write_text(GOOD_CSV)
    recorded = register.import_file(any_history, inventory, Actor("mrt@example.com"), path)
    assert [(f["finding_id"], f["severity"], f["evidence"]) for f in recorded] == [
        ("VAL-2026-001", "high", ["s3://val/a.pdf"]),
        ("VAL-2026-002", "medium", ["s3://a", "s3://b"]),
    ]
    with any_history.engine.connect() as conn:
        assert store_findings.history(conn, "VAL-2026-002")[0]["reason"] == "imported from findings.csv"


def test_an_import_with_bad_rows_names_each_and_records_none(any_history, inventory, tmp_path):
    entry = inventory.entries["credit_line"]
    inventory.entries["credit_line"] = entry.model_copy(update={"validator": "other-val@example.com"})
    register.add(any_history, inventory, VALIDATOR, "VAL-2026-001", "card_fraud", FIELDS)
    row = "- {{id: {}, model: {}, severity: {}, due: {}, description: d, owner: a@b.c{}}}\n"
    path = tmp_path / "findings.yaml"
    path.write_text("findings:\n" + "".join(row.format(*r) for r in (
        ("VAL-2026-002", "card_fraud", "low", "2026-11-01", ""),  # good
        ("VAL-2026-001", "card_fraud", "low", "2026-11-01", ""),  # already in the register
        ("VAL-2026-003", "nope", "low", "2026-11-01", ""),
        ("VAL-2026-004", "card_fraud", "urgent", "2026-11-01", ""),
        ("VAL-2026-005", "card_fraud", "low", "soon", ""),
        ("VAL-2026-006", "card_fraud", "low", "2026-11-01", ", description: ''"),
        ("VAL-2026-002", "card_fraud", "low", "2026-11-01", ""),  # twice in the file
        ("VAL-2026-007", "card_fraud", "low", "2026-11-01", ", colour: red"),
        ("VAL-2026-008", "credit_line", "low", "2026-11-01", ""),  # not this model's validator
        ("val-8", "card_fraud", "low", "2026-11-01", ""),
    )))  # fmt: skip
    with pytest.raises(FindingsImportError) as bad:
        register.import_file(any_history, inventory, VALIDATOR, path)
    where = f"{path}: row"
    assert bad.value.lines() == [
        f"{where} 2: id: VAL-2026-001 is already in the register or the file",
        f"{where} 3: model: 'nope' is not in the inventory (models: aml_alert, card_fraud, credit_line)",
        f"{where} 4: severity: 'urgent' is not one of high, medium, low",
        f"{where} 5: due: 'soon' is not a date; use YYYY-MM-DD",
        f"{where} 6: description: missing",
        f"{where} 7: id: VAL-2026-002 is already in the register or the file",
        f"{where} 8: colour: not a column; the columns are id, model, severity, due, description, owner, "
        "plan, evidence",
        f"{where} 9: model: model-validation@example.com may not add finding VAL-2026-008 (model "
        "credit_line): they are no role there, and this needs the model's validator or a member of the "
        "model risk team (the entry's validator, roles in _policy.yaml)",
        f"{where} 10: id: 'val-8' is not a finding id: use upper-case letters, digits and dashes, e.g. "
        "VAL-2026-001",
        f"{path}: nothing was recorded; fix the rows above and import again",
    ]
    assert state(any_history) == [("VAL-2026-001", "open")]


@pytest.mark.parametrize(
    "name, text, line",
    [
        ("f.txt", "x", "give a .csv, .yaml or .yml file"),
        ("f.yaml", "a: [", "not valid YAML"),
        ("f.yaml", "just text", "expected a list of findings"),
        ("f.csv", "id,model\n", "holds no findings"),
    ],
)
def test_an_unreadable_file_is_one_line(any_history, inventory, tmp_path, name, text, line):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(FindingsImportError, match=line):
        register.import_file(any_history, inventory, VALIDATOR, path)
