"""The scoring-log data contract: required columns and types, checked before any statistic runs.

Every check of the contract raises SchemaError with the messages written here, whether it looks at a
pandas frame (:func:`conform`), Arrow record batches or Parquet footers (:mod:`mrm.sources.parquet_stream`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mrm.errors import SchemaError
from mrm.inventory import CONTRACT_COLUMNS, ModelEntry

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa


def required_columns(entry: ModelEntry) -> list[str]:
    return [*CONTRACT_COLUMNS, *(f.name for f in entry.monitoring.features)]


def numeric_columns(entry: ModelEntry) -> list[str]:
    """The columns that must be numeric: the numeric features, then the score."""
    return [*(f.name for f in entry.monitoring.features if f.type == "numeric"), "score"]


def categorical_columns(entry: ModelEntry) -> list[str]:
    """The columns counted by value: the categorical features, then the decision."""
    return [*(f.name for f in entry.monitoring.features if f.type == "categorical"), "decision"]


def declared_columns(entry: ModelEntry) -> set[str]:
    """Columns a scoring log may carry without counting as extra: the contract's, the features, the
    model's id and version, and the day partition."""
    features = (f.name for f in entry.monitoring.features)
    return {*CONTRACT_COLUMNS, "model_id", "model_version", "_dt", *features}


def check_columns(
    names: Iterable[str], entry: ModelEntry, where: str, wanted: Sequence[str] | None = None
) -> None:
    """The required columns (or those of them in ``wanted``) are among ``names``."""
    present = set(names)
    missing = [c for c in (required_columns(entry) if wanted is None else wanted) if c not in present]
    if missing:
        raise SchemaError(
            f"{entry.model_id}: {where} lacks required column(s) {', '.join(missing)}; "
            "fix the export or the inventory's feature list, then rerun"
        )


def not_numeric(column: str, kind: object) -> str:
    """One part of :func:`wrong_types`' message: a column that must be numeric and is ``kind``."""
    return f"{column} is {kind}, expected numeric"


def wrong_types(entry: ModelEntry, where: str, wrong: list[str]) -> SchemaError:
    return SchemaError(
        f"{entry.model_id}: {where} has wrong column types: {'; '.join(wrong)}; fix the export (or the "
        "inventory's feature types), then rerun this date"
    )


def dtype_name(t: pa.DataType) -> str:
    """An Arrow type named as pandas names the dtype it becomes (e.g. strings are "object")."""
    import numpy as np

    try:
        return np.dtype(t.to_pandas_dtype()).name
    except (TypeError, NotImplementedError):
        return str(t)


def is_numeric_type(t: pa.DataType) -> bool:
    import pyarrow as pa

    return (
        pa.types.is_integer(t)
        or pa.types.is_floating(t)
        or pa.types.is_decimal(t)
        or pa.types.is_boolean(t)
        or pa.types.is_null(t)
    )


def numeric_values(column: pa.Array | pa.ChunkedArray) -> np.ndarray | None:
    """float64 values with NaN for nulls; None if the column is neither numeric nor all null."""
    import numpy as np
    import pyarrow as pa

    if not is_numeric_type(column.type):
        return np.full(len(column), np.nan) if column.null_count == len(column) else None
    return np.asarray(column.cast(pa.float64()).to_numpy(zero_copy_only=False), dtype="float64")


def unreadable_type(t: pa.DataType) -> bool:
    """True for an Arrow type no contract column may have: nested (struct, list, map, union), or a
    dictionary of one."""
    import pyarrow as pa

    if pa.types.is_dictionary(t):
        t = t.value_type
    return pa.types.is_nested(t) or pa.types.is_union(t)


def check_readable(fields: Iterable[tuple[str, pa.DataType]], entry: ModelEntry, where: str) -> None:
    """No contract column is of a type mrm cannot read (:func:`unreadable_type`); checked on the Arrow
    schema before any value is read."""
    wanted = set(required_columns(entry))
    bad = {name: t for name, t in fields if name in wanted and unreadable_type(t)}
    if bad:
        shown = "; ".join(f"{name} is {_short(t)}" for name, t in sorted(bad.items()))
        raise SchemaError(
            f"{entry.model_id}: {where} has column(s) of a type mrm cannot read: {shown}; export them as "
            "plain strings, numbers or timestamps (not struct, list or map), then rerun this date"
        )


def check_unified(schemas: Sequence[tuple[str, pa.Schema]], entry: ModelEntry, where: str) -> None:
    """The files of one day agree on the type of each contract column (up to numeric widening)."""
    import pyarrow as pa

    for c in required_columns(entry):
        found = [(name, s.field(c).type) for name, s in schemas if c in s.names]
        if len({t for _, t in found}) < 2:
            continue
        try:
            pa.unify_schemas([pa.schema([(c, t)]) for _, t in found], promote_options="permissive")
        except (pa.ArrowException, TypeError):
            first = found[0]
            other = next((n, t) for n, t in found if t != first[1])
            raise SchemaError(
                f"{entry.model_id}: {where} has files that disagree on the type of column {c}: "
                f"{_short(first[1])} in {first[0]}, {_short(other[1])} in {other[0]}; re-export the "
                "partition with one schema, then rerun this date"
            ) from None


def _short(t: object, limit: int = 80) -> str:
    text = " ".join(str(t).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def check_batch_types(batch: pa.RecordBatch, entry: ModelEntry, where: str) -> None:
    """The contract columns of an Arrow record batch are readable, the numeric ones numeric or entirely
    null."""
    check_readable(zip(batch.schema.names, batch.schema.types, strict=True), entry, where)
    wrong = []
    for c in numeric_columns(entry):
        if c in batch.schema.names:
            column = batch.column(c)
            if not is_numeric_type(column.type) and column.null_count < len(column):
                wrong.append(not_numeric(c, dtype_name(column.type)))
    if wrong:
        raise wrong_types(entry, where, wrong)


def conform(
    frame: pd.DataFrame, entry: ModelEntry, where: str, columns: Sequence[str] | None = None
) -> pd.DataFrame:
    """Check the columns exist and have usable types; return the frame with numeric columns as float.
    ``columns``: check only these of the required columns (a step that reads only what it needs).

    Raises SchemaError naming the model, the place and every offending column.
    """
    import pandas as pd

    wanted = [c for c in required_columns(entry) if columns is None or c in columns]
    check_columns(frame.columns, entry, where, wanted)
    out = frame.copy()
    wrong = []
    for col in ["score", *(f.name for f in entry.monitoring.features if f.type == "numeric")]:
        if col not in wanted:
            continue
        if not (pd.api.types.is_numeric_dtype(out[col]) or out[col].isna().all()):
            wrong.append(not_numeric(col, out[col].dtype))
            continue
        out[col] = out[col].astype("float64")
    for f in entry.monitoring.features:
        if f.type == "categorical" and f.name in wanted:
            out[f.name] = out[f.name].astype("object").where(out[f.name].notna(), None)
    if wrong:
        raise wrong_types(entry, where, wrong)
    if "decision" in wanted:
        out["decision"] = out["decision"].astype("object")
    return out
