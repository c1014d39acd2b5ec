"""``mrm baseline suggest``: profile the reference window and propose control thresholds.

In the spirit of SageMaker Model Monitor's suggested constraints: each reference day is compared with
the rest of the window (leave one day out), which shows how much each metric moves when nothing has
changed. Thresholds are proposed above that natural variation, never tighter than the credit-risk
conventions (PSI 0.10 / 0.25), and printed as an inventory snippet for a person to review. Nothing is
written to the inventory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mrm.checks import stats

if TYPE_CHECKING:
    import pandas as pd

    from mrm.inventory import ModelEntry


def _psi(
    frame: pd.DataFrame, rest: pd.DataFrame, column: str, categorical: bool, bins: int = 10, binning: str = ""
) -> float:
    """PSI of one reference day against the other days, binned as the run would (the column's
    ``psi_binning``)."""
    if categorical:
        return stats.psi_categorical(rest[column].tolist(), frame[column].tolist())
    ref_values, cur_values = rest[column].to_numpy(dtype="float64"), frame[column].to_numpy(dtype="float64")
    return stats.psi_numeric(ref_values, cur_values, bins, binning or stats.DEFAULT_BINNING)


def day_profile(reference: pd.DataFrame, entry: ModelEntry) -> dict[str, dict[str | None, list[float]]]:
    """Per metric and column: its value on each reference day against the other days."""
    features = entry.monitoring.features
    out: dict[str, dict[str | None, list[float]]] = {"psi": {}, "null_rate": {}, "decision_rate_shift": {}}
    out["score_psi"], out["volume_ratio"] = {None: []}, {None: []}
    counts = reference.groupby("_dt").size()
    median = float(counts.median())
    for day, frame in reference.groupby("_dt"):
        rest = reference[reference["_dt"] != day]
        for f in features:
            if frame[f.name].notna().any() and rest[f.name].notna().any():
                out["psi"].setdefault(f.name, []).append(
                    _psi(
                        frame,
                        rest,
                        f.name,
                        f.type == "categorical",
                        entry.monitoring.psi_bins,
                        entry.monitoring.binning_of(f.name),
                    )
                )
            out["null_rate"].setdefault(f.name, []).append(float(frame[f.name].isna().mean()))
        out["score_psi"][None].append(
            _psi(frame, rest, "score", False, entry.monitoring.psi_bins, entry.monitoring.psi_binning)
        )
        shares, rest_shares = (
            frame["decision"].value_counts(normalize=True),
            rest["decision"].value_counts(normalize=True),
        )
        for d in entry.monitoring.decisions:
            out["decision_rate_shift"].setdefault(d, []).append(
                abs(shares.get(d, 0.0) - rest_shares.get(d, 0.0))
            )
        out["volume_ratio"][None].append(len(frame) / median)
    return out


def _round(x: float) -> float:
    return float(f"{x:.2g}")


def propose(metric: str, values: list[float]) -> tuple[float, float]:
    """Amber and red above the largest value seen on a reference day (below the smallest for volume)."""
    worst = max(values)
    if metric in ("psi", "score_psi"):
        amber = max(0.10, 2 * worst)
        return _round(amber), _round(max(0.25, 2.5 * amber))
    if metric == "null_rate":
        amber = min(max(worst + 0.02, 2 * worst), 0.5)
        return _round(amber), _round(min(2 * amber, 1.0))
    if metric == "decision_rate_shift":
        amber = max(0.05, 2 * worst)
        return _round(amber), _round(2 * amber)
    if metric == "volume_ratio":
        lowest = min(values)
        amber = min(0.8, lowest - 0.1)
        return _round(amber), _round(max(amber - 0.2, 0.1))
    raise ValueError(f"no proposal rule for {metric}")


def suggest(reference: pd.DataFrame, entry: ModelEntry) -> str:
    """The controls block to review, as YAML text with the observed ranges as comments."""
    profile = day_profile(reference, entry)
    days = reference["_dt"].nunique()
    lines = [
        f"# proposed by `mrm baseline suggest` from {days} reference days "
        f"({entry.monitoring.reference.start}..{entry.monitoring.reference.end}) of {entry.model_id};",
        "# each day was compared with the other days (leave one day out). Review before use.",
        "controls:",
    ]
    for metric in ("volume_ratio", "null_rate", "psi", "score_psi", "decision_rate_shift"):
        per_column = {c: v for c, v in profile[metric].items() if v}
        if not per_column:
            continue
        if None in per_column:
            amber, red = propose(metric, per_column[None])
            seen = (
                f"min {min(per_column[None]):.3f}"
                if metric == "volume_ratio"
                else f"max {max(per_column[None]):.3f}"
            )
            lines.append(f"  {metric}: {{amber: {amber:g}, red: {red:g}}}   # reference days: {seen}")
            continue
        proposals = {c: propose(metric, v) for c, v in per_column.items()}
        amber, red = min(p[0] for p in proposals.values()), min(p[1] for p in proposals.values())
        lines.append(f"  {metric}:")
        lines.append(f"    amber: {amber:g}")
        lines.append(f"    red: {red:g}")
        lines.append("    columns:")
        for c, (a, r) in sorted(proposals.items()):
            lines.append(
                f"      {c}: {{amber: {a:g}, red: {r:g}}}   # reference days: max {max(per_column[c]):.3f}"
            )
    return "\n".join(lines)
