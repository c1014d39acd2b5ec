"""Controls: metric results + the inventory's thresholds -> GREEN / AMBER / RED (pure functions).

A metric without a control (in the inventory, its tier's policy, or :data:`mrm.metrics.DEFAULT_CONTROLS`)
is recorded with status INFO. A controlled metric that could not be
computed is INSUFFICIENT_DATA, never GREEN. An AMBER or RED control under a risk accepted for its model
and control (:func:`accept`, a reviewer's ``accept_risk`` act holding on the run's logical date) is
ACCEPTED: not GREEN, and not a breach (no ticket, no alert, not counted by the persistence rule).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from mrm import metrics
from mrm.core.results import MetricResult
from mrm.inventory import ModelEntry

GREEN, AMBER, RED, INFO, INSUFFICIENT = "GREEN", "AMBER", "RED", "INFO", "INSUFFICIENT_DATA"
ACCEPTED = "ACCEPTED"  # AMBER or RED, under a risk accepted until a date (detail["accepted"] says which)
SEVERITY = {GREEN: 0, INFO: 0, INSUFFICIENT: 1, ACCEPTED: 1, AMBER: 1, RED: 2}


@dataclass(frozen=True)
class Evaluated:
    result: MetricResult
    amber: float | None
    red: float | None
    status: str

    @property
    def control(self) -> str:
        """Stable name of the control instance, e.g. ``drift.psi[amount]``."""
        return self.result.key


def thresholds(entry: ModelEntry, metric: str, column: str | None) -> tuple[float, float] | None:
    control = entry.monitoring.controls.get(metric)
    if control is None:
        return metrics.DEFAULT_CONTROLS.get(metric)
    override = control.columns.get(column) if column else None
    chosen = override or control
    return chosen.amber, chosen.red


def status_of(value: float | None, amber: float, red: float, direction: metrics.Direction) -> str:
    if value is None or math.isnan(value):
        return INSUFFICIENT
    breached = (lambda t: value >= t) if direction == "above" else (lambda t: value <= t)
    if breached(red):
        return RED
    if breached(amber):
        return AMBER
    return GREEN


def evaluate(results: list[MetricResult], entry: ModelEntry) -> list[Evaluated]:
    out = []
    for r in results:
        limits = thresholds(entry, r.metric, r.column)
        if limits is None:
            out.append(Evaluated(r, None, None, INFO))
            continue
        amber, red = limits
        out.append(Evaluated(r, amber, red, status_of(r.value, amber, red, metrics.get(r.metric).direction)))
    return out


def worst(statuses: list[str]) -> str:
    """The overall RAG of a run: RED over AMBER over ACCEPTED over INSUFFICIENT_DATA over GREEN (a run
    whose only breaches are accepted is ACCEPTED)."""
    return next((s for s in (RED, AMBER, ACCEPTED, INSUFFICIENT) if s in statuses), GREEN)


def escalate(
    evaluated: list[Evaluated], previous: dict[str, list[str]], runs_to_red: int | None
) -> list[Evaluated]:
    """Persistence rule: a control AMBER now and AMBER or RED in each of the ``runs_to_red - 1``
    preceding runs becomes RED. ``previous[control]`` lists earlier statuses, most recent first."""
    if not runs_to_red:
        return evaluated
    out = []
    for e in evaluated:
        before = previous.get(e.control, [])[: runs_to_red - 1]
        if e.status == AMBER and len(before) == runs_to_red - 1 and all(s in (AMBER, RED) for s in before):
            note = f"AMBER for {runs_to_red} runs in a row: escalated to RED"
            result = replace(e.result, detail={**e.result.detail, "escalated": note})
            e = Evaluated(result, e.amber, e.red, RED)
        out.append(e)
    return out


def accept(evaluated: list[Evaluated], held: dict[str, dict]) -> list[Evaluated]:
    """Controls AMBER or RED under an accepted risk become ACCEPTED, keeping the verdict they would have
    had: ``held[control]`` is the acceptance holding on the run's date, ``{"act_id", "until" (ISO date),
    "by"}``, copied with ``verdict`` into ``detail["accepted"]``. Other statuses stay as they are."""
    out = []
    for e in evaluated:
        held_by = held.get(e.control)
        if held_by is not None and e.status in (AMBER, RED):
            accepted = {**held_by, "verdict": e.status}
            result = replace(e.result, detail={**e.result.detail, "accepted": accepted})
            e = Evaluated(result, e.amber, e.red, ACCEPTED)
        out.append(e)
    return out


def accepted_phrase(detail: dict | None) -> str:
    """``RED, accepted until 2026-10-31``: how people read an ACCEPTED control (notes, CLI)."""
    held = (detail or {}).get("accepted") or {}
    return f"{held.get('verdict', 'breached')}, accepted until {held.get('until', '?')}"


def render_controls(evaluated: list[Evaluated], title: str) -> str:
    """A readable table of the controls evaluated, worst first (for task logs and the CLI)."""
    order = {RED: 0, AMBER: 1, ACCEPTED: 2}
    rows = sorted(
        (e for e in evaluated if e.amber is not None), key=lambda e: (order.get(e.status, 3), e.control)
    )
    lines = [f"controls of {title}:", f"  {'status':<18}{'control':<52}{'value':>10}{'amber':>9}{'red':>9}"]
    for e in rows:
        value = "n/a" if e.result.value is None else f"{e.result.value:.4f}"
        held = f"  {accepted_phrase(e.result.detail)}" if e.status == ACCEPTED else ""
        lines.append(f"  {e.status:<18}{e.control:<52}{value:>10}{e.amber:>9g}{e.red:>9g}{held}")
    return "\n".join(lines)
