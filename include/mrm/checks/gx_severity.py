"""mrm's verdict in Great Expectations' own terms: the severity (critical / warning / info, GX 1.x
``FailureSeverity``) and ``mostly`` of each expectation of a model's suite.

A control has two thresholds and GX an expectation one pass mark, so a rate metric with a control
(null, out-of-range, unexpected-category and duplicate rates) gets two expectations of the same kind and
column: one at the AMBER threshold with severity ``warning`` and one at the RED threshold with severity
``critical``. The verdict a reader takes from the GX result is then the history's: RED when a critical
expectation failed, AMBER when only a warning one did, GREEN when both succeeded. A control's rate is
``unexpected / considered`` and breaches when it reaches the threshold (``rate >= t``); GX fails an
expectation when ``(considered - unexpected) / considered < mostly``, so ``mostly = 1 - t +``
:data:`EPS` (clamped to [0, 1]) makes GX fail exactly when mrm breaches.

A metric without a control (INFO in the history) keeps its strict expectation (nothing unexpected) with
severity ``info``, and so does the row count: its volume band is judged by ``volume_ratio``, outside
GX, and the evidence's GX sees the sample's size. The schema expectations (columns present, numeric
types) are ``critical``: the contract stops the run when they fail (:mod:`mrm.sources.contract`).
What GX cannot know stays in the history: the persistence rule's escalations and accepted risks.
"""

from __future__ import annotations

from typing import Any

from mrm.controls import thresholds
from mrm.core.results import control_key
from mrm.inventory import ModelEntry

CRITICAL, WARNING, INFO = "critical", "warning", "info"  # the values of GX's FailureSeverity
LEVELS = (("amber", WARNING), ("red", CRITICAL))
GRADED = {"null_rate", "out_of_range_rate", "unexpected_category_rate", "duplicate_rate"}
EPS = 1e-9  # GX passes at success ratio == mostly, mrm breaches at rate == threshold: this tips it
NOTE = (
    "Each control with thresholds has two expectations: at its AMBER threshold (severity warning) and at "
    "its RED threshold (severity critical), mostly = 1 - threshold; a failed critical expectation is RED, "
    "a failed warning one AMBER, both succeeded GREEN. Severity info: a metric no control judges here "
    "(INFO in the history); critical without a threshold: the schema, which the run requires. The "
    "persistence rule's escalations and accepted risks are recorded in the history, not here."
)


def mostly_for(threshold: float) -> float:
    """GX's ``mostly`` that fails when a rate reaches ``threshold``: ``1 - threshold + EPS`` in [0, 1]
    (a threshold of 0, where every rate breaches, becomes 1: GX fails on any unexpected value)."""
    return min(1.0, max(0.0, 1.0 - threshold + EPS))


def _copy(expectation, **changes):
    kwargs = expectation.dict(exclude_defaults=True, exclude={"id", "meta", "rendered_content", "severity"})
    return type(expectation)(**{**kwargs, **changes})


def grade(
    plan: list[tuple[Any, str | None, str | None]], entry: ModelEntry
) -> list[tuple[Any, str | None, str | None]]:
    """The plan with each expectation's severity set, and each rate metric with a control in two
    expectations (AMBER: warning, RED: critical); the level and threshold are in each one's meta."""
    out = []
    for expectation, metric, column in plan:
        limits = thresholds(entry, metric, column) if metric in GRADED else None
        if limits is None:
            severity, level = (CRITICAL, "schema") if metric is None else (INFO, "info")
            out.append((_copy(expectation, severity=severity, meta={"mrm_level": level}), metric, column))
            continue
        control = control_key("quality", metric, column, None)
        for (level, severity), threshold in zip(LEVELS, limits, strict=True):
            meta = {"mrm_control": control, "mrm_level": level, "mrm_threshold": threshold}
            graded = _copy(expectation, mostly=mostly_for(threshold), severity=severity, meta=meta)
            out.append((graded, metric, column))
    return out


def verdicts(doc: dict) -> dict[str, str]:
    """The verdict per control a reader takes from a GX result of a graded suite: RED when its critical
    expectation failed, AMBER when only its warning one did, else GREEN."""
    out: dict[str, str] = {}
    for res in doc["results"]:
        config = res["expectation_config"]
        control = (config.get("meta") or {}).get("mrm_control")
        if control is None:
            continue
        status = "GREEN" if res["success"] else {CRITICAL: "RED", WARNING: "AMBER"}[config["severity"]]
        rank = {"GREEN": 0, "AMBER": 1, "RED": 2}
        if rank[status] >= rank[out.get(control, "GREEN")]:
            out[control] = status
    return out
