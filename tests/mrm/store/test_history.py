"""The metrics history on SQLite: a run and its metrics land together or not at all; reruns supersede."""

from __future__ import annotations

import re
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pytest

from mrm.controls import AMBER, GREEN, RED, Evaluated
from mrm.core.results import MetricResult
from mrm.errors import RunNotFoundError, StoreError
from mrm.store import HistoryStore, RunRecord

DAY = date(2026, 9, 1)
T0 = datetime(2026, 9, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def store(any_history) -> HistoryStore:
    """Every test here runs on SQLite and on PostgreSQL."""
    return any_history


def make_run(
    run_id: str, *, model_id: str = "toy_model", day: date = DAY, finished: datetime = T0
) -> RunRecord:
    return RunRecord(
        run_id=run_id,
        model_id=model_id,
        model_version="1.0.0",
        logical_date=day,
        status="completed",
        started_at=finished - timedelta(minutes=5),
        finished_at=finished,
        triggered_by="test",
        inventory_hash="f" * 64,
        overall_status=RED,
        row_count=100,
        input_files=[{"uri": "file:///x/part-0.parquet", "size": 10, "etag": "e"}],
    )


def evaluated(value: float, status: str = GREEN, **detail) -> list[Evaluated]:
    return [
        Evaluated(MetricResult("quality", "null_rate", "amount", value, detail), 0.05, 0.10, status),
        Evaluated(MetricResult("drift", "score_psi", None, 0.3, {"method": "mrm_psi"}), 0.10, 0.25, RED),
    ]


def test_record_run_writes_the_run_and_its_metrics(store):
    store.record_run(make_run("r1"), evaluated(0.07, AMBER, rows=100))

    run = store.run("r1")
    rows = store.metrics()

    assert (run["model_id"], run["logical_date"], run["overall_status"]) == ("toy_model", DAY, RED)
    assert run["input_files"] == [{"uri": "file:///x/part-0.parquet", "size": 10, "etag": "e"}]
    assert [(m["run_id"], m["check"], m["metric"], m["column"], m["value"], m["status"]) for m in rows] == [
        ("r1", "quality", "null_rate", "amount", 0.07, AMBER),
        ("r1", "drift", "score_psi", None, 0.3, RED),
    ]
    assert (rows[0]["amber_threshold"], rows[0]["red_threshold"], rows[0]["detail"]) == (
        0.05,
        0.10,
        {"rows": 100},
    )


def test_a_run_without_metrics_is_recorded(store):
    store.record_run(make_run("r1"))

    assert [r["run_id"] for r in store.runs()] == ["r1"]
    assert store.metrics() == []


def test_a_duplicate_run_id_writes_nothing_and_says_so(store):
    store.record_run(make_run("r1"), evaluated(0.01))

    with pytest.raises(StoreError) as exc:
        store.record_run(make_run("r1", finished=T0 + timedelta(hours=1)), evaluated(0.02))

    assert str(exc.value).startswith(f"could not record run r1 of toy_model for {DAY} in {store.safe_url}")
    assert "\n" not in str(exc.value)  # one line, also where PostgreSQL adds DETAIL lines
    assert str(exc.value).endswith("nothing was written, rerun the date")
    assert [m["value"] for m in store.metrics(all_runs=True)] == [0.01, 0.3]
    assert len(store.runs()) == 1


@pytest.mark.parametrize(
    "bad",
    [
        Evaluated(
            MetricResult("quality", "null_rate", "amount", 0.1, {}), 0.05, 0.1, None
        ),  # NOT NULL status
        Evaluated(MetricResult("quality", "null_rate", "amount", 0.1, {"n": np.int64(3)}), 0.05, 0.1, RED),
    ],
    ids=["null status", "detail not JSON"],
)
def test_a_metric_row_that_fails_rolls_back_the_run_as_well(store, bad):
    store.record_run(make_run("r0", day=date(2026, 8, 31)), evaluated(0.01))

    with pytest.raises(StoreError, match=r"could not record run r1 of toy_model .*nothing was written"):
        store.record_run(make_run("r1"), [*evaluated(0.02), bad])

    assert [r["run_id"] for r in store.runs()] == ["r0"]
    assert len(store.metrics(all_runs=True)) == 2
    with pytest.raises(RunNotFoundError, match=r"run r1 is not in the history at (sqlite|postgresql)"):
        store.run("r1")


def test_metrics_returns_only_the_latest_run_per_model_and_date(store):
    store.record_run(make_run("first", finished=T0), evaluated(0.20, RED))
    store.record_run(make_run("rerun", finished=T0 + timedelta(hours=1)), evaluated(0.01))
    store.record_run(make_run("next_day", day=DAY + timedelta(days=1)), evaluated(0.02))
    store.record_run(make_run("other", model_id="other_model"), evaluated(0.03))

    current = {m["run_id"] for m in store.metrics()}
    every = [m["run_id"] for m in store.metrics(all_runs=True)]

    assert current == {"rerun", "next_day", "other"}
    assert sorted(set(every)) == ["first", "next_day", "other", "rerun"] and len(every) == 8
    assert {m["run_id"] for m in store.metrics(run_id="first")} == {"first"}
    assert {m["run_id"] for m in store.metrics(model_id="toy_model", since=DAY, until=DAY)} == {"rerun"}


def test_the_latest_run_is_chosen_by_instant_whatever_the_timezone(store):
    cest = timezone(timedelta(hours=2))
    store.record_run(make_run("earlier", finished=datetime(2026, 9, 2, 10, 0, tzinfo=cest)), evaluated(0.2))
    store.record_run(make_run("later", finished=datetime(2026, 9, 2, 9, 0, tzinfo=UTC)), evaluated(0.01))

    assert {m["run_id"] for m in store.metrics()} == {"later"}


def test_runs_are_filtered_by_model_and_dates(store):
    for n in range(3):
        store.record_run(make_run(f"r{n}", day=DAY + timedelta(days=n)))
    store.record_run(make_run("o1", model_id="other_model"))

    runs = store.runs(model_id="toy_model", since=DAY + timedelta(days=1))

    assert [r["run_id"] for r in runs] == ["r1", "r2"]


def test_a_file_that_is_not_a_database_is_a_store_error_naming_it(tmp_path):
    path = tmp_path / "history.db"
    path.write_bytes(b"this is not sqlite" * 100)

    with pytest.raises(
        StoreError,
        match=rf"^cannot open the metrics history at sqlite:///{re.escape(str(path))}: .*not a database",
    ):
        HistoryStore(f"sqlite:///{path}")


def test_a_history_path_that_cannot_be_created_is_a_store_error(tmp_path):
    (tmp_path / "taken").write_text("a file, not a folder")

    with pytest.raises(StoreError, match=r"cannot open the metrics history at sqlite:///.*taken"):
        HistoryStore(f"sqlite:///{tmp_path / 'taken' / 'db' / 'history.db'}")


def test_a_missing_database_driver_is_a_store_error_without_the_password(monkeypatch):
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as on an install without the driver

    with pytest.raises(StoreError, match=r"cannot open the metrics history at postgresql://mrm:\*\*\*@"):
        HistoryStore("postgresql://mrm:s3cret@127.0.0.1:1/mrm")
