"""A model's scoring log from SageMaker Model Monitor *data capture* files, read as they are: a UTC day's
JSON Lines files under ``<uri>/yyyy/mm/dd/hh/``, decoded to the frame a Parquet export would give
(``event_id``, ``event_ts``, ``score``, ``decision``, ``model_id``, ``model_version``, the features,
``_dt``). The format, the config, bad records, IAM and leaving Model Monitor: docs/sources.md."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from mrm.core.storage import ObjectInfo, join, store_for
from mrm.errors import NoDataError, SchemaError
from mrm.inventory.sources import CaptureSourceConfig
from mrm.sources.base import DayData, DayInput, concat_days, files_identity, read_each_day
from mrm.sources.sagemaker.decode import FeatureDecoder, Found, texts
from mrm.sources.sagemaker.parts import Tally, decode_part, decoded_parts
from mrm.sources.sagemaker.response import ResponseDecoder, decide
from mrm.sources.sagemaker.values import Bad

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd
    import pyarrow as pa

    from mrm.inventory import Feature, ModelEntry

ENCODINGS = ("CSV", "JSON", "BASE64")
_KEY = re.compile(r"/(\d{4})/(\d{2})/(\d{2})/(\d{2})/[^/]+\.jsonl$")
_READERS = 16  # files fetched in parallel
_SHOWN = 3  # bad records quoted in an error message


@dataclass
class CaptureDayData(DayData):
    out_of_day: int = 0  # rows whose inferenceTime is outside the day (kept: out_of_day_rate counts them)
    records: int = 0  # captured invocations decoded (a batch invocation gives several rows)


class CaptureSource:
    """One endpoint variant's capture files, read a UTC day at a time, as the scoring log of ``model_id``.

    ``features``: the inventory's features, to type the columns (numeric -> float64, categorical ->
    strings). Without it a column is numeric if every value parses as a number. ``entry``: the inventory
    entry it was built for (:meth:`from_entry`), whose contract :meth:`day_input` checks the day against."""

    def __init__(
        self,
        config: CaptureSourceConfig,
        *,
        model_id: str,
        features: Sequence[Feature] | None = None,
        what: str = "scoring log",
        entry: ModelEntry | None = None,
    ):
        self.config = config
        self.uri = config.uri
        self.store = store_for(config.uri)
        self.model_id = model_id
        self.what = what
        self.entry = entry
        self.features = FeatureDecoder(config, features)
        self.responses = ResponseDecoder(config)

    @classmethod
    def from_entry(cls, entry: ModelEntry, what: str) -> CaptureSource:
        config = entry.monitoring.scoring_log.sagemaker_capture
        features = entry.monitoring.features
        return cls(config, model_id=entry.model_id, features=features, what=what, entry=entry)

    @property
    def cache_key(self) -> str:
        return '{"sagemaker_capture":' + self.config.model_dump_json() + "}"

    def describe(self, day: date) -> str:
        return f"{self.what} of {day} at {self.day_prefix(day)}"

    def identity(self, days: list[date]) -> dict[str, Any]:
        return files_identity([f for d in days for f in self.files(d)])

    def reference_files(self, days: list[date]) -> None:
        """None: capture files are JSON Lines, decoded whole; a reference window is read once."""
        return None

    def day_input(self, day: date) -> DayInput:
        """The day's capture files, listed: the run decodes them as it streams them (:meth:`stream_day`)."""
        files = self._listed(day)
        where = self.describe(day)
        return DayInput(self.entry, day, where, files, batches=lambda: self.stream_day(day, files))

    # listing ---------------------------------------------------------------------------------------
    def day_prefix(self, day: date) -> str:
        return join(self.uri, f"{day:%Y/%m/%d}") + "/"

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
    def _listed(self, day: date) -> list[ObjectInfo]:
        files = self.files(day)
        if not files:
            raise NoDataError(
                f"{self.model_id}: no SageMaker capture files for {day} under {self.day_prefix(day)} "
                "(hour folders 00..23); check that data capture is enabled on the endpoint (EnableCapture, "
                "CaptureStatus Started), that its sampling percentage is above 0 and that the uri names the "
                "endpoint and variant folder, then rerun this date"
            )
        return files

    def read_day(self, day: date) -> CaptureDayData:
        """Every captured row of one UTC day; NoDataError if the day has no capture files or records."""
        files = self._listed(day)
        blobs = self._fetch(files)
        part = decode_part(self, day, files, blobs, [0] * len(files))
        tally = Tally()
        tally.add(part)
        self._check_day(day, files, tally)
        unreadable = [f"{uri} line {ln}: {why} (skipped)" for uri, ln, why in part.where]
        good = part.records - part.dropped
        return CaptureDayData(
            part.frame, list(files), [], unreadable, out_of_day=part.out_of_day, records=good
        )

    def stream_day(self, day: date, files: list[ObjectInfo] | None = None) -> Iterator[pa.RecordBatch]:
        """The day's rows as Arrow record batches, a part of at most about ``PART_BYTES`` of capture
        lines at a time (:mod:`mrm.sources.sagemaker.parts`), each checked against the contract: what
        :meth:`read_day` reads, without holding the day. The bad records are counted over the whole day,
        and the same errors raised as read_day's once the last part is read."""
        import pyarrow as pa

        from mrm.sources.contract import conform

        files = files if files is not None else self._listed(day)
        where = self.describe(day)
        found = Found(self.features._paths) if self.config.input_format == "json" else None
        tally = Tally(keep=self.config.max_bad_records + _SHOWN)
        for part in decoded_parts(self, day, files, found):
            tally.add(part)
            if part.frame is not None:
                frame = conform(part.frame, self.entry, where)
                yield from pa.Table.from_pandas(frame, preserve_index=False).to_batches()
        if found is not None:
            self.features.check_found(found)
        self._check_day(day, files, tally)

    def _check_day(self, day: date, files: list[ObjectInfo], tally: Tally) -> None:
        """The errors of a day read whole or in parts: no records at all, more bad records than allowed,
        or none readable."""
        if tally.records == 0 and not tally.bad_lines:
            raise NoDataError(
                f"{self.model_id}: the {len(files)} SageMaker capture file(s) for {day} under "
                f"{self.day_prefix(day)} hold no records; check the endpoint's data capture sampling "
                "percentage, then rerun this date"
            )
        if tally.bad > self.config.max_bad_records:
            raise self._too_many_bad(day, tally.where, tally.bad, tally.records + tally.bad_lines)
        if not tally.rows:
            raise NoDataError(
                f"{self.model_id}: no readable SageMaker capture records for {day} under {self.uri}; "
                "fix the endpoint's capture or the inventory's capture config, then rerun this date"
            )

    def read_days(
        self, days: list[date], *, skip_unreadable: bool = False, columns: Sequence[str] | None = None
    ) -> CaptureDayData:
        """Rows of several days (a reference window); days without capture are reported, not fatal."""
        read, missing, unreadable = read_each_day(self.read_day, days, skip_unreadable=skip_unreadable)
        unreadable += [reason for _, data in read for reason in data.unreadable]
        nothing = (
            f"{self.model_id}: no SageMaker capture at all for {days[0]}..{days[-1]} under {self.uri}; "
            "the reference window must point at days the endpoint captured"
        )
        data = concat_days(read, missing, unreadable, nothing)
        out_of_day = sum(d.out_of_day for _, d in read)
        records = sum(d.records for _, d in read)
        window = CaptureDayData(data.frame, data.files, missing, unreadable, out_of_day, records)
        return window.only(columns)

    def _fetch(self, files: list[ObjectInfo]) -> list[bytes]:
        from concurrent.futures import ThreadPoolExecutor

        if len(files) == 1:
            return [self.store.get(files[0].uri)]
        with ThreadPoolExecutor(max_workers=min(_READERS, len(files))) as pool:
            return list(pool.map(lambda f: self.store.get(f.uri), files))

    def _too_many_bad(
        self, day: date, where: list[tuple[str, int, str]], bad: int, total: int
    ) -> SchemaError:
        shown = "; ".join(f"{uri} line {ln}: {why}" for uri, ln, why in where[:_SHOWN])
        more = f" (and {bad - _SHOWN} more bad records)" if bad > _SHOWN else ""
        allowed = self.config.max_bad_records
        return SchemaError(
            f"{self.model_id}: SageMaker capture for {day} has {bad} unreadable record(s) of "
            f"{total}{'' if not allowed else f', more than max_bad_records={allowed}'}: "
            f"{shown}{more}; fix the capture config in the inventory or the endpoint, then rerun the "
            "date (a few corrupt lines that cannot be repaired: allow them with max_bad_records)"
        )

    # decoding --------------------------------------------------------------------------------------
    def decode(
        self, day: date, cols: dict[str, list], bad: Bad, found: Found | None
    ) -> tuple[pd.DataFrame, int]:
        """The records' rows as a scoring-log frame, and how many records were bad. ``found``: the JSON
        key paths found in the day's earlier parts (None: these records are the whole day)."""
        import numpy as np

        n = len(cols["event_id"])
        times = _checked_records(cols, bad)
        in_text, out_text = texts(cols, "in", bad), texts(cols, "out", bad)
        features, row_rec = self.features.decode(in_text, cols, bad, found)
        rows_per = np.bincount(row_rec, minlength=n)
        outputs = self.responses.decode(out_text, rows_per, cols, bad)
        good = np.ones(n, dtype=bool)
        good[list(bad.reasons)] = False
        frame = self._frame(day, cols, times, features, row_rec, rows_per, outputs, good)
        return frame, int((~good).sum())

    def _frame(self, day, cols, times, features, row_rec, rows_per, outputs, good) -> pd.DataFrame:
        """The good records' rows: a batch record's rows get ``<id>:<row>``; the decision is derived from
        the score where the endpoint gives none (``decision_thresholds``)."""
        import numpy as np
        import pandas as pd

        score, decision, version, out_rec = outputs
        keep_in, keep_out = good[row_rec], good[out_rec]
        row_rec = row_rec[keep_in]
        frame = pd.DataFrame(
            {
                "event_id": _event_ids(cols, rows_per, row_rec, keep_in),
                "event_ts": times.take(row_rec).reset_index(drop=True),
            }
        )
        frame["model_id"] = self.model_id
        score, decision, version = score[keep_out], decision[keep_out], version[keep_out]
        if self.config.decision_thresholds:
            derived = decide(score, self.config.decision_thresholds)
            decision = np.where(pd.isna(decision), derived, decision)
        frame["model_version"] = version if self.config.model_version_path else self.config.model_version
        for name, values in features.items():
            frame[name] = values[keep_in]
        frame["score"] = score
        frame["decision"] = pd.Series(decision, dtype=object).where(pd.notna(decision), None)
        frame["_dt"] = day
        return frame


