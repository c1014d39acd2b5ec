"""The evidence a reviewer opens, drawn from the day's seeded sample (:mod:`mrm.checks.engine`): the
Evidently drift report, whose plots show the reference and current samples and whose drift scores are
the whole-day values the history stores (custom stattests look them up), and the GX validation result
of the model's suite on the sample, labelled as such; plus the summary the run records about the
computation.

The sample kept as evidence (in ``day_aggregate.npz``, and so in the reports and the GX result) holds no
raw ``event_id``: :func:`without_raw_ids` replaces each with a salted SHA-256 (HMAC, first 16 hex
digits) whose random salt is never kept, so the sample cannot be joined back to the scoring log, while
equal ids of the day still hash alike (the GX uniqueness expectation still sees duplicates).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from contextvars import ContextVar
from typing import Any

from mrm.checks.engine.day_aggregate import DayAggregate
from mrm.checks.engine.profile import ReferenceProfile
from mrm.core.results import MetricResult
from mrm.inventory import ModelEntry

_FULL_METHODS = {  # method -> (stattest name, display name, Evidently's default threshold, drift when)
    "psi": ("mrm_full_psi", "PSI (reference deciles), whole day", 0.1, "above"),
    "ks": ("mrm_full_ks", "K-S p-value, whole day", 0.05, "below"),
    "wasserstein": ("mrm_full_wasserstein", "Wasserstein distance (normed), whole day", 0.1, "above"),
    "jensenshannon": ("mrm_full_jensenshannon", "Jensen-Shannon distance, whole day", 0.1, "above"),
    "chisquare": ("mrm_full_chisquare", "chi-square p-value, whole day", 0.05, "below"),
}
_full_values: ContextVar[dict[tuple[str, str], float | None] | None] = ContextVar(
    "mrm_full_values", default=None
)
_registered = False


def _full_stattest(method: str, drift_when: str):
    def stattest(reference_data, current_data, feature_type, threshold):
        value = (_full_values.get() or {}).get((str(reference_data.name), method))
        if value is None:
            return float("nan"), False
        return value, value <= threshold if drift_when == "below" else value >= threshold

    return stattest


def _register_full_stattests() -> None:
    """Evidently stattests that report the whole-day values computed from the aggregates (looked up by
    column), so the report's drift scores are the numbers the history stores."""
    global _registered
    if _registered:
        return
    from evidently.legacy.calculations.stattests.registry import StatTest, register_stattest
    from evidently.legacy.core import ColumnType

    for method, (name, display, threshold, drift_when) in _FULL_METHODS.items():
        kinds = [ColumnType.Numerical, ColumnType.Categorical]
        test = StatTest(
            name=name, display_name=display, allowed_feature_types=kinds, default_threshold=threshold
        )
        register_stattest(test, _full_stattest(method, drift_when))
    _registered = True


ID_DIGITS = 16  # hex digits kept of each id's HMAC-SHA256: 64 bits, no collision in a 50,000-row sample
EVENT_ID_NOTE = f"salted HMAC-SHA256 (first {ID_DIGITS} hex digits; the salt is not kept), not the raw id"


def without_raw_ids(agg: DayAggregate) -> DayAggregate:
    """``agg`` with its sample's ``event_id`` replaced by a salted hash (nulls stay null); the salt is
    random and discarded. Recorded in ``agg.info["sample"]["event_id"]``."""
    import pyarrow as pa

    sample = agg.sample
    if sample is None or "event_id" not in sample.column_names:
        return agg
    salt = secrets.token_bytes(32)
    hashed = [
        None if v is None else hmac.new(salt, str(v).encode(), hashlib.sha256).hexdigest()[:ID_DIGITS]
        for v in sample.column("event_id").to_pylist()
    ]
    at = sample.column_names.index("event_id")
    agg.sample = sample.set_column(at, "event_id", pa.array(hashed, pa.string()))
    agg.info = {**agg.info, "sample": {**agg.info.get("sample", {}), "event_id": EVENT_ID_NOTE}}
    return agg


def sample_frames(agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry):
    """(reference sample, current sample) as conformed pandas frames."""
    from mrm.sources.contract import conform

    ref = conform(profile.sample.to_pandas(), entry, "reference sample")
    return ref, conform(agg.sample.to_pandas(), entry, f"sample of {agg.day.isoformat()}")


def _stored_values(results: list[MetricResult]) -> dict[tuple[str, str], float | None]:
    values = {}
    for r in results:
        if r.check != "drift":
            continue
        if r.metric in ("psi", "score_psi"):
            values[(r.column or "score", "psi")] = r.value
        elif "method" in r.detail and r.detail["method"] in _FULL_METHODS:
            values[(r.column, r.detail["method"])] = r.value
    return values


