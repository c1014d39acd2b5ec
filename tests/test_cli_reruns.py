"""Reruns from the command line need a reason; a forged GREEN rerun of a RED day is flagged in `mrm audit
verify` and `mrm history`; the CLI records the OS user, not what LOGNAME or --by claim."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta

from mrm.cli import main
from mrm.controls import GREEN, Evaluated
from mrm.core.results import MetricResult
from mrm.store import HistoryStore, RunRecord, chain

RED_DAY = "2026-09-25"  # card_fraud: device_score null for Dutch events, RED
MARK = "(os user, not authenticated by Airflow)"
FORGED_BY = f"airflow:mrm_monitor__card_fraud/scheduled__{RED_DAY}T00:00:00+00:00/try1"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def os_user() -> str:
    """The name of the real uid, as the OS (not the environment) says."""
    return subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()


def store() -> HistoryStore:
    from mrm import wiring

    return wiring.get_store()


def counts() -> tuple[int, int, int]:
    s = store()
    return len(s.runs(kind=None)), len(s.metrics(all_runs=True)), chain.verify(s.engine)[2]


def forge_green_rerun(real: dict) -> str:
    """What an insider with the app's credentials (INSERT rights) would write: a GREEN copy of the RED day,
    every metric GREEN, claimed to come from an Airflow retry, through the code's own record_run."""
    attacker = HistoryStore(store().url)
    metrics = attacker.metrics(run_id=real["run_id"])
    attacker.record_run(
        RunRecord(
            run_id="f" * 32,
            model_id=real["model_id"],
            model_version=real["model_version"],
            logical_date=real["logical_date"],
            status="completed",
            overall_status=GREEN,
            started_at=real["started_at"],
            finished_at=datetime.now(UTC) + timedelta(seconds=1),
            triggered_by=FORGED_BY,
            inventory_hash=real["inventory_hash"],
            row_count=real["row_count"],
        ),
        [
            Evaluated(
                MetricResult(m["check"], m["metric"], m["column"], m["value"], segment=m["segment"]),
                m["amber_threshold"],
                m["red_threshold"],
                GREEN,
            )
            for m in metrics
        ],
    )
    attacker.engine.dispose()
    return "f" * 32


def test_a_cli_rerun_without_a_reason_is_refused_and_writes_nothing(capsys, mrm_home, file_inventory):
    assert main(["run", "--model", "card_fraud", "--date", RED_DAY]) == 0
    capsys.readouterr()
    (first,) = store().runs("card_fraud")
    before = counts()

    for extra in ([], ["--reason", "  "]):
        code, out, err = run(capsys, "run", "--model", "card_fraud", "--date", RED_DAY, *extra)

        assert (code, out) == (2, "")
        assert err == (
            f"mrm: error: card_fraud already has a run for {RED_DAY} (run {first['run_id']}, RED, by "
            f"cli:{os_user()} {MARK}); a rerun replaces it in the history: give --reason 'why'\n"
        )
        assert counts() == before


def test_a_cli_rerun_with_a_reason_records_it_and_what_it_replaced(capsys, mrm_home, file_inventory):
    assert main(["run", "--model", "card_fraud", "--date", RED_DAY]) == 0
    capsys.readouterr()
    (first,) = store().runs("card_fraud")

    code, out, err = run(
        capsys,
        "run",
        "--model",
        "card_fraud",
        "--date",
        RED_DAY,
        "--reason",
        "vendor re-delivered the NL feed",
    )

    assert code == 0, err
    second = next(r for r in store().runs("card_fraud") if r["run_id"] != first["run_id"])
    assert out.splitlines()[0] == (
        f"card_fraud {RED_DAY}: RED (run {second['run_id']}; a rerun replacing run {first['run_id']})"
    )
    assert (second["supersedes"], second["rerun_reason"]) == (
        first["run_id"],
        "vendor re-delivered the NL feed",
    )
    assert (first["supersedes"], first["rerun_reason"]) == (None, None)
    assert second["triggered_by"] == f"cli:{os_user()} {MARK}"
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "flag:" not in out  # RED again: nothing to flag


def test_a_forged_green_rerun_of_a_red_day_is_flagged_by_verify_and_history(capsys, mrm_home, file_inventory):
    assert main(["run", "--model", "card_fraud", "--date", RED_DAY]) == 0
    capsys.readouterr()
    (real,) = store().runs("card_fraud")
    code, out, _ = run(capsys, "audit", "verify")
    assert code == 0 and "flag:" not in out  # an untouched history has no flag

    forged = forge_green_rerun(real)

    flag = (
        f"flag: card_fraud {RED_DAY} monitoring: run {forged} replaced run {real['run_id']}: rerun turned "
        f"RED into GREEN — reason: none given by {FORGED_BY}"
    )
    code, out, err = run(capsys, "audit", "verify")
    assert code == 0, err  # the chain is intact (a flag is not a chain problem): the exit code is unchanged
    lines = out.splitlines()
    assert lines[0] == flag and "chain of" in lines[1] and "intact" in lines[1]

    code, out, err = run(capsys, "history", "--model", "card_fraud")
    assert code == 0 and out.splitlines()[-1] == flag
    assert "RED" not in "".join(out.splitlines()[:-1])  # the forged run hides the RED: the flag shows it

    code, out, err = run(capsys, "history", "--model", "card_fraud", "--format", "json")
    assert code == 0 and json.loads(out) and err == flag + "\n"  # json stays machine-readable


def test_tickets_close_records_the_os_user_whatever_logname_says(
    capsys, mrm_home, file_inventory, monkeypatch
):
    """Finding 20's attack: LOGNAME and USER set to someone with the authority to close."""
    assert main(["run", "--model", "card_fraud", "--date", RED_DAY]) == 0
    capsys.readouterr()
    monkeypatch.setenv("LOGNAME", "head-of-model-risk")
    monkeypatch.setenv("USER", "head-of-model-risk")

    code, out, err = run(capsys, "tickets", "close", "MRM-1", "--reason", "accepted risk")

    closer = f"cli:{os_user()} {MARK}"
    assert (code, out, err) == (0, f"MRM-1 closed by {closer}: accepted risk (cause other)\n", "")
    assert os_user() != "head-of-model-risk"
    code, out, _ = run(capsys, "tickets", "--status", "closed", "--format", "json")
    assert json.loads(out)[0]["closed_by"] == closer


def test_by_is_kept_only_as_on_behalf_of_after_the_os_user(capsys, mrm_home, file_inventory):
    assert main(["run", "--model", "card_fraud", "--date", RED_DAY]) == 0
    capsys.readouterr()

    code, out, _ = run(capsys, "tickets", "close", "MRM-1", "--reason", "ok", "--by", "head-of-model-risk")

    assert (code, out) == (
        0,
        f"MRM-1 closed by cli:{os_user()} {MARK} on behalf of head-of-model-risk: ok (cause other)\n",
    )


def test_purge_records_the_os_user(capsys, mrm_home, file_inventory, monkeypatch):
    from mrm.store import schema

    monkeypatch.setenv("LOGNAME", "auditor")
    assert main(["run", "--model", "card_fraud", "--date", RED_DAY]) == 0
    code, _, err = run(capsys, "purge", "--before", "2000-01-01", "--break-glass")
    assert code == 0, err
    with store().engine.connect() as conn:
        (by,) = conn.execute(schema.purges.select().with_only_columns(schema.purges.c.purged_by)).scalars()
    assert by == f"cli:{os_user()} {MARK}"
