"""A SageMaker capture day streamed in parts (mrm.sources.sagemaker.parts) gives what the day decoded whole
gives: the same aggregate, the same bad records (named by file and line, a large file cut into pieces
included), and the same day-wide errors (too many bad records, a JSON key path no payload has)."""

from __future__ import annotations

import json
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from support import INVENTORY

from mrm.checks.engine import aggregate as ag
from mrm.checks.engine.profiling import profile_from_frame
from mrm.core.storage import join, store_for
from mrm.errors import SchemaError
from mrm.inventory import load_entry
from mrm.inventory.sources import CaptureSourceConfig
from mrm.sources.contract import conform, required_columns
from mrm.sources.sagemaker import parts
from mrm.sources.sagemaker.source import CaptureSource

DAY = date(2026, 9, 1)
REFERENCE = date(2026, 8, 31)
FEATURES = ["amount", "merchant_category", "country", "card_age_days", "device_score", "hour_of_day"]
CATEGORIES = ["grocery", "electronics", "travel", "fashion", "digital_goods", "fuel", "new_thing"]
COUNTRIES = ["DE", "FR", "GB", "IT", "ES", "NL"]


@pytest.fixture(scope="module")
def entry():
    return load_entry(INVENTORY / "card_fraud.yaml")


@pytest.fixture
def root(tmp_path) -> str:
    return (tmp_path / "datacapture" / "card-fraud" / "AllTraffic").as_uri() + "/"


def capture_line(i: int, day: date, rng: np.random.Generator, fmt: str) -> str:
    at = f"{day.isoformat()}T{i % 24:02d}:{i % 60:02d}:{i % 59:02d}Z"
    values = [
        f"{rng.gamma(2.0, 40.0):.2f}",
        CATEGORIES[int(rng.integers(len(CATEGORIES)))],
        COUNTRIES[int(rng.integers(len(COUNTRIES)))],
        str(int(rng.integers(1, 3000))),
        "" if i % 17 == 0 else f"{rng.random():.4f}",
        str(i % 24),
    ]
    score = f"{rng.beta(2, 8):.5f}"
    if fmt == "csv":
        data_in, data_out, ctype = ",".join(values), score, "text/csv"
    else:
        doc = {k: v for k, v in zip(FEATURES, values, strict=True) if v != "" or k != "device_score"}
        data_in, data_out, ctype = json.dumps(doc), json.dumps({"score": float(score)}), "application/json"
    enc = "CSV" if fmt == "csv" else "JSON"
    side = {"observedContentType": ctype, "mode": "INPUT", "data": data_in, "encoding": enc}
    out = {"observedContentType": ctype, "mode": "OUTPUT", "data": data_out, "encoding": enc}
    meta = {"eventId": f"ev-{day:%m%d}-{i:06d}", "inferenceTime": at}
    return json.dumps({"captureData": {"endpointInput": side, "endpointOutput": out}, "eventMetadata": meta})


