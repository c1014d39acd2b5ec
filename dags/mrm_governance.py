"""``mrm_governance``, daily: validations overdue or due soon, approvals missing evidence, approved
models with no recent monitoring run, missing owners, tier-1 models without a performance control,
and scoring logs whose model_version differs from the inventory's; the desk's risk acceptances in
force and expiring within a week (an expired one told to its owner once) and, with a role map, run days
not attested within the tier's target; then the sweep (RED controls a monitoring run recorded but never
ticketed, e.g. its worker died between record and tickets, are ticketed now; RED tickets not
acknowledged within the tier's target are escalated); then the portfolio's notifications:
tickets closed in Jira read back, unresolved REDs escalated, AMBER digests per owner, the portfolio
summary, and delivery of everything still in the outbox. Thin: one call into mrm per task."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from mrm import settings
from mrm.airflow.dag import logical_date, rerun_reason, trigger_of


@dag(
    dag_id="mrm_governance",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 9, 1, tz="UTC"),
    catchup=False,
    tags=["mrm", "governance"],
    doc_md=__doc__,
    default_args={
        "owner": "model-risk",
        "retries": settings.task_retries(),
        "retry_delay": timedelta(minutes=10),
    },
)
def mrm_governance():
    @task
    def assess_inventory(**context) -> list[dict]:
        from mrm import wiring
        from mrm.governance import run_governance

        day, trigger = logical_date(context), trigger_of(context)
        store, reason = wiring.get_store(), rerun_reason(context)
        return run_governance(day, trigger, wiring.get_inventory(), store, reason)

    @task
    def ticket_unticketed(findings: list[dict], **context) -> list[dict]:
        from mrm import governance, wiring

        return governance.ticket_unticketed(logical_date(context), wiring.get_inventory(), wiring.get_store())

    @task(multiple_outputs=False)  # the summary as one XCom, not one more per key
    def notify_portfolio(swept: list[dict], **context) -> dict:
        from mrm import governance, wiring

        return governance.notify_portfolio(logical_date(context), wiring.get_inventory(), wiring.get_store())

    notify_portfolio(ticket_unticketed(assess_inventory()))


mrm_governance()
