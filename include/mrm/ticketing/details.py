"""What a ticket shows beside its breach: the control's trend over the latest runs, and links to the
run's evidence and to the run in the Airflow UI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from mrm.notify import links as page_links
from mrm.store import HistoryStore

Trend = Callable[[str, str, str | None, str | None], list[tuple[date, float | None, str]]]


def airflow_run_link(triggered_by: str | None) -> str | None:
    """``airflow:<dag_id>/<run_id>/try<n>`` -> the run's page in the Airflow UI (MRM_AIRFLOW_URL)."""
    return page_links.airflow_run(triggered_by)


def trends(store: HistoryStore, model_id: str, day: date, points: int) -> Trend:
    """``trend(check, metric, column, segment)``: the control's last ``points`` values up to ``day``
    (current runs) as (logical date, value, status), oldest first; the rows are read once."""
    rows = store.metrics(model_id, day - timedelta(days=max(3 * points, 30)), day)

    def trend(check, metric, column, segment) -> list[tuple[date, float | None, str]]:
        found = [
            (r["logical_date"], r["value"], r["status"])
            for r in rows
            if (r["check"], r["metric"], r["column"], r["segment"]) == (check, metric, column, segment)
        ]
        return found[-points:]

    return trend


def links(run: dict) -> Callable[..., dict[str, str]]:
    """``links(*checks)``: what a ticket or alert about these checks of ``run`` links to, those there
    are: "Evidence" (the page's evidence route for the check's report) and "Evidence (storage URI)",
    "Model page", "Airflow run" (:mod:`mrm.notify.links`). Several checks name each evidence after its
    check ("Evidence (drift)"); ``links(None)``: the model page and the Airflow run."""
    from mrm.checks.base import EVIDENCE_KEYS  # each registered check names its evidence

    evidence = run.get("evidence") or {}
    airflow = page_links.airflow_run(run.get("triggered_by"))

    def of(*checks: str | None) -> dict[str, str]:
        named = [c for c in checks if c and isinstance(evidence.get(EVIDENCE_KEYS.get(c, "")), dict)]
        out: dict[str, str] = {}
        for check in named:
            name = "Evidence" if len(named) == 1 else f"Evidence ({check})"
            uri = evidence[EVIDENCE_KEYS[check]]["uri"]
            out |= page_links.evidence(name, run["model_id"], run["logical_date"], run["run_id"], uri)
        if airflow:
            out["Airflow run"] = airflow
        return page_links.with_model_page(out, run["model_id"])

    return of


def persistence_note(row: dict) -> str | None:
    """Why a control's row is RED by persistence (AMBER runs in a row escalated it), or None."""
    detail = row.get("detail") or {}
    return detail.get("escalated") if isinstance(detail.get("escalated"), str) else None


def payload(inventory, ticket: dict, text: str, value, day, run_id: str, links: dict) -> dict:
    """A ticket item's payload (its fields: :class:`mrm.notify.base.Delivery`)."""
    entry = inventory.entries.get(ticket["model_id"])
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
