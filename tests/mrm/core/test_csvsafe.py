"""Every CSV mrm writes goes through one neutraliser: hostile text cells (= + - @ TAB CR) are quoted
with an apostrophe, numbers stay numbers a CSV reader reads back as numbers."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, date, datetime

import pytest

from mrm.controls import Evaluated
from mrm.core.csvsafe import cell, neutralise, write_rows
from mrm.core.results import MetricResult
from mrm.store import HistoryStore, RunRecord

HOSTILE = [
    "=1+1",
    "+1+1",
    "-1+2",
    "@SUM(A1:A2)",
    "\t=1+1",
    "\r=1+1",
    '=HYPERLINK("http://evil.example","x")',
    "-2+3+cmd|' /C calc'!A0",
]
HARMLESS = ["country=NL", "psi", "", "a=b", " =1", "'=1"]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_text_cell_a_spreadsheet_would_run_gets_an_apostrophe(text):
    assert neutralise(text) == "'" + text and cell(text) == "'" + text


@pytest.mark.parametrize("text", HARMLESS)
def test_other_text_is_left_alone(text):
    assert neutralise(text) == text


@pytest.mark.parametrize("value", [-0.5, -3, 0.1, -1e-12, float("-inf")])
def test_numbers_stay_numbers(value):
    assert cell(value) is value
    (row,) = list(csv.reader(io.StringIO(write_rows([{"v": value}], ["v"]))))[1:]
    assert float(row[0]) == value  # a reader gets the number back, every digit


def test_text_that_looks_like_a_negative_number_is_text_and_quoted():
    """The type decides: a value that is text is written as text."""
    assert cell("-0.5") == "'-0.5"


def test_none_is_an_empty_cell_and_other_values_their_text():
    text = write_rows([{"a": None, "b": date(2026, 9, 1), "c": True}], ["a", "b", "c"])
    assert text == "a,b,c\n,2026-09-01,True\n"


# -- every writer -------------------------------------------------------------------------------------
@pytest.fixture
def hostile_history(tmp_path) -> HistoryStore:
    """One run of model m whose text cells are hostile (column, segment, trigger) with a RED value -0.5."""
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    now = datetime.now(UTC)
    run = RunRecord(
        run_id="r1", model_id="m", model_version="1", logical_date=date(2026, 9, 1), status="completed",
        started_at=now, finished_at=now, triggered_by="=cmd|' /C calc'!A0", inventory_hash="f" * 64,
        overall_status="RED",
    )  # fmt: skip
    evaluated = [
        Evaluated(
            MetricResult("quality", "mean_shift", "@col", -0.5, {}, segment="\t=1+1"), -0.1, -0.2, "RED"
        ),
        Evaluated(MetricResult("drift", "psi", "+x", 0.01, {}, segment="-2+3"), 0.1, 0.25, "GREEN"),
    ]
    store.record_run(run, evaluated, {"model_id": "m"})
    yield store
    store.engine.dispose()


def _cells(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _assert_neutralised(rows: list[dict[str, str]]) -> None:
    assert rows
    for row in rows:
        for key, value in row.items():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")) or _is_number(value), (key, value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def test_mrm_history_csv(hostile_history):
    from mrm.cli import HISTORY_COLUMNS
    from mrm.cli.format import emit

    rows = _cells(emit(hostile_history.metrics("m"), HISTORY_COLUMNS, "csv"))
    _assert_neutralised(rows)
    red = next(r for r in rows if r["status"] == "RED")
    assert (red["column"], red["segment"], float(red["value"])) == ("'@col", "'\t=1+1", -0.5)
    assert float(red["red_threshold"]) == -0.2  # thresholds are numbers too


def test_mrm_export_csv(hostile_history):
    from mrm.evidence.export import encode, rows

    cells = _cells(encode(rows(hostile_history, None, None), "csv").decode())
    _assert_neutralised(cells)
    assert {c["triggered_by"] for c in cells} == {"'=cmd|' /C calc'!A0"}
    assert sorted(float(c["value"]) for c in cells) == [-0.5, 0.01]


def test_evidence_pack_csvs(hostile_history):
    from mrm.evidence.pack import build
    from mrm.ticketing.desk import describe

    data, _ = build(hostile_history, "m", None, None, describe=describe)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        metrics = _cells(zf.read("metrics.csv").decode())
        breaches = _cells(zf.read("breaches.csv").decode())
    _assert_neutralised(metrics)
    _assert_neutralised(breaches)
    (breach,) = breaches
    assert (breach["segment"], float(breach["value"])) == ("'\t=1+1", -0.5)


@pytest.mark.parametrize("text", HOSTILE)
def test_the_pages_csv_download(text):
    from mrm.ui.html import csv_value

    assert csv_value(text) == "'" + text
    assert csv_value(-0.5) == "-0.5" and csv_value(-3) == "-3" and csv_value(None) == ""
