"""One monitoring DAG per approved model in the inventory: ``mrm_monitor__<model_id>``.

Thin by design: every task calls one step of :mod:`mrm.pipeline`; XCom carries the run context
(ids and object keys), never data. Only the inventory (YAML, pydantic) is read at parse time.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import dag, get_parsing_context, task

from mrm import settings
from mrm.airflow.dag import logical_date, model_card, rerun_reason, trigger_of
from mrm.inventory import ModelEntry, load_inventory

PREFIX = "mrm_monitor__"


def build(entry: ModelEntry):
    model_id = entry.model_id
    start = entry.monitoring.start_date
    # tasks that may query Athena share a pool sized to the workgroup's concurrency (MRM_ATHENA_POOL)
    athena = entry.monitoring.uses_athena_pool
    reads_pool = (settings.athena_pool() if athena else None) or "default_pool"

    @dag(
        dag_id=f"{PREFIX}{model_id}",
        schedule="@daily",
        start_date=pendulum.datetime(start.year, start.month, start.day, tz="UTC"),
        catchup=settings.catchup(),
        max_active_runs=4,
        doc_md=model_card(entry),
        tags=["mrm", f"tier-{entry.risk_tier}", model_id],
        default_args={
            "owner": str(entry.owner),
            "retries": settings.task_retries(),
            "retry_delay": timedelta(minutes=10),
        },
    )
    def monitor():
        # multiple_outputs=False: a task returning a dict pushes it as its one XCom (return_value), which
        # is all the next tasks read; Airflow would infer True from the ``-> dict`` annotation and push
        # every key as an XCom of its own besides (some 30 more writes per run, none of them read)
        @task(pool=reads_pool, multiple_outputs=False)
        def read_scoring_log(**context) -> dict:
            from mrm import pipeline

            day, trigger, reason = logical_date(context), trigger_of(context), rerun_reason(context)
            return pipeline.start(model_id, day, trigger, reason).to_dict()

        @task(pool=reads_pool, multiple_outputs=False)
        def data_quality(ctx: dict) -> dict:
            from mrm import pipeline

            return pipeline.quality(pipeline.RunContext.from_dict(ctx))

        @task(pool=reads_pool, multiple_outputs=False)
        def drift(ctx: dict) -> dict:
            from mrm import pipeline

            return pipeline.drift(pipeline.RunContext.from_dict(ctx))

        # all_done: the matured cohort is evaluated even when the day could not be read (ctx is then None)
        @task(pool=reads_pool, trigger_rule="all_done", multiple_outputs=False)
        def performance(ctx: dict | None, **context) -> dict:
            from mrm import outcomes

            day, trigger, reason = logical_date(context), trigger_of(context), rerun_reason(context)
            return outcomes.performance_task(ctx, model_id, day, trigger, reason)

        @task(multiple_outputs=False)
        def record_results(ctx: dict, *evidence: dict) -> dict:
            from mrm import pipeline

            return pipeline.record(pipeline.RunContext.from_dict(ctx), *evidence)

        @task
        def open_tickets(ctx: dict, summary: dict) -> list[dict]:
            from mrm import pipeline

            return pipeline.tickets(pipeline.RunContext.from_dict(ctx))

        @task(multiple_outputs=False)
        def deliver_notifications(ctx: dict, tickets: list[dict]) -> dict:
            from mrm import pipeline

            return pipeline.notify(pipeline.RunContext.from_dict(ctx))

        ctx = read_scoring_log()
        summary = record_results(ctx, data_quality(ctx), drift(ctx), performance(ctx))
        deliver_notifications(ctx, open_tickets(ctx, summary))

    return monitor()


def inventory_errors_dag(problems: list[str]):
    """A broken inventory file must not pass silently: this DAG fails daily, listing each problem."""

    doc = "### Inventory problems\n\n" + "\n".join(f"- {p}" for p in problems)

    @dag(
        dag_id="mrm_inventory_errors",
        schedule="@daily",
        start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
        catchup=False,
        tags=["mrm"],
        doc_md=doc,
    )
    def inventory_errors():
        @task
        def report_inventory_problems():
            from mrm.errors import InventoryError

            raise InventoryError(
                [
                    "the inventory has problems; fix them and run `mrm inventory validate`:\n"
                    + "\n".join(problems)
                ]
            )

        report_inventory_problems()

    return inventory_errors()


_inventory, _problems = load_inventory(settings.inventory_dir(), strict=False)
_wanted = get_parsing_context().dag_id
for _entry in _inventory.monitored():
    if _wanted and _wanted != f"{PREFIX}{_entry.model_id}":
        continue  # a worker parses only the DAG it runs
    build(_entry)
if _problems and _wanted in (None, "mrm_inventory_errors"):
    inventory_errors_dag(_problems)