def drift_report_html(
    agg: DayAggregate,
    profile: ReferenceProfile,
    entry: ModelEntry,
    results: list[MetricResult],
    methods: tuple[str, ...] = ("psi",),
) -> bytes:
    """Evidently's drift report on the reference and current samples: its plots show the samples, its
    drift scores the whole-day values of ``results`` (``methods``: which stored methods get a widget per
    column; every stored drift value is listed in a table above the report)."""
    from evidently import Dataset, Report
    from evidently.metrics import ValueDrift

    from mrm.checks.evidently_report import data_definition, render_html, with_missing_marker

    _register_full_stattests()
    values = _stored_values(results)
    ref, cur = (_finite(f, entry) for f in sample_frames(agg, profile, entry))
    categorical = [f.name for f in entry.monitoring.features if f.type == "categorical"]
    columns = [c for c in [*(f.name for f in entry.monitoring.features), "score"]
               if c in categorical or (values.get((c, "psi")) is not None and cur[c].notna().any()
                                       and ref[c].notna().any())]  # fmt: skip
    definition = data_definition(entry, columns)
    cur_ds = Dataset.from_pandas(with_missing_marker(cur[columns], categorical), data_definition=definition)
    ref_ds = Dataset.from_pandas(with_missing_marker(ref[columns], categorical), data_definition=definition)
    wanted = [
        ValueDrift(column=c, method=_FULL_METHODS[m][0]) for c in columns for m in methods if (c, m) in values
    ]
    token = _full_values.set(values)
    try:
        snapshot = Report(wanted).run(cur_ds, ref_ds)
    finally:
        _full_values.reset(token)
    return _with_banner(render_html(snapshot), agg, profile, results)


def _finite(frame, entry: ModelEntry):
    """The frame with ±inf in its numeric columns as missing: a plot cannot show them (the whole-day
    metrics count them, as out of range)."""
    import numpy as np

    numeric = [*(f.name for f in entry.monitoring.features if f.type == "numeric"), "score"]
    for c in numeric:
        if c in frame and np.isinf(frame[c].to_numpy(dtype="float64")).any():
            frame[c] = frame[c].mask(np.isinf(frame[c].to_numpy(dtype="float64")))
    return frame


def _with_banner(
    html: bytes, agg: DayAggregate, profile: ReferenceProfile, results: list[MetricResult]
) -> bytes:
    from html import escape

    s = agg.info["sample"]
    rows = "".join(
        f"<tr><td>{escape(r.metric)}</td><td>{escape(r.column or '')}</td><td>{_fmt(r.value)}</td>"
        f"<td>{escape(_bound(r.detail))}</td></tr>"
        for r in results
        if r.check == "drift"
    )
    banner = (
        '<div style="font-family:sans-serif;margin:16px">'
        f"<p><b>Drift scores are computed on all {agg.rows:,} rows of {agg.day.isoformat()} against all "
        f"{profile.rows:,} reference rows</b> (the values the monitoring history stores). The plots show "
        f"seeded random samples: {s['rows']:,} current rows (seed {s['seed']}) and "
        f"{profile.sample.num_rows:,} reference rows (seed {profile.settings.seed}).</p>"
        "<table><tr><th>metric</th><th>column</th><th>value (whole day)</th><th>approximation</th></tr>"
        f"{rows}</table></div>"
    )
    return html.replace(b"<body>", b"<body>" + banner.encode(), 1)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.6g}"


def _bound(detail: dict) -> str:
    if "statistic_bounds" in detail:
        lo, hi = detail["statistic_bounds"]
        return f"KS statistic in [{lo:.6g}, {hi:.6g}]"
    if "error_bound" in detail:
        return f"within ±{detail['error_bound']:.3g}"
    if "uncertain_mass" in detail:
        return f"approximate (mass near bin edges {detail['uncertain_mass']:.3g})"
    if "psi_by_binning" in detail:  # PSI: the binning it followed, and the PSI under the others
        others = [f"{b} {_fmt(v)}" for b, v in detail["psi_by_binning"].items() if b != detail["binning"]]
        return f"exact, binned by {detail['binning']} (PSI by {', '.join(others)})"
    return "exact"


def quality_gx_json(agg: DayAggregate, entry: ModelEntry) -> bytes:
    """The GX validation result of the model's suite on the current sample, labelled as sample-based in
    its meta (the stored quality metrics are the whole day's), with how its severities read as mrm's
    verdict (:mod:`mrm.checks.gx_severity`)."""
    import json

    from mrm.checks.gx_severity import NOTE
    from mrm.checks.quality_gx import check_quality
    from mrm.sources.contract import conform

    sample = conform(agg.sample.to_pandas(), entry, f"sample of {agg.day.isoformat()}")
    doc = json.loads(check_quality(sample, entry, None).gx_result_json)
    doc.setdefault("meta", {})["mrm_sample"] = {
        **agg.info["sample"],
        "note": "GX validated a seeded random sample of the day; the quality metrics in the history are "
        "computed on every row of the day (mrm aggregate engine). The row-count expectation here sees "
        "the sample's size; volume is judged on the whole day.",
    }
    doc["meta"]["mrm_severity"] = NOTE
    return json.dumps(doc, indent=1, default=str).encode()


def summary(agg: DayAggregate, profile: ReferenceProfile) -> dict[str, Any]:
    """What the run should record about the computation: engine, sizes, sample, sketches, profile."""
    sketches = {
        c: {
            "space": p.sketch.space,
            "edges": int(p.sketch.edges.size),
            "exact_reference": p.ordered is not None,
        }
        for c, p in profile.numeric.items()
        if p.sketch is not None
    }
    return {
        "engine": "aggregate",
        "rows": agg.rows,
        "exact_numeric_methods": agg.complete,
        **agg.info,
        "profile": {"fingerprint": profile.fingerprint, "version": profile.version, "rows": profile.rows},
        "sketches": sketches,
    }
