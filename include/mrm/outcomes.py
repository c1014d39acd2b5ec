"""Runs that evaluate a matured cohort on its own, without the logical date's scoring log.

A run for logical date D evaluates the events scored ``label_maturity_days`` earlier; their scores are in
earlier partitions, so the cohort does not need D's partition. Two kinds of run do this alone:

- ``performance``: a monitored model's date whose monitoring run could not run (no partition, a corrupt
  file). The failed monitoring run stays as it is (a could-not-run, its ticket); the cohort is recorded as
  a second run of the date, of kind ``performance``, so each run says what it evaluated and there is still
  one current run per model, date and kind. Its controls are the model's (the persistence rule counts
  the monitoring runs before it) and its RED controls are ticketed like a monitoring run's (not its
  returns to green or escalations: the monitoring run of the day could not run, which decides those).
- ``backtest``: ``mrm backtest`` over a range of dates, for any inventory entry with a performance plan
  (a retired model too). Analysis: controls are evaluated so the statuses are shown, without the
  persistence rule, and nothing is ticketed or notified.

The evaluation is the monitoring run's own performance step (:func:`mrm.pipeline.performance`, the
same inputs), so a back-test of a date records what that date's monitoring run records.
"""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from typing import Any

from mrm import pipeline
from mrm.controls import escalate, evaluate, worst
from mrm.core.results import MetricResult
from mrm.errors import MrmError
from mrm.evidence.lineage import files_of, lineage
from mrm.pipeline import BACKTEST, PERFORMANCE, RunContext
from mrm.store import RunRecord, anchor, reruns
from mrm.wiring import cli_trigger, get_inventory, get_store

log = logging.getLogger("mrm.pipeline")
SHOWN = ("auc", "gini", "ks")  # what a back-test prints per date


def outcome_context(
    model_id: str, day: date, kind: str, triggered_by: str | None = None, reason: str | None = None
) -> RunContext:
    """The context of a run of ``kind`` (performance or backtest) that reads no scoring log of ``day``."""
    entry = get_inventory().get(model_id)
    trigger = triggered_by or cli_trigger()
    return RunContext(
        run_id=uuid.uuid4().hex,
        model_id=model_id,
        logical_date=day.isoformat(),
        started_at=pipeline._now().isoformat(),
        triggered_by=trigger,
        inventory_hash=entry.fingerprint(),
        rerun_reason=reruns.rerun_reason(get_store().engine, model_id, day, trigger, reason, kind),
        kind=kind,
    )


def record_outcome(ctx: RunContext, evidence: dict) -> dict:
    """Evaluate the performance step's results and record them as one run of ``ctx.kind``, in one
    transaction; returns the run's summary with ``cohort``, ``values`` and ``insufficient``."""
    from mrm.checks.base import results_file

    entry = get_inventory().get(ctx.model_id)
    with pipeline._guard(entry, ctx.day, ctx.triggered_by, "record", ctx.rerun_reason, ctx.kind):
        writer = pipeline._writer(ctx)
        results = [MetricResult.from_dict(d) for d in writer.get_json(results_file("performance"))]
        evaluated = evaluate(results, entry)
        if ctx.kind != BACKTEST:  # the model's live controls: the persistence rule as in monitoring
            runs_to_red = entry.monitoring.persistence.amber_runs_to_red
            previous = get_store().previous_statuses(ctx.model_id, ctx.day, (runs_to_red or 1) - 1)
            evaluated = pipeline.accepted(ctx.model_id, ctx.day, escalate(evaluated, previous, runs_to_red))
        coverage = [r for r in results if r.metric == "label_coverage"]
        labelled = coverage[0].detail.get("labelled_rows") if coverage else None
        run = RunRecord(
            run_id=ctx.run_id, model_id=ctx.model_id, model_version=entry.version, logical_date=ctx.day,
            status="completed", overall_status=worst([e.status for e in evaluated]),
            started_at=datetime.fromisoformat(ctx.started_at), finished_at=pipeline._now(),
            triggered_by=ctx.triggered_by, inventory_hash=ctx.inventory_hash, row_count=labelled,
            evidence=files_of(evidence), lineage=lineage(evidence),
            rerun_reason=ctx.rerun_reason, kind=ctx.kind,
        )  # fmt: skip
        get_store().record_run(run, evaluated, entry.document())
    anchor.after_record(get_store(), ctx.model_id, ctx.day)  # never raises: the run is recorded
    whole = [r for r in results if r.segment is None]
    first = whole[0] if whole else None
    return {
        **pipeline.summary(run, evaluated),
        "kind": ctx.kind,
        "cohort": (first.cohort_start, first.cohort_end) if first else (None, None),
        "values": {r.metric: r.value for r in whole},
        "insufficient": first.detail.get("insufficient") if first else None,
        "labelled_rows": labelled,
    }


