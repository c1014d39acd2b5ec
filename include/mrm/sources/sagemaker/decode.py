"""The request side of capture records: each payload's text (BASE64 decoded), and the features in it, read
column-wise (all CSV payloads of a day as one Arrow CSV parse; JSON payloads by their key paths) and typed
by the inventory's features. A value that cannot be read marks its record bad."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from mrm.errors import SchemaError, SourceError
from mrm.inventory.sources import CaptureSourceConfig, parse_path
from mrm.sources.sagemaker import safejson
from mrm.sources.sagemaker.keypath import MISSING, getter
from mrm.sources.sagemaker.values import NESTED, Bad, as_text, nan_text, objects, shown

if TYPE_CHECKING:
    import numpy as np

    from mrm.inventory import Feature


def texts(cols: dict[str, list], side: str, bad: Bad) -> list[str | None]:
    """Payload text per record: CSV/JSON as captured, BASE64 decoded (UTF-8)."""
    import base64
    import binascii

    data, enc, ctype = cols[f"{side}_data"], cols[f"{side}_enc"], cols[f"{side}_type"]
    if "BASE64" not in enc:
        return data
    name = "endpointInput" if side == "in" else "endpointOutput"
    out = list(data)
    for r, e in enumerate(enc):
        if e != "BASE64" or data[r] is None:
            continue
        try:
            out[r] = base64.b64decode(data[r], validate=True).decode("utf-8")
        except (binascii.Error, ValueError) as exc:
            why = f"does not decode to text: {exc}"
            bad.add(r, f"{name}.data (BASE64, observedContentType {ctype[r]!r}) {why}")
            out[r] = None
    return out


class Found:
    """What the JSON payloads of a day read so far hold: how many were parsed, how many left out each key
    path, and the day's first payload (quoted when a path is in none of them)."""

    def __init__(self, paths) -> None:
        self.absent = dict.fromkeys(paths, 0)
        self.parsed = 0
        self.sample: str | None = None


