"""The run note's wording: each finding against the threshold it crossed, in the right direction."""

from __future__ import annotations

from mrm.airflow.run_notes import MAX_NOTE, _cut, _finding


def row(metric, column, value, amber, red, status, segment=None):
    return {"metric": metric, "column": column, "segment": segment, "value": value,
            "amber_threshold": amber, "red_threshold": red, "status": status}  # fmt: skip


def test_higher_is_worse_shows_the_red_limit_with_greater_than():
    assert _finding(row("psi", "amount", 0.3123, 0.1, 0.25, "RED")) == "psi(amount)=0.312 > 0.25"


def test_lower_is_worse_shows_less_than_and_amber_shows_the_amber_limit():
    assert _finding(row("volume_ratio", None, 0.47, 0.8, 0.6, "RED")) == "volume_ratio=0.47 < 0.6"
    assert _finding(row("label_coverage", None, 0.91, 0.95, 0.8, "AMBER")) == "label_coverage=0.91 < 0.95"


def test_segment_and_missing_values_are_shown():
    r = row("null_rate", "device_score", None, 0.05, 0.1, "RED", segment="country=NL")
    assert _finding(r) == "null_rate(device_score){country=NL}=n/a > 0.1"


def test_a_long_note_is_cut_to_airflows_limit():
    assert len(_cut("x" * 5000)) == MAX_NOTE and _cut("short") == "short"


def test_an_accepted_control_shows_its_verdict_limit_and_until_when():
    accepted = row("volume_ratio", None, 0.72, 0.8, 0.6, "ACCEPTED")
    accepted["detail"] = {"accepted": {"act_id": 3, "verdict": "AMBER", "until": "2026-10-31", "by": "rev"}}
    assert _finding(accepted) == "volume_ratio=0.72 < 0.8 (AMBER, accepted until 2026-10-31)"
    accepted["detail"]["accepted"]["verdict"] = "RED"
    assert _finding(accepted) == "volume_ratio=0.72 < 0.6 (RED, accepted until 2026-10-31)"
