"""The Model Risk page as a FastAPI app. ``create_app(dependencies=...)`` builds it: the Airflow plugin
passes Airflow's login check (see :mod:`mrm.airflow.ui_mount`); tests build it bare.

    /                       portfolio (?tier= &status= &owner= &rag= &sort=; ?format=csv)
    /models/{model_id}      one model (?days=N; ?format=csv&table=latest|psi|runs|backtests|tickets|controls|
                            metrics)
    /breaches               open tickets across the portfolio (?format=csv)
    /evidence/...           evidence files a run recorded, and Evidently's shared library (the one
                            route outside ``dependencies``: public code, see :mod:`mrm.ui.evidence`)
    /dags/{dag_id}          the DAG page's link: redirects to the model the DAG monitors

Every route that shows a model asks ``access`` (:mod:`mrm.ui.access`) whether the user may read it.
Every response carries the pages' CSP (:data:`mrm.ui.html.PAGE_CSP`) unless it brings its own: evidence
is served sandboxed (:mod:`mrm.ui.evidence`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mrm.errors import BadRequestError, EvidenceChangedError, EvidenceNotFoundError, MrmError, StoreError
from mrm.inventory import Inventory
from mrm.store import HistoryStore
from mrm.store import reads as queries
from mrm.ui import breaches, evidence, model, portfolio
from mrm.ui.access import ModelAccess, everyone, may_read
from mrm.ui.acting import Acting, nobody
from mrm.ui.desk_routes import add_desk
from mrm.ui.html import PAGE_HEADERS, Table, page
from mrm.ui.problem import HttpProblem
from mrm.ui.problem import base_of as _base
from mrm.ui.problem import problem_page as _problem_page

MONITOR_DAG_PREFIX = "mrm_monitor__"  # dags/mrm_monitor.py: one DAG per model, mrm_monitor__<model_id>
GOVERNANCE_DAG = "mrm_governance"
MAX_DAYS = 3660
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#667085" '
    'stroke-width="2" stroke-linecap="round" stroke-linejoin="round"><path d="M12 3l8 3v6c0 5-3.5 8-8 9'
    '-4.5-1-8-4-8-9V6z"/><path d="M8 12l3 3 5-6"/></svg>'
)


def _default_store() -> HistoryStore:
    from mrm.wiring import get_store

    return get_store()


def _default_inventory() -> Inventory:
    from mrm.wiring import get_inventory

    return get_inventory()


def _default_evidence_uri() -> str:
    from mrm import settings

    return settings.evidence_uri()


def _ui_root(request: Request) -> str:
    """The Airflow UI's root: the parent of this app's mount point."""
    return _base(request).rsplit("/", 1)[0] if _base(request) else ""


def _csv(table: Table) -> Response:
    filename = f"mrm-{table.name}-{date.today().isoformat()}.csv"  # noqa: DTZ011 - a file name only
    return Response(
        table.csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def create_app(
    dependencies: Sequence[Any] = (),
    *,
    store: Callable[[], HistoryStore] = _default_store,
    inventory: Callable[[], Inventory] = _default_inventory,
    evidence_uri: Callable[[], str] = _default_evidence_uri,
    access: Callable[..., ModelAccess] = everyone,
    acting: Callable[..., Acting] = nobody,
    on_attest: Callable[[HistoryStore, str | None, date], Any] | None = None,
) -> FastAPI:
    """The app. ``dependencies`` apply to every route (Airflow: ``Depends(requires_authenticated())``);
    ``store``, ``inventory`` and ``evidence_uri`` are read per request (defaults: mrm's settings);
    ``access``: a FastAPI dependency giving the request's :class:`~mrm.ui.access.ModelAccess` (Airflow:
    :func:`mrm.airflow.ui_mount.dag_access`; default: everyone reads everything); ``acting``: a dependency
    giving who acts on the desk (:mod:`mrm.ui.acting`; Airflow: :func:`mrm.airflow.ui_mount.acting`;
    default: nobody, no acts); ``on_attest(store, model_id, day)``: called after an attestation (Airflow:
    the run notes of that day say who reviewed it, :func:`mrm.airflow.run_notes.refresh_notes`)."""
    app = FastAPI(title="Model Risk", docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(PageHeaders)
    _add_error_pages(app)
    _add_shared_library(app, evidence_uri)  # public code, fetched by sandboxed reports without cookies
    private = APIRouter(dependencies=list(dependencies))
    _add_pages(private, store, inventory, access)
    _add_evidence(private, store, evidence_uri, access)
    _add_links(private)
    add_desk(private, store, inventory, access, acting, on_attest)
    app.include_router(private)
    return app


class PageHeaders:
    """ASGI middleware: every response gets the pages' security headers (:data:`mrm.ui.html.PAGE_HEADERS`:
    their CSP, nosniff, framing by the Airflow UI only) unless it set its own (evidence does)."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k.lower().encode(), v.encode()) for k, v in PAGE_HEADERS.items()]
                message["headers"] = [*message.get("headers", []), *(h for h in extra if h[0] not in have)]
            await send(message)

        await self.app(scope, receive, with_headers)


