"""The check seam: the registry lists quality, drift and performance in run order with the evidence a
breach links to, an unknown check is one line listing the valid ones, and the pipeline runs whatever
check is registered under a step's name and records its results."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from mrm.checks import base
from mrm.checks.base import CHECKS, EVIDENCE_KEYS, CheckInputs, check_for, evidence_key_for, results_file
from mrm.core.results import MetricResult
from mrm.errors import CheckError


def test_the_registry_holds_the_three_checks_in_the_order_a_run_computes_them():
    assert list(CHECKS) == ["quality", "drift", "performance"]
    assert all(check.name == name for name, check in CHECKS.items())
    assert [results_file(name) for name in CHECKS] == [
        "quality_results.json", "drift_results.json", "performance_results.json",
    ]  # fmt: skip


def test_each_check_names_the_evidence_its_breaches_link_to():
    assert EVIDENCE_KEYS == {
        "quality": "quality_gx",
        "drift": "drift_report",
        "performance": "performance_report",
    }
    assert evidence_key_for("drift") == "drift_report"


@pytest.mark.parametrize("lookup", [check_for, evidence_key_for])
def test_an_unknown_check_is_one_line_listing_the_valid_ones(lookup):
    with pytest.raises(CheckError) as exc:
        lookup("fairness")

    assert str(exc.value) == "unknown check 'fairness'; valid: quality, drift, performance"


class ToyQuality:
    """Stands in for the quality check: one metric, one evidence file, and a record of what it read."""

    name = "quality"
    evidence_key = "toy_report"

    def __init__(self):
        self.seen: list[tuple[str, date, int]] = []

    def compute(self, inputs: CheckInputs) -> tuple[list[MetricResult], dict[str, Any]]:
        _, agg = inputs.day_aggregate()
        self.seen.append((inputs.entry.model_id, inputs.day, agg.rows))
        result = MetricResult("quality", "row_count", None, float(agg.rows), {"toy": True})
        return [result], {"toy_report": inputs.writer.put("toy.txt", b"toy evidence")}


def test_the_pipeline_runs_the_registered_check_and_records_its_results(
    mrm_home, file_inventory, monkeypatch
):
    from mrm import pipeline

    toy = ToyQuality()
    monkeypatch.setitem(base.CHECKS, "quality", toy)
    day = date(2026, 9, 2)

    summary = pipeline.run_model("aml_alert", day)

    rows = pipeline.get_store().run(summary["run_id"])["row_count"]
    assert toy.seen == [("aml_alert", day, rows)]
    assert {"toy_report", "quality_results"} <= set(summary["evidence"])
    assert "quality_gx" not in summary["evidence"]  # the registered quality check did not run
    quality = [m for m in pipeline.get_store().metrics(run_id=summary["run_id"]) if m["check"] == "quality"]
    assert [(m["metric"], m["value"], m["detail"]) for m in quality] == [("row_count", rows, {"toy": True})]