def write_day(root: str, day: date, lines: list[str], files: int) -> None:
    per = -(-len(lines) // files)
    for k in range(files):
        target = join(root, f"{day:%Y/%m/%d}/{k % 24:02d}/part-{k:03d}.jsonl")
        body = "".join(line + "\n" for line in lines[k * per : (k + 1) * per]).encode()
        store_for(target).put(target, body, overwrite=True)


def config(root: str, fmt: str, **kw) -> CaptureSourceConfig:
    common = dict(uri=root, model_version="4.2.0", decision_thresholds=[[0.0, "approve"], [0.5, "decline"]])
    if fmt == "csv":
        common |= dict(input_format="csv", feature_order=FEATURES, output_format="csv")
    else:
        common |= dict(
            input_format="json",
            json_fields={f: f for f in FEATURES},
            output_format="json",
            score_path="score",
        )
    return CaptureSourceConfig(**{**common, **kw})


def source_of(entry, root: str, fmt: str, **kw) -> CaptureSource:
    cfg = config(root, fmt, **kw)
    return CaptureSource(cfg, model_id=entry.model_id, features=entry.monitoring.features, entry=entry)


def day_lines(day: date, n: int, fmt: str, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [capture_line(i, day, rng, fmt) for i in range(n)]


def profile_of(source: CaptureSource, entry):
    frame = conform(source.read_day(REFERENCE).frame, entry, "reference")
    days = frame.groupby("_dt").size()
    info = {
        "daily_rows": [int(n) for n in days],
        "median_daily_rows": float(days.median()),
        "null_rates": {c: float(frame[c].isna().mean()) for c in required_columns(entry)},
    }
    return profile_from_frame(frame, entry, info)


def assert_same_aggregate(a, b) -> None:
    assert (a.rows, a.columns) == (b.rows, b.columns)
    assert set(a.numeric) == set(b.numeric)
    for c in a.numeric:
        x, y = a.numeric[c], b.numeric[c]
        assert x.state() == y.state(), c
        for part in ("counts", "sums"):
            u, v = getattr(x, part), getattr(y, part)
            assert (u is None) == (v is None) and (u is None or np.array_equal(u, v)), (c, part)
    for c in a.categorical:
        x, y = a.categorical[c], b.categorical[c]
        assert (x.counts, x.nulls, x.oversized) == (y.counts, y.nulls, y.oversized), c
    assert (a.ids.nulls, a.ids.n, a.ids.duplicated) == (b.ids.nulls, b.ids.n, b.ids.duplicated)
    t, u = a.times, b.times
    assert (t.nulls, t.outside, t.newest) == (u.nulls, u.outside, u.newest)
    for seg in a.segments:
        g, h = a.segments[seg], b.segments[seg]
        assert (g.rows, g.nulls, g.score) == (h.rows, h.nulls, h.score), seg
        assert g.counts.keys() == h.counts.keys()
        assert all(np.array_equal(g.counts[k], h.counts[k]) for k in g.counts)
    left, right = a.sample.to_pandas(), b.sample.to_pandas()
    for frame in (left, right):
        for c in frame.columns:
            if isinstance(frame[c].dtype, pd.CategoricalDtype):
                frame[c] = frame[c].astype(object)
    pd.testing.assert_frame_equal(left, right, check_dtype=False)


def test_pieces_cut_at_line_ends_and_number_their_lines():
    data = b"".join(f"line {i}{'x' * (i % 7)}\n".encode() for i in range(1, 200))
    cut = list(parts.pieces(data, 100))
    assert len(cut) > 10
    assert b"".join(p for _, p in cut) == data
    for first, piece in cut:
        assert piece.endswith(b"\n")
        assert piece.split(b"\n")[0].startswith(f"line {first + 1}".encode())
    assert list(parts.pieces(b"a\nb", 100)) == [(0, b"a\nb")]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_a_day_streamed_in_parts_aggregates_as_the_day_read_whole(entry, root, monkeypatch, fmt):
    write_day(root, REFERENCE, day_lines(REFERENCE, 3000, fmt, seed=1), files=3)
    lines = day_lines(DAY, 4000, fmt, seed=2)
    lines[5] = lines[5].replace('"eventId"', '"eventIdx"')  # no id: a bad record
    lines[2500] = "{not json"  # a bad line deep in a file cut into pieces
    lines[3999] = lines[3999].replace(f"{DAY.isoformat()}T", "yesterday ")  # a bad time, last line
    write_day(root, DAY, lines, files=2)
    source = source_of(entry, root, fmt, max_bad_records=5)
    profile = profile_of(source, entry)
    whole = source.read_day(DAY)
    monkeypatch.setattr(parts, "PART_BYTES", 20_000)  # ~30 parts, files cut into pieces

    streamed = ag.aggregate_batches(source.stream_day(DAY), entry, profile, DAY, batch_rows=700)
    expected = ag.aggregate_frame(conform(whole.frame, entry, "day"), entry, profile, DAY, batch_rows=700)

    assert streamed.rows == len(whole.frame) == 3997
    assert len(list(source.stream_day(DAY))) > 20  # it did come in parts
    assert_same_aggregate(streamed, expected)
    assert [u.split(": ", 1)[0] for u in whole.unreadable] == [
        f"{root}2026/09/01/00/part-000.jsonl line 6",
        f"{root}2026/09/01/01/part-001.jsonl line 501",
        f"{root}2026/09/01/01/part-001.jsonl line 2000",
    ]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_too_many_bad_records_fail_the_stream_as_the_whole_day(entry, root, monkeypatch, fmt):
    lines = day_lines(DAY, 3000, fmt, seed=3)
    for i in (10, 1400, 1401, 2999):
        lines[i] = "[1, 2]"
    write_day(root, DAY, lines, files=3)
    source = source_of(entry, root, fmt, max_bad_records=2)
    with pytest.raises(SchemaError) as whole:
        source.read_day(DAY)
    monkeypatch.setattr(parts, "PART_BYTES", 10_000)
    with pytest.raises(SchemaError) as streamed:
        list(source.stream_day(DAY))
    assert str(streamed.value) == str(whole.value)
    assert "has 4 unreadable record(s) of 3000, more than max_bad_records=2" in str(whole.value)
    assert "(and 1 more bad records)" in str(whole.value)


def test_a_json_path_found_in_a_later_part_only_is_not_a_config_error(entry, root, monkeypatch):
    lines = day_lines(DAY, 2000, "json", seed=4)
    for i in range(1500):  # device_score absent from the first 1500 payloads
        doc = json.loads(lines[i])
        payload = json.loads(doc["captureData"]["endpointInput"]["data"])
        payload.pop("device_score", None)
        doc["captureData"]["endpointInput"]["data"] = json.dumps(payload)
        lines[i] = json.dumps(doc)
    write_day(root, DAY, lines, files=2)
    source = source_of(entry, root, "json")
    whole = source.read_day(DAY)
    monkeypatch.setattr(parts, "PART_BYTES", 20_000)
    streamed = pd.concat([b.to_pandas() for b in source.stream_day(DAY)], ignore_index=True)
    assert len(streamed) == len(whole.frame) == 2000
    assert streamed["device_score"].isna().sum() == whole.frame["device_score"].isna().sum() >= 1500

    write_day(root, DAY + timedelta(days=1), day_lines(DAY, 10, "json", seed=5), files=1)
    wrong = source_of(entry, root, "json", json_fields={**{f: f for f in FEATURES}, "amount": "amt"})
    with pytest.raises(SchemaError) as whole_error:
        wrong.read_day(DAY)
    with pytest.raises(SchemaError) as streamed_error:
        list(wrong.stream_day(DAY))
    assert str(streamed_error.value) == str(whole_error.value)
    assert "found in none of the 2000 JSON payloads" in str(whole_error.value)
