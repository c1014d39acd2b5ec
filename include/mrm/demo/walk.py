"""The demo's model-days side by side: one worker process per model walks that model's dates in order
(persistence, tickets and escalations depend on date order; the models share nothing but the history,
whose writers take turns, and the outbox, whose items are claimed), while the parent prints each day's
lines in day order as soon as every model has done that day, with a progress line every
``PROGRESS_EVERY`` days. Two helper processes forked the same way take work off the parent's path: the
metadata DB reset (while the parent writes the data) and the governance DAG on the last day."""

from __future__ import annotations

import multiprocessing
import queue as queues
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path

from mrm.demo import data

PROGRESS_EVERY = 10  # days


class DayLines:
    """Prints the workers' lines in the order one process would have printed them (day by day, the
    models in their order) as soon as each day is complete."""

    def __init__(self, models: tuple[str, ...], days: int, out: Callable[[str], None], clock=time.monotonic):
        self.models, self.days, self.out, self.clock = models, days, out, clock
        self.started = clock()
        self.pending: dict[tuple[str, int], str] = {}
        self.next = 1  # the first day not printed yet

    def add(self, model_id: str, n: int, line: str) -> None:
        self.pending[(model_id, n)] = line
        while self.next <= self.days and all((m, self.next) in self.pending for m in self.models):
            for m in self.models:
                self.out(self.pending.pop((m, self.next)))
            if self.next % PROGRESS_EVERY == 0 or self.next == self.days:
                self.out(self.progress(self.next))
            self.next += 1

    def progress(self, n: int) -> str:
        return (
            f"  -- {n}/{self.days} days x {len(self.models)} models done, {self.clock() - self.started:.0f} s"
        )

    def done(self) -> bool:
        return self.next > self.days


# what the tasks import on their first run: imported once, by the fork server the workers are forked
# from (:mod:`mrm.demo.preload`), while the parent still sets up
WARM = (
    "mrm.pipeline", "mrm.demo.report", "pandas", "pyarrow.parquet", "boto3", "evidently",
    "great_expectations", "airflow.sdk.execution_time.supervisor", "airflow.api_fastapi.execution_api.app",
)  # fmt: skip


