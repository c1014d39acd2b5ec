"""The source seam: a source registered from this test (a scoring log held in memory) runs the real
pipeline steps and gives the run the Parquet source gives; an unknown kind lists the valid ones; and every
kind the inventory accepts has a source."""

from __future__ import annotations

import typing
from collections.abc import Sequence
from datetime import date

import pandas as pd
import pytest
from pydantic import BaseModel, ConfigDict

from mrm import pipeline
from mrm.errors import ConfigError, NoDataError
from mrm.inventory import AthenaScoringLog, CaptureScoringLog, Inventory, ModelEntry
from mrm.inventory.schema import Monitoring
from mrm.sources.base import DayData, DayInput, concat_days, read_each_day
from mrm.sources.parquet import PartitionedParquet
from mrm.sources.registry import SOURCES, register_source, source_for

DAY = date(2026, 9, 5)  # card_fraud's Dutch device-score incident: RED in segment country=NL
LOGS: dict[str, dict[date, pd.DataFrame]] = {}  # the in-memory scoring logs, by name and day


# -- the inventory side: scoring_log: {memory: <name>} ---------------------------------------------------
class MemoryLog(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    memory: str


class MemoryMonitoring(Monitoring):
    scoring_log: str | AthenaScoringLog | CaptureScoringLog | MemoryLog


class MemoryEntry(ModelEntry):
    monitoring: MemoryMonitoring | None = None


# -- the source: everything one implements ----------------------------------------------------------------
class MemorySource:
    """A scoring log held in memory, a frame per day."""

    def __init__(self, entry: ModelEntry, what: str):
        self.entry, self.what = entry, what
        self.name = entry.monitoring.scoring_log.memory

    @property
    def cache_key(self) -> str:
        return f"memory:{self.name}"

    def describe(self, day: date) -> str:
        return f"{self.what} {self.name} in memory for {day}"

    def identity(self, days: list[date]) -> dict:
        return {"memory": self.name, "days": [d.isoformat() for d in days if d in LOGS[self.name]]}

    def reference_files(self, days: list[date]) -> None:
        return None

    def read_day(self, day: date) -> DayData:
        if day not in LOGS[self.name]:
            raise NoDataError(f"{self.describe(day)}: no rows")
        return DayData(LOGS[self.name][day].assign(_dt=day), [])

    def day_input(self, day: date) -> DayInput:
        return DayInput.of_frame(self.entry, day, self.describe(day), self.read_day(day))

    def read_days(
        self, days: list[date], *, skip_unreadable: bool = False, columns: Sequence[str] | None = None
    ) -> DayData:
        read, missing, unreadable = read_each_day(self.read_day, days, skip_unreadable=skip_unreadable)
        nothing = f"no {self.what} {self.name} in memory for {days[0]}..{days[-1]}"
        return concat_days(read, missing, unreadable, nothing).only(columns)


@pytest.fixture
def memory_kind():
    register_source("memory", MemorySource)
    yield "memory"
    SOURCES.pop("memory")


def memory_entry(entry: ModelEntry, name: str) -> MemoryEntry:
    raw = entry.model_dump(mode="json")
    raw["monitoring"]["scoring_log"] = {"memory": name}
    return MemoryEntry.model_validate(raw)


def run_steps(model_id: str, day: date) -> str:
    ctx = pipeline.start(model_id, day, "test")
    return pipeline.record(ctx, pipeline.quality(ctx), pipeline.drift(ctx), pipeline.performance(ctx))[
        "run_id"
    ]


def test_a_source_registered_from_the_test_runs_the_pipeline_as_the_parquet_source_does(
    mrm_home, file_inventory, demo_files, memory_kind, monkeypatch
):
    from support import assert_same_quality_and_drift

    parquet = PartitionedParquet(f"{demo_files}/scoring/card_fraud/")
    inventory = pipeline.get_inventory()
    entry = inventory.get("card_fraud")
    LOGS["card_fraud"] = {d: parquet.read_day(d).frame for d in [*entry.monitoring.reference.days(), DAY]}
    parquet_run = run_steps("card_fraud", DAY)
    swapped = {**inventory.entries, "card_fraud": memory_entry(entry, "card_fraud")}
    monkeypatch.setattr(
        pipeline, "get_inventory", lambda: Inventory(swapped, inventory.folder, inventory.policy)
    )

    memory_run = run_steps("card_fraud", DAY)

    store = pipeline.get_store()
    run = store.run(memory_run)
    assert run["status"] == "completed" and run["overall_status"] == "RED"
    assert run["row_count"] == len(LOGS["card_fraud"][DAY]) and run["input_files"] == []
    metrics = assert_same_quality_and_drift(store, parquet_run, memory_run)
    assert metrics[("quality", "null_rate", "device_score", "country=NL")][1] == "RED"
    performance = {k: v for k, v in metrics.items() if k[0] == "performance"}
    assert performance and performance == {
        (m["check"], m["metric"], m["column"], m["segment"]): (m["value"], m["status"])
        for m in store.metrics(run_id=parquet_run)
        if m["check"] == "performance"
    }


def test_an_unknown_scoring_log_kind_is_one_line_listing_the_valid_kinds(make_entry):
    entry = memory_entry(make_entry(), "nowhere")  # "memory" is not registered here

    with pytest.raises(ConfigError) as exc:
        source_for(entry)

    assert str(exc.value) == "unknown scoring_log kind 'memory'; valid: athena, parquet, sagemaker_capture"


def test_every_scoring_log_the_inventory_accepts_has_a_registered_source():
    accepted = typing.get_args(Monitoring.model_fields["scoring_log"].annotation)
    kinds = {
        "parquet" if typing.get_origin(m) is typing.Annotated else next(iter(m.model_fields))
        for m in accepted
    }

    assert kinds == set(SOURCES)
