"""One monitoring run of one model for one logical date, step by step.

    start -> quality + drift + performance -> record -> tickets -> notify

When ``start`` cannot run (no partition for the day, a corrupt file), the monitoring run is recorded as
failed and the matured cohort is still evaluated, as a run of kind ``performance`` for the date
(:mod:`mrm.outcomes`): the cohort was scored weeks earlier and does not need the day's log.
``mrm backtest`` records the same evaluation as runs of kind ``backtest``: analysis, never ticketed.

Each step takes and returns small JSON-able values (a run context, evidence references), so the same
functions back the Airflow tasks (XCom carries the context, never frames) and ``mrm run``. A step that
cannot complete records a failed run with its reason, files a "could not run" ticket, and re-raises.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from mrm import inputs, settings
from mrm.controls import ACCEPTED, AMBER, RED, Evaluated, accept, escalate, evaluate, render_controls, worst
from mrm.core.results import MetricResult
from mrm.errors import InventoryError, MrmError
from mrm.evidence.lineage import TIMING, files_of, lineage
from mrm.evidence.writer import EvidenceWriter
from mrm.inventory import ModelEntry
from mrm.notify.outbox import undelivered_error
from mrm.sources.registry import source_for
from mrm.store import RunRecord, acts, anchor, reruns
from mrm.ticketing import sweep
from mrm.ticketing.base import could_not_run_breach
from mrm.ticketing.lifecycle import TicketLifecycle
from mrm.wiring import cli_trigger, get_inventory, get_store

log = logging.getLogger("mrm.pipeline")


@dataclass
class RunContext:
    """What the steps of one run share; JSON-serialisable for XCom."""

    run_id: str
    model_id: str
    logical_date: str
    started_at: str
    triggered_by: str
    inventory_hash: str
    input_files: list[dict[str, Any]] = field(default_factory=list)
    row_count: int = 0
    profile: str = ""  # fingerprint of the reference profile the day was aggregated against
    aggregate: dict[str, Any] = field(default_factory=dict)  # evidence reference of day_aggregate.npz
    engine: dict[str, Any] = field(default_factory=dict)  # how the day was computed (sizes, sample, sketches)
    rerun_reason: str | None = None  # why the date is run again (None: its first run)
    kind: str = "monitoring"  # monitoring | performance (the cohort alone) | backtest

    @property
    def day(self) -> date:
        return date.fromisoformat(self.logical_date)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunContext:
        return cls(**data)


# -- wiring ----------------------------------------------------------------------------------------
def _now() -> datetime:
    return datetime.now(UTC)


def _writer(ctx: RunContext) -> EvidenceWriter:
    return EvidenceWriter(settings.evidence_uri(), ctx.model_id, ctx.day, ctx.run_id)


# -- failure path -----------------------------------------------------------------------------------
PERFORMANCE, BACKTEST = "performance", "backtest"  # the kinds of run that evaluate the cohort alone


def record_failure(
    entry: ModelEntry,
    day: date,
    reason: str,
    triggered_by: str,
    step: str,
    rerun_reason: str | None = None,
    kind: str = "monitoring",
) -> str:
    """Record that the run could not complete, and file a 'could not run' ticket (not for a back-test,
    which is analysis). Returns the run id."""
    run_id = uuid.uuid4().hex
    now = _now()
    store = get_store()
    store.record_run(
        RunRecord(
            run_id=run_id,
            model_id=entry.model_id,
            model_version=entry.version,
            logical_date=day,
            status="failed",
            overall_status="ERROR",
            reason=f"{step}: {reason}",
            started_at=now,
            finished_at=now,
            triggered_by=triggered_by,
            inventory_hash=entry.fingerprint(),
            rerun_reason=rerun_reason,
            kind=kind,
        )
    )
    ticket = "none: a back-test"
    if kind != BACKTEST:
        ticket = notifier().on_failure(entry, could_not_run_breach(entry, run_id, day, step, reason))["key"]
    anchor.after_record(store, entry.model_id, day)  # the failed run and its ticket; never raises
    log.error(  # for the task log; `mrm` prints the re-raised error instead (reraised: not twice)
        "%s %s: %s could not complete (%s): %s [ticket %s]", entry.model_id, day,
        "run" if kind == "monitoring" else f"{kind} run", step, reason, ticket, extra={"reraised": True},
    )  # fmt: skip
    return run_id


@contextmanager
def _guard(
    entry: ModelEntry,
    day: date,
    triggered_by: str,
    step: str,
    rerun_reason: str | None = None,
    kind: str = "monitoring",
) -> Iterator[None]:
    try:
        yield
    except MrmError as exc:
        record_failure(entry, day, str(exc), triggered_by, step, rerun_reason, kind)
        raise
    except Exception as exc:  # a bug or an unexpected failure: still recorded (one line), then re-raised
        record_failure(entry, day, unexpected(exc), triggered_by, step, rerun_reason, kind)
        raise


def unexpected(exc: BaseException) -> str:
    """The one-line reason recorded for an exception that is not an MrmError: its type and message with
    whitespace folded, cut at 300 characters, and what to do (the traceback stays in the task log)."""
    text = " ".join(str(exc).split())
    text = text if len(text) <= 300 else text[:299] + "…"
    return (
        f"unexpected {type(exc).__name__}: {text or '(no message)'}; the task log has the traceback: "
        "report it with the log, then rerun this date"
    )


# -- steps ------------------------------------------------------------------------------------------
def start(model_id: str, day: date, triggered_by: str | None = None, reason: str | None = None) -> RunContext:
    """Locate and check the day's scoring log, then stream it once into the counts every quality and drift
    metric is computed from (:mod:`mrm.checks.aggregate`), kept as the run's ``day_aggregate.npz``; return
    the context the other steps share. Memory does not grow with the day's rows for Parquet sources.
    ``reason``: why the date is run again (``mrm run --reason``, an Airflow DAG run's conf); a rerun from
    Airflow without one records its run and try (:func:`mrm.store.reruns.rerun_reason`)."""
    from mrm.checks import sample_evidence as se

    entry = get_inventory().get(model_id)
    if not entry.monitored:
        why = "has monitoring disabled" if entry.status == "approved" else f"is {entry.status}, not approved"
        raise InventoryError([f"model '{model_id}' {why}; only approved models with monitoring enabled run"])
    trigger = triggered_by or cli_trigger()
    why = reruns.rerun_reason(get_store().engine, model_id, day, trigger, reason)
    with _guard(entry, day, trigger, "read scoring log", why):
        day_input = source_for(entry).day_input(day)
    with _guard(entry, day, trigger, "read reference", why):
        profile = inputs.reference_profile(entry)
    ctx = RunContext(
        run_id=uuid.uuid4().hex,
        model_id=model_id,
        logical_date=day.isoformat(),
        started_at=_now().isoformat(),
        triggered_by=trigger,
        inventory_hash=entry.fingerprint(),
        input_files=[{"uri": f.uri, "size": f.size, "etag": f.etag} for f in day_input.files],
        profile=profile.fingerprint,
        rerun_reason=why,
    )
    with _guard(entry, day, trigger, "read scoring log", why):
        agg = inputs.aggregate(day_input, profile)
        ctx.row_count = agg.rows
        ctx.aggregate = _writer(ctx).put("day_aggregate.npz", agg.to_bytes())
    ctx.engine = se.summary(agg, profile)
    return ctx


def _check_step(ctx: RunContext, name: str) -> dict:
    """Run the registered check ``name`` (:data:`mrm.checks.base.CHECKS`) and keep its results for
    ``record``; returns its evidence references and timing."""
    from mrm.checks.base import CheckInputs, check_for, results_file

    check = check_for(name)
    entry = get_inventory().get(ctx.model_id)
    started = time.perf_counter()
    with _guard(entry, ctx.day, ctx.triggered_by, name, ctx.rerun_reason, ctx.kind):
        writer = _writer(ctx)
        parts: dict[str, str] = {}  # the kept day parts the step reads (fingerprint -> digest)
        given = CheckInputs(
            entry,
            ctx.day,
            writer,
            settings.evidence_uri(),
            day_aggregate=lambda: inputs.day_aggregate(entry, writer, ctx.aggregate, ctx.profile, ctx.day),
            labelled_cohort=lambda start, end: inputs.labelled_cohort(entry, ctx.day, start, end, parts),
            reference_performance=lambda: inputs.reference_performance(entry.model_id, entry.fingerprint()),
            reference_calibration=lambda: inputs.reference_calibration(entry),
            reference_counts=lambda: inputs.reference_counts_record(entry),
            day_scores=lambda: inputs.day_scores(entry, ctx.day, parts),
            day_parts=lambda: dict(sorted(parts.items())) or None,
            stored_estimate=lambda day, metric: inputs.stored_estimate(entry, day, metric),
        )
        results, evidence = check.compute(given)
        evidence[f"{name}_results"] = writer.put_json(results_file(name), [r.to_dict() for r in results])
    evidence[f"{name}{TIMING}"] = round(time.perf_counter() - started, 3)
    return evidence


def quality(ctx: RunContext) -> dict:
    """Data quality on every row of the day, from its aggregate; evidence: the GX validation result of the
    model's suite on the day's seeded sample (labelled as such)."""
    return _check_step(ctx, "quality")


def drift(ctx: RunContext) -> dict:
    """Drift (PSI on reference deciles and the inventory's methods) of every row of the day against the
    reference profile; evidence: the Evidently report over the samples, showing the stored values."""
    return _check_step(ctx, "drift")


def performance(ctx: RunContext) -> dict:
    """Outcome analysis of the matured cohort (logical date − label maturity) on the labels known today."""
    return _check_step(ctx, "performance")


def record(ctx: RunContext, *evidence: dict) -> dict:
    """Evaluate controls and write the run with every metric to the history, in one transaction."""
    from mrm.checks.base import CHECKS, results_file

    entry = get_inventory().get(ctx.model_id)
    with _guard(entry, ctx.day, ctx.triggered_by, "record", ctx.rerun_reason):
        if entry.fingerprint() != ctx.inventory_hash:
            raise MrmError(
                f"{ctx.model_id}: the inventory entry changed while the run was in progress (started with "
                f"{ctx.inventory_hash[:12]}, now {entry.fingerprint()[:12]}); rerun {ctx.logical_date}"
            )
        everything = {k: v for part in evidence for k, v in part.items()}
        merged = files_of(everything)
        if ctx.aggregate:
            merged["day_aggregate"] = ctx.aggregate
        writer = _writer(ctx)
        results = [MetricResult.from_dict(d) for name in CHECKS for d in writer.get_json(results_file(name))]
        runs_to_red = entry.monitoring.persistence.amber_runs_to_red
        previous = get_store().previous_statuses(ctx.model_id, ctx.day, (runs_to_red or 1) - 1)
        evaluated = accepted(ctx.model_id, ctx.day, escalate(evaluate(results, entry), previous, runs_to_red))
        ref_info = writer.get_json("reference.json")
        run = RunRecord(
            run_id=ctx.run_id,
            model_id=ctx.model_id,
            model_version=entry.version,
            logical_date=ctx.day,
            status="completed",
            overall_status=worst([e.status for e in evaluated]),
            started_at=datetime.fromisoformat(ctx.started_at),
            finished_at=_now(),
            triggered_by=ctx.triggered_by,
            inventory_hash=ctx.inventory_hash,
            row_count=ctx.row_count,
            input_files=ctx.input_files,
            reference=ref_info,
            evidence=merged,
            lineage={**lineage(everything), **({"engine": ctx.engine} if ctx.engine else {})},
            rerun_reason=ctx.rerun_reason,
        )
        get_store().record_run(run, evaluated, entry.document())
    anchor.after_record(get_store(), ctx.model_id, ctx.day)  # never raises: the run is recorded
    log.info("%s", render_controls(evaluated, f"{ctx.model_id} {ctx.logical_date}"))
    return summary(run, evaluated)


def accepted(model_id: str, day: date, evaluated: list[Evaluated]) -> list[Evaluated]:
    """The controls under a risk accepted for the model on ``day`` (recorded before this reads them)
    ACCEPTED instead of AMBER or RED (:func:`mrm.controls.accept`); after the persistence rule, which
    does not count an ACCEPTED day as a breach."""
    with get_store().engine.connect() as conn:
        held = acts.holding(conn, model_id, day)
    return accept(evaluated, held) if held else evaluated


def summary(run: RunRecord, evaluated: list[Evaluated]) -> dict:
    breaches = [
        {"control": e.control, "status": e.status, "value": e.result.value, "amber": e.amber, "red": e.red}
        | ({"accepted": e.result.detail["accepted"]} if e.status == ACCEPTED else {})
        for e in evaluated
        if e.status in (RED, AMBER, ACCEPTED)
    ]
    return {
        "run_id": run.run_id,
        "model_id": run.model_id,
        "logical_date": run.logical_date.isoformat(),
        "overall_status": run.overall_status,
        "supersedes": run.supersedes,
        "breaches": breaches,
        "evidence": run.evidence,
    }


def notifier() -> TicketLifecycle:
    return TicketLifecycle(get_store(), get_inventory())


def tickets(ctx: RunContext) -> list[dict]:
    """Open a ticket per RED control or add an occurrence to the open one; note controls back to GREEN;
    escalate tickets unresolved too long; queue their mirrors and alerts in the outbox (same transaction).
    Tickets closed in Jira meanwhile are read back first, so a breach after that opens a new one; the
    model's earlier days recorded but never ticketed (a crash between record and tickets) are filed
    first (:mod:`mrm.ticketing.sweep`)."""
    entry = get_inventory().get(ctx.model_id)
    with _guard(entry, ctx.day, ctx.triggered_by, "tickets", ctx.rerun_reason):
        n = notifier()
        n.sync_external(ctx.model_id)
        sweep.unticketed(n, ctx.day, [ctx.model_id], before=True)
        actions = n.on_run(entry, ctx.run_id, ctx.day)
    anchor.after_record(get_store(), ctx.model_id, ctx.day)  # the ticket events too
    return actions


def notify(ctx: RunContext) -> dict:
    """Deliver what the outbox holds for this model (this run's items and any left from earlier runs).
    Raises DeliveryError if something stays undelivered: it is kept and retried on the next run."""
    report = notifier().deliver(ctx.model_id)
    if error := undelivered_error(report):
        raise error
    return {"delivered": len(report.delivered)}


def run_model(model_id: str, day: date, triggered_by: str | None = None, reason: str | None = None) -> dict:
    """All steps in sequence, as the DAG does them task by task when the day can be read (``mrm run``
    calls :func:`mrm.outcomes.run_day`, which evaluates the matured cohort alone when it cannot)."""
    return complete(start(model_id, day, triggered_by, reason))


def complete(ctx: RunContext) -> dict:
    """The steps after ``start``, in sequence: checks, record, tickets, delivery."""
    model_id = ctx.model_id
    evidence = [quality(ctx), drift(ctx), performance(ctx)]
    result = record(ctx, *evidence)
    result["rows"], result["sample_rows"] = ctx.row_count, ctx.engine.get("sample", {}).get("rows")
    result["tickets"] = tickets(ctx)
    report = notifier().deliver(model_id)
    result["notifications"] = {"delivered": len(report.delivered), "undelivered": report.undelivered}
    return result