def walk_model(model_id: str, days: int, log_file: Path | None, start, results) -> None:
    """A worker: the model's DAG for days 1..``days`` in order, each day's line put on ``results``.

    Forked with "forkserver" from a fresh interpreter (no thread or connection of the parent is copied
    into it), started before the parent set up the stand-ins, the demo data and the metadata DB, that
    imported what the tasks need once for all workers meanwhile (:mod:`mrm.demo.preload`; a worker
    imports what is missing). That interpreter has the parent's environment of before the setup, so the
    worker waits for ``start`` to send the environment the parent has by then (AWS_ENDPOINT_URL,
    AIRFLOW_CONN_MRM_*, ...), or None when the parent stopped before."""
    try:
        import importlib
        import os

        from mrm.airflow import local

        local.quiet()
        for name in WARM:
            importlib.import_module(name)
        from mrm.demo.report import day_line

        environment = start.get()
        if environment is None:
            return
        os.environ.update(environment)
        # after the start: a DagBag's get_dag reads the metadata DB, which the parent resets meanwhile
        dag = local.dagbag().get_dag(f"mrm_monitor__{model_id}")
        for n in range(1, days + 1):
            states = local.run_dag(dag, data.day(n), log_file=log_file)
            results.put(("day", model_id, n, day_line(model_id, n, states)))
        results.put(("done", model_id, days, ""))
    except BaseException as exc:  # the parent says which model stopped, and why
        results.put(("error", model_id, 0, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        raise


def reset_metadata_db() -> None:
    """A helper process (:meth:`Walkers.fork`): the metadata DB reset and this repo's DAGs written to it,
    while the parent writes the demo data."""
    from mrm.airflow import local

    local.quiet()
    local.reset_db()
    local.sync_dags()


def run_governance(days: int, log_file: Path | None, environment: dict[str, str]) -> None:
    """A helper process (:meth:`Walkers.fork`): the governance DAG on the last day, with the parent's
    environment (the fork server has the one of before the setup, see :func:`walk_model`)."""
    import os

    from mrm.airflow import local

    local.quiet()
    os.environ.update(environment)
    local.run_dag(local.dagbag().get_dag("mrm_governance"), data.day(days), log_file=log_file)


class Walkers:
    """One worker process per model, its fork server started early (:meth:`start`), the workers forked
    and set going by :meth:`run`."""

    def __init__(self, models: tuple[str, ...], days: int, log_file: Path | None):
        self.models, self.days, self.log_file = models, days, log_file
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["mrm.demo.preload"])  # the fork server imports WARM once
        self.context, self.helpers = context, []
        self.results, self.starts = context.Queue(), {m: context.Queue() for m in models}
        self.workers = {
            m: context.Process(
                target=walk_model,
                args=(m, days, log_file, self.starts[m], self.results),
                name=f"mrm-demo-{m}",
            )
            for m in models
        }

    def start(self) -> Walkers:
        """Start the fork server, which imports ``WARM`` while this process sets up. The workers are
        forked from it in :meth:`run`: forking one waits for the fork server's imports, which would
        otherwise hold this process's setup (stand-ins, demo data, metadata DB) back."""
        from multiprocessing import forkserver

        forkserver.ensure_running()
        return self

    def run(self, out: Callable[[str], None]) -> None:
        """Send the workers this process's environment, then print their lines as :class:`DayLines`
        orders them. A worker that fails or dies stops the demo with its model and reason."""
        import os

        for worker in self.workers.values():
            worker.start()
        for start in self.starts.values():
            start.put(dict(os.environ))
        lines, finished = DayLines(self.models, self.days, out), set()
        while len(finished) < len(self.models):
            try:
                kind, model_id, n, text = self.results.get(timeout=5)
            except queues.Empty:
                dead = [m for m, w in self.workers.items() if m not in finished and not w.is_alive()]
                if dead:
                    raise SystemExit(
                        f"the demo's worker for {dead[0]} ended (exit code {self.workers[dead[0]].exitcode}) "
                        f"before its last day; its task log is in {self.log_file}"
                    ) from None
                continue
            if kind == "day":
                lines.add(model_id, n, text)
            elif kind == "done":
                finished.add(model_id)
            else:
                raise SystemExit(f"the demo's worker for {model_id} failed: {text.splitlines()[0]}\n{text}")

    def fork(self, target: Callable[..., None], *args) -> Callable[[], None]:
        """Run ``target(*args)`` in a process forked from the fork server (the tasks' modules imported,
        the execution API built) while this process goes on; returns the function that waits for it and
        stops the demo if it failed. Forking waits for the fork server's imports: a thread of this
        process does it, so the caller is not held up."""
        process = self.context.Process(target=target, args=args, name=f"mrm-demo-{target.__name__}")
        starter = threading.Thread(target=process.start, name=f"start-{process.name}", daemon=True)
        starter.start()
        self.helpers.append((starter, process))

        def wait() -> None:
            starter.join()
            if process.pid is not None:
                process.join()
            if process.exitcode != 0:
                raise SystemExit(
                    f"the demo's process {process.name} failed (exit code {process.exitcode}); its error is "
                    f"printed above, the Airflow task log is in {self.log_file}"
                )

        return wait

    def stop(self) -> None:
        """Wait for the workers and helper processes; one still running (the parent stopped early) is told
        to stop or ended."""
        for start in self.starts.values():
            start.put(None)  # a worker still waiting to start returns
        for starter, _ in self.helpers:
            starter.join()
        for worker in [*self.workers.values(), *(process for _, process in self.helpers)]:
            if worker.pid is None:
                continue
            worker.join(timeout=30)
            if worker.is_alive():
                worker.terminate()  # our own child, by its handle
                worker.join()
