"""Where breaches go: a breach (and the one way each kind is built), its ticket text, what filing it
did, and ticket priorities."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from mrm.controls import RED, Evaluated
from mrm.core.results import control_key
from mrm.inventory import ModelEntry
from mrm.notify import links as page_links
from mrm.notify import templates

# Jira's default priority scheme, lowest first; a RED ticket's priority follows the model's risk tier
# and is raised one step when it stays unresolved too long (escalation).
PRIORITIES = ("Lowest", "Low", "Medium", "High", "Highest")
_RED_BY_TIER = {1: "High", 2: "Medium", 3: "Low"}


def priority_for(severity: str, tier: int | None) -> str:
    if severity != "RED":
        return "Low"
    return _RED_BY_TIER.get(tier or 2, "Medium")


def raise_priority(priority: str | None) -> str:
    index = PRIORITIES.index(priority) if priority in PRIORITIES else PRIORITIES.index("Medium")
    return PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]


@dataclass(frozen=True)
class Breach:
    model_id: str
    owner: str
    control: str  # e.g. drift.psi[amount], quality.null_rate[device_score]{country=NL}, run.could_not_run
    check: str
    metric: str
    column: str | None
    severity: str  # RED | AMBER
    value: float | None
    amber: float | None
    red: float | None
    run_id: str
    logical_date: date
    message: str
    segment: str | None = None

    def title(self) -> str:
        return f"[{self.severity}] {self.model_id}: {self.control} breached on {self.logical_date}"


@dataclass(frozen=True)
class TicketAction:
    ticket_id: int
    key: str  # how people refer to it, e.g. MRM-12
    action: str  # opened | occurrence | already_recorded


# -- the three kinds of breach ------------------------------------------------------------------------
def breach_from(entry: ModelEntry, run_id: str, day: date, row: Mapping[str, Any]) -> Breach:
    """A RED control of a monitoring run: ``row`` is its metric row as the history holds it."""
    control = control_key(row["check"], row["metric"], row["column"], row["segment"])
    amber, red = row["amber_threshold"], row["red_threshold"]
    message = (
        f"{control} = {row['value']:.4g} on {day}"
        + (f" (amber {amber:g}, red {red:g})" if amber is not None and red is not None else "")
        + f"; run {run_id}"
    )
    return Breach(
        model_id=entry.model_id, owner=str(entry.owner), control=control, check=row["check"],
        metric=row["metric"], column=row["column"], severity=RED, value=row["value"], amber=amber, red=red,
        run_id=run_id, logical_date=day, message=message, segment=row["segment"],
    )  # fmt: skip


def could_not_run_breach(entry: ModelEntry, run_id: str, day: date, step: str, reason: str) -> Breach:
    """A monitoring run that could not complete (``step`` failed for ``reason``): no control was evaluated."""
    return Breach(
        model_id=entry.model_id, owner=str(entry.owner), control="run.could_not_run", check="run",
        metric="could_not_run", column=None, severity=RED, value=None, amber=None, red=None, run_id=run_id,
        logical_date=day, message=f"monitoring could not run ({step}): {reason}",
    )  # fmt: skip


def governance_breach(entry: ModelEntry, finding: Evaluated, run_id: str, day: date, owner: str) -> Breach:
    """A RED governance finding, owned by ``owner`` (the model risk team)."""
    detail = ", ".join(f"{k}: {v}" for k, v in finding.result.detail.items())
    return Breach(
        model_id=entry.model_id, owner=owner, control=finding.control, check="governance",
        metric=finding.result.metric, column=None, severity=RED, value=finding.result.value, amber=None,
        red=None, run_id=run_id, logical_date=day,
        message=f"governance finding {finding.result.metric} for {entry.model_id} on {day} "
        f"({detail}); model owner {entry.owner}, validator {entry.validator}",
    )  # fmt: skip


def ticket_text(
    entry: ModelEntry,
    breach: Breach,
    *,
    detail: str | None,
    trend: list[tuple[date, float | None, str]] | None = None,
    links: dict[str, str] | None = None,
) -> str:
    """The text of the breach's ticket (:func:`mrm.notify.templates.ticket_text`); it links the model's
    page whether or not ``links`` does (a run that could not complete has no evidence to link)."""
    links = page_links.with_model_page(links or {}, breach.model_id)
    return templates.ticket_text(
        entry, control=breach.control, check=breach.check, column=breach.column, segment=breach.segment,
        severity=breach.severity, value=breach.value, amber=breach.amber, red=breach.red,
        logical_date=breach.logical_date, run_id=breach.run_id, trend=trend or [], links=links,
        detail=detail,
    )  # fmt: skip