def _add_error_pages(app: FastAPI) -> None:
    @app.exception_handler(HttpProblem)
    async def _problem(request: Request, exc: HttpProblem) -> HTMLResponse:
        return _problem_page(request, exc)

    @app.exception_handler(MrmError)
    async def _mrm_error(request: Request, exc: MrmError) -> HTMLResponse:
        status = 503 if isinstance(exc, StoreError) else 500
        return _problem_page(request, HttpProblem(status, "The history cannot be read", str(exc)))


def _add_pages(
    app: APIRouter,
    store: Callable[[], HistoryStore],
    inventory: Callable[[], Inventory],
    access: Callable[..., ModelAccess],
) -> None:
    @app.get("/", response_class=HTMLResponse)
    def portfolio_page(
        request: Request, tier: str = "", status: str = "", owner: str = "", rag: str = "",
        sort: str = "worst", format: str = "html", allowed: ModelAccess = Depends(access),
    ) -> Response:  # fmt: skip
        engine = store().engine
        every = portfolio.rows(inventory(), queries.latest_runs(engine), queries.open_ticket_counts(engine))
        readable = allowed.readable(r["model_id"] for r in every)
        all_rows = [r for r in every if r["model_id"] in readable]
        view = portfolio.View(tier, status, owner, rag, sort)
        try:
            chosen = view.apply(all_rows)
        except BadRequestError as exc:
            raise HttpProblem(400, "Unknown sort order", str(exc)) from None
        if format == "csv":
            return _csv(portfolio.table(chosen, _base(request), view))
        body = portfolio.body(all_rows, chosen, _base(request), view)
        return HTMLResponse(page("Portfolio", body, _base(request), "portfolio"))

    @app.get("/models/{model_id}", response_class=HTMLResponse)
    def model_page(
        request: Request, model_id: str, days: int = model.DEFAULT_DAYS, format: str = "html",
        table: str = "", allowed: ModelAccess = Depends(access),
    ) -> Response:  # fmt: skip
        if not 1 <= days <= MAX_DAYS:
            raise HttpProblem(
                400, "Window out of range", f"days must be between 1 and {MAX_DAYS}, got {days}"
            )
        data = _model_data(store().engine, inventory(), model_id, days, allowed)
        if format == "csv":
            tables = model.tables(data, _base(request), _ui_root(request))
            if table not in tables:
                valid = ", ".join(model.TABLES)
                raise HttpProblem(400, "Unknown table", f"table must be one of {valid}, got '{table}'")
            return _csv(tables[table])
        body = model.body(data, _base(request), _ui_root(request), days)
        return HTMLResponse(page(model_id, body, _base(request)))

    @app.get("/breaches", response_class=HTMLResponse)
    def breaches_page(
        request: Request, format: str = "html", allowed: ModelAccess = Depends(access)
    ) -> Response:
        engine = store().engine
        tickets = queries.tickets(engine)
        readable = allowed.readable({t["model_id"] for t in tickets})
        chosen = breaches.rows([t for t in tickets if t["model_id"] in readable], inventory())
        if format == "csv":
            return _csv(breaches.table(chosen, _base(request)))
        body = breaches.body(chosen, queries.undelivered(engine), _base(request))
        return HTMLResponse(page("Breaches & tickets", body, _base(request), "breaches"))


