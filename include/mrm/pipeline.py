"""One monitoring run of one model for one logical date, step by step.

    start -> quality + drift + performance -> record -> tickets -> notify

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
from datetime import UTC, date, datetime, timedelta
from typing import Any

from mrm import settings
from mrm.controls import AMBER, RED, Evaluated, escalate, evaluate, render_controls, worst
from mrm.core.results import MetricResult
from mrm.errors import InventoryError, MrmError
from mrm.evidence import EvidenceWriter, sha256
from mrm.inventory import ModelEntry
from mrm.lineage import TIMING, lineage
from mrm.notify.outbox import undelivered_error
from mrm.sources.labels import known_between
from mrm.sources.registry import source_for
from mrm.store import RunRecord
from mrm.ticketing.base import could_not_run_breach
from mrm.ticketing.lifecycle import TicketLifecycle
from mrm.wiring import cli_trigger, get_inventory, get_store, process_cache

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
def record_failure(entry: ModelEntry, day: date, reason: str, triggered_by: str, step: str) -> str:
    """Record that the run could not complete, and file a 'could not run' ticket. Returns the run id."""
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
        )
    )
    action = notifier().on_failure(entry, could_not_run_breach(entry, run_id, day, step, reason))
    log.error(
        "%s %s: run could not complete (%s): %s [ticket %s]", entry.model_id, day, step, reason, action["key"]
    )
    return run_id


@contextmanager
def _guard(entry: ModelEntry, day: date, triggered_by: str, step: str) -> Iterator[None]:
    try:
        yield
    except MrmError as exc:
        record_failure(entry, day, str(exc), triggered_by, step)
        raise
    except Exception as exc:  # a bug or an unexpected failure: still recorded, then re-raised
        record_failure(entry, day, f"unexpected {type(exc).__name__}: {exc}", triggered_by, step)
        raise


# -- steps ------------------------------------------------------------------------------------------
def start(model_id: str, day: date, triggered_by: str | None = None) -> RunContext:
    """Locate and check the day's scoring log, then stream it once into the counts every quality and drift
    metric is computed from (:mod:`mrm.checks.aggregate`), kept as the run's ``day_aggregate.npz``; return
    the context the other steps share. Memory does not grow with the day's rows for Parquet sources."""
    from mrm.checks import sample_evidence as se

    entry = get_inventory().get(model_id)
    if not entry.monitored:
        why = "has monitoring disabled" if entry.status == "approved" else f"is {entry.status}, not approved"
        raise InventoryError([f"model '{model_id}' {why}; only approved models with monitoring enabled run"])
    trigger = triggered_by or cli_trigger()
    with _guard(entry, day, trigger, "read scoring log"):
        day_input = source_for(entry).day_input(day)
    with _guard(entry, day, trigger, "read reference"):
        profile = reference_profile(entry)
    ctx = RunContext(
        run_id=uuid.uuid4().hex,
        model_id=model_id,
        logical_date=day.isoformat(),
        started_at=_now().isoformat(),
        triggered_by=trigger,
        inventory_hash=entry.fingerprint(),
        input_files=[{"uri": f.uri, "size": f.size, "etag": f.etag} for f in day_input.files],
        profile=profile.fingerprint,
    )
    with _guard(entry, day, trigger, "read scoring log"):
        agg = _aggregate(day_input, profile)
        ctx.row_count = agg.rows
        ctx.aggregate = _writer(ctx).put("day_aggregate.npz", agg.to_bytes())
    ctx.engine = se.summary(agg, profile)
    return ctx


def _aggregate(day_input, profile):
    """Stream the day into its aggregate. Objects not on local disk are first streamed to a temporary
    folder (S3 checks each is still the listed version), so memory does not grow with the day."""
    from mrm.checks.engine import aggregate as ag
    from mrm.core.storage import local_copies
    from mrm.errors import NoDataError
    from mrm.sources.parquet_stream import scan_day

    rows = settings.sample_rows()
    if day_input.frame is not None:
        return ag.aggregate_frame(day_input.frame, day_input.entry, profile, day_input.day, sample_rows=rows)
    with local_copies(day_input.files, prefix="mrm_day_") as copies:
        if scan_day(copies, day_input.entry, day_input.where) == 0:
            raise NoDataError(day_input.empty)
        return ag.aggregate_day(
            copies,
            day_input.entry,
            profile,
            day_input.day,
            sample_rows=rows,
            where=day_input.where,
            normalise=day_input.normalise,
        )


