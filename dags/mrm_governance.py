"""``mrm_governance``, daily: validations overdue or due soon, approvals missing evidence, approved
models with no recent monitoring run, missing owners, tier-1 models without a performance control,
and scoring logs whose model_version differs from the inventory's. Thin: one call into mrm."""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, task

from mrm import settings


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
        from mrm import pipeline
        from mrm.governance import run_governance

        when = context.get("logical_date") or context["dag_run"].run_after
        day = pendulum.instance(when).in_timezone("UTC").date()
        ti = context["ti"]
        trigger = f"airflow:{ti.dag_id}/{ti.run_id}/try{ti.try_number}"
        return run_governance(day, trigger, pipeline.get_inventory(), pipeline.get_store())

    assess_inventory()


mrm_governance()
