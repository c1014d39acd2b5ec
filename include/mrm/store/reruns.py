"""What a model's runs of one date say about each other: the run current for a date, the reason a rerun
records (:func:`rerun_reason`), the reruns that made a day look better than it was first recorded
(:func:`rerun_flags`, shown by ``mrm audit verify``, ``mrm history``, the model page and the run note), and
the runs that could not run (the ERROR rows of ``mrm history``). Each function takes the history's engine
and opens its own connection."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import Engine, and_, func, select

from mrm.controls import GREEN, RED, SEVERITY
from mrm.store import schema
from mrm.store.history import _filtered, current_run_ids
from mrm.store.reads import RUN_COLUMNS, _rows

ERROR = "ERROR"  # the overall status of a run that could not complete
RANK = {**SEVERITY, ERROR: SEVERITY[RED]}  # GREEN < AMBER, INSUFFICIENT_DATA < RED, ERROR
MAX_SHOWN_REASON = 300  # characters of a rerun's reason shown in one line


def better(after: str | None, before: str | None) -> bool:
    """Whether a run with overall status ``after`` shows the day better than ``before`` did (RED or ERROR
    to AMBER or GREEN, AMBER to GREEN). An unknown status counts as the worst."""
    return RANK.get(after or ERROR, RANK[ERROR]) < RANK.get(before or ERROR, RANK[ERROR])


def current_run(engine: Engine, model_id: str, day: date, kind: str = "monitoring") -> dict | None:
    """The run that is current for the model, logical date and kind (the latest rerun), or None."""
    r = schema.runs
    query = select(*(r.c[c] for c in RUN_COLUMNS), r.c.finished_at, r.c.triggered_by).where(
        r.c.run_id.in_(current_run_ids(model_id)), r.c.logical_date == day, r.c.kind == kind
    )
    found = _rows(engine, query)
    return found[0] if found else None


def airflow_try(triggered_by: str | None) -> tuple[str, str, int] | None:
    """``airflow:<dag_id>/<run_id>/try<n>`` -> (dag_id, run_id, n); None for any other trigger."""
    if not triggered_by or not triggered_by.startswith("airflow:"):
        return None
    dag_id, _, rest = triggered_by.removeprefix("airflow:").partition("/")
    run_id, _, attempt = rest.rpartition("/")
    if not (dag_id and run_id and attempt.startswith("try") and attempt[3:].isdigit()):
        return None
    return dag_id, run_id, int(attempt[3:])


def rerun_reason(
    engine: Engine, model_id: str, day: date, triggered_by: str, given: str | None, kind: str = "monitoring"
) -> str | None:
    """The reason a run records. Airflow: none for the first try of a day that has no run yet; for a
    retry, a cleared task or a second DAG run of the date, ``given`` (the DAG run's conf ``reason``) or
    "Airflow <dag_id>/<run_id> try <n>". Anything else (the CLI, which demands it for a rerun): ``given``."""
    attempt = airflow_try(triggered_by)
    if attempt is None:
        return given or None
    dag_id, run_id, n = attempt
    if n <= 1 and current_run(engine, model_id, day, kind) is None:
        return None
    return given or f"Airflow {dag_id}/{run_id} try {n}"


def rerun_flags(
    engine: Engine, model_id: str | None = None, since: date | None = None, until: date | None = None
) -> list[dict]:
    """The current runs that show their day better than a run they replaced did (:func:`better`), in date
    order. Every earlier run of the same model, date and kind counts, not only the one named in
    ``supersedes``: two forged reruns in a row (RED -> GREEN -> GREEN) are still flagged. Each flag holds
    the current run (``run_id``, ``status``, ``triggered_by``, ``reason``, ``supersedes``) and the worst
    run it replaced (``replaced_run_id``, ``replaced_status``, ``replaced_triggered_by``)."""
    r = schema.runs
    keys = (r.c.model_id, r.c.logical_date, r.c.kind)
    grouped = select(*keys).group_by(*keys).having(func.count() > 1)
    repeated = _filtered(grouped, r, model_id, since, until)
    repeated = repeated.subquery()
    query = (
        select(
            *(r.c[c] for c in RUN_COLUMNS), r.c.finished_at, r.c.triggered_by, r.c.rerun_reason,
            r.c.supersedes, r.c.run_id.in_(current_run_ids(model_id)).label("current"),
        )
        .join(repeated, and_(*(c == repeated.c[c.name] for c in keys)))
        .order_by(r.c.logical_date, r.c.model_id, r.c.kind, r.c.finished_at)
    )  # fmt: skip
    days: dict[tuple, list[dict]] = defaultdict(list)
    for row in _rows(engine, query):
        days[(row["model_id"], row["logical_date"], row["kind"])].append(row)
    return [flag for rows in days.values() if (flag := flag_of(rows)) is not None]


def failed_runs(
    engine: Engine,
    model_id: str,
    since: date | None,
    until: date | None,
    *,
    all_runs: bool = False,
    kinds: tuple[str, ...] | None = None,
) -> list[dict]:
    """The model's runs that could not run (``status`` failed), as rows of ``mrm history``: model_id,
    logical_date, run_id, ``status`` ERROR and the ``reason``; the current ones only unless ``all_runs``;
    of ``kinds`` only if given."""
    r = schema.runs
    query = select(r.c.model_id, r.c.logical_date, r.c.run_id, r.c.reason).where(r.c.status == "failed")
    if kinds:
        query = query.where(r.c.kind.in_(kinds))
    if not all_runs:
        query = query.where(r.c.run_id.in_(current_run_ids(model_id)))
    query = _filtered(query, r, model_id, since, until).order_by(r.c.logical_date, r.c.finished_at)
    return [{**row, "status": ERROR} for row in _rows(engine, query)]


def flag_of(rows: list[dict]) -> dict | None:
    """The flag of one model, date and kind: its runs (oldest first, each with ``current``), or None."""
    current = next((r for r in rows if r["current"]), None)
    replaced = [r for r in rows if r is not current]
    if current is None or not replaced:
        return None
    worst_run = max(reversed(replaced), key=lambda r: RANK.get(r["overall_status"] or ERROR, RANK[ERROR]))
    if not better(current["overall_status"], worst_run["overall_status"]):
        return None
    return {
        **{
            k: current[k]
            for k in ("model_id", "logical_date", "kind", "run_id", "triggered_by", "supersedes")
        },
        "status": current["overall_status"] or GREEN,
        "reason": current["rerun_reason"],
        "finished_at": current["finished_at"],
        "replaced_run_id": worst_run["run_id"],
        "replaced_status": worst_run["overall_status"] or ERROR,
        "replaced_triggered_by": worst_run["triggered_by"],
    }


def _one_line(text: str | None, limit: int = MAX_SHOWN_REASON) -> str:
    flat = " ".join((text or "").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def flag_text(flag: dict) -> str:
    """``rerun turned RED into GREEN — reason: ... by ...`` (one line; plain text, escape it for HTML)."""
    reason = _one_line(flag["reason"]) or "none given"
    return (
        f"rerun turned {flag['replaced_status']} into {flag['status']} — reason: {reason} "
        f"by {_one_line(flag['triggered_by'])}"
    )


def format_flags(flags: list[dict]) -> list[str]:
    """One ``flag:`` line per flagged rerun, for ``mrm audit verify`` and ``mrm history``."""
    return [
        f"flag: {f['model_id']} {f['logical_date']} {f['kind']}: run {f['run_id']} replaced run "
        f"{f['replaced_run_id']}: {flag_text(f)}"
        for f in flags
    ]
