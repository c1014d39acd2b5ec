"""The ticket lifecycle and alert routing, written to the outbox in the ticket event's transaction.

on_run        a monitoring run's RED controls open tickets or add occurrences; GREEN controls with
              an open ticket add "returned to green"; unresolved RED tickets escalate; new tickets
              raise one RED alert per run
daily         (governance DAG) AMBER digest per owner, portfolio summary, escalations, read-back of
              tickets closed in Jira
close         a person closes a ticket with a reason (``mrm tickets close``)
deliver       send what the outbox holds (mrm.notify.outbox)
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from mrm import settings
from mrm.core.results import control_key
from mrm.errors import ConfigError, DeliveryError, MrmError
from mrm.inventory import Inventory, ModelEntry
from mrm.inventory.notifications import Routing, routing
from mrm.notify import outbox, templates
from mrm.notify.base import (
    ALERT_DIGEST,
    ALERT_ESCALATION,
    ALERT_RED,
    ALERT_SUMMARY,
    TICKET_CLOSED,
    TICKET_ESCALATED,
    TICKET_GREEN,
    TICKET_OCCURRENCE,
    TICKET_OPENED,
    Channel,
)
from mrm.store import HistoryStore, schema
from mrm.ticketing.base import Breach
from mrm.ticketing.builtin import OCCURRENCE, OPENED, BuiltinTracker, Filed, ticket_key

log = logging.getLogger("mrm.notify")

EVIDENCE_BY_CHECK = {"quality": "quality_gx", "drift": "drift_report", "performance": "performance_report"}
_TICKET_KIND = {OPENED: TICKET_OPENED, OCCURRENCE: TICKET_OCCURRENCE}


def _card(entry: ModelEntry) -> dict[str, Any]:
    return {
        "model_id": entry.model_id,
        "name": entry.name,
        "version": entry.version,
        "risk_tier": entry.risk_tier,
        "owner": str(entry.owner),
    }


def airflow_run_link(triggered_by: str | None) -> str | None:
    """``airflow:<dag_id>/<run_id>/try<n>`` -> the run's page in the Airflow UI (MRM_AIRFLOW_URL)."""
    base = settings.airflow_url()
    if not base or not triggered_by or not triggered_by.startswith("airflow:"):
        return None
    parts = triggered_by.removeprefix("airflow:").split("/")
    if len(parts) < 2:
        return None
    from urllib.parse import quote

    return f"{base}/dags/{quote(parts[0])}/runs/{quote('/'.join(parts[1:-1]) or parts[1], safe='')}"


