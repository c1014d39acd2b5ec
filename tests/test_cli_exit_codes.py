"""`mrm run` as a script sees it, through the real command in its own process: the exit code says
what became of the run, stderr holds one line per problem and never a traceback or a multi-line
warning."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support import REPO, local_inventory

from mrm.cli import HISTORY_COLUMNS, main


def mrm(*argv: str) -> subprocess.CompletedProcess:
    """The `mrm` command in a new process, on this test's MRM_HOME and MRM_INVENTORY."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "include"), str(REPO / "plugins")])}
    return subprocess.run(
        [sys.executable, "-m", "mrm.cli", *argv], env=env, capture_output=True, text=True, timeout=600
    )


def one_line_each(stderr: str) -> list[str]:
    """stderr's lines, each one of mrm's own (no traceback, no warning's source line, no log format)."""
    lines = stderr.splitlines()
    assert all(line.startswith(("mrm: warning: ", "mrm: error: ")) for line in lines), stderr
    return lines


def test_a_completed_green_run_exits_0_with_nothing_on_stderr(mrm_home, file_inventory):
    done = mrm("run", "--model", "aml_alert", "--date", "2026-09-02")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("aml_alert 2026-09-02: GREEN (run ")


def test_a_completed_red_run_exits_0(mrm_home, file_inventory):
    done = mrm("run", "--model", "card_fraud", "--date", "2026-09-25")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("card_fraud 2026-09-25: RED (run ")


def test_undelivered_notifications_exit_0_with_one_warning_line(mrm_home, tmp_path, demo_files, monkeypatch):
    """The shipped policy routes to Jira, e-mail, Slack and SNS; no Airflow connection is defined."""
    folder = local_inventory(tmp_path / "routed", demo_files, notifications=True)
    monkeypatch.setenv("MRM_INVENTORY", str(folder))
    done = mrm("run", "--model", "card_fraud", "--date", "2026-09-25")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("card_fraud 2026-09-25: RED (run ")
    (line,) = one_line_each(done.stderr)
    assert line.startswith("mrm: warning: ") and " notification(s) undelivered, e.g. " in line
    assert "no Airflow connection" in line and line.endswith("then `mrm outbox deliver`")


def test_a_missing_partition_exits_1_with_one_line(mrm_home, file_inventory):
    done = mrm("run", "--model", "credit_line", "--date", "2026-10-03")
    assert done.returncode == 1  # the matured cohort is still evaluated (mrm.outcomes): one line on stdout
    assert done.stdout.startswith("credit_line 2026-10-03 performance cohort ")
    assert done.stdout.count("\n") == 1
    assert one_line_each(done.stderr) == [
        "mrm: error: no scoring log partition for 2026-10-03 of model credit_line: nothing under "
        f"{_data_uri(file_inventory)}/scoring/credit_line/dt=2026-10-03/; "
        "check the upstream export, then rerun this date"
    ]


def _data_uri(inventory: Path) -> str:
    import yaml

    entry = yaml.safe_load((inventory / "credit_line.yaml").read_text())
    return entry["monitoring"]["scoring_log"].split("/scoring/")[0]


def test_a_rerun_without_a_reason_exits_2_with_one_line(mrm_home, file_inventory):
    assert mrm("run", "--model", "aml_alert", "--date", "2026-09-02").returncode == 0
    done = mrm("run", "--model", "aml_alert", "--date", "2026-09-02")
    assert (done.returncode, done.stdout) == (2, "")
    (line,) = one_line_each(done.stderr)
    assert line.startswith("mrm: error: aml_alert already has a run for 2026-09-02 (run ")
    assert line.endswith("a rerun replaces it in the history: give --reason 'why'")