class FeatureDecoder:
    """The features of the requests. ``features``: the inventory's, to type the columns (numeric ->
    float64, categorical -> strings); without them a column is numeric if every value parses as one."""

    def __init__(self, config: CaptureSourceConfig, features: Sequence[Feature] | None = None):
        self.config = config
        self.uri = config.uri
        self.types: dict[str, str] = {f.name: f.type for f in features or ()}
        self._paths = {name: parse_path(p) for name, p in (config.json_fields or {}).items()}
        self._getters = {name: getter(tokens) for name, tokens in self._paths.items()}
        self._star = {name for name, path in self._paths.items() if "*" in path}

    def decode(
        self, texts: list[str | None], cols, bad: Bad, found: Found | None = None
    ) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """(feature name -> values per row, the record of each row). ``found``: JSON key paths found so far
        in the day's earlier parts, checked by :meth:`check_found` once the day is read; without it these
        records are the whole day and are checked now."""
        if self.config.input_format == "csv":
            return self._csv_input(texts, bad)
        day = found if found is not None else Found(self._paths)
        out = self._json_input(texts, cols, bad, day)
        if found is None:
            self.check_found(day)
        return out

    # CSV -----------------------------------------------------------------------------------------------
    def _csv_input(self, texts: list[str | None], bad: Bad) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """All CSV payloads as one Arrow CSV parse; each payload line is a row of its record."""
        import numpy as np

        recs, chunks, counts = _csv_chunks(texts, bad)
        row_rec = np.repeat(np.asarray(recs, dtype=np.int64), counts)
        if not chunks:
            return {n: np.empty(0, dtype=object) for n in self.config.features}, row_rec
        table, skipped = self._parse_csv("\n".join(chunks).encode())
        if any(num is None for num, _ in skipped):  # Arrow did not number a row: cannot place it
            raise SourceError(f"CSV payloads of {self.uri}: {skipped[0][1]} in a row Arrow cannot place")
        if skipped:
            row_rec = _drop_skipped(row_rec, skipped, bad)
        if table.num_rows != len(row_rec):  # quoted newlines: the payload rows are not its lines
            raise SourceError(
                f"CSV payloads of {self.uri} parse to {table.num_rows} rows but hold {len(row_rec)} lines; "
                "quoted fields with line breaks are not supported"
            )
        out = {}
        for name in self.config.features:
            values = table.column(name).to_numpy(zero_copy_only=False)
            out[name] = self._typed(name, values, row_rec, bad, text=True)
        return out, row_rec

    def _parse_csv(self, joined: bytes):
        """(the Arrow table of the joined payloads, [(row number, why)] of the rows Arrow skipped)."""
        import io

        import pyarrow as pa
        import pyarrow.csv as pacsv

        order = self.config.feature_order
        names = [n if n else f"_skip{i}" for i, n in enumerate(order)]
        skipped: list[tuple[int, str]] = []

        def invalid(row) -> str:
            skipped.append((row.number, f"{row.actual_columns} CSV fields, expected {row.expected_columns}"))
            return "skip"

        table = pacsv.read_csv(  # one block, so every invalid row comes with its row number
            io.BytesIO(joined),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=len(joined) + 1),
            parse_options=pacsv.ParseOptions(invalid_row_handler=invalid, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names},
                null_values=[""],
                strings_can_be_null=True,
                include_columns=[n for n in order if n],
            ),
        )
        return table, skipped

    # JSON ----------------------------------------------------------------------------------------------
    def _json_input(
        self, texts: list[str | None], cols, bad: Bad, found: Found
    ) -> tuple[dict[str, np.ndarray], Any]:
        """JSON payloads: each key path read per record; a [*] path gives one row per element.

        A key a payload leaves out is a null feature (clients omit unknown values), but a path no
        payload of the day has is a config error, and a batch ([*]) that is not there is a bad record."""
        import numpy as np

        values: dict[str, list] = {name: [] for name in self._paths}
        absent = found.absent
        row_rec: list[int] = []
        for r, text in enumerate(texts):
            if text is None:
                continue
            if found.sample is None:
                found.sample = text
            if r in bad:
                continue
            try:
                doc = safejson.loads(text)
            except ValueError as exc:
                ctype = cols["in_type"][r]
                bad.add(r, f"endpointInput.data is not JSON ({exc}); observedContentType {ctype!r}")
                continue
            found.parsed += 1
            got, rows, why = self._json_fields(doc, absent)
            if why:
                bad.add(r, why)
                continue
            for name, v in got.items():
                values[name].extend(v if name in self._star else [v] * rows)
            row_rec.extend([r] * rows)
        rec = np.asarray(row_rec, dtype=np.int64)
        return {name: self._typed(name, objects(values[name]), rec, bad) for name in self._paths}, rec

    def _json_fields(self, doc: Any, absent: dict[str, int]) -> tuple[dict[str, Any], int, str | None]:
        """(feature -> value, or values of a batch; the request's rows; what is wrong, if anything).
        Counts in ``absent`` the features the payload leaves out."""
        got: dict[str, Any] = {}
        rows = None
        for name, get in self._getters.items():
            v = get(doc)
            if name in self._star:
                why = self._batch_problem(name, v, rows)
                if why:
                    return got, 0, why
                rows = len(v)
                if MISSING in v:
                    absent[name] += 1
                    v = [None if x is MISSING else x for x in v]
            elif v is MISSING:
                absent[name] += 1
                v = None
            got[name] = v
        if rows == 0:
            return got, 0, "the batch in endpointInput is empty"
        return got, rows or 1, None

    def _batch_problem(self, name: str, values: Any, rows: int | None) -> str | None:
        path_text = self.config.json_fields[name]
        if values is MISSING:
            return f"endpointInput has no batch at {path_text!r} (feature {name})"
        if rows is not None and rows != len(values):
            return f"batch paths disagree: {path_text!r} has {len(values)} elements, not {rows}"
        return None

    def check_found(self, found: Found) -> None:
        """SchemaError if a key path is in none of the day's parsed payloads."""
        parsed, sample = found.parsed, found.sample
        nowhere = [name for name, k in found.absent.items() if parsed and k == parsed]
        if nowhere:
            raise SchemaError(
                "json_fields "
                + ", ".join(f"{n}: {self.config.json_fields[n]!r}" for n in nowhere)
                + f" found in none of the {parsed} JSON payloads of {self.uri}; a payload looks like "
                f"{sample[:120]!r}; fix the key paths in the capture config"
            )

    # types ---------------------------------------------------------------------------------------------
    def _typed(
        self, name: str, values: np.ndarray, row_rec: np.ndarray, bad: Bad, *, text: bool = False
    ) -> np.ndarray:
        """A feature column as float64 (numeric) or strings (categorical); bad values mark their record.
        ``text``: the values are already strings or None (CSV), not any JSON value. A JSON true/false
        is 1/0 for a numeric feature."""
        import numpy as np
        import pandas as pd

        declared = self.types.get(name)
        if declared != "categorical":
            series = pd.Series(values, dtype=object)
            num = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            failed = np.isnan(num) & series.notna().to_numpy()
            failed[failed] = ~nan_text(values[failed])
            if declared == "numeric":
                for i in np.flatnonzero(failed):
                    bad.add(row_rec[i], f"feature {name} = {shown(values[i])} is not a number")
                return num
            if not failed.any():
                return num
        if text:
            return values
        out = objects(
            [None if v is None or (isinstance(v, float) and v != v) else as_text(v) for v in values]
        )
        for i in np.flatnonzero(out == NESTED):
            bad.add(row_rec[i], f"feature {name} is {shown(values[i])}, not a value")
        return out


def _csv_chunks(texts: list[str | None], bad: Bad) -> tuple[list[int], list[str], list[int]]:
    """(the records with a CSV payload, their non-empty payloads, each one's line count: 0 if empty)."""
    recs = [r for r, t in enumerate(texts) if t is not None and r not in bad]
    chunks, counts = [], []
    for r in recs:
        t = texts[r].rstrip("\r\n")
        if "\r" in t:
            t = t.replace("\r\n", "\n").replace("\r", "\n")
        if not t:
            bad.add(r, "endpointInput.data is empty")
            counts.append(0)
            continue
        chunks.append(t)
        counts.append(t.count("\n") + 1)
    return recs, chunks, counts


def _drop_skipped(row_rec: np.ndarray, skipped: list[tuple[int, str]], bad: Bad) -> np.ndarray:
    """Mark the records of the rows Arrow skipped bad (naming the row within the payload); drop the rows."""
    import numpy as np

    gone = np.asarray([num - 1 for num, _ in skipped])
    for (num, why), rec in zip(skipped, row_rec[gone], strict=True):
        row = num - int(np.searchsorted(row_rec, rec))  # 1-based within the record's payload
        bad.add(rec, f"endpointInput CSV row {row} has {why}")
    return np.delete(row_rec, gone)
