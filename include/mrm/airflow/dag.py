"""What both DAG files need from a task's context and from the inventory: the run's logical date, who
triggered it, and the model card shown as a monitoring DAG's docs. Cheap to import (DAG files parse it)."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

import pendulum

if TYPE_CHECKING:
    from mrm.inventory import ModelEntry


def logical_date(context: dict[str, Any]) -> date:
    """The run's logical date (UTC); a run without one (triggered with none) falls back to its run_after."""
    when = context.get("logical_date") or context["dag_run"].run_after
    return pendulum.instance(when).in_timezone("UTC").date()


def trigger_of(context: dict[str, Any]) -> str:
    """Who started the run, as the history records it: ``airflow:<dag_id>/<run_id>/try<n>``."""
    ti = context["ti"]
    return f"airflow:{ti.dag_id}/{ti.run_id}/try{ti.try_number}"


def rerun_reason(context: dict[str, Any]) -> str | None:
    """Why the date is run again, as given in the DAG run's conf (``--conf '{"reason": "..."}'``), or None."""
    conf = getattr(context.get("dag_run"), "conf", None)
    reason = " ".join(str(conf.get("reason") or "").split()) if isinstance(conf, dict) else ""
    return reason or None


def model_card(entry: ModelEntry) -> str:
    """The DAG's docs (shown in the Airflow UI): the model's inventory card."""
    m = entry.monitoring
    rows = "\n".join(f"| `{name}` | {c.amber:g} | {c.red:g} |" for name, c in sorted(m.controls.items()))
    page = f"/model-risk/models/{entry.model_id}"
    return (
        f"### {entry.name} (`{entry.model_id}` v{entry.version})\n\n"
        f"{entry.description}\n\n"
        f"- **Owner:** {entry.owner} (validator {entry.validator})\n"
        f"- **Risk tier:** {entry.risk_tier}: {entry.tier_rationale}\n"
        f"- **Status:** {entry.status}; **approval:** {_approval(entry)}\n"
        f"- **Next validation due:** {entry.validation_due or 'not set'}\n"
        f"- **Scoring log:** `{m.scoring_log}`\n"
        f"- **Reference window:** {m.reference.start} .. {m.reference.end}\n"
        f"- **Model Risk page:** [{page}]({page})\n\n"
        f"| control | amber | red |\n|---|---|---|\n{rows}\n"
    )


def _approval(entry: ModelEntry) -> str:
    """Who approved the model and when, with the validation report and the conditions of use."""
    a = entry.approval
    if a is None:
        return "none recorded"
    report = f" ([validation report]({a.validation_report}))" if a.validation_report else ""
    conditions = "".join(f"\n  - {c}" for c in a.conditions)
    return f"{a.approver} on {a.date}{report}{conditions}"
