"""The record step's log (the Airflow task log) ends with a readable table of the controls evaluated."""

from __future__ import annotations

import logging
from datetime import date

from mrm import pipeline


def test_the_record_step_logs_the_controls_table_worst_first(mrm_home, file_inventory, caplog):
    caplog.set_level(logging.INFO, logger="mrm.pipeline")
    pipeline.run_model("card_fraud", date(2026, 9, 5))  # the NL device-score incident: one RED

    (table,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("controls of card_fraud")]
    lines = table.splitlines()
    assert lines[0] == "controls of card_fraud 2026-09-05:"
    assert lines[1].split() == ["status", "control", "value", "amber", "red"]
    first = lines[2].split()
    assert first[:2] == ["RED", "quality.null_rate[device_score]{country=NL}"] and first[3:] == [
        "0.05",
        "0.1",
    ]
    statuses = [line.split()[0] for line in lines[2:]]
    assert statuses.index("GREEN") > max(i for i, s in enumerate(statuses) if s == "RED")  # worst first
    rows = {line.split()[1]: line.split() for line in lines[2:]}
    metric = next(
        m for m in pipeline.get_store().metrics("card_fraud")
        if m["metric"] == "psi" and m["column"] == "amount"
    )  # fmt: skip
    assert rows["drift.psi[amount]"][2] == f"{metric['value']:.4f}"  # the same number as the history


class _BrokenCheck:
    """A check with a bug: it raises something that is not an MrmError, with a multi-line message."""

    name = "drift"
    evidence_key = "drift_report"

    def compute(self, inputs):
        raise RuntimeError("boom\n  at line two\n" + "x" * 1000)


def test_a_bug_in_a_step_is_recorded_as_one_line_that_says_what_to_do(mrm_home, file_inventory, monkeypatch):
    import pytest

    from mrm.checks import base

    monkeypatch.setitem(base.CHECKS, "drift", _BrokenCheck())
    with pytest.raises(RuntimeError):  # re-raised: the task fails (Airflow retries it) with its traceback
        pipeline.run_model("card_fraud", date(2026, 9, 5))

    store = pipeline.get_store()
    (run,) = [r for r in store.runs("card_fraud") if r["status"] == "failed"]
    reason = run["reason"]
    assert "\n" not in reason and len(reason) < 450
    assert reason.startswith("drift: unexpected RuntimeError: boom at line two xxx")
    assert reason.endswith("…; the task log has the traceback: report it with the log, then rerun this date")
