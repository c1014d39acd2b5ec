"""The note an Airflow DAG run of mrm gets, read from the metrics history (not from XCom), e.g.

    2 RED: psi(amount)=0.31 > 0.25; null_rate(device_score)=0.28 > 0.1; 1 AMBER: volume_ratio=0.78 —
    tickets MRM-12, MRM-13

A control under an accepted risk is listed as what it would have been and until when the acceptance
holds: ``1 ACCEPTED: null_rate(device_score)=0.28 > 0.1 (RED, accepted until 2026-10-31)``, never as
GREEN.

A rerun that shows its day better than a run it replaced (:func:`mrm.store.reruns.rerun_flags`) starts
with ``flag: rerun turned RED into GREEN — reason: ... by ...; ``. A day someone attested on the desk
ends with ``; reviewed by rev@example.com at 2026-10-01 09:30 UTC``: the latest attest act for the run's
model or the whole portfolio and its logical date (a governance run, which covers the portfolio, counts
portfolio attestations only).

Set by the listener in ``plugins/mrm_run_notes.py`` when the run ends (scheduler side), so it works
under any executor and in ``dag.test()``; an attestation made later updates the notes of the day's
existing runs through :func:`refresh_notes` (the desk's attest route calls it).
"""

from __future__ import annotations

from datetime import UTC, date

from mrm.controls import ACCEPTED, accepted_phrase
from mrm.core.results import control_key
from mrm.store import HistoryStore, reads, reruns
from mrm.store import acts as store_acts
from mrm.store.tickets import ticket_key

MAX_NOTE = 1000  # Airflow's limit on a DAG run note
SHOWN = 4  # findings listed per status; the rest are counted


def _finding(row: dict) -> str:
    """``psi(amount)=0.31 > 0.25``: the value against the threshold it crossed."""
    name = row["metric"] + (f"({row['column']})" if row["column"] else "")
    name += f"{{{row['segment']}}}" if row["segment"] else ""
    amber, red = row["amber_threshold"], row["red_threshold"]
    value = "n/a" if row["value"] is None else f"{row['value']:.3g}"
    accepted = row["status"] == ACCEPTED
    verdict = ((row.get("detail") or {}).get("accepted") or {}).get("verdict") if accepted else row["status"]
    held = f" ({accepted_phrase(row.get('detail'))})" if accepted else ""
    limit = red if verdict == "RED" else amber
    if limit is None:
        return f"{name}={value}{held}"
    lower_is_worse = amber is not None and red is not None and red < amber
    return f"{name}={value} {'<' if lower_is_worse else '>'} {limit:g}{held}"


def latest_run(store: HistoryStore, dag_id: str, run_id: str) -> dict | None:
    """The history's run written by this Airflow DAG run (its last try)."""
    return reads.airflow_run(store.engine, dag_id, run_id)


def note_for(store: HistoryStore, dag_id: str, run_id: str) -> str | None:
    run = latest_run(store, dag_id, run_id)
    if run is None:
        return None
    day = run["logical_date"]
    flags = reruns.rerun_flags(store.engine, run["model_id"], day, day)
    flag = next((f"flag: {reruns.flag_text(f)}; " for f in flags if f["run_id"] == run["run_id"]), "")
    model_id = None if run["kind"] == "governance" else run["model_id"]  # governance: the portfolio's run
    review = reviewed(store, model_id, day)
    ending = f"; {review}" if review else ""
    return _cut(flag + _summary(store, run), len(ending)) + ending


def reviewed(store: HistoryStore, model_id: str | None, day: date) -> str:
    """``reviewed by <person> at <YYYY-MM-DD HH:MM UTC>`` of the latest attest act for ``day`` of the
    model or of the whole portfolio (``model_id`` None: the portfolio's only), or "" if none."""
    with store.engine.connect() as conn:
        found = [a for a in store_acts.attestations(conn, day) if a["model_id"] in (model_id, None)]
    if not found:
        return ""
    latest = max(found, key=lambda a: (a["acted_at"], a["act_id"]))
    return f"reviewed by {latest['person']} at {latest['acted_at'].astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def notes_of_day(store: HistoryStore, model_id: str | None, day: date) -> dict[tuple[str, str], str]:
    """The note of every Airflow DAG run that wrote a run of ``day`` for the model (None: for any model),
    recomputed from the history now: (dag_id, run_id) -> note. Runs from the CLI have no DAG run."""
    dag_runs = {
        found[:2]
        for run in store.runs(model_id, day, day, kind=None)
        if (found := reruns.airflow_try(run["triggered_by"])) is not None
    }
    notes = {(dag_id, run_id): note_for(store, dag_id, run_id) for dag_id, run_id in sorted(dag_runs)}
    return {key: note for key, note in notes.items() if note}


def refresh_notes(store: HistoryStore, model_id: str | None, day: date) -> int:
    """Set the notes of :func:`notes_of_day` on the DAG runs in Airflow's metadata database (after an
    attestation: the api-server's route calls it); returns how many DAG runs were updated. Not for task
    processes, which Airflow 3 refuses direct database access."""
    notes = notes_of_day(store, model_id, day)
    if not notes:
        return 0
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    updated = 0
    with create_session() as session:
        for (dag_id, run_id), note in notes.items():
            run = session.scalar(select(DagRun).where(DagRun.dag_id == dag_id, DagRun.run_id == run_id))
            if run is not None:
                run.note, updated = note, updated + 1
    return updated


def _summary(store: HistoryStore, run: dict) -> str:
    tickets = _open_tickets(store, run["model_id"])
    if run["status"] == "failed":
        key = tickets.get("run.could_not_run")
        return f"could not run: {run['reason']}" + (f" — ticket {key}" if key else "")
    rows = store.metrics(run_id=run["run_id"])
    parts = []
    for status in ("RED", "AMBER", ACCEPTED):
        found = [r for r in rows if r["status"] == status]
        if found:
            shown = "; ".join(_finding(r) for r in found[:SHOWN])
            more = f"; and {len(found) - SHOWN} more" if len(found) > SHOWN else ""
            parts.append(f"{len(found)} {status}: {shown}{more}")
    keys = sorted(
        {tickets[k] for k in (control_key(r["check"], r["metric"], r["column"], r["segment"]) for r in rows
                              if r["status"] == "RED") if k in tickets},
        key=lambda k: int(k.split("-")[1]),
    )  # fmt: skip
    if not parts:
        waiting = sum(r["status"] == "INSUFFICIENT_DATA" for r in rows)
        checked = sum(r["status"] == "GREEN" for r in rows)
        text = f"GREEN: {checked} controls within thresholds"
        if waiting:
            text += f"; {waiting} waiting for data (e.g. labels not yet mature)"
        return text
    return "; ".join(parts) + (f" — tickets {', '.join(keys)}" if keys else "")


def _open_tickets(store: HistoryStore, model_id: str) -> dict[str, str]:
    return {
        control: ticket_key(ticket_id)
        for control, ticket_id in reads.open_tickets_by_control(store.engine, model_id).items()
    }


def _cut(text: str, keep: int = 0) -> str:
    """``text`` within Airflow's limit, leaving room for ``keep`` characters that follow it."""
    room = MAX_NOTE - keep
    return text if len(text) <= room else text[: room - 1] + "…"
