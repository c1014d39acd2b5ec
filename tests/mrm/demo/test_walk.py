"""The demo's workers finish their model-days in any interleaving; what is printed is the order one
process would have printed (day by day, the models in the demo's order), each day as soon as every
model has done it, with a progress line every PROGRESS_EVERY days and after the last."""

from __future__ import annotations

import random

from mrm.demo.walk import DayLines

MODELS = ("card_fraud", "credit_line", "aml_alert")


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _line(model_id: str, n: int) -> str:
    return f"  day {n:02d} {model_id}"


def test_lines_come_out_in_day_order_whatever_order_the_workers_finish_in():
    days = 23
    rng, todo, finished = random.Random(7), {m: list(range(1, days + 1)) for m in MODELS}, []
    while any(todo.values()):  # the workers interleave at random, each walking its dates in order
        model_id = rng.choice([m for m in MODELS if todo[m]])
        finished.append((model_id, todo[model_id].pop(0)))
    by_model = {m: [n for mm, n in finished if mm == m] for m in MODELS}
    assert all(ns == sorted(ns) for ns in by_model.values())
    printed, clock = [], Clock()
    lines = DayLines(MODELS, days, printed.append, clock=clock)
    for model_id, n in finished:
        clock.now += 1.5
        lines.add(model_id, n, _line(model_id, n))
    day_lines = [p for p in printed if not p.startswith("  --")]
    assert day_lines == [_line(m, n) for n in range(1, days + 1) for m in MODELS]
    progress = [p for p in printed if p.startswith("  --")]
    assert [p.split()[1] for p in progress] == ["10/23", "20/23", "23/23"]
    assert progress[-1] == f"  -- 23/23 days x 3 models done, {1.5 * days * 3:.0f} s"
    assert lines.done()


def test_a_day_waits_for_the_slowest_model_and_then_prints_at_once():
    printed = []
    lines = DayLines(MODELS, 3, printed.append, clock=Clock())
    for n in (1, 2, 3):
        lines.add("card_fraud", n, _line("card_fraud", n))
        lines.add("aml_alert", n, _line("aml_alert", n))
    assert printed == [] and not lines.done()
    lines.add("credit_line", 1, _line("credit_line", 1))
    assert printed == [_line(m, 1) for m in MODELS]
    lines.add("credit_line", 2, _line("credit_line", 2))
    lines.add("credit_line", 3, _line("credit_line", 3))
    assert printed[3:9] == [_line(m, n) for n in (2, 3) for m in MODELS]
    assert printed[9].startswith("  -- 3/3 days x 3 models done") and lines.done()


def test_start_runs_the_fork_server_without_forking_the_workers(tmp_path):
    """Forking a worker waits for the fork server's imports (``WARM``); start() must not, so that the
    parent sets up the stand-ins, the data and the metadata DB meanwhile. The workers are forked by
    run(); stop() before run() ends nothing but the fork server's wait."""
    from multiprocessing import forkserver

    from mrm.demo.walk import Walkers

    walkers = Walkers(MODELS, 1, tmp_path / "log.txt").start()
    try:
        assert forkserver._forkserver._forkserver_pid is not None  # spawned, importing meanwhile
        assert all(worker.pid is None for worker in walkers.workers.values())
    finally:
        walkers.stop()
    assert all(worker.pid is None for worker in walkers.workers.values())


def test_fork_runs_a_helper_process_and_stops_the_demo_if_it_failed(tmp_path):
    """A helper forked from the fork server does its work while the parent goes on; waiting for one that
    failed stops the demo with its name and exit code."""
    import os

    import pytest

    from mrm.demo.walk import Walkers

    walkers = Walkers(MODELS, 1, tmp_path / "log.txt").start()
    made = tmp_path / "made-by-the-helper"
    try:
        walkers.fork(os.mkdir, str(made))()
        assert made.is_dir()
        again = walkers.fork(os.mkdir, str(made))  # exists now: FileExistsError in the helper
        with pytest.raises(SystemExit, match=r"process mrm-demo-mkdir failed \(exit code 1\)"):
            again()
    finally:
        walkers.stop()
    assert all(not process.is_alive() for _, process in walkers.helpers)
