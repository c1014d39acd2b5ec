"""The `mrm` command as a user runs it: exit codes, one-line errors, output formats."""

from __future__ import annotations

import io
import json

import pytest
from support import INVENTORY

from mrm.cli import HISTORY_COLUMNS, main


@pytest.fixture(autouse=True)
def _example_inventory(monkeypatch):
    """Every test starts from the example inventory (MRM_INVENTORY)."""
    monkeypatch.setenv("MRM_INVENTORY", str(INVENTORY))


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_inventory_validate_passes_on_the_examples(capsys):
    code, out, err = run(capsys, "inventory", "validate")
    assert code == 0, err
    assert "3 valid, 3 approved for monitoring, 0 problem(s)" in out


def test_the_inventory_option_wins_over_the_environment_for_that_command_only(capsys, tmp_path):
    (tmp_path / "card_fraud.yaml").write_text((INVENTORY / "card_fraud.yaml").read_text())
    (tmp_path / "_policy.yaml").write_text((INVENTORY / "_policy.yaml").read_text())
    code, out, _ = run(capsys, "inventory", "list", "--format", "json", "--inventory", str(tmp_path))
    assert code == 0 and [m["model_id"] for m in json.loads(out)] == ["card_fraud"]
    _, out, _ = run(capsys, "inventory", "list", "--format", "json")
    assert {m["model_id"] for m in json.loads(out)} == {"aml_alert", "card_fraud", "credit_line"}


def test_inventory_validate_lists_each_problem_and_exits_1(capsys, tmp_path):
    (tmp_path / "bad_model.yaml").write_text(
        "model_id: bad_model\nname: x\nversion: '1'\nowner: nobody\nrisk_tier: 4\n"
    )
    code, out, err = run(capsys, "inventory", "validate", "--inventory", str(tmp_path))
    assert code == 1
    lines = err.strip().splitlines()
    assert any("bad_model.yaml: owner:" in line for line in lines)
    assert any("bad_model.yaml: risk_tier:" in line and "4" in line for line in lines)
    assert any("bad_model.yaml: status:" in line for line in lines)
    assert any("bad_model.yaml: validator: Field required" in line for line in lines)
    assert "0 valid" in out


def test_run_completes_with_breach_and_exit_0(capsys, mrm_home, file_inventory):
    code, out, err = run(capsys, "run", "--model", "card_fraud", "--date", "2026-09-25")
    assert code == 0, err
    assert "card_fraud 2026-09-25: RED" in out
    assert "RED    quality.null_rate[device_score]" in out
    assert "ticket MRM-1: opened" in out
    from mrm import pipeline

    (run_row,) = pipeline.get_store().runs("card_fraud")
    assert (
        f"  rows: {run_row['row_count']:,} (every metric on all of them; the Evidently report and the GX "
        f"result drawn from a seeded sample of {min(run_row['row_count'], 50_000):,})"
    ) in out.splitlines()


def test_run_that_cannot_complete_exits_1_with_one_line(capsys, mrm_home, file_inventory):
    code, out, err = run(capsys, "run", "--model", "credit_line", "--date", "2026-10-03")
    # the day's log is missing, but the matured cohort's scores are in earlier partitions: its outcome
    # analysis is recorded as a run of kind performance, one line on stdout (mrm.outcomes)
    assert out.startswith("credit_line 2026-10-03 performance cohort 2026-08-30..2026-09-05: auc ")
    assert out.count("\n") == 1
    assert code == 1
    assert err.count("\n") == 1
    assert err.startswith("mrm: error: no scoring log partition for 2026-10-03")
    assert "credit_line/dt=2026-10-03/" in err and "rerun this date" in err


def test_run_of_unknown_model_names_the_known_ones(capsys, mrm_home, file_inventory):
    code, _, err = run(capsys, "run", "--model", "nope", "--date", "2026-09-01")
    assert code == 1
    assert "model 'nope' is not in the inventory" in err and "card_fraud" in err


def test_run_of_a_model_whose_entry_is_broken_says_what_is_wrong(capsys, mrm_home, file_inventory):
    path = file_inventory / "aml_alert.yaml"
    path.write_text(path.read_text().replace("risk_tier: ", "risk_tier: 7 #", 1))

    code, _, err = run(capsys, "run", "--model", "aml_alert", "--date", "2026-09-01")

    assert code == 1
    (line,) = err.strip().splitlines()
    assert line.startswith(f"mrm: model 'aml_alert' has an invalid inventory entry: {path}: risk_tier:")
    assert line.endswith("fix the file (`mrm inventory validate` lists every problem), then rerun")


def test_bad_date_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--model", "card_fraud", "--date", "25/09/2026"])
    assert exc.value.code == 2
    assert "use YYYY-MM-DD" in capsys.readouterr().err