def _add_shared_library(app: FastAPI, evidence_uri: Callable[[], str]) -> None:
    """Evidently's bundle and icon font, byte for byte the installed package's (anything else is 404):
    the one route without the app's dependencies (the login), because a report served sandboxed has an
    opaque origin and its requests carry no cookies (:mod:`mrm.ui.evidence`)."""

    @app.get("/evidence/_lib/{name}")
    def shared_library(name: str) -> Response:
        return _file(lambda: evidence.shared_library(evidence_uri(), name))


def _add_evidence(
    app: APIRouter,
    store: Callable[[], HistoryStore],
    evidence_uri: Callable[[], str],
    access: Callable[..., ModelAccess],
) -> None:
    @app.get("/evidence/{model_id}/{day}/{run_id}/{name}")
    def evidence_file(
        model_id: str, day: str, run_id: str, name: str, allowed: ModelAccess = Depends(access)
    ) -> Response:
        if not may_read(allowed, model_id):  # answered as a run that does not exist
            raise HttpProblem(
                404, "Evidence not found", f"no run {run_id} of {model_id} on {day} in the history"
            )
        return _file(lambda: evidence.recorded(store().engine, evidence_uri(), model_id, day, run_id, name))


def _add_links(app: APIRouter) -> None:
    @app.get("/dags/{dag_id}")
    def dag_link(request: Request, dag_id: str) -> Response:
        base = _base(request)
        if dag_id.startswith(MONITOR_DAG_PREFIX):
            model_id = quote(dag_id.removeprefix(MONITOR_DAG_PREFIX), safe="")
            return RedirectResponse(f"{base}/models/{model_id}", status_code=303)
        if dag_id == GOVERNANCE_DAG:
            return RedirectResponse(f"{base}/", status_code=303)
        raise HttpProblem(
            404, "Not a model monitoring DAG", f"DAG '{dag_id}' does not monitor a model of mrm"
        )

    @app.get("/icon.svg")
    def icon() -> Response:
        return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "private, max-age=86400"})


def _file(read: Callable[[], evidence.EvidenceFile]) -> Response:
    try:
        found = read()
    except EvidenceNotFoundError as exc:
        raise HttpProblem(404, "Evidence not found", str(exc)) from None
    except EvidenceChangedError as exc:
        raise HttpProblem(409, "Evidence changed", str(exc)) from None
    return Response(found.data, media_type=found.content_type, headers=found.headers())


def _model_data(engine, inv: Inventory, model_id: str, days: int, allowed: ModelAccess) -> model.ModelData:
    """The model's page data; a model the user may not read is answered as one that does not exist."""
    visible = may_read(allowed, model_id)
    entry = inv.entries.get(model_id) if visible else None
    last = queries.last_logical_date(engine, model_id) if visible else None
    if entry is None and last is None:
        known = ", ".join(sorted(allowed.readable(inv.entries))) or "none"
        raise HttpProblem(
            404,
            "Unknown model",
            f"Model '{model_id}' is not in the inventory (models: {known}) nor in the history.",
        )
    tickets = queries.tickets(engine, model_id, open_only=False)
    tested = queries.backtests(engine, model_id) if visible else []
    if last is None:
        return model.ModelData(model_id, entry, [], [], tickets, None, None, tested)
    since = last - timedelta(days=days - 1)
    rows, runs = queries.metrics(engine, model_id, since), queries.runs(engine, model_id, since)
    return model.ModelData(model_id, entry, rows, runs, tickets, since, last, tested)
