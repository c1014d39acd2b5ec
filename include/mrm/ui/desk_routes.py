"""The desk's routes: a ticket's page with the acts the person may take, the POST of each act, and the
attestation of a day's review. Every POST needs Airflow's login (the app's dependencies), a valid form
token for that person (:mod:`mrm.ui.csrf`), read access to the model (else answered as unknown), the
auth manager's leave to change the model's DAG (:mod:`mrm.ui.acting`), and the role map's rules
(:mod:`mrm.ticketing.review`, checked by :class:`mrm.ticketing.desk.Desk`, the code the CLI calls too).
A recorded act redirects (303) to the ticket's page, which shows what was recorded; its mirrors are
delivered after the response (the outbox holds them until they are)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, date, datetime

from fastapi import APIRouter, BackgroundTasks, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mrm.errors import NotPermittedError, ReviewRefused, SegregationOfDutiesError, TicketNotFoundError
from mrm.inventory import Inventory
from mrm.store import HistoryStore
from mrm.store import acts as store_acts
from mrm.store import reads as queries
from mrm.store import tickets as store_tickets
from mrm.store.tickets import ticket_key
from mrm.ticketing import review, timeliness
from mrm.ticketing.desk import Actor, Desk, Recorded, describe, standing
from mrm.ticketing.tracker import BuiltinTracker
from mrm.ui import csrf, desk_forms, morning, ticket, timeliness_view
from mrm.ui.access import ModelAccess, may_read
from mrm.ui.acting import Acting
from mrm.ui.html import page
from mrm.ui.problem import HttpProblem, base_of

log = logging.getLogger(__name__)
MAX_TEXT = 4000  # characters of a comment or rationale
MAX_BODY = 64 * 1024  # bytes of a form


def today() -> date:
    return datetime.now(UTC).date()


async def form_of(request: Request) -> dict[str, str]:
    """The posted form's fields (the last value of each); a body too large is refused."""
    if int(request.headers.get("content-length") or 0) > MAX_BODY:
        raise HttpProblem(413, "Form too large", f"a form may hold at most {MAX_BODY // 1024} KB")
    data = await request.form()
    return {k: str(v) for k, v in data.items()}


def _text(form: dict[str, str], name: str) -> str:
    value = form.get(name, "")
    if len(value) > MAX_TEXT:
        raise HttpProblem(400, "Text too long", f"{name} may hold at most {MAX_TEXT} characters")
    return value


def _day(form: dict[str, str], name: str, back: tuple[str, str]) -> date:
    try:
        return date.fromisoformat(form.get(name, ""))
    except ValueError:
        raise HttpProblem(
            400, "Date needed", f"{name} must be a date (YYYY-MM-DD), got '{form.get(name, '')}'", back
        ) from None


def checked_person(who: Acting, form: dict[str, str], back: tuple[str, str]) -> str:
    """The acting person, once the form's token is theirs; 403 otherwise."""
    if who.person is None:
        raise HttpProblem(403, "Not logged in", "acts are taken on the page served by Airflow, logged in")
    if not csrf.valid(who.secret, who.person, form.get(csrf.FIELD)):
        raise HttpProblem(
            403,
            "Form expired or not from this page",
            "the form's token is missing, stale or not yours: reload the page and submit the form again",
            back,
        )
    return who.person


def refused(exc: ReviewRefused, back: tuple[str, str]) -> HttpProblem:
    if isinstance(exc, NotPermittedError | SegregationOfDutiesError):
        return HttpProblem(403, "Not permitted", str(exc), back)
    return HttpProblem(400, "Not recorded", str(exc), back)


def add_desk(
    app: APIRouter,
    store: Callable[[], HistoryStore],
    inventory: Callable[[], Inventory],
    access: Callable[..., ModelAccess],
    acting: Callable[..., Acting],
    on_attest: Callable[[HistoryStore, str | None, date], object] | None = None,
) -> None:
    _ticket_routes(app, store, inventory, access, acting)
    _review_routes(app, store, inventory, access, acting, on_attest)


