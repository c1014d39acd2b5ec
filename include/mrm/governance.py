"""Governance checks over the whole inventory (the ``mrm_governance`` DAG, daily).

Gaps in governance are findings like control breaches: each check of each model is recorded in the
history (a run of kind ``governance``), and RED findings are ticketed to the model risk team with
the same de-duplication as breaches (one open ticket per model and finding).

The desk's part: the risk acceptances in force (``risk_accepted``, GREEN, listed in its detail) and
those ending within a week (``risk_acceptance_expiring``, AMBER: in the owner's digest), from
:mod:`mrm.ticketing.acceptances`; an acceptance that expired is told to the owner once; and, with a
role map, run days not attested in time (``review_not_attested``, :mod:`mrm.ticketing.attestation`).
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, date, datetime, timedelta

from mrm.controls import AMBER, GREEN, RED, Evaluated, worst
from mrm.core.results import MetricResult
from mrm.errors import MrmError
from mrm.inventory import Inventory, ModelEntry
from mrm.notify import outbox
from mrm.notify.outbox import undelivered_error
from mrm.store import HistoryStore, RunRecord, anchor, reruns
from mrm.store import acts as store_acts
from mrm.store import tickets as store_tickets
from mrm.ticketing import acceptances, attestation, sweep
from mrm.ticketing.base import governance_breach
from mrm.ticketing.lifecycle import TicketLifecycle

log = logging.getLogger("mrm.governance")
PERFORMANCE_CONTROLS = {
    "auc",
    "gini",
    "ks",
    "gini_drop",
    "ks_drop",
    "calibration_ratio",
    "brier",
    "label_coverage",
}


def _finding(name: str, status: str, value: float | None = None, **detail) -> Evaluated:
    return Evaluated(MetricResult("governance", name, None, value, detail), None, None, status)


def _validation(entry: ModelEntry, day: date, warn_days: int) -> list[Evaluated]:
    due = entry.validation_due
    if entry.status not in ("approved", "suspended"):
        return []
    if due is None:
        return [_finding("validation_overdue", RED, None, reason="no validation date recorded")]
    days = (due - day).days
    return [
        _finding("validation_overdue", RED if days < 0 else GREEN, float(max(-days, 0)), due=str(due)),
        _finding(
            "validation_due_soon", AMBER if 0 <= days <= warn_days else GREEN, float(days), due=str(due)
        ),
    ]


def _evidence(entry: ModelEntry) -> list[Evaluated]:
    if entry.status != "approved" or entry.approval is None:
        return []
    report = entry.approval.validation_report
    if report is None:
        return [_finding("approval_evidence_missing", RED, reason="approval has no validation_report")]
    if report.startswith(("s3://", "file://")):
        from mrm.core.storage import store_for

        try:
            found = bool(store_for(report).list(report))
        except MrmError as exc:
            found, report = False, f"{report} ({exc})"
        if not found:
            return [
                _finding("approval_evidence_missing", RED, reason=f"validation report not found: {report}")
            ]
    return [_finding("approval_evidence_missing", GREEN, report=report)]


def _monitoring(entry: ModelEntry, day: date, store: HistoryStore, stale_days: int) -> list[Evaluated]:
    if not entry.monitored or day < entry.monitoring.start_date + timedelta(days=stale_days):
        return []
    done = [r for r in store.runs(entry.model_id, until=day) if r["status"] == "completed"]
    last = max((r["logical_date"] for r in done), default=None)
    gap = (day - last).days if last else None
    stale = gap is None or gap > stale_days
    return [_finding("no_recent_monitoring", RED if stale else GREEN, gap, last_completed=str(last))]


def _people_and_plan(entry: ModelEntry) -> list[Evaluated]:
    out = [_finding("owner_missing", AMBER if entry.business_owner is None else GREEN, what="business_owner")]
    if entry.monitored and entry.risk_tier == 1:
        controlled = PERFORMANCE_CONTROLS & set(entry.monitoring.controls)
        out.append(
            _finding("performance_control_missing", GREEN if controlled else RED, controls=sorted(controlled))
        )
    return out


def _model_version(entry: ModelEntry, day: date) -> list[Evaluated]:
    """The scoring log's model_version of the latest day (of the last 3) against the inventory's."""
    if not entry.monitored:
        return []
    from mrm.errors import NoDataError
    from mrm.sources.registry import source_for

    source = source_for(entry)
    problem = None
    for back in range(3):  # the latest readable day of the last three
        try:
            frame = source.read_days([day - timedelta(days=back)]).frame
        except NoDataError:
            continue
        except MrmError as exc:
            problem = str(exc)
            continue
        seen = sorted({str(v) for v in frame["model_version"].dropna()}) if "model_version" in frame else []
        other = [v for v in seen if v != entry.version]
        status = RED if other else GREEN
        return [
            _finding("unapproved_model_version", status, float(len(other)), seen=seen, approved=entry.version)
        ]
    if problem:
        return [
            _finding("unapproved_model_version", AMBER, reason=f"could not read the scoring log: {problem}")
        ]
    return []


def _acceptances(entry: ModelEntry, day: date, acts: list[dict]) -> list[Evaluated]:
    mine = [a for a in acts if a["model_id"] == entry.model_id]
    held = acceptances.in_force(mine, day)
    if not held:
        return []
    soon = acceptances.expiring(mine, day)
    first = min(((a["until_date"] - day).days for a in soon), default=None)
    return [
        _finding("risk_accepted", GREEN, float(len(held)), accepted=[_accepted(a) for a in held]),
        _finding(
            "risk_acceptance_expiring", AMBER if soon else GREEN, None if first is None else float(first),
            expiring=[_accepted(a) for a in soon], within_days=acceptances.EXPIRING_DAYS,
        ),
    ]  # fmt: skip


def _accepted(act: dict) -> dict:
    ticket = f"MRM-{act['ticket_id']}" if act["ticket_id"] else None
    return {"control": act["control"], "until": str(act["until_date"]), "by": act["person"], "ticket": ticket}


def _attestation(entry: ModelEntry, day: date, store: HistoryStore, inventory: Inventory, acts) -> list:
    if inventory.policy.roles is None:
        return []
    since = day - timedelta(days=attestation.LOOKBACK_DAYS)
    runs = store.runs(entry.model_id, since=since, until=day, kind=None)
    run_days = {r["logical_date"] for r in runs if r["kind"] in store_tickets.TICKETED_KINDS}
    if not run_days:
        return []
    target = inventory.policy.targets(entry.risk_tier).attest_business_days
    attests = [a for a in acts if a["kind"] == "attest"]
    late = attestation.overdue(run_days, attests, entry.model_id, day, target)
    status = attestation.status(late, target)
    return [
        _finding(
            "review_not_attested", status, float(len(late)), days=[str(d) for d, _ in late],
            target_business_days=target, oldest_business_days=late[0][1] if late else 0,
        )
    ]  # fmt: skip


def desk_acts(store: HistoryStore) -> list[dict]:
    """The acts governance reads: every accept_risk and attest act."""
    with store.engine.connect() as conn:
        return store_acts.acts(conn, kinds=("accept_risk", "attest"))


def assess(
    entry: ModelEntry, day: date, store: HistoryStore, inventory: Inventory, acts: list[dict] | None = None
) -> list[Evaluated]:
    """The findings of one model on ``day``; ``acts``: :func:`desk_acts` (read when not given)."""
    rules = inventory.policy.governance
    acts = desk_acts(store) if acts is None else acts
    return [
        *_validation(entry, day, rules.validation_due_warning_days),
        *_evidence(entry),
        *_monitoring(entry, day, store, rules.stale_monitoring_days),
        *_people_and_plan(entry),
        *_model_version(entry, day),
        *_acceptances(entry, day, acts),
        *_attestation(entry, day, store, inventory, acts),
    ]


def tell_expired(day: date, inventory: Inventory, store: HistoryStore, acts: list[dict]) -> int:
    """Queue the notice of each expired risk acceptance to its owner (once: keyed by the act); returns
    how many were new. Delivered by :func:`notify_portfolio`."""
    items = acceptances.expiry_notices(inventory, acts, day)
    with store.engine.begin() as conn:
        store_tickets.serialise(conn)
        told = outbox.enqueue(conn, items)
    if told:
        log.info("governance %s: %d expired risk acceptance notice(s) queued", day, told)
    return told


def run_governance(
    day: date, triggered_by: str, inventory: Inventory, store: HistoryStore, reason: str | None = None
) -> list[dict]:
    """Assess every model in the inventory for ``day``; record each as a governance run; ticket REDs.
    ``reason``: why the day is assessed again (an Airflow retry without one records its run and try)."""
    notifier = TicketLifecycle(store, inventory)
    team = str(inventory.policy.model_risk_team)
    acts = desk_acts(store)
    summary = []
    for entry in sorted(inventory.entries.values(), key=lambda e: e.model_id):
        findings = assess(entry, day, store, inventory, acts)
        now = datetime.now(UTC)
        why = reruns.rerun_reason(store.engine, entry.model_id, day, triggered_by, reason, "governance")
        run = RunRecord(
            run_id=uuid.uuid4().hex, model_id=entry.model_id, model_version=entry.version, logical_date=day,
            status="completed", overall_status=worst([f.status for f in findings]), started_at=now,
            finished_at=now, triggered_by=triggered_by, inventory_hash=entry.fingerprint(), kind="governance",
            rerun_reason=why,
        )  # fmt: skip
        store.record_run(run, findings, entry.document())
        reds = [governance_breach(entry, f, run.run_id, day, team) for f in findings if f.status == RED]
        tickets = notifier.on_findings(entry, reds)
        anchor.after_record(store, entry.model_id, day)  # the run and its ticket events; never raises
        bad = [f"{f.result.metric} {f.status}" for f in findings if f.status in (RED, AMBER)]
        summary.append({"model_id": entry.model_id, "findings": bad, "tickets": tickets})
        log.info("governance %s %s: %s", entry.model_id, day, ", ".join(bad) or "no findings")
    tell_expired(day, inventory, store, acts)
    return summary


def ticket_unticketed(day: date, inventory: Inventory, store: HistoryStore) -> list[dict]:
    """The sweep over every model up to ``day``: RED controls a monitoring run recorded but never
    ticketed (its worker died between record and tickets) are ticketed now, and RED tickets not
    acknowledged within their tier's target are escalated (:mod:`mrm.ticketing.sweep`). Returns what
    was filed, one entry per run."""
    lifecycle = TicketLifecycle(store, inventory)
    filed = sweep.unticketed(lifecycle, day)
    for run in filed:
        anchor.after_record(store, run["model_id"], date.fromisoformat(run["logical_date"]))
    log.info("sweep %s: %d run(s) recorded but not ticketed, ticketed now", day, len(filed))
    late = sweep.unacknowledged(lifecycle, day)  # delivered by notify_portfolio, with the rest
    log.info("sweep %s: %d RED ticket(s) not acknowledged in time, escalated", day, len(late))
    return filed


def notify_portfolio(day: date, inventory: Inventory, store: HistoryStore) -> dict:
    """After the assessment: read back Jira, escalate unresolved REDs, queue the AMBER digests and the
    portfolio summary, then deliver everything pending (all models). Raises DeliveryError if anything
    stays undelivered (it is kept and retried on the next pass)."""
    notifier = TicketLifecycle(store, inventory)
    done = notifier.daily(day)
    report = notifier.deliver()
    done["delivered"] = len(report.delivered)
    log.info("notifications %s: %s", day, done)
    if error := undelivered_error(report):
        raise error
    return done
