"""The persistence rule (AMBER for N runs in a row becomes RED) and the monotony of the RAG thresholds."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrm import controls
from mrm.controls import ACCEPTED, AMBER, GREEN, INFO, INSUFFICIENT, RED, SEVERITY, Evaluated
from mrm.core.results import MetricResult

PSI_AMOUNT = "drift.psi[amount]"


def evaluated(status: str, metric: str = "psi", column: str | None = "amount", **kw) -> Evaluated:
    result = MetricResult("drift", metric, column, 0.17, {"method": "mrm_psi"}, **kw)
    return Evaluated(result, 0.10, 0.25, status)


def escalate_one(status: str, before: list[str], runs_to_red: int | None = 3) -> Evaluated:
    [out] = controls.escalate([evaluated(status)], {PSI_AMOUNT: before}, runs_to_red)
    return out


# -- the persistence rule ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "before",
    [[AMBER, AMBER], [RED, AMBER], [AMBER, RED], [RED, RED], [AMBER, AMBER, GREEN, GREEN]],
    ids=["amber-amber", "red-amber", "amber-red", "red-red", "older-greens-ignored"],
)
def test_amber_after_two_amber_or_red_runs_escalates_to_red(before):
    out = escalate_one(AMBER, before)

    assert out.status == RED
    assert out.result.detail == {
        "method": "mrm_psi",
        "escalated": "AMBER for 3 runs in a row: escalated to RED",
    }
    assert (out.amber, out.red, out.result.value, out.control) == (0.10, 0.25, 0.17, PSI_AMOUNT)


@pytest.mark.parametrize(
    "before",
    [[], [AMBER], [GREEN, AMBER], [AMBER, GREEN], [INSUFFICIENT, AMBER], [AMBER, INFO], [ACCEPTED, RED],
     [AMBER, ACCEPTED]],
    ids=["no-history", "one-run-only", "green-last-run", "green-in-between", "insufficient", "info",
         "accepted-last-run", "accepted-before"],
)  # fmt: skip
def test_amber_without_an_unbroken_amber_or_red_chain_stays_amber(before):
    out = escalate_one(AMBER, before)

    assert out.status == AMBER
    assert "escalated" not in out.result.detail


@pytest.mark.parametrize("now", [GREEN, RED, INSUFFICIENT, INFO])
def test_only_an_amber_status_is_escalated(now):
    out = escalate_one(now, [AMBER, AMBER, AMBER])

    assert out.status == now
    assert "escalated" not in out.result.detail


def test_two_runs_to_red_needs_one_preceding_amber_or_red():
    assert escalate_one(AMBER, [AMBER], runs_to_red=2).status == RED
    assert escalate_one(AMBER, [RED, GREEN], runs_to_red=2).status == RED
    assert escalate_one(AMBER, [GREEN, AMBER], runs_to_red=2).status == AMBER
    detail = escalate_one(AMBER, [AMBER], runs_to_red=2).result.detail
    assert detail["escalated"] == "AMBER for 2 runs in a row: escalated to RED"


def test_five_runs_to_red_needs_four_preceding_runs():
    assert escalate_one(AMBER, [AMBER] * 3, runs_to_red=5).status == AMBER
    assert escalate_one(AMBER, [AMBER, RED, AMBER, AMBER], runs_to_red=5).status == RED
    assert escalate_one(AMBER, [AMBER, RED, GREEN, AMBER], runs_to_red=5).status == AMBER


@pytest.mark.parametrize("runs_to_red", [None, 0])
def test_without_a_persistence_rule_nothing_escalates(runs_to_red):
    before = [evaluated(AMBER), evaluated(AMBER, column="tenure")]
    history = {PSI_AMOUNT: [AMBER] * 5, "drift.psi[tenure]": [RED] * 5}

    assert controls.escalate(before, history, runs_to_red) == before


def test_history_counts_per_control_instance_including_its_segment():
    now = [
        evaluated(AMBER),
        evaluated(AMBER, column="tenure"),
        evaluated(AMBER, segment="region=north"),
        evaluated(AMBER, segment="region=south"),
    ]
    history = {
        PSI_AMOUNT: [AMBER, AMBER],
        "drift.psi[tenure]": [GREEN, GREEN],
        "drift.psi[amount]{region=north}": [RED, AMBER],
    }

    out = controls.escalate(now, history, 3)

    assert [e.control for e in out] == [e.control for e in now]
    assert [e.status for e in out] == [RED, AMBER, RED, AMBER]


def test_escalation_leaves_the_input_unchanged():
    original = evaluated(AMBER)

    escalated = controls.escalate([original], {PSI_AMOUNT: [AMBER, AMBER]}, 3)

    assert escalated[0].status == RED
    assert original.status == AMBER
    assert original.result.detail == {"method": "mrm_psi"}


STATUSES = st.sampled_from([GREEN, AMBER, RED, INSUFFICIENT, INFO])


@settings(max_examples=200, deadline=None)
@given(
    now=st.lists(STATUSES, min_size=1, max_size=6),
    history=st.lists(st.lists(STATUSES, max_size=6), min_size=6, max_size=6),
    runs_to_red=st.integers(2, 5),
)
def test_property_escalation_only_turns_amber_into_red_and_keeps_the_order(now, history, runs_to_red):
    before = [evaluated(s, column=f"c{i}") for i, s in enumerate(now)]
    previous = {e.control: h for e, h in zip(before, history, strict=False)}

    after = controls.escalate(before, previous, runs_to_red)

    assert [e.control for e in after] == [e.control for e in before]
    for b, a in zip(before, after, strict=True):
        chain = previous[b.control][: runs_to_red - 1]
        expected = b.status == AMBER and len(chain) == runs_to_red - 1 and set(chain) <= {AMBER, RED}
        assert a.status == (RED if expected else b.status)
        assert ("escalated" in a.result.detail) == expected


# -- monotony of status_of -----------------------------------------------------------------------------

FINITE = st.floats(min_value=-1e9, max_value=1e9, allow_nan=False, allow_infinity=False)
VALUES = st.floats(allow_nan=False)  # includes ±inf


@settings(max_examples=300, deadline=None)
@given(t1=FINITE, t2=FINITE, v1=VALUES, v2=VALUES)
def test_property_higher_is_worse_status_never_improves_as_the_value_rises(t1, t2, v1, v2):
    amber, red = sorted((t1, t2))  # the inventory requires amber <= red for "above"
    low, high = sorted((v1, v2))

    s_low = controls.status_of(low, amber, red, "above")
    s_high = controls.status_of(high, amber, red, "above")

    assert SEVERITY[s_low] <= SEVERITY[s_high], (low, s_low, high, s_high)
    assert {s_low, s_high} <= {GREEN, AMBER, RED}


@settings(max_examples=300, deadline=None)
@given(t1=FINITE, t2=FINITE, v1=VALUES, v2=VALUES)
def test_property_lower_is_worse_status_never_improves_as_the_value_falls(t1, t2, v1, v2):
    red, amber = sorted((t1, t2))  # the inventory requires amber >= red for "below"
    low, high = sorted((v1, v2))

    s_low = controls.status_of(low, amber, red, "below")
    s_high = controls.status_of(high, amber, red, "below")

    assert SEVERITY[s_high] <= SEVERITY[s_low], (low, s_low, high, s_high)
    assert {s_low, s_high} <= {GREEN, AMBER, RED}


@pytest.mark.parametrize(("direction", "worst"), [("above", math.inf), ("below", -math.inf)])
def test_an_infinite_value_in_the_bad_direction_is_red(direction, worst):
    amber, red = (0.1, 0.25) if direction == "above" else (0.8, 0.6)

    assert controls.status_of(worst, amber, red, direction) == RED
    assert controls.status_of(-worst, amber, red, direction) == GREEN