def test_history_json_uses_the_documented_columns(capsys, mrm_home, file_inventory):
    assert main(["run", "--model", "card_fraud", "--date", "2026-09-01"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "history", "--model", "card_fraud", "--format", "json")
    assert code == 0
    rows = json.loads(out)
    assert rows and all(list(r) == HISTORY_COLUMNS for r in rows)
    psi = [r for r in rows if r["metric"] == "psi" and r["column"] == "amount"]
    assert len(psi) == 1 and psi[0]["status"] == "GREEN" and psi[0]["red_threshold"] == 0.25


def test_history_csv_and_table(capsys, mrm_home, file_inventory):
    assert main(["run", "--model", "aml_alert", "--date", "2026-09-02"]) == 0
    capsys.readouterr()
    _, csv_out, _ = run(capsys, "history", "--model", "aml_alert", "--format", "csv")
    assert csv_out.splitlines()[0] == ",".join(HISTORY_COLUMNS)
    _, table, _ = run(
        capsys, "history", "--model", "aml_alert", "--since", "2026-09-02", "--until", "2026-09-02"
    )
    assert "volume_ratio" in table and "2026-09-02" in table


def test_tickets_lists_open_tickets(capsys, mrm_home, file_inventory):
    for day in ("2026-09-25", "2026-09-26"):
        assert main(["run", "--model", "card_fraud", "--date", day]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "tickets", "--format", "json")
    assert code == 0
    (ticket,) = [t for t in json.loads(out) if t["control"] == "quality.null_rate[device_score]"]
    assert ticket["key"] == "MRM-1" and ticket["occurrences"] == 2
    assert ticket["control"] == "quality.null_rate[device_score]"


def test_baseline_suggest_prints_controls_that_validate_and_never_edits_the_inventory(
    capsys, mrm_home, file_inventory
):
    import yaml

    from mrm.inventory import Control, check_controls

    before = {p.name: p.read_text() for p in file_inventory.iterdir()}
    code, out, err = run(capsys, "baseline", "suggest", "--model", "card_fraud")
    assert code == 0, err
    controls = {k: Control.model_validate(v) for k, v in yaml.safe_load(out)["controls"].items()}
    check_controls(controls)  # amber/red in the right order for each metric's direction
    assert controls["psi"].amber >= 0.10 and controls["psi"].red >= 0.25  # never below the convention
    assert controls["volume_ratio"].red < controls["volume_ratio"].amber <= 0.8
    # the device_score null-rate proposal sits above the worst reference day (~1% nulls in the demo data)
    assert controls["null_rate"].columns["device_score"].amber > 0.01
    assert {p.name: p.read_text() for p in file_inventory.iterdir()} == before


def test_inventory_new_scaffolds_a_valid_proposed_entry_and_refuses_to_overwrite(capsys, tmp_path):
    code, out, _ = run(capsys, "inventory", "new", "--model-id", "churn_model", "--inventory", str(tmp_path))
    assert code == 0 and "churn_model.yaml: proposed entry written" in out
    text = (tmp_path / "churn_model.yaml").read_text()
    assert "validator: " in text and "must differ from developer and owner" in text  # fields explained
    code, out, err = run(capsys, "inventory", "validate", "--inventory", str(tmp_path))
    assert code == 0, err
    assert "1 valid, 0 approved for monitoring" in out

    code, _, err = run(capsys, "inventory", "new", "--model-id", "churn_model", "--inventory", str(tmp_path))
    assert code == 1 and "already exists; edit it instead" in err


def test_inventory_list_filters_and_formats(capsys):
    code, out, _ = run(capsys, "inventory", "list", "--tier", "1", "--format", "json")
    rows = json.loads(out)
    assert code == 0 and sorted(r["model_id"] for r in rows) == ["card_fraud", "credit_line"]
    assert all(r["status"] == "approved" and r["monitored"] is True for r in rows)
    _, csv_out, _ = run(capsys, "inventory", "list", "--status", "retired", "--format", "csv")
    assert csv_out.splitlines()[0].startswith("model_id,name,version,status,risk_tier")
    assert len(csv_out.splitlines()) == 1  # header only: no retired model


def test_inventory_show_prints_the_validated_entry_with_derived_fields(capsys):
    import yaml

    code, out, _ = run(capsys, "inventory", "show", "aml_alert")
    doc = yaml.safe_load(out)
    assert code == 0 and doc["model_id"] == "aml_alert"
    assert doc["monitoring"]["controls"]["volume_ratio"] == {
        "amber": 0.7,
        "red": 0.5,
        "columns": {},
    }  # tier 2
    assert doc["derived"]["validation_due"] == "2026-11-20" and len(doc["derived"]["inventory_hash"]) == 64


def test_audit_verify_passes_on_an_intact_history_and_names_an_edited_record(
    capsys, mrm_home, file_inventory
):
    assert main(["run", "--model", "aml_alert", "--date", "2026-09-02"]) == 0
    capsys.readouterr()
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "records intact; head " in out

    import sqlite3

    with sqlite3.connect(mrm_home / "history.db") as db:  # an edit behind mrm's back
        db.execute("UPDATE mrm_metrics SET value = 0 WHERE metric = 'score_psi'")
    code, _, err = run(capsys, "audit", "verify")
    assert code == 1
    first = err.splitlines()[0]
    assert first.startswith("mrm: chain entry ") and "(mrm_metrics " in first
    assert first.endswith("the record was edited after it was written")


def test_export_round_trips_in_csv_json_parquet_and_as_a_partitioned_dataset(
    capsys, mrm_home, file_inventory, tmp_path
):
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    from mrm import pipeline
    from mrm.evidence.export import COLUMNS, rows

    for day in ("2026-09-02", "2026-09-03"):
        assert main(["run", "--model", "aml_alert", "--date", day]) == 0
    assert (
        main(["run", "--model", "aml_alert", "--date", "2026-09-03", "--reason", "test"]) == 0
    )  # supersedes
    capsys.readouterr()
    expected = rows(pipeline.get_store(), None, None)
    assert len({r["run_id"] for r in expected}) == 3 and any(not r["current"] for r in expected)

    assert main(["export", "--to", str(tmp_path / "h.json")]) == 0
    assert json.loads((tmp_path / "h.json").read_text()) == expected
    assert main(["export", "--to", str(tmp_path / "h.parquet")]) == 0
    assert pq.read_table(tmp_path / "h.parquet").to_pylist() == expected
    assert main(["export", "--to", str(tmp_path / "h.csv"), "--since", "2026-09-03"]) == 0
    csv_lines = (tmp_path / "h.csv").read_text().splitlines()
    assert csv_lines[0] == ",".join(COLUMNS)
    assert len(csv_lines) - 1 == sum(r["logical_date"] == "2026-09-03" for r in expected)

    assert main(["export", "--to", str(tmp_path / "dataset") + "/"]) == 0
    out = capsys.readouterr().out
    assert "in 2 dt= partitions" in out and (tmp_path / "dataset" / "dt=2026-09-02").is_dir()
    back = ds.dataset(tmp_path / "dataset", format="parquet", partitioning="hive", exclude_invalid_files=True)
    read = sorted(
        back.to_table().drop_columns(["dt"]).to_pylist(),
        key=lambda r: (r["run_id"], r["metric"], str(r["column"]), str(r["segment"])),
    )
    assert read == sorted(
        expected, key=lambda r: (r["run_id"], r["metric"], str(r["column"]), str(r["segment"]))
    )
    ddl = (tmp_path / "dataset" / "athena_table.sql").read_text()
    assert (
        "CREATE EXTERNAL TABLE IF NOT EXISTS mrm_metrics_export" in ddl
        and "PARTITIONED BY (`dt` string)" in ddl
    )


def test_export_to_an_unknown_format_is_a_one_line_error(capsys, mrm_home, file_inventory, tmp_path):
    code, _, err = run(capsys, "export", "--to", str(tmp_path / "h.xlsx"))
    assert code == 1 and "use --format csv|json|parquet" in err


def test_evidence_pack_holds_the_period_with_a_manifest_of_hashes(capsys, mrm_home, file_inventory, tmp_path):
    import csv
    import hashlib
    import zipfile

    for day in ("2026-09-25", "2026-09-26", "2026-09-28"):
        assert main(["run", "--model", "card_fraud", "--date", day]) == 0
    capsys.readouterr()
    out = tmp_path / "pack.zip"
    code, text, err = run(capsys, "evidence-pack", "--model", "card_fraud", "--since", "2026-09-25",
                          "--until", "2026-09-26", "--out", str(out))  # fmt: skip
    assert code == 0, err
    assert "hash chain intact" in text

    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for path, digest in manifest["files"].items():
            assert hashlib.sha256(zf.read(path)).hexdigest() == digest
        runs = json.loads(zf.read("runs.json"))
        breaches = list(csv.DictReader(io.StringIO(zf.read("breaches.csv").decode())))
        names = zf.namelist()
    assert manifest["chain"]["intact"] is True
    assert sorted(r["logical_date"] for r in runs) == ["2026-09-25", "2026-09-26"]  # 09-28 is outside
    assert {b["metric"] for b in breaches} >= {"null_rate", "null_rate_increase"}
    assert all(e["matches"] for e in manifest["evidence_files"].values())
    assert any(n.endswith("/drift_report.html") for n in names) and "inventory_versions.json" in names
