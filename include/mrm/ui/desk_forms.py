"""The desk's forms: plain HTML (``<details>`` to open one, no script needed), each posting to its route
with the hidden token (:mod:`mrm.ui.csrf`). Only the acts the rules let the person take are drawn
(:func:`mrm.ticketing.review.available`); the routes check again."""

from __future__ import annotations

from datetime import date, timedelta

from mrm.store.schema import CAUSES
from mrm.ui.csrf import FIELD
from mrm.ui.html import e

# act -> (URL segment, button text)
ACTS = {
    "acknowledge": ("acknowledge", "Acknowledge"),
    "comment": ("comment", "Comment"),
    "propose_close": ("propose-close", "Propose closure"),
    "close": ("close", "Close"),
    "accept_risk": ("accept", "Accept the risk"),
}
BY_SEGMENT = {segment: act for act, (segment, _) in ACTS.items()}
CAUSE_LABELS = {
    "data_issue": "data issue",
    "model_issue": "model issue",
    "false_positive": "false positive",
    "accepted": "accepted",
    "other": "other",
}


def _token(token: str) -> str:
    return f'<input type="hidden" name="{FIELD}" value="{e(token)}">'


def _text(name: str, label: str, placeholder: str = "") -> str:
    return (
        f'<label>{e(label)}<textarea name="{name}" rows="3" required placeholder="{e(placeholder)}">'
        "</textarea></label>"
    )


def _date(name: str, label: str, low: date, high: date | None = None) -> str:
    top = f' max="{high.isoformat()}"' if high else ""
    return f'<label>{e(label)}<input type="date" name="{name}" required min="{low.isoformat()}"{top}></label>'


def _causes() -> str:
    options = "".join(f'<option value="{c}">{e(CAUSE_LABELS[c])}</option>' for c in CAUSES)
    return f'<label>Cause<select name="cause" required>{options}</select></label>'


def _fields(act: str, today: date, max_days: int) -> str:
    if act == "acknowledge":
        return _text("comment", "What will be done", "first response") + _date(
            "action_date", "Planned action date", today
        )
    if act == "comment":
        return _text("comment", "Comment", "root cause, actions taken")
    if act in ("propose_close", "close"):
        return _text("comment", "Rationale", "why it can be closed") + _causes()
    # accept_risk
    return (
        _text("comment", "Rationale", "why the risk is accepted")
        + _date("until", "Accepted until", today + timedelta(days=1), today + timedelta(days=max_days))
        + '<label>Conditions (one per line)<textarea name="conditions" rows="2"></textarea></label>'
    )


def ticket_forms(
    base: str, ticket_id: int, acts: list[str], token: str, today: date, max_days: int, proposal: str = ""
) -> str:
    """The forms of ``acts`` for one ticket; ``proposal``: the open closure proposal's text, shown in
    the close form (which then confirms it)."""
    out = []
    for act in acts:
        segment, label = ACTS[act]
        if act == "close" and proposal:
            label = "Confirm closure"
        note = f'<p class="small muted">Proposed: {e(proposal)}</p>' if act == "close" and proposal else ""
        out.append(
            f'<details class="act" data-act="{act}"><summary>{e(label)}</summary>'
            f'<form class="act" method="post" action="{e(base)}/tickets/{ticket_id}/{segment}">'
            f"{note}{_token(token)}{_fields(act, today, max_days)}"
            f'<button type="submit">{e(label)}</button></form></details>'
        )
    return f'<div class="acts">{"".join(out)}</div>' if out else ""


def attest_form(base: str, day: date, model_id: str | None, token: str) -> str:
    """Sign off the review of ``day`` for one model or (``model_id`` None) the portfolio."""
    what = f"model {model_id}" if model_id else "the portfolio"
    model = f'<input type="hidden" name="model_id" value="{e(model_id)}">' if model_id else ""
    return (
        f'<details class="act" data-act="attest"><summary>Attest the review of {day} for {e(what)}</summary>'
        f'<form class="act" method="post" action="{e(base)}/attest">{_token(token)}{model}'
        f'<input type="hidden" name="day" value="{day.isoformat()}">'
        + _text("comment", "Comment", "what was reviewed, what was challenged")
        + f'<button type="submit">Attest {day}</button></form></details>'
    )
