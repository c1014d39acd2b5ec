"""An accepted risk (:func:`mrm.controls.accept`): an AMBER or RED control under an acceptance is
ACCEPTED, keeping the verdict it would have had and the act in its detail; other statuses, and controls
without an acceptance, stay as they are; the task log's table says until when."""

from __future__ import annotations

import pytest

from mrm import controls
from mrm.controls import ACCEPTED, AMBER, GREEN, INFO, INSUFFICIENT, RED, Evaluated
from mrm.core.results import MetricResult

PSI_AMOUNT = "drift.psi[amount]"
HELD = {PSI_AMOUNT: {"act_id": 7, "until": "2026-10-31", "by": "rev@example.com", "authenticated": "airflow"}}


def evaluated(status: str, column: str = "amount") -> Evaluated:
    value = None if status == INSUFFICIENT else 0.3
    return Evaluated(MetricResult("drift", "psi", column, value, {"method": "mrm_psi"}), 0.10, 0.25, status)


@pytest.mark.parametrize("verdict", [AMBER, RED])
def test_an_amber_or_red_control_under_an_acceptance_is_accepted_with_its_verdict(verdict):
    [out] = controls.accept([evaluated(verdict)], HELD)

    assert out.status == ACCEPTED
    assert out.result.detail == {"method": "mrm_psi", "accepted": {**HELD[PSI_AMOUNT], "verdict": verdict}}
    assert (out.amber, out.red, out.result.value, out.control) == (0.10, 0.25, 0.3, PSI_AMOUNT)
    assert controls.accepted_phrase(out.result.detail) == f"{verdict}, accepted until 2026-10-31"


@pytest.mark.parametrize("status", [GREEN, INSUFFICIENT, INFO])
def test_green_insufficient_data_and_info_stay_as_they_are(status):
    [out] = controls.accept([evaluated(status)], HELD)

    assert out.status == status and "accepted" not in out.result.detail


def test_only_the_accepted_control_changes():
    other = evaluated(RED, column="hour_of_day")
    held, kept = controls.accept([evaluated(RED), other], HELD)

    assert (held.status, kept.status) == (ACCEPTED, RED)
    assert kept is other
    assert controls.worst([held.status]) == ACCEPTED and controls.worst([held.status, kept.status]) == RED


def test_the_task_log_table_lists_accepted_after_amber_with_until_when():
    out = controls.accept([evaluated(RED), evaluated(GREEN, "tenure")], HELD)
    table = controls.render_controls([evaluated(AMBER, "country"), *out], "card_fraud 2026-10-02")

    lines = table.splitlines()[2:]
    assert [line.split()[0] for line in lines] == [AMBER, ACCEPTED, GREEN]
    assert lines[1].endswith("  RED, accepted until 2026-10-31")
