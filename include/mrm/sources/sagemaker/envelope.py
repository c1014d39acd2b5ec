"""The capture record envelope (``captureData``, ``eventMetadata``): every line of a day's files parsed into
flat record columns, with Arrow's JSON reader first and line by line in Python where it must (which also
names the file and line of a bad record). The format is in docs/sources.md."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mrm.sources.sagemaker import safejson

if TYPE_CHECKING:
    import numpy as np

FIELDS = ("event_id", "time", "in_data", "in_enc", "in_type", "out_data", "out_enc", "out_type")
_SIDES = (("in", "endpointInput"), ("out", "endpointOutput"))


def _envelope_schema():
    import pyarrow as pa

    side = pa.struct([(k, pa.string()) for k in ("observedContentType", "mode", "data", "encoding")])
    meta = pa.struct([(k, pa.string()) for k in ("eventId", "inferenceId", "inferenceTime")])
    return pa.schema(
        [
            ("captureData", pa.struct([("endpointInput", side), ("endpointOutput", side)])),
            ("eventMetadata", meta),
        ]
    )


def _flatten(table) -> dict[str, list]:
    """Arrow envelopes -> the flat columns (Python lists) the decoder works on."""
    import pyarrow.compute as pc

    cap, meta = table.column("captureData"), table.column("eventMetadata")
    side_in, side_out = pc.struct_field(cap, "endpointInput"), pc.struct_field(cap, "endpointOutput")
    cols = {
        "event_id": pc.coalesce(pc.struct_field(meta, "inferenceId"), pc.struct_field(meta, "eventId")),
        "time": pc.struct_field(meta, "inferenceTime"),
    }
    for prefix, side in (("in", side_in), ("out", side_out)):
        cols[f"{prefix}_data"] = pc.struct_field(side, "data")
        cols[f"{prefix}_enc"] = pc.struct_field(side, "encoding")
        cols[f"{prefix}_type"] = pc.struct_field(side, "observedContentType")
    return {k: v.to_pylist() for k, v in cols.items()}


def line_record(text: str) -> tuple[dict | None, str | None]:
    """One capture line, parsed in Python: (flat record, None) or (None, what is wrong)."""
    try:
        doc = safejson.loads(text)
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(doc, dict):
        return None, f"a JSON {type(doc).__name__}, not a capture record object"
    cap = doc.get("captureData")
    meta = doc.get("eventMetadata")
    if not isinstance(cap, dict):
        return None, "no captureData object"
    if not isinstance(meta, dict):
        return None, "no eventMetadata object"
    out: dict = {}
    why = _metadata(meta, out) or _side(cap, *_SIDES[0], out) or _side(cap, *_SIDES[1], out)
    return (None, why) if why else (out, None)


def _metadata(meta: dict, out: dict) -> str | None:
    """The record's id and time into ``out``; what is wrong with them, if anything."""
    ident = meta.get("inferenceId") if meta.get("inferenceId") is not None else meta.get("eventId")
    out["event_id"], out["time"] = ident, meta.get("inferenceTime")
    for key, name in (("event_id", "eventMetadata.eventId"), ("time", "eventMetadata.inferenceTime")):
        if out[key] is not None and not isinstance(out[key], str):
            return f"{name} is a {type(out[key]).__name__}, expected a string"
    return None


def _side(cap: dict, prefix: str, side_name: str, out: dict) -> str | None:
    """One side (request or response) of the record into ``out``; what is wrong with it, if anything."""
    side = cap.get(side_name)
    if side is None:
        side = {}
    if not isinstance(side, dict):
        return f"captureData.{side_name} is a {type(side).__name__}, expected an object"
    for key, field in (("data", "data"), ("enc", "encoding"), ("type", "observedContentType")):
        value = side.get(field)
        if value is not None and not isinstance(value, str):
            return f"captureData.{side_name}.{field} is a {type(value).__name__}, expected a string"
        out[f"{prefix}_{key}"] = value
    return None


def _arrow(buf: bytes, expected: int, options: Any):
    """The envelopes of ``buf`` read by Arrow, or None if Arrow cannot take them all."""
    import io

    import pyarrow as pa
    import pyarrow.json as pajson

    try:
        table = pajson.read_json(
            io.BytesIO(buf),
            read_options=pajson.ReadOptions(block_size=max(1 << 20, len(buf) + 1)),
            parse_options=options,
        )
    except pa.ArrowException:
        return None
    return table if table.num_rows == expected else None  # blank lines: let Python number them


def envelopes(blobs: list[bytes]):
    """Parse every file's lines into flat record columns, Arrow first, line by line where it must.

    Returns (columns, file index per record, line number per record, [(file, line, reason)])."""
    import numpy as np
    import pyarrow.json as pajson

    options = pajson.ParseOptions(explicit_schema=_envelope_schema(), unexpected_field_behavior="ignore")
    counts = [b.count(b"\n") + (0 if not b or b.endswith(b"\n") else 1) for b in blobs]
    nonempty = [i for i, b in enumerate(blobs) if b.strip()]
    whole = None
    if nonempty:
        buf = b"".join(blobs[i] if blobs[i].endswith(b"\n") else blobs[i] + b"\n" for i in nonempty)
        whole = _arrow(buf, sum(counts[i] for i in nonempty), options)
    if whole is None:
        return _file_by_file(blobs, counts, nonempty, options)
    file_idx = np.repeat(np.asarray(nonempty, dtype=np.int64), [counts[i] for i in nonempty])
    lines = np.concatenate([np.arange(1, counts[i] + 1) for i in nonempty])
    return _flatten(whole), file_idx, lines, []


def _file_by_file(blobs: list[bytes], counts: list[int], nonempty: list[int], options: Any):
    """:func:`envelopes` of files one of which Arrow cannot read whole: each file by Arrow if it can,
    else line by line."""
    import numpy as np

    parts: list[tuple[int, dict[str, list], np.ndarray]] = []  # (file, columns, line numbers)
    bad_lines: list[tuple[int, int, str]] = []
    for i in nonempty:
        table = _arrow(blobs[i], counts[i], options)
        if table is not None:
            parts.append((i, _flatten(table), np.arange(1, counts[i] + 1)))
            continue
        rows, numbers = _lines(blobs[i], i, bad_lines)
        parts.append((i, {k: [row[k] for row in rows] for k in FIELDS}, np.asarray(numbers, dtype=np.int64)))
    cols = {k: [v for _, c, _ in parts for v in c[k]] for k in FIELDS}
    _none = np.empty(0, dtype=np.int64)
    file_idx = np.concatenate([np.full(len(ln), i, dtype=np.int64) for i, _, ln in parts] or [_none])
    lines = np.concatenate([ln for _, _, ln in parts] or [_none])
    return cols, file_idx, lines, bad_lines


def _lines(blob: bytes, file: int, bad_lines: list[tuple[int, int, str]]) -> tuple[list[dict], list[int]]:
    """The records of one file parsed line by line, and their line numbers; bad lines are appended to
    ``bad_lines`` as (file, line, reason)."""
    rows, numbers = [], []
    for number, raw in enumerate(blob.split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_lines.append((file, number, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
            continue
        rec, why = line_record(text)
        if why:
            bad_lines.append((file, number, why))
        else:
            rows.append(rec)
            numbers.append(number)
    return rows, numbers