def reference_profile(entry: ModelEntry, fingerprint: str | None = None):
    """The entry's reference profile (cached under MRM_PROFILE_CACHE); with ``fingerprint``, fails unless
    the reference is still the one the run started with."""
    from mrm.checks.reference import reference_profile as cached_profile

    profile, _ = cached_profile(entry, settings.profile_cache_uri(), read=reference)
    if fingerprint and profile.fingerprint != fingerprint:
        raise MrmError(
            f"{entry.model_id}: the reference window's data or the inventory entry changed while the run was "
            "in progress; rerun the date"
        )
    return profile


def _day_aggregate(ctx: RunContext, entry: ModelEntry):
    """The run's reference profile and the day's aggregate that ``start`` kept."""
    from mrm.checks.engine.day_aggregate import DayAggregate

    profile = reference_profile(entry, ctx.profile)
    writer = _writer(ctx)
    data = writer.store.get(ctx.aggregate["uri"])
    if sha256(data) != ctx.aggregate["sha256"]:
        raise MrmError(f"{ctx.aggregate['uri']} changed since the run started; rerun {ctx.logical_date}")
    return profile, DayAggregate.from_bytes(data, profile, entry)


@process_cache(maxsize=16)
def _reference(model_id: str, inventory_hash: str, source_key: str):
    """The reference window's rows, read once per process (key includes the inventory hash): to profile a
    source without stable Parquet files (and for its performance baseline), and for `mrm baseline suggest`."""
    from mrm.checks.reference import read_reference

    return read_reference(get_inventory().get(model_id))


def reference(entry: ModelEntry):
    return _reference(entry.model_id, entry.fingerprint(), source_for(entry).cache_key)


def _check_step(ctx: RunContext, name: str) -> dict:
    """Run the registered check ``name`` (:data:`mrm.checks.base.CHECKS`) and keep its results for
    ``record``; returns its evidence references and timing."""
    from mrm.checks.base import CheckInputs, check_for, results_file

    check = check_for(name)
    entry = get_inventory().get(ctx.model_id)
    started = time.perf_counter()
    with _guard(entry, ctx.day, ctx.triggered_by, name):
        writer = _writer(ctx)
        inputs = CheckInputs(
            entry,
            ctx.day,
            writer,
            settings.evidence_uri(),
            day_aggregate=lambda: _day_aggregate(ctx, entry),
            labelled_cohort=lambda start, end: _labelled_cohort(entry, ctx.day, start, end),
            reference_performance=lambda: _reference_performance(entry.model_id, entry.fingerprint()),
        )
        results, evidence = check.compute(inputs)
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


@process_cache(maxsize=16)
def _reference_performance(model_id: str, inventory_hash: str) -> dict | None:
    """Performance of the reference window, with every label known by its end + maturity."""
    from mrm.checks.performance import labelled, statistics

    entry = get_inventory().get(model_id)
    perf, ref = entry.monitoring.performance, entry.monitoring.reference
    frame = _reference_scores(entry)
    known_by = ref.end + timedelta(days=perf.label_maturity_days)
    joined, _ = labelled(frame, known_between(entry, ref.start, known_by), known_by)
    stats, _ = statistics(joined, perf)
    return stats


def performance(ctx: RunContext) -> dict:
    """Outcome analysis of the matured cohort (logical date − label maturity) on the labels known today."""
    return _check_step(ctx, "performance")


def _labelled_cohort(entry: ModelEntry, day: date, start: date, end: date):
    """The cohort scored on [start, end] joined to the labels known by ``day``: (joined, label coverage or
    None without scores, the cohort's missing and unreadable days)."""
    from mrm.checks.performance import labelled
    from mrm.errors import NoDataError

    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    note: dict = {}
    try:
        where = f"scoring log of the cohort {start}..{end}"
        scored, data = _scores(entry, days, where, skip_unreadable=True)
        note = {
            "cohort_missing_days": [d.isoformat() for d in data.missing_days],
            "unreadable": data.unreadable,
        }
    except NoDataError:
        return _empty_cohort(), None, note
    joined, coverage = labelled(scored, known_between(entry, start, day), day)
    return joined, coverage, note


SCORE_COLUMNS = ("event_id", "score")  # all that outcome analysis needs of the scoring log