def test_run_help_documents_the_exit_codes():
    done = mrm("run", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "exit codes: 0 the run completed and is recorded, whatever its status" in text
    assert "1 the run could not run" in text and "2 usage: a bad argument, or a rerun" in text


def test_values_near_float_max_give_one_line_warnings_and_no_traceback(
    mrm_home, tmp_path, demo_files, monkeypatch
):
    """numpy overflows on sums of values near 1.8e308 (a RuntimeWarning from inside numpy, Evidently
    and SciPy); whatever becomes of the run, stderr holds one line per problem."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    data = tmp_path / "data"
    shutil.copytree(Path(demo_files.removeprefix("file://")), data)
    (part,) = (data / "scoring" / "aml_alert" / "dt=2026-09-02").glob("*.parquet")
    table = pq.read_table(part)
    values = table["txn_count_30d"].to_pylist()
    values[:3] = [1.5e308] * 3
    column = table.column_names.index("txn_count_30d")
    pq.write_table(table.set_column(column, "txn_count_30d", pa.array(values, pa.float64())), part)
    monkeypatch.setenv("MRM_INVENTORY", str(local_inventory(tmp_path / "inventory", data.as_uri())))

    done = mrm("run", "--model", "aml_alert", "--date", "2026-09-02")

    lines = one_line_each(done.stderr)
    warnings = [line for line in lines if line.startswith("mrm: warning: RuntimeWarning: ")]
    assert "mrm: warning: RuntimeWarning: overflow encountered in reduce" in warnings
    assert len(warnings) == len(set(warnings))  # once per message
    assert done.returncode in (0, 1)
    errors = [line for line in lines if line.startswith("mrm: error: ")]
    assert len(errors) == (done.returncode == 1)  # could not run: one error line, and it says where
    if errors:
        assert errors[0].startswith("mrm: error: aml_alert 2026-09-02: run could not complete (")


# -- mrm history shows the dates that could not run ---------------------------------------------------
def test_history_shows_a_date_that_could_not_run_with_its_reason(capsys, mrm_home, file_inventory):
    assert main(["run", "--model", "credit_line", "--date", "2026-10-02"]) == 0
    assert main(["run", "--model", "credit_line", "--date", "2026-10-03"]) == 1  # no partition
    capsys.readouterr()

    assert main(["history", "--model", "credit_line", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert all(list(r) == HISTORY_COLUMNS for r in rows)
    (failed,) = [r for r in rows if r["status"] == "ERROR"]
    assert failed["logical_date"] == "2026-10-03" and failed["metric"] is None
    assert failed["reason"].startswith("read scoring log: no scoring log partition for 2026-10-03")
    # in date order, after 2026-10-02's metrics; 2026-10-03's matured cohort was evaluated all the same
    day2 = [r for r in rows if r["logical_date"] == "2026-10-03" and r is not failed]
    assert day2 and {r["check"] for r in day2} == {"performance"}
    dates = [r["logical_date"] for r in rows]
    assert dates == sorted(dates) and set(dates) == {"2026-10-02", "2026-10-03"}
    assert main(["history", "--model", "credit_line", "--format", "json", "--kind", "monitoring"]) == 0
    assert json.loads(capsys.readouterr().out)[-1] == failed

    assert main(["history", "--model", "credit_line", "--format", "csv"]) == 0
    import csv
    import io

    csv_rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [
        (r["logical_date"], r["status"], r["reason"][:17]) for r in csv_rows if r["status"] == "ERROR"
    ] == [("2026-10-03", "ERROR", "read scoring log:")]
    assert main(["history", "--model", "credit_line", "--since", "2026-10-03", "--kind", "monitoring"]) == 0
    header, line = capsys.readouterr().out.splitlines()
    assert header.split()[-2:] == ["status", "reason"]
    assert line.split()[:2] == ["credit_line", "2026-10-03"] and "ERROR" in line.split()
    assert line.split("ERROR", 1)[1].strip().startswith("read scoring log: no scoring log partition for")


def test_history_of_a_date_rerun_after_it_could_not_run_shows_the_rerun_unless_all_runs(
    capsys, mrm_home, file_inventory
):
    assert main(["run", "--model", "credit_line", "--date", "2026-10-03"]) == 1
    assert main(["run", "--model", "credit_line", "--date", "2026-10-03", "--reason", "again"]) == 1
    capsys.readouterr()
    monitoring = ["--format", "json", "--kind", "monitoring"]
    assert main(["history", "--model", "credit_line", *monitoring]) == 0
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["ERROR"]  # the current run only
    assert main(["history", "--model", "credit_line", *monitoring, "--all-runs"]) == 0
    assert [r["status"] for r in json.loads(capsys.readouterr().out)] == ["ERROR", "ERROR"]


@pytest.mark.parametrize("fmt", ["table", "csv", "json"])
def test_history_without_runs_prints_no_rows(capsys, mrm_home, file_inventory, fmt):
    assert main(["history", "--model", "credit_line", "--format", fmt]) == 0
    out = capsys.readouterr().out
    assert out == {"table": "(no rows)\n", "csv": ",".join(HISTORY_COLUMNS) + "\n", "json": "[]\n"}[fmt]


def test_output_piped_into_a_reader_that_stops_early_ends_quietly(mrm_home, file_inventory):
    """`mrm ... | head -1`: the reader closes the pipe after its first line; mrm stops with 141 (128 +
    SIGPIPE, as Unix tools do) and stderr holds nothing, never a BrokenPipeError traceback."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "include"), str(REPO / "plugins")])}
    code = "import sys; from mrm.cli import main; sys.stdin.readline(); sys.exit(main(sys.argv[1:]))"
    cmd = [sys.executable, "-c", code, "inventory", "list", "--format", "json"]
    child = subprocess.Popen(
        cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    child.stdout.close()  # the reader is gone before mrm writes a byte
    child.stdin.write(b"go\n")
    child.stdin.close()
    stderr = child.stderr.read().decode()
    child.stderr.close()
    assert child.wait(timeout=600) == 141, stderr
    assert stderr == ""
