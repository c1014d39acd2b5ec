"""mrm's verdict in GX's own terms: the mapping of controls to GX severities and ``mostly`` (on real GX
expectations and validations), and the GX result a real run stores reading as the history's verdict."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from mrm.checks.gx_severity import EPS, grade, mostly_for, verdicts
from mrm.checks.quality_gx import build_suite, check_quality
from mrm.core.results import control_key


@pytest.fixture(scope="module")
def entry(make_entry):
    return make_entry()  # null_rate amber 0.05 red 0.10 (tenure: 0.20 / 0.40); no out-of-range control


def by_level(plan) -> dict[tuple[str, str | None, str | None], list]:
    out: dict = {}
    for expectation, metric, column in plan:
        out.setdefault((expectation.expectation_type, metric, column), []).append(expectation)
    return out


def test_gx_severities_are_the_values_mrm_writes():
    from great_expectations.expectations.metadata_types import FailureSeverity

    from mrm.checks import gx_severity

    assert FailureSeverity(gx_severity.CRITICAL) is FailureSeverity.CRITICAL
    assert FailureSeverity(gx_severity.WARNING) is FailureSeverity.WARNING
    assert FailureSeverity(gx_severity.INFO) is FailureSeverity.INFO


def test_a_controlled_rate_has_a_warning_expectation_at_amber_and_a_critical_one_at_red(entry):
    suite = by_level(build_suite(entry, 1000))

    amber, red = suite[("expect_column_values_to_not_be_null", "null_rate", "amount")]
    assert (amber.severity, amber.mostly, amber.meta["mrm_level"]) == ("warning", 1 - 0.05 + EPS, "amber")
    assert (red.severity, red.mostly, red.meta["mrm_level"]) == ("critical", 1 - 0.10 + EPS, "red")
    assert amber.meta["mrm_control"] == red.meta["mrm_control"] == "quality.null_rate[amount]"
    tenure = suite[("expect_column_values_to_not_be_null", "null_rate", "tenure")]  # a column override
    assert [(e.severity, e.meta["mrm_threshold"]) for e in tenure] == [("warning", 0.20), ("critical", 0.40)]


def test_a_metric_without_a_control_is_info_and_the_schema_critical(entry):
    suite = by_level(build_suite(entry, 1000))

    (between,) = suite[("expect_column_values_to_be_between", "out_of_range_rate", "amount")]
    assert (between.severity, between.mostly, between.meta) == ("info", 1.0, {"mrm_level": "info"})
    (rows,) = suite[("expect_table_row_count_to_be_between", "row_count", None)]  # judged by volume_ratio
    assert rows.severity == "info"
    (exists,) = suite[("expect_column_to_exist", None, "amount")]
    assert (exists.severity, exists.meta) == ("critical", {"mrm_level": "schema"})


def test_mostly_fails_exactly_where_the_control_breaches():
    assert mostly_for(0.05) == pytest.approx(0.95, abs=2 * EPS) and mostly_for(0.05) > 0.95
    assert mostly_for(0.0) == 1.0 and mostly_for(1.5) == 0.0  # clamped into GX's [0, 1]


@pytest.mark.parametrize(
    ("nulls", "verdict"),
    [(4, "GREEN"), (5, "AMBER"), (9, "AMBER"), (10, "RED"), (30, "RED")],  # of 100 rows: amber 5%, red 10%
)
def test_gx_reads_a_rate_at_a_threshold_as_mrm_does(entry, make_scoring_frame, nulls, verdict):
    """At the boundary: a rate equal to a threshold breaches it, in mrm (controls.status_of) and in GX."""
    from mrm.controls import status_of

    day = make_scoring_frame(entry, 100)
    day.loc[: nulls - 1, "amount"] = float("nan")

    outcome = check_quality(day, entry, None)

    rate = next(r.value for r in outcome.results if r.key == "quality.null_rate[amount]")
    assert rate == nulls / 100 and status_of(rate, 0.05, 0.10, "above") == verdict
    assert verdicts(json.loads(outcome.gx_result_json))["quality.null_rate[amount]"] == verdict


def test_grade_leaves_the_plan_it_is_given_alone(entry):
    import great_expectations as gx

    plain = gx.expectations.ExpectColumnValuesToNotBeNull(column="amount")
    graded = grade([(plain, "null_rate", "amount")], entry)
    assert len(graded) == 2 and plain.severity == "critical" and plain.mostly == 1.0 and not plain.meta


# -- the real pipeline on the demo data ------------------------------------------------------------------


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


def stored_gx_result(run: dict) -> dict:
    return json.loads(path_of(run["evidence"]["quality_gx"]["uri"]).read_text())


def failed_severities(doc: dict, control: str) -> list[str]:
    return [
        r["expectation_config"]["severity"]
        for r in doc["results"]
        if r["expectation_config"]["meta"].get("mrm_control") == control and not r["success"]
    ]


def test_the_stored_gx_result_reads_as_the_history_on_a_red_and_an_amber_day(mrm_home, file_inventory):
    """card_fraud day 25: device_score null for 30% of events (RED); credit_line day 12: utilization null
    for 10% (AMBER, tier 2). The GX result file the run stores as evidence, opened as a validator would."""
    from mrm import pipeline
    from mrm.demo.data import day as demo_day

    days = {
        "card_fraud": (25, "quality.null_rate[device_score]"),
        "credit_line": (12, "quality.null_rate[utilization]"),
    }
    seen = {}
    for model_id, (day, breached) in days.items():
        summary = pipeline.run_model(model_id, demo_day(day))
        store = pipeline.get_store()
        doc = stored_gx_result(store.run(summary["run_id"]))
        rows = {
            control_key(m["check"], m["metric"], m["column"]): m
            for m in store.metrics(run_id=summary["run_id"])
            if m["check"] == "quality" and m["segment"] is None
        }
        history = {c: m["status"] for c, m in rows.items()}
        seen[model_id] = summary["overall_status"], history[breached], failed_severities(doc, breached)
        graded = {r["expectation_config"]["meta"]["mrm_control"] for r in doc["results"]
                  if "mrm_control" in r["expectation_config"]["meta"]}  # fmt: skip
        assert len(graded) > 15 and graded <= set(history)
        for control in graded - {breached}:
            assert history[control] == "GREEN" and failed_severities(doc, control) == [], control
        assert verdicts(doc) == {c: history[c] for c in graded}
        for r in doc["results"]:  # each graded expectation at the threshold the history applied
            meta = r["expectation_config"]["meta"]
            if "mrm_control" in meta:
                assert meta["mrm_threshold"] == rows[meta["mrm_control"]][f"{meta['mrm_level']}_threshold"]
        assert all(r["success"] for r in doc["results"] if r["expectation_config"]["severity"] == "info"
                   or r["expectation_config"]["meta"].get("mrm_level") == "schema")  # fmt: skip
        assert doc["meta"]["mrm_severity"].startswith("Each control with thresholds has two expectations")
        assert len(json.dumps(doc)) < 100_000  # the result stays a readable file

    # RED: its AMBER (warning) and RED (critical) expectations failed; AMBER: only the warning one
    assert seen["card_fraud"] == ("RED", "RED", ["warning", "critical"])
    assert seen["credit_line"] == ("AMBER", "AMBER", ["warning"])
