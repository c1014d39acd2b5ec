"""The demo's model-days side by side: one worker process per model walks that model's dates in order
(persistence, tickets and escalations depend on date order; the models share nothing but the history,
whose writers take turns, and the outbox, whose items are claimed), while the parent prints each day's
lines in day order as soon as every model has done that day, with a progress line every
``PROGRESS_EVERY`` days."""

from __future__ import annotations

import multiprocessing
import queue as queues
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


def walk_model(model_id: str, days: int, log_file: Path | None, results) -> None:
    """A worker: the model's DAG for days 1..``days`` in order, each day's line put on ``results``.
    Started with "spawn" (a fresh interpreter that inherits the environment: MRM_*, AIRFLOW_*, AWS_*,
    AIRFLOW_CONN_*), so no thread or connection of the parent is copied into it."""
    try:
        from mrm.airflow import local
        from mrm.demo.report import day_line

        dag = local.dagbag().get_dag(f"mrm_monitor__{model_id}")
        for n in range(1, days + 1):
            states = local.run_dag(dag, data.day(n), log_file=log_file)
            results.put(("day", model_id, n, day_line(model_id, n, states)))
        results.put(("done", model_id, days, ""))
    except BaseException as exc:  # the parent says which model stopped, and why
        results.put(("error", model_id, 0, f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
        raise


def walk_models(
    models: tuple[str, ...], days: int, log_file: Path | None, out: Callable[[str], None]
) -> None:
    """Run ``walk_model`` for every model in its own process and print the lines as :class:`DayLines`
    orders them. A worker that fails or dies stops the demo with its model and reason."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    workers = {
        m: context.Process(target=walk_model, args=(m, days, log_file, results), name=f"mrm-demo-{m}")
        for m in models
    }
    lines, finished = DayLines(models, days, out), set()
    try:
        for worker in workers.values():
            worker.start()
        while len(finished) < len(models):
            try:
                kind, model_id, n, text = results.get(timeout=5)
            except queues.Empty:
                dead = [m for m, w in workers.items() if m not in finished and not w.is_alive()]
                if dead:
                    raise SystemExit(
                        f"the demo's worker for {dead[0]} ended (exit code {workers[dead[0]].exitcode}) "
                        f"before its last day; its task log is in {log_file}"
                    ) from None
                continue
            if kind == "day":
                lines.add(model_id, n, text)
            elif kind == "done":
                finished.add(model_id)
            else:
                last = text.splitlines()[0]
                raise SystemExit(f"the demo's worker for {model_id} failed: {last}\n{text}")
    finally:
        for worker in workers.values():
            if worker.is_alive() and worker.pid is not None:
                worker.terminate()  # only on the way out after a failure: each is our own child
            if worker.pid is not None:
                worker.join()