def _checked_records(cols: dict[str, list], bad: Bad) -> pd.Series:
    """Cheap per-record checks (the heavy work is column-wise): what is missing, an unknown encoding, a
    time that is not ISO 8601. Returns the records' times (UTC)."""
    import numpy as np
    import pandas as pd

    for r in range(len(cols["event_id"])):
        if (why := _missing(cols, r)) is not None:
            bad.add(r, why)
    times = pd.to_datetime(pd.Series(cols["time"], dtype=object), utc=True, errors="coerce", format="ISO8601")
    for r in np.flatnonzero(times.isna().to_numpy()):
        if r not in bad:
            bad.add(r, f"eventMetadata.inferenceTime {cols['time'][r]!r} is not an ISO 8601 time")
    return times


def _missing(cols: dict[str, list], r: int) -> str | None:
    if cols["event_id"][r] is None:
        return "eventMetadata has neither inferenceId nor eventId"
    if cols["time"][r] is None:
        return "no eventMetadata.inferenceTime"
    if cols["in_data"][r] is None:
        return "no captureData.endpointInput.data (capture the request: CaptureMode Input)"
    if cols["out_data"][r] is None:
        return "no captureData.endpointOutput.data (capture the response: CaptureMode Output)"
    if cols["in_enc"][r] not in ENCODINGS or cols["out_enc"][r] not in ENCODINGS:
        side = "endpointInput" if cols["in_enc"][r] not in ENCODINGS else "endpointOutput"
        enc = cols["in_enc"][r] if side == "endpointInput" else cols["out_enc"][r]
        return f"captureData.{side}.encoding is {enc!r}, expected one of {', '.join(ENCODINGS)}"
    return None


def _event_ids(cols: dict[str, list], rows_per: np.ndarray, row_rec: np.ndarray, keep_in: np.ndarray):
    """The event id of each kept row: the record's, with ``:<row>`` (0-based) for a batch record."""
    import numpy as np

    starts = np.concatenate([[0], np.cumsum(rows_per)])[:-1]
    within = np.arange(len(keep_in))[keep_in] - starts[row_rec]
    multi = rows_per[row_rec] > 1
    ids = np.asarray(cols["event_id"], dtype=object)[row_rec]
    if multi.any():
        ids = ids.copy()
        ids[multi] = [f"{i}:{k}" for i, k in zip(ids[multi], within[multi], strict=True)]
    return ids
