"""The reason a monitoring run records: none for the first Airflow run of a day; for a second DAG run of the
date the conf's reason (the DAG passes ``mrm.airflow.dag.rerun_reason``), else its run and try; a run that
cannot complete records it too."""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

import pytest

from mrm.airflow.dag import rerun_reason
from mrm.errors import MrmError

DAG = "mrm_monitor__card_fraud"
FIRST = f"airflow:{DAG}/scheduled__2026-09-25T00:00:00+00:00/try1"
AGAIN = f"airflow:{DAG}/manual__2026-10-01T08:00:00+00:00/try1"


def test_the_conf_reason_of_a_dag_run_is_read_and_kept_on_one_line():
    ctx = lambda conf: {"dag_run": SimpleNamespace(conf=conf)}  # noqa: E731  # Airflow's context: dag_run.conf
    assert rerun_reason(ctx({"reason": "  labels\ncorrected  "})) == "labels corrected"
    assert rerun_reason(ctx({})) is None and rerun_reason(ctx(None)) is None
    assert rerun_reason(ctx({"reason": ""})) is None and rerun_reason({}) is None


def test_airflow_reruns_record_the_conf_reason_or_their_run_and_try(mrm_home, file_inventory):
    from mrm import pipeline

    day = date(2026, 9, 25)
    first = pipeline.run_model("card_fraud", day, FIRST)
    given = pipeline.run_model("card_fraud", day, AGAIN, "vendor re-delivered the NL feed")
    retry = pipeline.run_model("card_fraud", day, AGAIN.replace("try1", "try2"))

    store = pipeline.get_store()
    got = [
        (store.run(r["run_id"])["supersedes"], store.run(r["run_id"])["rerun_reason"])
        for r in (first, given, retry)
    ]
    assert got == [
        (None, None),
        (first["run_id"], "vendor re-delivered the NL feed"),
        (given["run_id"], f"Airflow {DAG}/manual__2026-10-01T08:00:00+00:00 try 2"),
    ]


def test_a_rerun_that_cannot_complete_records_its_reason(mrm_home, file_inventory):
    from mrm import pipeline

    day = date(2026, 10, 3)  # credit_line has no scoring log for this day
    with pytest.raises(MrmError):
        pipeline.run_model("credit_line", day, f"airflow:mrm_monitor__credit_line/scheduled__{day}/try1")
    with pytest.raises(MrmError):
        pipeline.run_model("credit_line", day, f"airflow:mrm_monitor__credit_line/scheduled__{day}/try2")

    first, second = pipeline.get_store().runs("credit_line")
    assert (first["rerun_reason"], first["supersedes"]) == (None, None)
    assert second["supersedes"] == first["run_id"]
    assert second["rerun_reason"] == f"Airflow mrm_monitor__credit_line/scheduled__{day} try 2"
