"""SageMaker Model Monitor *data capture* files as a scoring-log source.

Teams leaving SageMaker Model Monitor already have every sampled request and response of their
endpoint in S3; this source reads those files as they are and hands mrm the same scoring-log frame a
Parquet export would (``event_id``, ``event_ts``, ``score``, ``decision``, ``model_id``,
``model_version``, the features, ``_dt``). Nothing has to be re-exported.

The format (AWS, "Capture data from real-time endpoint" / "View collected data",
https://docs.aws.amazon.com/sagemaker/latest/dg/model-monitor-data-capture-endpoint.html)
---------------------------------------------------------------------------------------------------
An endpoint with ``DataCaptureConfig`` writes JSON Lines files under

    <DestinationS3Uri>/<endpoint-name>/<variant-name>/yyyy/mm/dd/hh/<mm-ss-mmm-uuid>.jsonl

(the hour folder is UTC) and each line is one captured invocation::

    {"captureData": {
        "endpointInput":  {"observedContentType": "text/csv", "mode": "INPUT",
                           "data": "132.5,electronics,DE,412,0.31,14", "encoding": "CSV"},
        "endpointOutput": {"observedContentType": "text/csv; charset=utf-8", "mode": "OUTPUT",
                           "data": "0.0254181120544672", "encoding": "CSV"}},
     "eventMetadata": {"eventId": "aaadb61b-e4c6-4f5c-a8e0-7e07edc8b6f5",
                       "inferenceId": "txn-000123",              # only if the caller sent one
                       "inferenceTime": "2026-09-01T08:24:40Z"},
     "eventVersion": "0"}

``encoding`` says how ``data`` holds the payload: ``CSV`` and ``JSON`` are the payload text itself,
``BASE64`` is the payload's bytes base64-encoded (what SageMaker writes for a content type not listed
in ``CaptureContentTypeHeader``, and for every content type if that header is not configured). One
invocation may carry several rows (a batch request: several CSV lines, or a JSON array); each gives
a row of the scoring log.

The config (``CaptureSourceConfig``)
------------------------------------
Capture files know nothing of feature names, scores or decisions, so the config says how to read
them::

    uri: s3://ml-capture/datacapture/card-fraud-prod/AllTraffic/   # down to the variant folder
    input_format: csv                  # how endpointInput holds the features: csv | json
    feature_order: [amount, merchant_category, country, card_age_days, device_score, hour_of_day]
                                       # csv: names in column order; null skips a column
    # json_fields: {amount: "instances[*].amount", country: "country"}   # json: name -> key path
    output_format: csv                 # csv | json
    score_column: 0                    # csv: field of the output line holding the score
    # score_path: "predictions[0].score"                                  # json output
    # decision_column: 1 / decision_path: "predictions[0].label"         # if the endpoint returns one
    decision_thresholds: [[0.0, approve], [0.30, review], [0.70, decline]]
                                       # else (or where it returns none): score >= threshold -> decision
    model_version: "4.2.0"             # a constant, or model_version_path: "model_version" (json output)
    max_bad_records: 0                 # > 0: tolerate that many unreadable records a day (listed)

Key paths are dotted keys with list indexes: ``predictions[0].score``, ``[3]`` (a bare JSON
array), ``instances[*].amount``. ``[*]`` (at most one per path) expands a batch: every element
gives a row; a path without ``[*]`` in a batch request (a request-level field) applies to every row
of the request. A key a JSON payload leaves out is a null feature; a key no payload of the day has is
a config error (``SchemaError``). A batch record's rows get ``event_id`` =
``<inferenceId or eventId>:<row>`` (0-based); a single-row record keeps the plain id, so it joins with
ground truth keyed by the inferenceId the caller sent with InvokeEndpoint.

Reading a day
-------------
``CaptureSource(config, features=entry.monitoring.features).read_day(model_id, day)`` lists the
capture prefix of the UTC day (``.../yyyy/mm/dd/``, one paginated ListObjectsV2; the 24 hour folders
``00``..``23`` are kept, so hour 23 is read and the next day's ``00`` is not), reads every ``.jsonl``
file (16 in parallel) and decodes them column-wise: the JSON envelopes with Arrow's JSON reader, the
CSV payloads of all records as one Arrow CSV parse, types with pandas. A file Arrow cannot take is
re-read line by line, which is also what finds the file and line of a bad record.

``event_ts`` is ``inferenceTime`` as given (UTC). SageMaker files a record in the hour folder in which
it was written, so a few records near midnight carry the previous day's time: they are kept with
their true time, and the ``out_of_day_rate`` control counts them as it counts any event outside the
logical day (``CaptureDayData.out_of_day`` gives the number too). Records captured on the next day's
``00`` folder with a time before midnight are not read for this day (they are out-of-day rows of the
next day).

Bad input never passes silently: a line that is not JSON, a record without ``inferenceTime``, a CSV
row with the wrong number of fields, a non-numeric score or numeric feature, an output that does not
have one score per input row... each raises ``SchemaError`` naming the file, the line and what is
wrong (and how many other bad records the day has). A corrupt line in a capture file cannot be
re-exported, so a model owner may set ``max_bad_records``: up to that many bad records a day are
skipped and listed in ``DayData.unreadable`` (file, line, reason); more still fail the run. A day
without capture files raises ``NoDataError`` naming the prefix: check that data capture is enabled
on the endpoint (``EnableCapture``, ``CaptureStatus: Started``), that its sampling percentage is
above 0 and that ``uri`` names the endpoint and variant folder.

IAM
---
Read-only on the capture prefix: ``s3:ListBucket`` on the bucket (restrict it with a
``s3:prefix`` condition on ``datacapture/<endpoint>/<variant>/*``) and ``s3:GetObject`` on
``arn:aws:s3:::<bucket>/datacapture/<endpoint>/<variant>/*``; plus ``kms:Decrypt`` on the key if
``DataCaptureConfig.KmsKeyId`` encrypts the files.

Leaving SageMaker Model Monitor
-------------------------------
Keep data capture on (Model Monitor's schedules can be deleted: capture is a property of the endpoint
config, not of the monitoring schedule) and point mrm's ``uri`` at ``DestinationS3Uri`` +
``/<endpoint>/<variant>/``. The features Model Monitor inferred as ``_c0``, ``_c1``... (CSV) are
named by ``feature_order``; the baseline job's training dataset becomes the inventory's reference
window (or keep reading the capture of the reference days). The history already captured is readable
as it is, so backfills work on day one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from mrm.core.storage import ObjectInfo, join, store_for
from mrm.errors import NoDataError, SchemaError, SourceError
from mrm.inventory.sources import CaptureSourceConfig, parse_path
from mrm.sources.parquet import DayData, read_each_day

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from mrm.inventory import Feature

ENCODINGS = ("CSV", "JSON", "BASE64")
_KEY = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+\.jsonl$")
_READERS = 16  # files fetched in parallel
_SHOWN = 3  # bad records quoted in an error message


_MISSING = object()


def _getter(tokens: Sequence[str | int]):
    """A function reading ``tokens`` from a parsed document (_MISSING where it is absent)."""
    if len(tokens) == 1 and isinstance(tokens[0], str):
        key = tokens[0]
        return lambda doc: doc.get(key, _MISSING) if type(doc) is dict else _MISSING
    return lambda doc: _walk(doc, tokens)


def _walk(doc: Any, tokens: Sequence[str | int]) -> Any:
    for i, tok in enumerate(tokens):
        if tok == "*":
            if not isinstance(doc, list):
                return _MISSING
            return [_walk(item, tokens[i + 1 :]) for item in doc]
        if isinstance(tok, int):
            if not isinstance(doc, list) or tok >= len(doc):
                return _MISSING
            doc = doc[tok]
        else:
            if not isinstance(doc, dict) or tok not in doc:
                return _MISSING
            doc = doc[tok]
    return doc


@dataclass
class CaptureDayData(DayData):
    out_of_day: int = 0  # rows whose inferenceTime is outside the day (kept: out_of_day_rate counts them)
    records: int = 0  # captured invocations decoded (a batch invocation gives several rows)


# -- the envelope -----------------------------------------------------------------------------------
_FIELDS = ("event_id", "time", "in_data", "in_enc", "in_type", "out_data", "out_enc", "out_type")


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


def _line_record(text: str) -> tuple[dict | None, str | None]:
    """One capture line, parsed in Python: (flat record, None) or (None, what is wrong)."""
    import json

    try:
        doc = json.loads(text)
    except ValueError as exc:
        return None, f"not JSON ({exc})"
    if not isinstance(doc, dict):
        return None, f"a JSON {type(doc).__name__}, not a capture record object"
    out: dict = {}
    cap = doc.get("captureData")
    meta = doc.get("eventMetadata")
    if not isinstance(cap, dict):
        return None, "no captureData object"
    if not isinstance(meta, dict):
        return None, "no eventMetadata object"
    ident = meta.get("inferenceId") if meta.get("inferenceId") is not None else meta.get("eventId")
    out["event_id"], out["time"] = ident, meta.get("inferenceTime")
    for key, name in (("event_id", "eventMetadata.eventId"), ("time", "eventMetadata.inferenceTime")):
        if out[key] is not None and not isinstance(out[key], str):
            return None, f"{name} is a {type(out[key]).__name__}, expected a string"
    for prefix, side_name in (("in", "endpointInput"), ("out", "endpointOutput")):
        side = cap.get(side_name)
        if side is None:
            side = {}
        if not isinstance(side, dict):
            return None, f"captureData.{side_name} is a {type(side).__name__}, expected an object"
        for key, field in (("data", "data"), ("enc", "encoding"), ("type", "observedContentType")):
            value = side.get(field)
            if value is not None and not isinstance(value, str):
                return None, f"captureData.{side_name}.{field} is a {type(value).__name__}, expected a string"
            out[f"{prefix}_{key}"] = value
    return out, None


# -- the source -------------------------------------------------------------------------------------
class _Bad:
    """Bad records found while decoding: record index -> the first reason."""

    def __init__(self) -> None:
        self.reasons: dict[int, str] = {}

    def add(self, record: int, reason: str) -> None:
        self.reasons.setdefault(int(record), reason)

    def __contains__(self, record: int) -> bool:
        return record in self.reasons


class CaptureSource:
    """One endpoint variant's capture files, read a UTC day at a time.

    ``features``: the inventory's features, to type the columns (numeric -> float64, categorical ->
    strings). Without it a column is numeric if every value parses as a number."""

    def __init__(self, config: CaptureSourceConfig, features: Sequence[Feature] | None = None):
        self.config = config
        self.uri = config.uri
        self.store = store_for(config.uri)
        self.kinds: dict[str, str] = {f.name: f.type for f in features or ()}
        self._paths = {name: parse_path(p) for name, p in (config.json_fields or {}).items()}
        self._getters = {name: _getter(tokens) for name, tokens in self._paths.items()}
        self._score = parse_path(config.score_path) if config.score_path else None
        self._decision = parse_path(config.decision_path) if config.decision_path else None
        self._version = parse_path(config.model_version_path) if config.model_version_path else None

    # listing ---------------------------------------------------------------------------------------
    def day_prefix(self, day: date) -> str:
        return join(self.uri, f"{day:%Y/%m/%d}") + "/"

    def hour_prefixes(self, day: date) -> list[str]:
        return [join(self.uri, f"{day:%Y/%m/%d}/{h:02d}") + "/" for h in range(24)]

    def files(self, day: date) -> list[ObjectInfo]:
        """The day's capture files: ``.jsonl`` objects directly in its hour folders 00..23, in time order."""
        keep = []
        for info in self.store.list(self.day_prefix(day)):
            m = _KEY.search(info.uri)
            y, mo, d, h = (int(g) for g in m.groups()) if m else (0, 0, 0, 99)
            if (y, mo, d) == (day.year, day.month, day.day) and h < 24:
                keep.append(info)
        return sorted(keep, key=lambda o: o.uri)

    # reading ---------------------------------------------------------------------------------------
    def read_day(self, model_id: str, day: date) -> CaptureDayData:
        """Every captured row of one UTC day; NoDataError if the day has no capture files or records."""
        files = self.files(day)
        if not files:
            raise NoDataError(
                f"{model_id}: no SageMaker capture files for {day} under {self.day_prefix(day)} "
                "(hour folders 00..23); check that data capture is enabled on the endpoint (EnableCapture, "
                "CaptureStatus Started), that its sampling percentage is above 0 and that the uri names the "
                "endpoint and variant folder, then rerun this date"
            )
        return self._read(model_id, day, files)

    def read_files(self, model_id: str, day: date, files: list[dict]) -> CaptureDayData:
        """Read exactly the objects a run was started with; fail if one changed since (size/ETag)."""
        listed = {o.uri: o for o in self.files(day)}
        now = []
        for f in files:
            info = listed.get(f["uri"])
            if info is None or info.size != f["size"] or info.etag != f["etag"]:
                raise SourceError(
                    f"capture file {f['uri']} changed or disappeared while the run was in progress; "
                    "rerun the date"
                )
            now.append(info)
        return self._read(model_id, day, now)

    def read_days(self, model_id: str, days: list[date], *, skip_unreadable: bool = False) -> CaptureDayData:
        """Rows of several days (a reference window); days without capture are reported, not fatal."""
        import pandas as pd

        read, missing, unreadable = read_each_day(
            lambda day: self.read_day(model_id, day), days, skip_unreadable=skip_unreadable
        )
        frames = [data.frame for _, data in read]
        files = [f for _, data in read for f in data.files]
        unreadable += [reason for _, data in read for reason in data.unreadable]
        out_of_day = sum(data.out_of_day for _, data in read)
        records = sum(data.records for _, data in read)
        if not frames:
            raise NoDataError(
                f"{model_id}: no SageMaker capture at all for {days[0]}..{days[-1]} under {self.uri}; "
                "the reference window must point at days the endpoint captured"
            )
        frame = pd.concat(frames, ignore_index=True)
        return CaptureDayData(frame, files, missing, unreadable, out_of_day=out_of_day, records=records)

    def _fetch(self, files: list[ObjectInfo]) -> list[bytes]:
        from concurrent.futures import ThreadPoolExecutor

        if len(files) == 1:
            return [self.store.get(files[0].uri)]
        with ThreadPoolExecutor(max_workers=min(_READERS, len(files))) as pool:
            return list(pool.map(lambda f: self.store.get(f.uri), files))

    def _read(self, model_id: str, day: date, files: list[ObjectInfo]) -> CaptureDayData:
        blobs = self._fetch(files)
        cols, file_idx, lines, bad_lines = _envelopes(blobs)
        bad = _Bad()
        n = len(file_idx)
        if n == 0 and not bad_lines:
            raise NoDataError(
                f"{model_id}: the {len(files)} SageMaker capture file(s) for {day} under "
                f"{self.day_prefix(day)} hold no records; check the endpoint's data capture sampling "
                "percentage, then rerun this date"
            )
        frame, dropped = self._decode(model_id, day, cols, bad)
        where = [(files[f].uri, ln, why) for f, ln, why in bad_lines]
        where += [(files[file_idx[r]].uri, int(lines[r]), why) for r, why in bad.reasons.items()]
        where.sort(key=lambda w: (w[0], w[1]))
        if len(where) > self.config.max_bad_records:
            shown = "; ".join(f"{uri} line {ln}: {why}" for uri, ln, why in where[:_SHOWN])
            more = f" (and {len(where) - _SHOWN} more bad records)" if len(where) > _SHOWN else ""
            allowed = self.config.max_bad_records
            raise SchemaError(
                f"{model_id}: SageMaker capture for {day} has {len(where)} unreadable record(s) of "
                f"{n + len(bad_lines)}{'' if not allowed else f', more than max_bad_records={allowed}'}: "
                f"{shown}{more}; fix the capture config in the inventory or the endpoint, then rerun the "
                "date (a few corrupt lines that cannot be repaired: allow them with max_bad_records)"
            )
        if frame.empty:
            raise NoDataError(f"{model_id}: no readable SageMaker capture records for {day} under {self.uri}")
        start_ts, end_ts = _day_bounds(day)
        ts = frame["event_ts"]
        out_of_day = int(((ts < start_ts) | (ts >= end_ts) | ts.isna()).sum())
        unreadable = [f"{uri} line {ln}: {why} (skipped)" for uri, ln, why in where]
        return CaptureDayData(frame, list(files), [], unreadable, out_of_day=out_of_day, records=n - dropped)

    # decoding --------------------------------------------------------------------------------------
    def _decode(self, model_id: str, day: date, cols: dict[str, list], bad: _Bad) -> tuple[pd.DataFrame, int]:
        import numpy as np
        import pandas as pd

        n = len(cols["event_id"])
        for r in range(n):  # cheap per-record presence checks; the heavy work below is column-wise
            if cols["event_id"][r] is None:
                bad.add(r, "eventMetadata has neither inferenceId nor eventId")
            elif cols["time"][r] is None:
                bad.add(r, "no eventMetadata.inferenceTime")
            elif cols["in_data"][r] is None:
                bad.add(r, "no captureData.endpointInput.data (capture the request: CaptureMode Input)")
            elif cols["out_data"][r] is None:
                bad.add(r, "no captureData.endpointOutput.data (capture the response: CaptureMode Output)")
            elif cols["in_enc"][r] not in ENCODINGS or cols["out_enc"][r] not in ENCODINGS:
                side = "endpointInput" if cols["in_enc"][r] not in ENCODINGS else "endpointOutput"
                enc = cols["in_enc"][r] if side == "endpointInput" else cols["out_enc"][r]
                bad.add(r, f"captureData.{side}.encoding is {enc!r}, expected one of {', '.join(ENCODINGS)}")
        times = pd.Series(cols["time"], dtype=object)
        times = pd.to_datetime(times, utc=True, errors="coerce", format="ISO8601")
        for r in np.flatnonzero(times.isna().to_numpy()):
            if r not in bad:
                bad.add(r, f"eventMetadata.inferenceTime {cols['time'][r]!r} is not an ISO 8601 time")
        in_text = _texts(cols, "in", bad)
        out_text = _texts(cols, "out", bad)

        if self.config.input_format == "csv":
            features, row_rec = self._csv_input(in_text, bad)
        else:
            features, row_rec = self._json_input(in_text, cols, bad)
        rows_per = np.bincount(row_rec, minlength=n)
        score, decision, version, out_rec = self._output(out_text, rows_per, cols, bad)

        good = np.ones(n, dtype=bool)
        good[list(bad.reasons)] = False
        keep_in, keep_out = good[row_rec], good[out_rec]
        row_rec = row_rec[keep_in]
        starts = np.concatenate([[0], np.cumsum(rows_per)])[:-1]
        within = np.arange(len(keep_in))[keep_in] - starts[row_rec]
        multi = rows_per[row_rec] > 1
        ids = np.asarray(cols["event_id"], dtype=object)[row_rec]
        if multi.any():
            ids = ids.copy()
            ids[multi] = [f"{i}:{k}" for i, k in zip(ids[multi], within[multi], strict=True)]
        frame = pd.DataFrame({"event_id": ids, "event_ts": times.take(row_rec).reset_index(drop=True)})
        frame["model_id"] = model_id
        score = score[keep_out]
        decision = decision[keep_out]
        version = version[keep_out]
        if self.config.decision_thresholds:
            derived = _decide(score, self.config.decision_thresholds)
            decision = np.where(pd.isna(decision), derived, decision)
        frame["model_version"] = version if self.config.model_version_path else self.config.model_version
        for name, values in features.items():
            frame[name] = values[keep_in]
        frame["score"] = score
        frame["decision"] = pd.Series(decision, dtype=object).where(pd.notna(decision), None)
        frame["_dt"] = day
        return frame, int((~good).sum())

    def _csv_input(self, texts: list[str | None], bad: _Bad) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """All CSV payloads as one Arrow CSV parse; each payload line is a row of its record."""
        import io

        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pacsv

        order = self.config.feature_order
        names = [n if n else f"_skip{i}" for i, n in enumerate(order)]
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
        row_rec = np.repeat(np.asarray(recs, dtype=np.int64), counts)
        if not chunks:
            return {n: np.empty(0, dtype=object) for n in self.config.features}, row_rec
        skipped: list[tuple[int, str]] = []

        def invalid(row) -> str:
            skipped.append((row.number, f"{row.actual_columns} CSV fields, expected {row.expected_columns}"))
            return "skip"

        joined = "\n".join(chunks).encode()
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
        if any(num is None for num, _ in skipped):  # Arrow did not number a row: cannot place it
            raise SourceError(f"CSV payloads of {self.uri}: {skipped[0][1]} in a row Arrow cannot place")
        if skipped:
            gone = np.asarray([num - 1 for num, _ in skipped])
            for (num, why), rec in zip(skipped, row_rec[gone], strict=True):
                row = num - int(np.searchsorted(row_rec, rec))  # 1-based within the record's payload
                bad.add(rec, f"endpointInput CSV row {row} has {why}")
            row_rec = np.delete(row_rec, gone)
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

    def _json_input(self, texts: list[str | None], cols, bad: _Bad) -> tuple[dict[str, np.ndarray], Any]:
        """JSON payloads: each key path read per record; a [*] path gives one row per element.

        A key a payload leaves out is a null feature (clients omit unknown values), but a path no
        payload of the day has is a config error, and a batch ([*]) that is not there is a bad record."""
        import json

        import numpy as np

        values: dict[str, list] = {name: [] for name in self._paths}
        absent = dict.fromkeys(self._paths, 0)
        star = {name for name, path in self._paths.items() if "*" in path}
        row_rec: list[int] = []
        parsed = 0
        for r, text in enumerate(texts):
            if text is None or r in bad:
                continue
            try:
                doc = json.loads(text)
            except ValueError as exc:
                ctype = cols["in_type"][r]
                bad.add(r, f"endpointInput.data is not JSON ({exc}); observedContentType {ctype!r}")
                continue
            parsed += 1
            got, rows, why = {}, None, None
            for name, get in self._getters.items():
                v = get(doc)
                if name in star:
                    path_text = self.config.json_fields[name]
                    if v is _MISSING:
                        why = f"endpointInput has no batch at {path_text!r} (feature {name})"
                        break
                    if rows is not None and rows != len(v):
                        why = f"batch paths disagree: {path_text!r} has {len(v)} elements, not {rows}"
                        break
                    rows = len(v)
                    if _MISSING in v:
                        absent[name] += 1
                        v = [None if x is _MISSING else x for x in v]
                elif v is _MISSING:
                    absent[name] += 1
                    v = None
                got[name] = v
            if why is None and rows == 0:
                why = "the batch in endpointInput is empty"
            if why:
                bad.add(r, why)
                continue
            rows = rows or 1
            for name, v in got.items():
                values[name].extend(v if name in star else [v] * rows)
            row_rec.extend([r] * rows)
        nowhere = [name for name, k in absent.items() if parsed and k == parsed]
        if nowhere:
            sample = next(t for t in texts if t is not None)
            raise SchemaError(
                "json_fields "
                + ", ".join(f"{n}: {self.config.json_fields[n]!r}" for n in nowhere)
                + f" found in none of the {parsed} JSON payloads of {self.uri}; a payload looks like "
                f"{sample[:120]!r}; fix the key paths in the capture config"
            )
        rec = np.asarray(row_rec, dtype=np.int64)
        out = {}
        for name in self._paths:
            arr = np.empty(len(values[name]), dtype=object)
            arr[:] = values[name]
            out[name] = self._typed(name, arr, rec, bad)
        return out, rec

    def _typed(
        self, name: str, values: np.ndarray, row_rec: np.ndarray, bad: _Bad, *, text: bool = False
    ) -> np.ndarray:
        """A feature column as float64 (numeric) or strings (categorical); bad values mark their record.
        ``text``: the values are already strings or None (CSV), not any JSON value. A JSON true/false
        is 1/0 for a numeric feature."""
        import numpy as np
        import pandas as pd

        kind = self.kinds.get(name)
        if kind != "categorical":
            series = pd.Series(values, dtype=object)
            num = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
            failed = np.isnan(num) & series.notna().to_numpy()
            failed[failed] = ~_nan_text(values[failed])
            if kind == "numeric":
                for i in np.flatnonzero(failed):
                    bad.add(row_rec[i], f"feature {name} = {_repr(values[i])} is not a number")
                return num
            if not failed.any():
                return num
        if text:
            return values
        out = np.empty(len(values), dtype=object)
        out[:] = [None if v is None or (isinstance(v, float) and v != v) else _text(v) for v in values]
        for i in np.flatnonzero(out == _NESTED):
            bad.add(row_rec[i], f"feature {name} is {_repr(values[i])}, not a value")
        return out

    def _output(self, texts: list[str | None], rows_per: np.ndarray, cols, bad: _Bad):
        """Score, decision and model version per input row, from each record's response."""
        import json

        import numpy as np
        import pandas as pd

        cfg = self.config
        scores: list = []
        decisions: list = []
        versions: list = []
        out_rec: list[int] = []
        single = cfg.decision_column is None and cfg.score_column == 0
        todo = [r for r, text in enumerate(texts) if text is not None and r not in bad]
        if cfg.output_format == "csv" and single and todo and (rows_per[todo] == 1).all():
            # the usual response, one score per request: column-wise unless a text has more than that
            import pyarrow as pa
            import pyarrow.compute as pc

            arr = pc.utf8_trim_whitespace(pa.array([texts[r] for r in todo], type=pa.string()))
            if not pc.any(pc.match_substring_regex(arr, r"[,\n\r]")).as_py():
                scores, out_rec = arr.to_numpy(zero_copy_only=False), todo
                decisions = versions = [None] * len(todo)
                todo = []
        for r in todo:
            text = texts[r]
            want = int(rows_per[r])
            s = d = v = None
            if cfg.output_format == "csv":
                lines = [ln.split(",") for ln in text.strip().splitlines()]
                if single and want > 1 and len(lines) == 1 and len(lines[0]) == want:
                    lines = [[x] for x in lines[0]]  # a batch answered on one line: "0.1,0.7,0.2"
                if len(lines) != want:
                    bad.add(r, f"endpointOutput has {len(lines)} CSV line(s) for {want} input row(s)")
                    continue
                width = max(cfg.score_column, cfg.decision_column or 0) + 1
                short = [len(f) for f in lines if len(f) < width]
                if short:
                    bad.add(r, f"endpointOutput CSV line has {short[0]} field(s), the config reads {width}")
                    continue
                s = [f[cfg.score_column].strip() for f in lines]
                if cfg.decision_column is not None:
                    d = [f[cfg.decision_column].strip() or None for f in lines]
            else:
                try:
                    doc = json.loads(text)
                except ValueError as exc:
                    ctype = cols["out_type"][r]
                    bad.add(r, f"endpointOutput.data is not JSON ({exc}); observedContentType {ctype!r}")
                    continue
                why = None
                got = {}
                for key, path, given in (
                    ("score", self._score, cfg.score_path),
                    ("decision", self._decision, cfg.decision_path),
                    ("model version", self._version, cfg.model_version_path),
                ):
                    if path is None:
                        continue
                    val = _walk(doc, path)
                    if val is _MISSING or ("*" in path and any(x is _MISSING for x in val)):
                        why = f"endpointOutput has no {given!r}"
                        break
                    if "*" in path:
                        if len(val) != want:
                            why = f"endpointOutput has {len(val)} {key}(s) at {given!r} for {want} input rows"
                            break
                    elif want == 1 or key == "model version":  # a response-level version covers its batch
                        val = [val] * want
                    else:
                        why = f"endpointOutput has one {key} at {given!r} for {want} input rows; use [*]"
                        break
                    got[key] = val
                if why:
                    bad.add(r, why)
                    continue
                s, d, v = got["score"], got.get("decision"), got.get("model version")
                d = d and [None if x is None else _text(x) for x in d]
                v = v and [None if x is None else _text(x) for x in v]
                if _NESTED in (d or ()) or _NESTED in (v or ()):
                    which = "decision_path" if _NESTED in (d or ()) else "model_version_path"
                    bad.add(r, f"endpointOutput at {getattr(cfg, which)!r} is an object or array")
                    continue
            scores.extend(s)
            decisions.extend(d if d is not None else [None] * want)
            versions.extend(v if v is not None else [None] * want)
            out_rec.extend([r] * want)
        rec = np.asarray(out_rec, dtype=np.int64)
        raw = pd.Series(scores, dtype=object)
        nested = np.fromiter((isinstance(x, (dict, list, bool)) for x in scores), bool, len(scores))
        num = pd.to_numeric(raw.where(~nested, "x") if nested.any() else raw, errors="coerce")
        num = num.to_numpy(dtype="float64", na_value=np.nan)
        failed = np.isnan(num) & raw.notna().to_numpy()  # a JSON null is a null score; "" or "n/a" is bad
        for i in np.flatnonzero(failed):
            bad.add(rec[i], f"score {_repr(scores[i])} is not a number")
        dec = np.empty(len(decisions), dtype=object)
        dec[:] = decisions
        ver = np.empty(len(versions), dtype=object)
        ver[:] = versions
        return num, dec, ver, rec


