"""The scoring-log data contract: required columns and types, checked before any statistic runs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from mrm.errors import SchemaError
from mrm.inventory import CONTRACT_COLUMNS, ModelEntry

if TYPE_CHECKING:
    import pandas as pd


def required_columns(entry: ModelEntry) -> list[str]:
    return [*CONTRACT_COLUMNS, *(f.name for f in entry.monitoring.features)]


def declared_columns(entry: ModelEntry) -> set[str]:
    """Columns a scoring log may carry without counting as extra: the contract's, the features, the
    model's id and version, and the day partition."""
    features = (f.name for f in entry.monitoring.features)
    return {*CONTRACT_COLUMNS, "model_id", "model_version", "_dt", *features}


def conform(
    frame: pd.DataFrame, entry: ModelEntry, where: str, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Check the columns exist and have usable types; return the frame with numeric columns as float.
    ``columns``: check only these of the required columns (a step that reads only what it needs).

    Raises SchemaError naming the model, the place and every offending column.
    """
    import pandas as pd

    wanted = [c for c in required_columns(entry) if columns is None or c in columns]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise SchemaError(
            f"{entry.model_id}: {where} lacks required column(s) {', '.join(missing)}; "
            "fix the export or the inventory's feature list, then rerun"
        )
    out = frame.copy()
    wrong = []
    for col in ["score", *(f.name for f in entry.monitoring.features if f.type == "numeric")]:
        if col not in wanted:
            continue
        if not (pd.api.types.is_numeric_dtype(out[col]) or out[col].isna().all()):
            wrong.append(f"{col} is {out[col].dtype}, expected numeric")
            continue
        out[col] = out[col].astype("float64")
    for f in entry.monitoring.features:
        if f.type == "categorical" and f.name in wanted:
            out[f.name] = out[f.name].astype("object").where(out[f.name].notna(), None)
    if wrong:
        raise SchemaError(f"{entry.model_id}: {where} has wrong column types: {'; '.join(wrong)}")
    if "decision" in wanted:
        out["decision"] = out["decision"].astype("object")
    return out