def _scores(entry: ModelEntry, days: list[date], where: str, *, skip_unreadable: bool = False):
    """Event ids and scores of some days, read without the other columns (a cohort of several days of a
    wide, high-volume log would not fit in memory whole)."""
    from mrm.sources.contract import conform

    data = source_for(entry).read_days(days, skip_unreadable=skip_unreadable, columns=SCORE_COLUMNS)
    return conform(data.frame, entry, where, columns=SCORE_COLUMNS), data


def _reference_scores(entry: ModelEntry):
    """Event ids and scores of the reference window. A source without stable Parquet files (Athena,
    capture) had its window read whole for the profile: those rows, read once per process, are used."""
    ref = entry.monitoring.reference
    if source_for(entry).reference_files(ref.days()) is None:
        frame, _ = reference(entry)
        return frame[["_dt", *SCORE_COLUMNS]]
    return _scores(entry, ref.days(), f"reference window {ref.start}..{ref.end}")[0]


def _empty_cohort():
    import pandas as pd

    return pd.DataFrame({"event_id": [], "score": [], "label": []})


def record(ctx: RunContext, *evidence: dict) -> dict:
    """Evaluate controls and write the run with every metric to the history, in one transaction."""
    from mrm.checks.base import CHECKS, results_file

    entry = get_inventory().get(ctx.model_id)
    with _guard(entry, ctx.day, ctx.triggered_by, "record"):
        everything = {k: v for part in evidence for k, v in part.items()}
        merged = {k: v for k, v in everything.items() if not k.endswith(TIMING)}
        if ctx.aggregate:
            merged["day_aggregate"] = ctx.aggregate
        writer = _writer(ctx)
        results = [MetricResult.from_dict(d) for name in CHECKS for d in writer.get_json(results_file(name))]
        runs_to_red = entry.monitoring.persistence.amber_runs_to_red
        previous = get_store().previous_statuses(ctx.model_id, ctx.day, (runs_to_red or 1) - 1)
        evaluated = escalate(evaluate(results, entry), previous, runs_to_red)
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
        )
        get_store().record_run(run, evaluated, entry.model_dump(mode="json"))
    log.info("%s", render_controls(evaluated, f"{ctx.model_id} {ctx.logical_date}"))
    return summary(run, evaluated)


def summary(run: RunRecord, evaluated: list[Evaluated]) -> dict:
    breaches = [
        {"control": e.control, "status": e.status, "value": e.result.value, "amber": e.amber, "red": e.red}
        for e in evaluated
        if e.status in (RED, AMBER)
    ]
    return {
        "run_id": run.run_id,
        "model_id": run.model_id,
        "logical_date": run.logical_date.isoformat(),
        "overall_status": run.overall_status,
        "breaches": breaches,
        "evidence": run.evidence,
    }


def notifier() -> TicketLifecycle:
    return TicketLifecycle(get_store(), get_inventory())


def tickets(ctx: RunContext) -> list[dict]:
    """Open a ticket per RED control or add an occurrence to the open one; note controls back to GREEN;
    escalate tickets unresolved too long; queue their mirrors and alerts in the outbox (same transaction).
    Tickets closed in Jira meanwhile are read back first, so a breach after that opens a new one."""
    entry = get_inventory().get(ctx.model_id)
    with _guard(entry, ctx.day, ctx.triggered_by, "tickets"):
        n = notifier()
        n.sync_external(ctx.model_id)
        return n.on_run(entry, ctx.run_id, ctx.day)


def notify(ctx: RunContext) -> dict:
    """Deliver what the outbox holds for this model (this run's items and any left from earlier runs).
    Raises DeliveryError if something stays undelivered: it is kept and retried on the next run."""
    report = notifier().deliver(ctx.model_id)
    if error := undelivered_error(report):
        raise error
    return {"delivered": len(report.delivered)}


def run_model(model_id: str, day: date, triggered_by: str | None = None) -> dict:
    """All steps in sequence: what ``mrm run`` does, and what the DAG does task by task."""
    ctx = start(model_id, day, triggered_by)
    evidence = [quality(ctx), drift(ctx), performance(ctx)]
    result = record(ctx, *evidence)
    result["rows"], result["sample_rows"] = ctx.row_count, ctx.engine.get("sample", {}).get("rows")
    result["tickets"] = tickets(ctx)
    report = notifier().deliver(model_id)
    result["notifications"] = {"delivered": len(report.delivered), "undelivered": report.undelivered}
    return result