def _ticket_routes(
    app: APIRouter,
    store: Callable[[], HistoryStore],
    inventory: Callable[[], Inventory],
    access: Callable[..., ModelAccess],
    acting: Callable[..., Acting],
) -> None:
    def visible_ticket(ticket_id: int, allowed: ModelAccess) -> dict:
        with store().engine.connect() as conn:
            try:
                found = BuiltinTracker.ticket_in(conn, ticket_id)
            except TicketNotFoundError:
                found = None
        if found is None or not may_read(allowed, found["model_id"]):  # forbidden: as if unknown
            raise HttpProblem(404, "Unknown ticket", f"ticket {ticket_key(ticket_id)} is not in the history")
        return found

    @app.get("/tickets/{ticket_id}", response_class=HTMLResponse)
    def ticket_page(
        request: Request, ticket_id: int, done: int = 0, allowed: ModelAccess = Depends(access),
        who: Acting = Depends(acting),
    ) -> Response:  # fmt: skip
        base = base_of(request)
        found = visible_ticket(ticket_id, allowed)
        with store().engine.connect() as conn:
            events = store_tickets.events(conn, ticket_id)
            acts = store_acts.acts(conn, ticket_id=ticket_id)
            proposal = store_acts.open_proposal(conn, ticket_id)
        view = ticket.TicketView(found, events, acts)
        view.done = next((a for a in acts if a["act_id"] == done), None)
        view.forms, view.notes = forms_for(who, inventory(), found, proposal, base)
        return HTMLResponse(page(ticket_key(ticket_id), ticket.body(view, base), base, "breaches"))

    @app.post("/tickets/{ticket_id}/{segment}")
    async def ticket_act(
        request: Request, ticket_id: int, segment: str, background: BackgroundTasks,
        allowed: ModelAccess = Depends(access), who: Acting = Depends(acting),
    ) -> Response:  # fmt: skip
        back = (f"/tickets/{ticket_id}", f"← {ticket_key(ticket_id)}")
        act = desk_forms.BY_SEGMENT.get(segment)
        if act is None:
            raise HttpProblem(
                404, "Unknown act", f"no act '{segment}' (acts: {', '.join(desk_forms.BY_SEGMENT)})"
            )
        form = await form_of(request)
        person = checked_person(who, form, back)
        found = visible_ticket(ticket_id, allowed)
        model_id = found["model_id"]
        if model_id not in who.may_change([model_id]):
            raise HttpProblem(
                403,
                "Not permitted",
                f"{person} may read but not change model {model_id} in Airflow (no edit access to DAG "
                f"mrm_monitor__{model_id}); ask an Airflow admin",
                back,
            )
        desk = Desk(store(), inventory())
        done = record(desk, Actor(person), act, ticket_id, form, back)
        background.add_task(desk.lifecycle.deliver, model_id)
        return RedirectResponse(f"{base_of(request)}/tickets/{ticket_id}?done={done.act['act_id']}", 303)


def _review_routes(
    app: APIRouter,
    store: Callable[[], HistoryStore],
    inventory: Callable[[], Inventory],
    access: Callable[..., ModelAccess],
    acting: Callable[..., Acting],
    on_attest: Callable[[HistoryStore, str | None, date], object] | None,
) -> None:
    @app.get("/review", response_class=HTMLResponse)
    def review_page(
        request: Request, done: int = 0, allowed: ModelAccess = Depends(access), who: Acting = Depends(acting)
    ) -> Response:
        base, inv, engine = base_of(request), inventory(), store().engine
        readable = allowed.readable(set(inv.entries) | set(queries.open_ticket_counts(engine)))
        content = review_content(engine, inv, readable, who, base, done)
        return HTMLResponse(page("Review", content, base, "review"))

    @app.post("/attest")
    async def attest(
        request: Request, allowed: ModelAccess = Depends(access), who: Acting = Depends(acting)
    ) -> Response:
        back = ("/review", "← Review")
        form = await form_of(request)
        person = checked_person(who, form, back)
        model_id = form.get("model_id") or None
        may_attest(who, allowed, model_id, back)
        day = _day(form, "day", back)
        try:
            done = Desk(store(), inventory()).attest(Actor(person), day, model_id, _text(form, "comment"))
        except ReviewRefused as exc:
            raise refused(exc, back) from None
        if on_attest is not None:
            noted(on_attest, store(), model_id, day)
        return RedirectResponse(f"{base_of(request)}/review?done={done.act['act_id']}", 303)


def noted(on_attest, store: HistoryStore, model_id: str | None, day: date) -> None:
    """Tell Airflow's run notes of the attestation; the act is recorded whatever happens here."""
    try:
        on_attest(store, model_id, day)
    except Exception as exc:
        log.warning("attested %s, but the run notes of that day were not updated: %s", day, exc)


def record(desk: Desk, actor: Actor, act: str, ticket_id: int, form: dict[str, str], back) -> Recorded:
    """The act through the desk (the CLI's code too); a refusal as 403 (roles) or 400 (terms)."""
    text = _text(form, "comment")
    try:
        if act == "acknowledge":
            return desk.acknowledge(actor, ticket_id, text, _day(form, "action_date", back))
        if act == "comment":
            return desk.comment(actor, ticket_id, text)
        if act == "propose_close":
            return desk.propose_close(actor, ticket_id, text, form.get("cause", ""))
        if act == "close":
            return desk.close(actor, ticket_id, text, form.get("cause", ""))
        conditions = _text(form, "conditions").splitlines()
        return desk.accept(actor, ticket_id, text, _day(form, "until", back), conditions)
    except ReviewRefused as exc:
        raise refused(exc, back) from None


