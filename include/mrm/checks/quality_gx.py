"""Data quality with Great Expectations: a suite generated from the inventory schema, validated on a
frame in an ephemeral context (nothing written to disk). The run validates the day's seeded sample with
it, as evidence (:func:`mrm.checks.sample_evidence.quality_gx_json`); the stored quality metrics are the
whole day's, computed from its aggregate with the same names and details (:mod:`mrm.checks.quality`)."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mrm.core.results import MetricResult
from mrm.errors import CheckError
from mrm.inventory import CONTRACT_COLUMNS, ModelEntry

NUMERIC_TYPES = ["float64", "float32", "int64", "int32", "int16", "int8", "Float64", "Int64"]

if TYPE_CHECKING:
    import pandas as pd


def _quiet_gx() -> None:
    """GX's INFO lines drown the task log; some of its loggers get their own level when GX is
    imported, so this runs after the import."""
    for name in ("great_expectations", "great_expectations.data_context.types.base"):
        logging.getLogger(name).setLevel(logging.WARNING)


@dataclass
class QualityOutcome:
    results: list[MetricResult]
    gx_result_json: bytes


def build_suite(entry: ModelEntry, expected_rows: float | None):
    """The expectation suite for a model: (expectation, metric, column) triples, in a stable order, with
    mrm's thresholds as GX severities (:func:`mrm.checks.gx_severity.grade`: a rate with a control has
    an expectation at AMBER, severity warning, and one at RED, severity critical)."""
    import great_expectations as gx

    from mrm.checks.gx_severity import grade

    e = gx.expectations
    plan: list[tuple[Any, str | None, str | None]] = []
    columns = [*entry.monitoring.features]
    # schema: already enforced before any check runs (mrm.sources.contract); kept in the suite so the
    # GX result an auditor reads shows it was verified. metric None: evidence only, no metric row.
    for name in [*CONTRACT_COLUMNS, *(f.name for f in columns)]:
        plan.append((e.ExpectColumnToExist(column=name), None, name))
    for name in ["score", *(f.name for f in columns if f.type == "numeric")]:
        plan.append((e.ExpectColumnValuesToBeInTypeList(column=name, type_list=NUMERIC_TYPES), None, name))
    for name in ["event_id", "event_ts", "score", "decision"]:
        plan.append((e.ExpectColumnValuesToNotBeNull(column=name), "null_rate", name))
    for f in columns:
        plan.append((e.ExpectColumnValuesToNotBeNull(column=f.name), "null_rate", f.name))
    plan.append(
        (
            e.ExpectColumnValuesToBeBetween(column="score", min_value=0, max_value=1),
            "out_of_range_rate",
            "score",
        )
    )
    for f in columns:
        if f.type == "numeric" and (f.min is not None or f.max is not None):
            plan.append(
                (
                    e.ExpectColumnValuesToBeBetween(column=f.name, min_value=f.min, max_value=f.max),
                    "out_of_range_rate",
                    f.name,
                )
            )
        if f.type == "categorical" and f.categories:
            plan.append(
                (
                    e.ExpectColumnValuesToBeInSet(column=f.name, value_set=f.categories),
                    "unexpected_category_rate",
                    f.name,
                )
            )
    plan.append(
        (
            e.ExpectColumnValuesToBeInSet(column="decision", value_set=entry.monitoring.decisions),
            "unexpected_category_rate",
            "decision",
        )
    )
    plan.append((e.ExpectColumnValuesToBeUnique(column="event_id"), "duplicate_rate", None))
    # the volume band itself is judged by the volume_ratio control; GX records the observed count
    low = int(expected_rows * 0.5) if expected_rows else 0
    plan.append((e.ExpectTableRowCountToBeBetween(min_value=low), "row_count", None))
    return grade(plan, entry)


_NOT_COMPARED = {"id", "rendered_content", "notes", "meta"}  # what a suite ignores comparing expectations


def distinct(plan) -> list:
    """The plan's expectations, each with its metric and column added to its meta, leaving out one equal
    to an earlier one (same type and arguments) as ``ExpectationSuite.add_expectation`` does; by a key per
    expectation, where ``add_expectation`` compares each with every earlier one (45 ms of CPU per
    run for a suite of some 35 expectations, 5 ms this way)."""
    seen, out = set(), []
    for expectation, metric, column in plan:
        expectation.meta = {"mrm_metric": metric, "mrm_column": column, **(expectation.meta or {})}
        args = expectation.dict(exclude=_NOT_COMPARED)
        key = (expectation.expectation_type, json.dumps(args, sort_keys=True, default=repr))
        if key not in seen:
            seen.add(key)
            out.append(expectation)
    return out


def _rate(result: dict, metric: str) -> float | None:
    r = result.get("result", {})
    if metric == "row_count":
        return float(r["observed_value"])
    total = r.get("element_count", 0)
    missing = r.get("missing_count", 0) or 0
    unexpected = r.get("unexpected_count", 0) or 0
    if metric == "null_rate":
        return unexpected / total if total else None
    if metric == "duplicate_rate":
        return unexpected / (total - missing) if total - missing else None
    denominator = total - missing
    return unexpected / denominator if denominator else None


def _raised(info: dict) -> str | None:
    """The message of an exception GX caught while evaluating an expectation, if any.

    GX 1.x reports ``{"raised_exception": bool, ...}`` or, per metric, ``{metric_id: {...}}``."""
    parts = [info] if "raised_exception" in info else [v for v in info.values() if isinstance(v, dict)]
    for part in parts:
        if part.get("raised_exception"):
            return (part.get("exception_message") or "unknown error").splitlines()[0]
    return None


def check_quality(current: pd.DataFrame, entry: ModelEntry, expected_rows: float | None) -> QualityOutcome:
    """Validate the day with GX; return one metric per expectation plus volume against expectation."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    _quiet_gx()

    plan = build_suite(entry, expected_rows)
    try:
        ctx = gx.get_context(mode="ephemeral")
        ctx.variables.progress_bars = ProgressBarsConfig(globally=False)
        name = f"mrm_{entry.model_id}_{uuid.uuid4().hex[:8]}"
        batch = (
            ctx.data_sources.add_pandas(name)
            .add_dataframe_asset("day")
            .add_batch_definition_whole_dataframe("whole")
            .get_batch(batch_parameters={"dataframe": current})
        )
        suite = gx.ExpectationSuite(name=name, expectations=distinct(plan))
        validation = batch.validate(suite, result_format="SUMMARY")
    except Exception as exc:  # GX raises many types; name the model and the cause
        raise CheckError(
            f"{entry.model_id}: Great Expectations validation failed: {type(exc).__name__}: {exc}"
        ) from exc
    doc = validation.to_json_dict()
    results, seen = [], set()
    for res in doc["results"]:
        meta = res["expectation_config"]["meta"]
        metric, column = meta["mrm_metric"], meta["mrm_column"]
        error = _raised(res.get("exception_info") or {})
        if error:
            what = metric or res["expectation_config"]["type"]
            raise CheckError(f"{entry.model_id}: GX could not evaluate {what} on {column}: {error}")
        if metric is None or (metric, column) in seen:  # a control's AMBER and RED expectations: one metric
            continue
        seen.add((metric, column))
        # gx_success: the strict reading (nothing unexpected), whatever the thresholds' ``mostly``
        strict = (
            res["success"] if metric == "row_count" else not res.get("result", {}).get("unexpected_count")
        )
        detail = {"expectation": res["expectation_config"]["type"], "gx_success": strict}
        results.append(MetricResult("quality", metric, column, _rate(res, metric), detail))
    rows = len(current)
    if expected_rows:
        results.append(
            MetricResult(
                "quality", "volume_ratio", None, rows / expected_rows, {"expected_rows": expected_rows}
            )
        )
    return QualityOutcome(results, json.dumps(doc, indent=1, default=str).encode())