def performance_alone(
    model_id: str, day: date, triggered_by: str | None = None, reason: str | None = None
) -> dict:
    """The matured cohort of a monitored model's date whose monitoring run could not run, recorded as a
    run of kind ``performance``; its RED controls ticketed, the outbox delivered (what stays undelivered
    waits for the next pass, which the governance DAG makes daily). ``{}`` for a model that is not
    monitored or has no performance plan."""
    entry = get_inventory().get(model_id)
    if not entry.monitored or entry.monitoring.performance is None:
        return {}
    ctx = outcome_context(model_id, day, PERFORMANCE, triggered_by, reason)
    result = record_outcome(ctx, pipeline.performance(ctx))
    with pipeline._guard(entry, ctx.day, ctx.triggered_by, "tickets", ctx.rerun_reason, ctx.kind):
        result["tickets"] = pipeline.notifier().on_run(entry, ctx.run_id, ctx.day, reds_only=True)
    anchor.after_record(get_store(), model_id, ctx.day)
    report = pipeline.notifier().deliver(model_id)
    result["notifications"] = {"delivered": len(report.delivered), "undelivered": report.undelivered}
    log.info("%s", line(result))
    return result


def performance_task(
    ctx: dict | None, model_id: str, day: date, triggered_by: str, reason: str | None
) -> dict:
    """The DAG's performance task: the monitoring run's step when ``read_scoring_log`` returned its
    context, else (it failed: no context) the cohort alone (:func:`performance_alone`)."""
    if ctx is not None:
        return pipeline.performance(RunContext.from_dict(ctx))
    return performance_alone(model_id, day, triggered_by, reason)


def run_day(
    model_id: str, day: date, triggered_by: str | None = None, reason: str | None = None, on_alone=None
) -> dict:
    """``mrm run``: :func:`mrm.pipeline.run_model`; when its start could not run (the DAG: the
    performance task after a failed ``read_scoring_log``), the cohort alone (:func:`performance_alone`,
    its summary given to ``on_alone``), then start's error is raised. A model that is not in the
    inventory, not monitored or has no performance plan gets no such run."""
    trigger = triggered_by or cli_trigger()
    try:
        ctx = pipeline.start(model_id, day, trigger, reason)
    except Exception:
        alone = _alone(model_id, day, trigger, reason)
        if alone and on_alone:
            on_alone(alone)
        raise
    return pipeline.complete(ctx)


def _alone(model_id: str, day: date, trigger: str, reason: str | None) -> dict | None:
    try:
        return performance_alone(model_id, day, trigger, reason)
    except MrmError:  # recorded as a failed performance run; the monitoring run's error is the one raised
        return None


def backtest_day(model_id: str, day: date, triggered_by: str, reason: str | None = None) -> dict:
    """One date of ``mrm backtest``: the cohort's performance recorded as a run of kind ``backtest``."""
    ctx = outcome_context(model_id, day, BACKTEST, triggered_by, reason)
    return record_outcome(ctx, pipeline.performance(ctx))


def line(result: dict) -> str:
    """``<date> <kind> cohort A..B: auc 0.81 gini 0.62 ks 0.48 (1,234 labelled) RED`` or why insufficient."""
    start, end = result["cohort"]
    head = f"{result['model_id']} {result['logical_date']} {result['kind']} cohort {start}..{end}:"
    if result["insufficient"]:
        return f"{head} insufficient: {result['insufficient']}"
    values = " ".join(f"{k} {_num(result['values'].get(k))}" for k in SHOWN)
    labelled = result.get("labelled_rows")
    count = f" ({labelled:,} labelled)" if isinstance(labelled, int) else ""
    return f"{head} {values}{count} {result['overall_status']}"


def _num(value: Any) -> str:
    return "n/a" if value is None else f"{value:.4f}"