class Notifier:
    def __init__(
        self,
        store: HistoryStore,
        inventory: Inventory,
        channel_for: Callable[[str], Channel] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self.store = store
        self.inventory = inventory
        self.cfg = inventory.policy.notifications
        self.tracker = BuiltinTracker(store)
        self._channel_for = channel_for or self.build_channel
        self._sleep = sleep

    # -- configuration --------------------------------------------------------------------------------
    def routing(self, model_id: str | None) -> Routing:
        entry = self.inventory.entries.get(model_id) if model_id else None
        return routing(self.cfg, entry.notifications if entry else None)

    def recipients(self, entry: ModelEntry | None, *, owner: bool = True) -> list[str]:
        people = [str(entry.owner)] if entry is not None and owner else []
        people.append(str(self.inventory.policy.model_risk_team))
        people += [str(p) for p in self.routing(entry.model_id if entry else None).extra_recipients]
        return list(dict.fromkeys(people))

    def build_channel(self, name: str) -> Channel:
        c = self.cfg.channels
        if name == "jira":
            from mrm.ticketing.jira import JiraSink

            return JiraSink.from_config(c.jira)
        if name == "webhook":
            from mrm.ticketing.webhook import WebhookSink

            return WebhookSink.from_config(c.webhook)
        if name == "email":
            from mrm.alerts.email import SmtpAlerts

            return SmtpAlerts.from_config(c.email)
        if name == "slack":
            from mrm.alerts.slack import SlackAlerts

            return SlackAlerts.from_config(c.slack)
        if name == "sns":
            from mrm.alerts.sns import SnsAlerts

            return SnsAlerts.from_config(c.sns)
        raise ConfigError(f"unknown notification channel '{name}' in the outbox")

    # -- a monitoring run -----------------------------------------------------------------------------
    def on_run(self, entry: ModelEntry, run_id: str, day: date) -> list[dict]:
        """File this run's RED controls and the lifecycle events they imply; returns ticket actions."""
        try:
            return self._on_run(entry, run_id, day)
        except IntegrityError:  # a concurrent run opened the same ticket first: file against that one
            return self._on_run(entry, run_id, day)

    def _on_run(self, entry: ModelEntry, run_id: str, day: date) -> list[dict]:
        run = self.store.run(run_id)
        rows = self.store.metrics(run_id=run_id)
        history = self._series(entry.model_id, day)
        links_of = self._links(run)
        by_control = {control_key(r["check"], r["metric"], r["column"], r["segment"]): r for r in rows}
        actions, items, opened = [], [], []
        with self.store.engine.begin() as conn:
            for control, row in by_control.items():
                if row["status"] != "RED":
                    continue
                breach = _breach(entry, run, row, control)
                filed = self.tracker.file_in(conn, breach, entry.risk_tier)
                actions.append(filed.action)
                ticket = self.tracker.ticket_in(conn, filed.action.ticket_id)
                links = links_of(row["check"])
                text = templates.ticket_text(
                    model=_card(entry),
                    control=control,
                    check=row["check"],
                    column=row["column"],
                    segment=row["segment"],
                    severity="RED",
                    value=row["value"],
                    amber=row["amber_threshold"],
                    red=row["red_threshold"],
                    logical_date=day,
                    run_id=run_id,
                    links=links,
                    trend=history(row["check"], row["metric"], row["column"], row["segment"]),
                    detail=_escalation_note(row),
                )
                if filed.action.action == OPENED:
                    opened.append({**ticket, "value": row["value"], "red": row["red_threshold"]})
                items += self._ticket_items(entry, ticket, filed, text, row, day, run_id, links)
            items += self._returned_to_green(conn, entry, run, by_control, day)
            items += self._escalations(conn, day, entry.model_id)
            if opened:
                items += self._red_alert(entry, day, opened, links_of(None))
            outbox.enqueue(conn, items)
        return [{"ticket_id": a.ticket_id, "key": a.key, "action": a.action} for a in actions]

    def on_failure(self, entry: ModelEntry, breach: Breach) -> dict:
        """A run that could not complete: a ``run.could_not_run`` ticket, mirrored and alerted."""
        model = _card(entry)
        text = templates.ticket_text(
            model=model,
            control=breach.control,
            check="run",
            column=None,
            segment=None,
            severity="RED",
            value=None,
            amber=None,
            red=None,
            logical_date=breach.logical_date,
            run_id=breach.run_id,
            trend=[],
            links={},
            detail=breach.message,
        )
        with self.store.engine.begin() as conn:
            filed = self.tracker.file_in(conn, breach, entry.risk_tier)
            ticket = self.tracker.ticket_in(conn, filed.action.ticket_id)
            row = {"value": None, "check": "run", "metric": "could_not_run", "column": None, "segment": None}
            items = self._ticket_items(
                entry, ticket, filed, text, row, breach.logical_date, breach.run_id, {}
            )
            if filed.action.action == OPENED:
                opened = [{**ticket, "value": None, "red": None}]
                items += self._red_alert(entry, breach.logical_date, opened, {})
            outbox.enqueue(conn, items)
        a = filed.action
        return {"ticket_id": a.ticket_id, "key": a.key, "action": a.action}

    def on_findings(self, entry: ModelEntry, breaches: list[tuple[Breach, str]]) -> list[str]:
        """Governance REDs: (breach, ticket text) pairs, filed and mirrored; the model risk team owns them."""
        keys, items = [], []
        with self.store.engine.begin() as conn:
            for breach, text in breaches:
                filed = self.tracker.file_in(conn, breach, entry.risk_tier)
                ticket = self.tracker.ticket_in(conn, filed.action.ticket_id)
                row = {
                    "value": breach.value,
                    "check": breach.check,
                    "metric": breach.metric,
                    "column": None,
                    "segment": None,
                }
                items += self._ticket_items(
                    entry, ticket, filed, text, row, breach.logical_date, breach.run_id, {}
                )
                keys.append(filed.action.key)
            outbox.enqueue(conn, items)
        return keys

    # -- the portfolio, daily -------------------------------------------------------------------------
    def daily(self, day: date) -> dict:
        """What the governance DAG does after assessing the inventory: read back Jira, escalate, digest,
        summary. Returns counts of what was queued."""
        closed = self.sync_external()
        digests, summary = self._digests(day), self._summary(day)  # read before the write transaction:
        with self.store.engine.begin() as conn:  # on SQLite a read inside it would wait for it
            escalations = self._escalations(conn, day, None)
            queued = outbox.enqueue(conn, [*escalations, *digests, *summary])
        escalated = len({i.ticket_id for i in escalations if i.kind == TICKET_ESCALATED}) or sum(
            i.kind == ALERT_ESCALATION for i in escalations
        )
        return {"closed_in_jira": closed, "queued": queued, "escalated": escalated}

    def close(self, ticket_id: int, by: str, reason: str, day: date | None = None) -> dict:
        """A person's decision to close a ticket, recorded with who and why, and mirrored."""
        day = day or datetime.now(UTC).date()
        with self.store.engine.begin() as conn:
            event = self.tracker.close_in(conn, ticket_id, by, reason, day)
            ticket = self.tracker.ticket_in(conn, ticket_id)
            payload = self._ticket_payload(ticket, f"Closed by {by}: {reason}", None, day, "", {})
            payload.update(closed_by=by, reason=reason)
            items = [
                outbox.Item(
                    outbox.make_key(sink, "ticket", ticket_id, "event", event),
                    sink,
                    TICKET_CLOSED,
                    payload,
                    ticket["model_id"],
                    ticket_id,
                    day,
                )
                for sink in self.routing(ticket["model_id"]).tickets
            ]
            outbox.enqueue(conn, items)
        return ticket

    def sync_external(self, model_id: str | None = None) -> list[str]:
        """Tickets closed in Jira are closed here too (who: jira, why: the Jira status)."""
        o = schema.outbox
        with self.store.engine.connect() as conn:
            q = select(o.c.ticket_id, o.c.receipt).where(
                o.c.channel == "jira", o.c.status == outbox.DELIVERED, o.c.ticket_id.is_not(None)
            )
            receipts = {r.ticket_id: (r.receipt or {}).get("external_key") for r in conn.execute(q)}
        linked = [t for t in self.tracker.tickets(model_id) if receipts.get(t["ticket_id"])]
        if not linked:
            return []
        try:
            jira = self._channel_for("jira")
        except (ConfigError, DeliveryError) as exc:
            log.warning("cannot read back Jira statuses: %s", exc)
            return []
        closed = []
        for t in linked:
            key = receipts[t["ticket_id"]]
            try:
                state = jira.status(key)
            except DeliveryError as exc:
                log.warning("cannot read the status of Jira %s (%s): %s", key, t["key"], exc)
                continue
            if state.get("done"):
                reason = f"closed in Jira {key} (status {state.get('status')})"
                self._close_from_jira(t, key, reason)
                closed.append(t["key"])
        return closed

    def deliver(self, model_id: str | None = None) -> outbox.Report:
        return outbox.deliver(
            self.store, self._channel_for, self.cfg.retry, model_id=model_id, sleep=self._sleep
        )

    # -- building outbox items ------------------------------------------------------------------------
    def _ticket_payload(self, ticket: dict, text: str, value, day: date, run_id: str, links: dict) -> dict:
        entry = self.inventory.entries.get(ticket["model_id"])
        control = ticket["control"]
        segment = control[control.index("{") + 1 : -1] if control.endswith("}") else None
        return {
            "ticket_id": ticket["ticket_id"],
            "ticket_key": ticket["key"],
            "model_id": ticket["model_id"],
            "model_name": entry.name if entry else ticket["model_id"],
            "control": control,
            "check": ticket["check"],
            "metric": ticket["metric"],
            "column": ticket["column"],
            "segment": segment,
            "severity": ticket["severity"],
            "priority": ticket["priority"],
            "tier": entry.risk_tier if entry else None,
            "owner": ticket["owner"],
            "title": ticket["title"],
            "text": text,
            "value": value,
            "logical_date": day.isoformat(),
            "run_id": run_id,
            "links": links,
        }

    def _ticket_items(self, entry, ticket, filed: Filed, text, row, day, run_id, links) -> list[outbox.Item]:
        if filed.event_id is None:
            return []
        kind = _TICKET_KIND[filed.action.action]
        if kind == TICKET_OCCURRENCE:
            text = templates.event_comment(
                "occurrence",
                control=ticket["control"],
                value=row["value"],
                logical_date=day,
                run_id=run_id,
                text=text,
            )
        payload = self._ticket_payload(ticket, text, row["value"], day, run_id, links)
        return [
            outbox.Item(
                outbox.make_key(sink, "ticket", ticket["ticket_id"], "event", filed.event_id),
                sink,
                kind,
                payload,
                entry.model_id,
                ticket["ticket_id"],
                day,
            )
            for sink in self.routing(entry.model_id).tickets
        ]

    def _returned_to_green(self, conn, entry, run, by_control, day) -> list[outbox.Item]:
        items = []
        for ticket in self._open_tickets(conn, entry.model_id):
            row = by_control.get(ticket["control"])
            if ticket["control"] == "run.could_not_run":
                row = {"status": "GREEN", "value": None}  # this run completed
            if row is None or row["status"] != "GREEN":
                continue
            comment = templates.event_comment(
                "returned_to_green",
                control=ticket["control"],
                value=row["value"],
                logical_date=day,
                run_id=run["run_id"],
            )
            event = self.tracker.returned_to_green_in(
                conn, ticket["ticket_id"], run["run_id"], day, row["value"], comment
            )
            if event is None:
                continue
            payload = self._ticket_payload(ticket, comment, row["value"], day, run["run_id"], {})
            items += [
                outbox.Item(
                    outbox.make_key(sink, "ticket", ticket["ticket_id"], "event", event),
                    sink,
                    TICKET_GREEN,
                    payload,
                    entry.model_id,
                    ticket["ticket_id"],
                    day,
                )
                for sink in self.routing(entry.model_id).tickets
            ]
        return items

    def _escalations(self, conn, day: date, model_id: str | None) -> list[outbox.Item]:
        rule = self.cfg.escalation
        items = []
        for ticket in self._open_tickets(conn, model_id):
            days_open = (day - ticket["first_logical_date"]).days
            if (
                ticket["severity"] != "RED"
                or ticket["escalated_at"] is not None
                or days_open < rule.red_open_days
            ):
                continue
            message = (
                f"Unresolved for {days_open} days (RED since {ticket['first_logical_date']}): escalated "
                "to the model risk team."
            )
            done = self.tracker.escalate_in(conn, ticket["ticket_id"], day, message)
            if done is None:
                continue
            event, priority = done
            ticket = {**ticket, "priority": priority}
            payload = self._ticket_payload(
                ticket, f"{message} Priority raised to {priority}.", None, day, "", {}
            )
            items += [
                outbox.Item(
                    outbox.make_key(sink, "ticket", ticket["ticket_id"], "event", event),
                    sink,
                    TICKET_ESCALATED,
                    payload,
                    ticket["model_id"],
                    ticket["ticket_id"],
                    day,
                )
                for sink in self.routing(ticket["model_id"]).tickets
            ]
            alert = templates.escalation(ticket, days_open, priority, day)
            entry = self.inventory.entries.get(ticket["model_id"])
            alert.update(model_id=ticket["model_id"], recipients=self.recipients(entry, owner=False))
            items += [
                outbox.Item(
                    outbox.make_key(ch, "escalation", ticket["ticket_id"]),
                    ch,
                    ALERT_ESCALATION,
                    alert,
                    ticket["model_id"],
                    None,
                    day,
                )
                for ch in rule.alerts
            ]
        return items

    def _red_alert(self, entry: ModelEntry, day: date, opened: list[dict], links: dict) -> list[outbox.Item]:
        alert = templates.red_alert(_card(entry), day, opened, links)
        alert.update(model_id=entry.model_id, recipients=self.recipients(entry))
        first = min(t["ticket_id"] for t in opened)
        return [
            outbox.Item(
                outbox.make_key(ch, "red", entry.model_id, day, first),
                ch,
                ALERT_RED,
                alert,
                entry.model_id,
                None,
                day,
            )
            for ch in self.routing(entry.model_id).red_alerts
        ]

    def _digests(self, day: date) -> list[outbox.Item]:
        per: dict[tuple[str, str], list[dict]] = {}
        for row in self.store.metrics(since=day, until=day):
            entry = self.inventory.entries.get(row["model_id"])
            if entry is None or row["status"] != "AMBER":
                continue
            control = control_key(row["check"], row["metric"], row["column"], row["segment"])
            finding = {
                "model_id": row["model_id"],
                "control": control,
                "value": row["value"],
                "amber": row["amber_threshold"],
                "red": row["red_threshold"],
            }
            for ch in self.routing(entry.model_id).amber_digest:
                per.setdefault((ch, str(entry.owner)), []).append(finding)
        items = []
        for (ch, owner), findings in sorted(per.items()):
            message = templates.digest(owner, day, findings)
            message.update(model_id=None, recipients=[owner])
            items.append(
                outbox.Item(
                    outbox.make_key(ch, "digest", owner, day), ch, ALERT_DIGEST, message, None, None, day
                )
            )
        return items

    def _summary(self, day: date) -> list[outbox.Item]:
        channels = self.cfg.portfolio_summary
        if not channels:
            return []
        runs = {r["model_id"]: r for r in self.store.runs(since=day, until=day)}  # latest last
        rows = []
        for model_id, entry in sorted(self.inventory.entries.items()):
            if not entry.monitored:
                continue
            run = runs.get(model_id)
            status = "NO RUN" if run is None else (run["overall_status"] or "GREEN")
            note = run["reason"] if run is not None and run["status"] == "failed" else None
            rows.append({"model_id": model_id, "status": status, "note": note})
        tickets = self.tracker.tickets(status="all")
        open_count = sum(t["status"] == "open" for t in tickets)
        new = sum(t["first_logical_date"] == day for t in tickets)
        message = templates.summary(
            day, rows, open_count, new, len(outbox.pending(self.store, due_only=False))
        )
        message.update(model_id=None, recipients=[str(self.inventory.policy.model_risk_team)])
        return [
            outbox.Item(outbox.make_key(ch, "summary", day), ch, ALERT_SUMMARY, message, None, None, day)
            for ch in channels
        ]

    # -- helpers --------------------------------------------------------------------------------------
    def _open_tickets(self, conn, model_id: str | None) -> list[dict]:
        t = schema.tickets
        q = select(t).where(t.c.status == "open").order_by(t.c.ticket_id)
        if model_id:
            q = q.where(t.c.model_id == model_id)
        return [{**dict(r), "key": ticket_key(r["ticket_id"])} for r in conn.execute(q).mappings()]

    def _close_from_jira(self, ticket: dict, jira_key: str, reason: str) -> None:
        day = datetime.now(UTC).date()
        with self.store.engine.begin() as conn:
            try:
                event = self.tracker.close_in(conn, ticket["ticket_id"], f"jira:{jira_key}", reason, day)
            except MrmError:
                return  # closed meanwhile
            payload = self._ticket_payload(ticket, reason, None, day, "", {})
            payload.update(closed_by=f"jira:{jira_key}", reason=reason)
            outbox.enqueue(
                conn,
                [
                    outbox.Item(
                        outbox.make_key(sink, "ticket", ticket["ticket_id"], "event", event),
                        sink,
                        TICKET_CLOSED,
                        payload,
                        ticket["model_id"],
                        ticket["ticket_id"],
                        day,
                    )
                    for sink in self.routing(ticket["model_id"]).tickets
                    if sink != "jira"
                ],
            )
        log.info("%s closed: %s", ticket["key"], reason)

    def _series(self, model_id: str, day: date):
        """The last N values of a control up to ``day`` (current runs), for the ticket's trend line."""
        n = self.cfg.trend_points
        rows = self.store.metrics(model_id, day - timedelta(days=max(3 * n, 30)), day)

        def trend(check, metric, column, segment) -> list[tuple[date, float | None, str]]:
            points = [
                (r["logical_date"], r["value"], r["status"])
                for r in rows
                if (r["check"], r["metric"], r["column"], r["segment"]) == (check, metric, column, segment)
            ]
            return points[-n:]

        return trend

    @staticmethod
    def _links(run: dict):
        evidence = run.get("evidence") or {}
        airflow = airflow_run_link(run.get("triggered_by"))

        def links(check: str | None) -> dict[str, str]:
            out = {}
            if check and isinstance(evidence.get(EVIDENCE_BY_CHECK.get(check, "")), dict):
                out["Evidence"] = evidence[EVIDENCE_BY_CHECK[check]]["uri"]
            if airflow:
                out["Airflow run"] = airflow
            return out

        return links


def _escalation_note(row: dict) -> str | None:
    detail = row.get("detail") or {}
    return detail.get("escalated") if isinstance(detail.get("escalated"), str) else None


def _breach(entry: ModelEntry, run: dict, row: dict, control: str) -> Breach:
    amber, red = row["amber_threshold"], row["red_threshold"]
    message = (
        f"{control} = {row['value']:.4g} on {run['logical_date']}"
        + (f" (amber {amber:g}, red {red:g})" if amber is not None and red is not None else "")
        + f"; run {run['run_id']}"
    )
    return Breach(
        model_id=entry.model_id,
        owner=str(entry.owner),
        control=control,
        check=row["check"],
        metric=row["metric"],
        column=row["column"],
        severity="RED",
        value=row["value"],
        amber=amber,
        red=red,
        run_id=run["run_id"],
        logical_date=run["logical_date"],
        message=message,
        segment=row["segment"],
    )


def undelivered_error(report: outbox.Report) -> DeliveryError | None:
    return DeliveryError(report.message(), transient=True) if report.undelivered else None


__all__: Iterable[str] = ("Notifier", "airflow_run_link", "undelivered_error")
