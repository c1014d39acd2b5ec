"""What a ticket shows beside its breach: the control's trend over the latest runs, and links to the
run's evidence and to the run in the Airflow UI."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from urllib.parse import quote

from mrm import settings
from mrm.store import HistoryStore

Trend = Callable[[str, str, str | None, str | None], list[tuple[date, float | None, str]]]


def airflow_run_link(triggered_by: str | None) -> str | None:
    """``airflow:<dag_id>/<run_id>/try<n>`` -> the run's page in the Airflow UI (MRM_AIRFLOW_URL)."""
    base = settings.airflow_url()
    if not base or not triggered_by or not triggered_by.startswith("airflow:"):
        return None
    parts = triggered_by.removeprefix("airflow:").split("/")
    if len(parts) < 2:
        return None
    return f"{base}/dags/{quote(parts[0])}/runs/{quote('/'.join(parts[1:-1]) or parts[1], safe='')}"


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


def links(run: dict) -> Callable[[str | None], dict[str, str]]:
    """``links(check)``: {"Evidence": the check's evidence, "Airflow run": the run's page}, those the run
    has (``links(None)``: the Airflow run only)."""
    from mrm.checks.base import EVIDENCE_KEYS  # each registered check names its evidence

    evidence = run.get("evidence") or {}
    airflow = airflow_run_link(run.get("triggered_by"))

    def of(check: str | None) -> dict[str, str]:
        out = {}
        if check and isinstance(evidence.get(EVIDENCE_KEYS.get(check, "")), dict):
            out["Evidence"] = evidence[EVIDENCE_KEYS[check]]["uri"]
        if airflow:
            out["Airflow run"] = airflow
        return out

    return of
