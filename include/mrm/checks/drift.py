"""The drift check: how far the day moved from the reference window, on every row of the day.

From the day's aggregate and the reference profile (:mod:`mrm.checks.engine`): the PSI in the
credit-risk convention (:mod:`mrm.checks.stats`, the reference binned as ``psi_binning`` says) of every
feature (CSI) and of the score, its detail naming the binning and the PSI under each convention
(:func:`binning_detail`); the drift methods each feature asks for (KS, Wasserstein, Jensen-Shannon,
chi-square: :mod:`mrm.checks.drift_methods`), the share of drifted features, the shift of each
decision's rate, the mean score, and the same within segments (:mod:`mrm.checks.segments`). PSI,
decision shifts and mean score are exact.

Evidence: Evidently's drift report over the reference and current samples, showing the whole-day values
(:mod:`mrm.checks.sample_evidence`), and the reference window's information (``reference.json``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mrm.checks import stats
from mrm.checks.drift_methods import method_value
from mrm.checks.segments import segment_results
from mrm.core.results import MetricResult
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    from mrm.checks.base import CheckInputs
    from mrm.checks.engine.day_aggregate import DayAggregate
    from mrm.checks.engine.profile import ReferenceProfile

STATTEST = "mrm_psi"  # the PSI's method name in results; "mrm_psi_<n>" for n bins other than 10


def stattest_name(bins: int = stats.DEFAULT_BINS) -> str:
    return STATTEST if bins == stats.DEFAULT_BINS else f"{STATTEST}_{bins}"


class DriftCheck:
    name = "drift"
    evidence_key = "drift_report"

    def compute(self, inputs: CheckInputs) -> tuple[list[MetricResult], dict[str, Any]]:
        """The drift metrics of the day; evidence: the Evidently report over the samples, showing the
        stored values, and the reference information."""
        from mrm.checks.evidently_report import evidently_lib_files
        from mrm.checks.sample_evidence import drift_report_html
        from mrm.evidence.writer import write_shared

        entry, writer = inputs.entry, inputs.writer
        profile, agg = inputs.day_aggregate()
        results = drift_results(agg, profile, entry)
        write_shared(inputs.evidence_uri, evidently_lib_files())
        report = drift_report_html(agg, profile, entry, results)
        _refuse_foreign_scripts(report, entry.model_id, agg)
        return results, {
            "drift_report": writer.put("drift_report.html", report),
            "reference": writer.put_json("reference.json", reference_record(profile)),
        }


def _refuse_foreign_scripts(report: bytes, model_id: str, agg: DayAggregate) -> None:
    """The report is written only if a browser would run nothing in it but its own scripts (its data is
    escaped, :func:`mrm.checks.evidently_report.json_for_html`; this holds it so at the last step)."""
    from mrm.checks.evidently_report import foreign_scripts
    from mrm.errors import CheckError

    found = foreign_scripts(report)
    if found:
        raise CheckError(
            f"{model_id} {agg.day.isoformat()}: drift_report.html would carry a script that is not the "
            f"report's own ({found[0]}); not written: report this to mrm's maintainers"
        )


def reference_record(profile: ReferenceProfile) -> dict[str, Any]:
    """What the run records as its reference (``reference.json``, the run's ``reference``): the window's
    information, and the profile's fingerprint and SHA-256 that later loads of the cached profile are
    checked against (:mod:`mrm.checks.reference`)."""
    out = {**profile.info, "profile_fingerprint": profile.fingerprint}
    return {**out, "profile_sha256": profile.sha256} if profile.sha256 else out


def drift_results(agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry) -> list[MetricResult]:
    """PSI per feature, the requested methods, the drifted share, score PSI, decision shifts, mean score,
    then the segment metrics; in this order."""
    from mrm import metrics

    bins = entry.monitoring.psi_bins
    psi = stattest_name(bins)
    features = entry.monitoring.features
    out = [
        MetricResult("drift", "psi", f.name, psi_value(agg, profile, f.name),
                     {"method": psi, "bins": bins, **binning_detail(agg, profile, f.name)})
        for f in features
    ]  # fmt: skip
    for f in features:
        for method in f.drift_methods:
            value, detail = method_value(agg, profile, f.name, method)
            name = metrics.EVIDENTLY_METHODS[method]
            out.append(MetricResult("drift", name, f.name, value, {"method": method, **detail}))
    out.append(drifted_share(out, entry))
    score_detail = {"method": psi, **binning_detail(agg, profile, "score")}
    out.append(MetricResult("drift", "score_psi", None, psi_value(agg, profile, "score"), score_detail))
    out += _decision_shifts(agg, profile, entry)
    score = agg.numeric["score"]
    mean = score.total / score.n if score.n else None
    out.append(MetricResult("drift", "mean_score", None, mean, {"reference": profile.numeric["score"].mean}))
    return out + segment_results(agg, profile, entry)


def psi_value(agg: DayAggregate, profile: ReferenceProfile, column: str) -> float | None:
    """PSI exactly as :mod:`mrm.checks.stats` computes it, from counts; None for a numeric column
    without values on either side."""
    if column in profile.categorical:
        ref, cur = profile.categorical[column], agg.categorical[column]
        return stats.psi_of_counts(ref.counts, ref.nulls, cur.counts, cur.nulls)
    p, a = profile.numeric[column], agg.numeric[column]
    if p.n == 0 or a.n == 0:
        return None
    return stats.psi_from_shares(p.psi_counts(p.counts) / p.n, p.psi_counts(a.counts) / a.n)


def binning_detail(agg: DayAggregate, profile: ReferenceProfile, column: str) -> dict[str, Any]:
    """How a column's PSI binned the reference: ``binning`` (the convention followed; "categories" for
    a categorical column), ``psi_by_binning`` (the day's PSI under each convention, from the same counts;
    None where not computable) and, where one is None, ``not_computable`` (convention -> why)."""
    if column in profile.categorical:
        return {"binning": "categories"}
    p, a = profile.numeric[column], agg.numeric[column]
    values: dict[str, float | None] = dict.fromkeys(stats.BINNINGS)
    if p.n and a.n:
        for binning, edges in p.edges_by_binning().items():
            values[binning] = stats.psi_from_shares(
                p.psi_counts(p.counts, edges) / p.n, p.psi_counts(a.counts, edges) / a.n
            )
    out: dict[str, Any] = {"binning": p.binning, "psi_by_binning": values}
    return {**out, "not_computable": dict(p.not_computable)} if p.not_computable else out


def drifted_share(results: list[MetricResult], entry: ModelEntry) -> MetricResult:
    """Share of features whose PSI reaches the psi control's amber threshold (0.10 without one)."""
    control = entry.monitoring.controls.get("psi")
    psi = [r for r in results if r.metric == "psi" and r.value is not None]
    drifted = (
        [r.column for r in psi if r.value >= (control.columns.get(r.column) or control).amber]
        if control
        else [r.column for r in psi if r.value >= 0.10]
    )
    share = len(drifted) / len(psi) if psi else None
    return MetricResult(
        "drift", "drifted_feature_share", None, share, {"drifted": drifted, "features": len(psi)}
    )


def _decision_shifts(agg: DayAggregate, profile: ReferenceProfile, entry: ModelEntry) -> list[MetricResult]:
    """Per decision, the change of its share of the non-null decisions."""
    ref, cur = profile.categorical["decision"], agg.categorical["decision"]
    out = []
    for d in entry.monitoring.decisions:
        e = ref.counts.get(d, 0) / (ref.rows - ref.nulls) if ref.rows > ref.nulls else 0.0
        a = cur.counts.get(d, 0) / (cur.rows - cur.nulls) if cur.rows > cur.nulls else 0.0
        out.append(
            MetricResult("drift", "decision_rate_shift", d, abs(a - e), {"reference": e, "current": a})
        )
    return out