# -- helpers ----------------------------------------------------------------------------------------
def _envelopes(blobs: list[bytes]):
    """Parse every file's lines into flat record columns, Arrow first, line by line where it must.

    Returns (columns, file index per record, line number per record, [(file, line, reason)])."""
    import io

    import numpy as np
    import pyarrow as pa
    import pyarrow.json as pajson

    schema = _envelope_schema()
    options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")

    def arrow(buf: bytes, expected: int):
        try:
            table = pajson.read_json(
                io.BytesIO(buf),
                read_options=pajson.ReadOptions(block_size=max(1 << 20, len(buf) + 1)),
                parse_options=options,
            )
        except pa.ArrowException:
            return None
        return table if table.num_rows == expected else None  # blank lines: let Python number them

    counts = [b.count(b"\n") + (0 if not b or b.endswith(b"\n") else 1) for b in blobs]
    parts: list[tuple[int, dict[str, list], np.ndarray]] = []  # (file, columns, line numbers)
    bad_lines: list[tuple[int, int, str]] = []
    nonempty = [i for i, b in enumerate(blobs) if b.strip()]
    whole = None
    if nonempty:
        buf = b"".join(blobs[i] if blobs[i].endswith(b"\n") else blobs[i] + b"\n" for i in nonempty)
        whole = arrow(buf, sum(counts[i] for i in nonempty))
    if whole is not None:
        cols = _flatten(whole)
        file_idx = np.repeat(np.asarray(nonempty, dtype=np.int64), [counts[i] for i in nonempty])
        lines = np.concatenate([np.arange(1, counts[i] + 1) for i in nonempty])
        return cols, file_idx, lines, bad_lines
    for i in nonempty:
        table = arrow(blobs[i], counts[i])
        if table is not None:
            parts.append((i, _flatten(table), np.arange(1, counts[i] + 1)))
            continue
        rows, numbers = [], []
        for number, raw in enumerate(blobs[i].split(b"\n"), 1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                bad_lines.append((i, number, f"not UTF-8 ({exc.reason} at byte {exc.start})"))
                continue
            rec, why = _line_record(text)
            if why:
                bad_lines.append((i, number, why))
            else:
                rows.append(rec)
                numbers.append(number)
        parts.append((i, {k: [row[k] for row in rows] for k in _FIELDS}, np.asarray(numbers, dtype=np.int64)))
    cols = {k: [v for _, c, _ in parts for v in c[k]] for k in _FIELDS}
    _none = np.empty(0, dtype=np.int64)
    file_idx = np.concatenate([np.full(len(ln), i, dtype=np.int64) for i, _, ln in parts] or [_none])
    lines = np.concatenate([ln for _, _, ln in parts] or [_none])
    return cols, file_idx, lines, bad_lines


def _texts(cols: dict[str, list], side: str, bad: _Bad) -> list[str | None]:
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


def _decide(score: np.ndarray, thresholds: list[tuple[float, str]]) -> np.ndarray:
    """The decision of the highest threshold each score reaches; None below the first or for a null score."""
    import numpy as np

    cuts = np.asarray([t for t, _ in thresholds], dtype="float64")
    names = np.asarray([None, *(d for _, d in thresholds)], dtype=object)
    idx = np.searchsorted(cuts, score, side="right")
    idx[np.isnan(score)] = 0
    return names[idx]


def _day_bounds(day: date):
    import pandas as pd

    start = pd.Timestamp(day, tz="UTC")
    return start, start + pd.Timedelta(days=1)


def _nan_text(values: np.ndarray) -> np.ndarray:
    """Values that legitimately parse to NaN (a float NaN, or the text nan/NaN)."""
    import numpy as np

    def nan(v: Any) -> bool:
        return (isinstance(v, float) and v != v) or (isinstance(v, str) and v.strip().lower() == "nan")

    return np.fromiter((nan(v) for v in values), bool, len(values))


_NESTED = "\x00nested"  # what _text makes of a JSON object or array, to be reported


def _text(value: Any) -> str:
    if isinstance(value, (dict, list)):
        return _NESTED
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _repr(value: Any) -> str:
    import json

    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


__all__ = ["CaptureDayData", "CaptureSource", "CaptureSourceConfig", "parse_path"]
