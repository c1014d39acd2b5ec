"""The matured cohort is evaluated without the logical date's scoring log: a day that cannot be read still
records its cohort's performance (a run of kind performance beside the failed monitoring run), and
``mrm backtest`` records every date of a range as a run of kind backtest, equal to what the monitoring
run's performance step records for the same cohort, for a retired model too, never ticketed."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import yaml

from mrm import outcomes, pipeline
from mrm.cli import main
from mrm.demo.data import day
from mrm.errors import MrmError
from mrm.store import chain, reads, reruns

PAST_THE_LOG = day(35)  # the test data has 34 days: card_fraud's 2026-10-05 has no partition
CREDIT_MISSING = day(33)  # credit_line's nightly export failed: no partition (mrm.demo.data)


def performance_rows(run_id: str) -> dict[str, dict]:
    return {r["metric"]: r for r in pipeline.get_store().metrics(run_id=run_id)}


def test_a_day_without_its_partition_records_its_matured_cohort(mrm_home, file_inventory):
    shown: list[dict] = []
    with pytest.raises(MrmError, match="no scoring log partition"):
        outcomes.run_day("card_fraud", PAST_THE_LOG, on_alone=shown.append)

    store = pipeline.get_store()
    runs = {r["kind"]: r for r in store.runs("card_fraud", kind=None)}
    assert set(runs) == {"monitoring", "performance"}
    assert runs["monitoring"]["status"] == "failed"  # quality and drift could not run: recorded so
    alone = runs["performance"]
    assert alone["status"] == "completed" and alone["logical_date"] == PAST_THE_LOG
    rows = performance_rows(alone["run_id"])
    assert {r["check"] for r in rows.values()} == {"performance"}
    assert rows["auc"]["value"] is not None and 0.5 < rows["auc"]["value"] < 1
    # the cohort: 21 days of label maturity, 7 days of cohort
    assert rows["auc"]["cohort_end"] == PAST_THE_LOG - timedelta(days=21)
    assert rows["auc"]["cohort_start"] == PAST_THE_LOG - timedelta(days=27)
    assert shown and shown[0]["run_id"] == alone["run_id"]
    assert "card_fraud 2026-10-05 performance cohort 2026-09-08..2026-09-14: auc 0." in outcomes.line(
        shown[0]
    )
    problems, _, _ = chain.verify(store.engine)
    assert problems == []


def test_a_missing_partition_inside_the_log_is_evaluated_too_and_shown_on_the_page(mrm_home, file_inventory):
    with pytest.raises(MrmError):
        outcomes.run_day("credit_line", CREDIT_MISSING)
    engine = pipeline.get_store().engine
    alone = reruns.current_run(engine, "credit_line", CREDIT_MISSING, "performance")
    assert alone is not None and alone["status"] == "completed"
    shown = reads.metrics(engine, "credit_line", CREDIT_MISSING)
    assert {r["run_id"] for r in shown} == {alone["run_id"]}  # the page charts the cohort of the day


def test_the_airflow_note_reads_the_monitoring_run_not_the_cohort_alone(mrm_home, file_inventory):
    trigger = "airflow:mrm_monitor__card_fraud/scheduled__2026-10-05T00:00:00+00:00/try1"
    with pytest.raises(MrmError):
        outcomes.run_day("card_fraud", PAST_THE_LOG, trigger)
    engine = pipeline.get_store().engine
    found = reads.airflow_run(engine, "mrm_monitor__card_fraud", "scheduled__2026-10-05T00:00:00+00:00")
    assert found["kind"] == "monitoring" and found["status"] == "failed"


def test_a_backtest_records_what_the_monitoring_run_records_for_the_same_cohort(
    mrm_home, file_inventory, capsys
):
    days = [day(30), day(31)]
    monitored = {d: pipeline.run_model("card_fraud", d)["run_id"] for d in days}
    tickets_before = len(reads.tickets(pipeline.get_store().engine, open_only=False))

    code = main(["backtest", "--model", "card_fraud", "--since", str(days[0]), "--until", str(days[-1])])
    out, err = capsys.readouterr()

    assert (code, err) == (0, "")
    head, *lines = out.splitlines()
    assert head.startswith(f"card_fraud: back-testing 2 date(s) {days[0]}..{days[-1]}, one line each")
    assert [ln.split()[1] for ln in lines[:2]] == [d.isoformat() for d in days]  # one line per date
    assert all(
        " backtest cohort " in ln and " auc 0." in ln and " gini " in ln and " ks " in ln for ln in lines[:2]
    )
    assert lines[2] == f"card_fraud: 2 of 2 dates back-tested ({days[0]}..{days[-1]})"
    store = pipeline.get_store()
    tested = store.runs("card_fraud", kind="backtest")
    assert [r["logical_date"] for r in tested] == days
    for run in tested:
        mine, theirs = performance_rows(run["run_id"]), performance_rows(monitored[run["logical_date"]])
        theirs = {k: v for k, v in theirs.items() if v["check"] == "performance"}
        assert set(mine) == set(theirs)
        for metric, row in theirs.items():
            assert mine[metric]["value"] == row["value"], metric
            assert (mine[metric]["cohort_start"], mine[metric]["cohort_end"]) == (
                row["cohort_start"], row["cohort_end"],
            )  # fmt: skip
            # a back-test has no persistence rule: an AMBER the monitoring run escalated stays AMBER
            assert mine[metric]["status"] == row["status"] or (mine[metric]["status"], row["status"]) == (
                "AMBER", "RED",
            ), metric  # fmt: skip
    # analysis: no ticket, and the monitoring runs stay current for their dates
    assert len(reads.tickets(store.engine, open_only=False)) == tickets_before
    assert {r["run_id"] for r in store.runs("card_fraud")} == set(monitored.values())
    problems, _, _ = chain.verify(store.engine)
    assert problems == []

    code = main(["history", "--model", "card_fraud", "--kind", "backtest", "--format", "json"])
    out, _ = capsys.readouterr()
    assert code == 0
    listed = json.loads(out)
    assert {r["run_id"] for r in listed} == {r["run_id"] for r in tested}
    main(["history", "--model", "card_fraud", "--format", "json"])
    default = json.loads(capsys.readouterr().out)
    assert {r["run_id"] for r in default} == set(monitored.values())  # back-tests are not in the default


def retire(folder, model_id: str) -> None:
    path = folder / f"{model_id}.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["status"] = "retired"
    raw["monitoring"]["enabled"] = False
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_a_retired_model_back_tests_past_its_log_and_reruns_say_why(mrm_home, file_inventory, capsys):
    from support import clear_caches

    retire(file_inventory, "aml_alert")
    clear_caches()
    since, until = day(33), day(36)  # 35 and 36: past the scoring log; the cohorts are in it

    code = main(["backtest", "--model", "aml_alert", "--since", str(since), "--until", str(until)])
    out, err = capsys.readouterr()

    assert (code, err) == (0, ""), out
    assert len(out.splitlines()) == 6  # what it is about to do, a line per date, the count
    store = pipeline.get_store()
    tested = store.runs("aml_alert", kind="backtest")
    assert [r["logical_date"] for r in tested] == [since + timedelta(days=n) for n in range(4)]
    assert all(r["status"] == "completed" and r["rerun_reason"] is None for r in tested)
    assert store.runs("aml_alert", kind="monitoring") == []  # retired: it is never monitored

    assert main(["backtest", "--model", "aml_alert", "--since", str(until), "--until", str(until)]) == 0
    again = reruns.current_run(store.engine, "aml_alert", until, "backtest")
    assert store.run(again["run_id"])["rerun_reason"] == f"back-test {until}..{until} again"
    assert chain.verify(store.engine)[0] == []


def test_backtest_usage_and_a_model_without_a_performance_plan(mrm_home, file_inventory, capsys):
    assert main(["backtest", "--model", "card_fraud", "--since", "2026-10-02", "--until", "2026-10-01"]) == 2
    assert "--since is after --until" in capsys.readouterr().err
    raw = yaml.safe_load((file_inventory / "credit_line.yaml").read_text())
    raw["monitoring"].pop("performance")  # allowed below tier 1
    raw["risk_tier"], raw["monitoring"]["controls"] = 3, {}
    (file_inventory / "credit_line.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    from support import clear_caches

    clear_caches()
    code = main(["backtest", "--model", "credit_line", "--since", "2026-10-01", "--until", "2026-10-01"])
    err = capsys.readouterr().err
    assert code == 1 and "credit_line has no monitoring.performance" in err
    assert err.count("\n") == 1


def test_the_cohort_alone_records_an_accepted_risk_as_accepted(mrm_home, file_inventory):
    from mrm.ticketing.desk import Actor, Desk

    with pytest.raises(MrmError):
        outcomes.run_day("card_fraud", PAST_THE_LOG)
    n = pipeline.notifier()
    (ticket,) = [t for t in n.tracker.tickets("card_fraud") if t["control"] == "performance.gini_drop"]
    Desk(pipeline.get_store(), n.inventory, n).accept(
        Actor("rev@example.com"), ticket["ticket_id"], "new pattern, retraining", PAST_THE_LOG + timedelta(1),
        today=PAST_THE_LOG,
    )  # fmt: skip

    with pytest.raises(MrmError):
        outcomes.run_day("card_fraud", PAST_THE_LOG + timedelta(1))

    alone = reruns.current_run(
        pipeline.get_store().engine, "card_fraud", PAST_THE_LOG + timedelta(1), "performance"
    )
    gini = performance_rows(alone["run_id"])["gini_drop"]
    assert (gini["status"], gini["detail"]["accepted"]["verdict"]) == ("ACCEPTED", "RED")
    assert [t for t in n.tracker.tickets("card_fraud") if t["control"] == "performance.gini_drop"] == []