def may_attest(who: Acting, allowed: ModelAccess, model_id: str | None, back) -> None:
    """Attesting a model needs read and change access to its DAG; the portfolio, to the governance DAG."""
    if model_id is not None and not may_read(allowed, model_id):
        raise HttpProblem(404, "Unknown model", f"model '{model_id}' is not in the inventory", back)
    permitted = who.may_change([model_id]) if model_id else who.may_change_portfolio()
    if not permitted:
        what = f"DAG mrm_monitor__{model_id}" if model_id else "DAG mrm_governance (the portfolio)"
        raise HttpProblem(403, "Not permitted", f"{who.person} may not change {what} in Airflow", back)


def review_content(engine, inv: Inventory, readable: set[str], who: Acting, base: str, done: int) -> str:
    """The morning view's HTML (:mod:`mrm.ui.morning`) for the readable models and this person."""
    with engine.connect() as conn:
        acts = store_acts.acts(conn)
    portfolio = [a for a in acts if a["kind"] == "attest" and a["model_id"] is None]
    last = max(portfolio, key=lambda a: (a["logical_date"], a["act_id"]), default=None)
    since = last["logical_date"] if last else None
    every = queries.tickets(engine, open_only=False)
    tickets = [{**t, "key": ticket_key(t["ticket_id"])} for t in every if t["model_id"] in readable]
    measured = timeliness.measure(tickets, acts, inv)
    overdue = {
        m.ticket_id: f"{m.acknowledge.target} {m.acknowledge.unit}"
        for m in measured
        if m.acknowledge.status == timeliness.OVERDUE
    }
    items, newest, last_days = (
        morning.desk_changes(tickets, acts, since, today(), readable, overdue),
        None,
        {},
    )
    for model_id in sorted(readable):
        last_day = queries.last_logical_date(engine, model_id)
        if last_day is None:
            continue
        newest, last_days[model_id] = max(newest or last_day, last_day), last_day
        open_ones = {t["control"]: t for t in tickets if t["model_id"] == model_id and t["status"] == "open"}
        rows = queries.metrics(engine, model_id, since or last_day)
        items += morning.model_changes(model_id, rows, since, open_ones)
    forms = {}
    for c in items:
        if c.ticket and c.ticket["ticket_id"] not in forms:
            proposal = store_acts.pending_proposal(acts, c.ticket["ticket_id"])
            forms[c.ticket["ticket_id"]] = forms_for(who, inv, c.ticket, proposal, base)[0]
    attest = attest_form_for(who, inv, newest, base) + "".join(
        attest_form_for(who, inv, day, base, model_id) for model_id, day in last_days.items()
    )
    recorded = next((describe(a) for a in acts if a["act_id"] == done), "")
    attested = sorted(
        (a for a in acts if a["kind"] == "attest" and (a["model_id"] is None or a["model_id"] in readable)),
        key=lambda a: a["act_id"],
        reverse=True,
    )[:30]
    on_time = (
        timeliness_view.table("by_model", "Model", timeliness.by_model(measured)).html()
        + timeliness_view.table("by_owner", "Owner", timeliness.by_owner(measured)).html()
    )
    content = morning.body(items, last, newest, forms, attest, base, recorded, attested, on_time)
    return content


def attest_form_for(
    who: Acting, inv: Inventory, day: date | None, base: str, model_id: str | None = None
) -> str:
    """The form to attest the review of ``day`` (at the latest today) of the portfolio (``model_id``
    None) or of one model, if Airflow and the role map let the person."""
    if who.person is None or day is None:
        return ""
    if not (who.may_change([model_id]) if model_id else who.may_change_portfolio()):
        return ""
    day = min(day, today())
    try:
        review.attest(standing(inv, who.person, model_id), day, today(), "-")
    except ReviewRefused:
        return ""
    return desk_forms.attest_form(base, day, model_id, csrf.issue(who.secret, who.person))


def forms_for(who: Acting, inv: Inventory, found: dict, proposal: dict | None, base: str):
    """The forms the person may use on ``found`` and, when there are none, why."""
    if who.person is None:
        return "", ["Log in through Airflow to act on this ticket."]
    model_id = found["model_id"]
    if model_id not in who.may_change([model_id]):
        return "", [f"Airflow lets {who.person} read model {model_id}, not change it: no acts."]
    entry = inv.entries.get(model_id)
    max_days = inv.policy.max_acceptance_days(entry.risk_tier if entry else 0)
    acts = review.available(standing(inv, who.person, model_id), review.Subject.of(found), today(), max_days)
    if not acts:
        return "", [f"The role map (_policy.yaml roles) gives {who.person} no act on this ticket."]
    token = csrf.issue(who.secret, who.person)
    shown = describe(proposal) if proposal else ""
    return desk_forms.ticket_forms(base, found["ticket_id"], acts, token, today(), max_days, shown), []
