"""The words of a ticket: the one ticket template and the comments of its later events. Plain text;
channels render it (Jira ADF, Slack blocks, e-mail HTML). The alerts' words are in
:mod:`mrm.notify.messages`."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mrm.inventory import ModelEntry

NEXT_STEPS = {
    "quality": (
        "Check the scoring-log feed for the affected column and date with the data owner; fix or "
        "re-export the data, then clear the Airflow run for this date to re-check it."
    ),
    "drift": (
        "Open the drift report; decide whether the population change is expected (new market, product "
        "change) or a data problem. If expected, record the rationale on this ticket; a new reference "
        "window needs the validator's sign-off."
    ),
    "performance": (
        "Review the performance evidence with the validator; if discrimination or calibration has "
        "fallen, consider restricting use of the model, recalibrating or redeveloping it."
    ),
    "run": (
        "Fix the input named above (file, column or partition), then clear the failed task in Airflow "
        "to rerun the date; no controls were evaluated for it."
    ),
    "governance": (
        "Update the inventory entry or the evidence it points to (validation report, approval, "
        "owner); the finding clears on the next governance run."
    ),
}


def one_line(text: str) -> str:
    """``text`` fit for one header line (a Subject, a title): CR, LF, tabs, every other control character
    (Unicode category Cc) and every other whitespace (NEL, the line and paragraph separators U+2028 and
    U+2029, ...) become a space; runs of spaces collapse. Values from data (a segment value, a column
    name) can hold any of them."""
    cleaned = "".join(" " if _breaks_a_line(ch) else ch for ch in str(text))
    return re.sub(r" {2,}", " ", cleaned).strip()


def _breaks_a_line(ch: str) -> bool:
    return (ch.isspace() and ch != " ") or unicodedata.category(ch) in ("Cc", "Zl", "Zp")


def number(value: float | None) -> str:
    """A value as people read it: 4 significant digits, or n/a."""
    return "n/a" if value is None else f"{value:.4g}"


def trend_line(points: list[tuple[date, float | None, str]]) -> str:
    """'09-27 0.04 · 09-28 0.12 (AMBER) · 09-29 0.31 (RED)', oldest first."""
    parts = []
    for day, value, status in points:
        mark = f" ({status})" if status in ("AMBER", "RED", "ACCEPTED") else ""
        parts.append(f"{day:%m-%d} {number(value)}{mark}")
    return " · ".join(parts) or "no earlier values"


def ticket_text(
    model: ModelEntry,
    *,
    control: str,
    check: str,
    column: str | None,
    segment: str | None,
    severity: str,
    value: float | None,
    amber: float | None,
    red: float | None,
    logical_date: date,
    run_id: str,
    trend: list[tuple[date, float | None, str]],
    links: dict[str, str],
    detail: str | None = None,
) -> str:
    """The one ticket template: what breached, value vs thresholds, trend, run, links, next step."""
    where = ", ".join(
        p for p in (f"column {column}" if column else "", f"segment {segment}" if segment else "") if p
    )
    thresholds = (
        f" (amber {number(amber)}, red {number(red)})" if amber is not None or red is not None else ""
    )
    lines = [
        f"What breached: {control} of {model.name} ({model.model_id} v{model.version}, "
        f"risk tier {model.risk_tier}){f', {where}' if where else ''}",
        f"Value: {number(value)}{thresholds}: {severity}",
    ]
    if detail:
        lines.append(f"Detail: {detail}")
    lines += [
        f"Trend (last {len(trend)} runs): {trend_line(trend)}",
        f"Run: {run_id or 'n/a'}, logical date {logical_date}",
        *(f"{name}: {url}" for name, url in links.items()),
        f"Model owner: {model.owner}",
        f"Next step: {NEXT_STEPS.get(check, NEXT_STEPS['quality'])}",
    ]
    return "\n".join(lines)


def event_comment(
    kind: str, *, control: str, value: float | None, logical_date: date, run_id: str, text: str | None = None
) -> str:
    """The comment a ticket gets for a later event."""
    if kind == "occurrence":
        head = f"Breached again on {logical_date}: {control} = {number(value)} (run {run_id})."
        return f"{head}\n\n{text}" if text else head
    if kind == "returned_to_green":
        return (
            f"Returned to green on {logical_date}: {control} = {number(value)} (run {run_id}). "
            "The ticket stays open: close it with `mrm tickets close ID --reason ...` once the cause is "
            "understood."
        )
    return text or f"{kind} on {logical_date}"
