"""Hostile or odd scoring data harms nobody: each kind of bad partition a real feed produces, run through
the real pipeline (``mrm.pipeline.run_model``) on a real Parquet source whose prefix does not contain the
model id, ends either as a fitting AMBER/RED finding or as one could-not-run line that names the model,
the date and the file or partition (no traceback, no line break). Either way the history verifies, the
earlier run is untouched, no control name or segment carries CR/LF or exceeds the history's columns,
and the day's evidence stays within :data:`MAX_DAY_EVIDENCE_BYTES`.

Every case runs on SQLite; the long-segment-value case (which made a day unrecordable on PostgreSQL,
security review finding 15) runs on PostgreSQL too.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from support import INVENTORY, clear_caches

from mrm.checks.engine.bounds import MAX_DAY_EVIDENCE_BYTES, MAX_SEGMENT_VALUES
from mrm.errors import MrmError

MODEL = "toy_model"
REFERENCE_DAYS = [date(2026, 8, 18) + timedelta(days=i) for i in range(14)]
GOOD_DAY = date(2026, 9, 1)
ROWS = 2_000
REGIONS = ["north", "south", "east"]


# -- data ---------------------------------------------------------------------------------------------
def day_frame(day: date, rows: int = ROWS, seed: int = 0) -> pd.DataFrame:
    """A conforming day of the toy model: events spread over the day, region a segment column."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp(datetime(day.year, day.month, day.day, tzinfo=UTC))
    return pd.DataFrame(
        {
            "event_id": [f"e-{day:%m%d}-{i}" for i in range(rows)],
            "event_ts": start + pd.to_timedelta(np.sort(rng.uniform(0, 86_000, rows)), unit="s"),
            "score": rng.beta(2.0, 5.0, rows),
            "decision": rng.choice(["approve", "review", "decline"], rows, p=[0.5, 0.3, 0.2]),
            "amount": np.clip(rng.normal(50, 12, rows), 0, 100),
            "tenure": np.clip(rng.normal(20, 6, rows), 0, 50),
            "region": rng.choice(REGIONS, rows, p=[0.4, 0.35, 0.25]),
        }
    )


def parquet_bytes(table: pa.Table | pd.DataFrame) -> bytes:
    if isinstance(table, pd.DataFrame):
        table = pa.Table.from_pandas(table, preserve_index=False)
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def one(frame: pd.DataFrame) -> dict[str, bytes]:
    return {"part-0.parquet": parquet_bytes(frame)}


def with_column(frame: pd.DataFrame, name: str, values) -> pd.DataFrame:
    out = frame.copy()
    out[name] = values
    return out


def every(frame: pd.DataFrame, share: float) -> np.ndarray:
    """The first ``share`` of the rows' positions, spread evenly over the day."""
    return np.linspace(0, len(frame) - 1, max(int(len(frame) * share), 1)).astype(int)


def replaced(frame: pd.DataFrame, column: str, share: float, value: Callable[[int], object]) -> pd.DataFrame:
    out = frame.copy()
    values = out[column].astype(object).to_numpy()
    for k, i in enumerate(every(frame, share)):
        values[i] = value(k)
    out[column] = values
    return out


def struct_region(frame: pd.DataFrame) -> dict[str, bytes]:
    table = pa.Table.from_pandas(frame.drop(columns="region"), preserve_index=False)
    region = pa.array([{"code": r, "level": 1} for r in frame["region"]])
    return {"part-0.parquet": parquet_bytes(table.append_column("region", region))}


def list_amount(frame: pd.DataFrame) -> dict[str, bytes]:
    table = pa.Table.from_pandas(frame.drop(columns="amount"), preserve_index=False)
    amount = pa.array([[float(a)] for a in frame["amount"]], pa.list_(pa.float64()))
    return {"part-0.parquet": parquet_bytes(table.append_column("amount", amount))}


def map_region(frame: pd.DataFrame) -> dict[str, bytes]:
    table = pa.Table.from_pandas(frame.drop(columns="region"), preserve_index=False)
    region = pa.array([[("code", r)] for r in frame["region"]], pa.map_(pa.string(), pa.string()))
    return {"part-0.parquet": parquet_bytes(table.append_column("region", region))}


def extra_nested(frame: pd.DataFrame) -> dict[str, bytes]:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return {"part-0.parquet": parquet_bytes(table.append_column("debug", pa.array([{"a": 1}] * len(frame))))}


def zero_rows(frame: pd.DataFrame) -> dict[str, bytes]:
    return one(frame.iloc[:0])


def truncated(frame: pd.DataFrame) -> dict[str, bytes]:
    data = parquet_bytes(frame)
    return {"part-0.parquet": data[: len(data) // 2]}


def mixed_types(frame: pd.DataFrame) -> dict[str, bytes]:
    """Two files of one day: region as text in one, as integer codes in the other."""
    half = len(frame) // 2
    codes = frame.iloc[half:].assign(region=np.arange(len(frame) - half) % 3)
    return {"part-0.parquet": parquet_bytes(frame.iloc[:half]), "part-1.parquet": parquet_bytes(codes)}


def widened_types(frame: pd.DataFrame) -> dict[str, bytes]:
    """Two files of one day: tenure as whole numbers in one, as floats in the other (numeric widening)."""
    half = len(frame) // 2
    ints = frame.iloc[:half].assign(tenure=frame["tenure"].iloc[:half].round().astype("int64"))
    return {"part-0.parquet": parquet_bytes(ints), "part-1.parquet": parquet_bytes(frame.iloc[half:])}


def long_strings(frame: pd.DataFrame) -> dict[str, bytes]:
    """2.5 % of the rows' region: one of ten distinct 1M-character strings."""
    return one(replaced(frame, "region", 0.025, lambda k: f"{k % 10:02d}" + "x" * 1_000_000))


# -- the cases ----------------------------------------------------------------------------------------
@dataclass
class Case:
    kind: str
    files: Callable[[pd.DataFrame], dict[str, bytes] | None]  # None: no partition folder at all
    expect: str  # "could not run" (then ``says``: in the reason) or "finding" (then ``red``/``amber``)
    says: str = ""
    red: list[str] = field(default_factory=list)  # control keys that must be RED
    amber: list[str] = field(default_factory=list)  # control keys that must be AMBER or RED
    green_because: str = ""  # why an all-GREEN outcome is legitimately fine
    segment: str = ""  # a segment the run must have recorded (a regular expression)


NOT_RUN, FINDING, FINE = "could not run", "finding", "fine"

CASES = [
    Case("missing partition", lambda f: None, NOT_RUN, "no scoring log partition for"),
    Case("empty prefix (only _SUCCESS)", lambda f: {"_SUCCESS": b""}, NOT_RUN,
         "no scoring log partition for"),
    Case("zero-row file", zero_rows, NOT_RUN, "has 0 rows"),
    Case("truncated file", truncated, NOT_RUN, "not valid Parquet"),
    Case("non-Parquet bytes", lambda f: {"part-0.parquet": bytes(range(256)) * 64}, NOT_RUN,
         "not valid Parquet"),
    Case("CSV named .parquet", lambda f: {"part-0.parquet": f.to_csv(index=False).encode()}, NOT_RUN,
         "not valid Parquet"),
    Case("wrong column type (score as text)", lambda f: one(f.assign(score=f["score"].map("{:.3f}".format))),
         NOT_RUN, "wrong column types: score is object, expected numeric"),
    Case("missing required column", lambda f: one(f.drop(columns="tenure")), NOT_RUN,
         "lacks required column(s) tenure"),
    Case("nested struct column", struct_region, NOT_RUN, "type mrm cannot read: region is struct<"),
    Case("list column", list_amount, NOT_RUN, "type mrm cannot read: amount is list<"),
    Case("map column", map_region, NOT_RUN, "type mrm cannot read: region is map<"),
    Case("mixed schemas across files", mixed_types, NOT_RUN, "disagree on the type of column region"),
    Case("all-null feature", lambda f: one(f.assign(tenure=np.nan)), FINDING,
         red=["quality.null_rate[tenure]"]),
    Case("all-null score", lambda f: one(f.assign(score=np.nan)), FINDING, red=["quality.null_rate[score]"]),
    Case("scores outside [0, 1]", lambda f: one(replaced(f, "score", 0.05, lambda k: 1.5 if k % 2 else -0.2)),
         FINDING, red=["quality.out_of_range_rate[score]"]),
    Case("NaN and inf scores",
         lambda f: one(replaced(f, "score", 0.2, lambda k: np.inf if k % 2 else np.nan)),
         FINDING, red=["quality.null_rate[score]", "quality.out_of_range_rate[score]"]),
    Case("duplicate event ids", lambda f: one(replaced(f, "event_id", 0.05, lambda k: "e-dup")), FINDING,
         red=["quality.duplicate_rate"]),
    Case("1M-character strings in a categorical", long_strings, FINDING,
         red=["quality.oversized_value_rate[region]", "quality.unexpected_category_rate[region]"]),
    Case("300-character segment values",
         lambda f: one(replaced(f, "region", 0.0005, lambda k: f"{k}-" + "long segment " * 23)), FINDING,
         amber=["quality.oversized_value_rate[region]"],
         segment=r"region=0-(long segment )+.*…\[301 chars, sha256 [0-9a-f]{12}\]"),
    Case("CR/LF in categories",
         lambda f: one(replaced(f, "region", 0.05, lambda k: "north\r\nBcc: x@x.org" if k % 2 else "a\nb")),
         FINDING, red=["quality.unexpected_category_rate[region]"],
         segment=re.escape("region=north\\r\\nBcc: x@x.org")),
    Case(f"more than {MAX_SEGMENT_VALUES} distinct segment values",
         lambda f: one(replaced(f, "region", 0.5, lambda k: f"r{k}")), FINDING,
         red=["quality.unexpected_category_rate[region]"], segment=re.escape("region=(other)")),
    Case("timestamps from another day",
         lambda f: one(f.assign(event_ts=f["event_ts"] - pd.Timedelta(days=3))), FINDING,
         red=["quality.out_of_day_rate"]),
    Case("extra unexpected columns", lambda f: one(f.assign(**{f"x{i}": 1.0 for i in range(6)})), FINDING,
         red=["quality.extra_column_count"]),
    Case("extra nested column (not in the contract)",
         extra_nested,
         FINDING, amber=["quality.extra_column_count"]),
    Case("integer and float files for one numeric column", widened_types, FINE,
         green_because="int64 and double are one numeric column (Arrow widens int64 to double); the values "
         "are the good day's values, only stored with two physical types"),
]  # fmt: skip


# -- the setting --------------------------------------------------------------------------------------
def write_partition(feed: Path, day: date, files: dict[str, bytes] | None) -> None:
    if files is None:
        return
    folder = feed / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (folder / name).write_bytes(data)


def write_inventory(folder: Path, feed: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    policy = yaml.safe_load((INVENTORY / "_policy.yaml").read_text())
    policy.pop("notifications", None)
    (folder / "_policy.yaml").write_text(yaml.safe_dump(policy, sort_keys=False))
    raw = {
        "model_id": MODEL, "name": "Toy model", "version": "1.0.0", "purpose": "Bad-input test model.",
        "business_line": "Testing", "model_type": "logistic regression", "owner": "toy-owner@example.com",
        "developer": "toy-developer@example.com", "validator": "toy-validator@example.com", "risk_tier": 2,
        "tier_rationale": "Only used in tests; no customer impact at all.", "status": "approved",
        "approval": {"approver": "toy-approver@example.com", "date": "2026-07-01"},
        "monitoring": {
            "start_date": "2026-09-01",
            "scoring_log": feed.as_uri() + "/",  # no model id in the prefix
            "reference": {"start": REFERENCE_DAYS[0].isoformat(), "end": REFERENCE_DAYS[-1].isoformat()},
            "decisions": ["approve", "review", "decline"],
            "features": [
                {"name": "amount", "type": "numeric", "min": 0, "max": 100},
                {"name": "tenure", "type": "numeric", "min": 0, "max": 50},
                {"name": "region", "type": "categorical", "categories": REGIONS},
            ],
            "controls": {"null_rate": {"amber": 0.05, "red": 0.10}},  # the rest: the tier's policy
            "segments": {"columns": ["region"], "metrics": ["null_rate", "psi"], "min_rows": 30},
        },
    }  # fmt: skip
    (folder / f"{MODEL}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    """A history, an inventory of the toy model reading ``<tmp>/feed/`` (no model id in the prefix), its
    reference window and one good day already run."""
    from mrm import pipeline

    root = tmp_path_factory.mktemp("bad_input")
    feed = root / "feed"
    assert MODEL not in str(feed)
    for i, day in enumerate(REFERENCE_DAYS):
        write_partition(feed, day, one(day_frame(day, seed=100 + i)))
    write_partition(feed, GOOD_DAY, one(day_frame(GOOD_DAY, seed=1)))
    write_inventory(root / "inventory", feed)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MRM_HOME", str(root / "home"))
        mp.setenv("MRM_INVENTORY", str(root / "inventory"))
        mp.delenv("MRM_DB_URL", raising=False)
        mp.delenv("MRM_EVIDENCE", raising=False)
        clear_caches()
        good = pipeline.run_model(MODEL, GOOD_DAY)
        yield {"feed": feed, "home": root / "home", "good": good, "mp": mp}
        clear_caches()


def evidence_bytes(home: Path, day: date) -> int:
    folder = home / "evidence" / MODEL / day.isoformat()
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.exists() else 0


def run_case(case: Case, day: date, feed: Path, home: Path, good_run: str) -> dict:
    """Run ``case`` as ``day``; check what every case must hold; returns the day's run row."""
    from mrm import pipeline
    from mrm.store import chain

    store = pipeline.get_store()
    before = store.metrics(run_id=good_run)
    write_partition(feed, day, case.files(day_frame(day, seed=day.day)))
    try:
        summary = pipeline.run_model(MODEL, day)
        raised = None
    except MrmError as exc:
        summary, raised = None, exc
    runs = [r for r in store.runs(MODEL) if r["logical_date"] == day]
    assert len(runs) == 1, case.kind
    run = runs[0]
    if case.expect == NOT_RUN:
        assert raised is not None and run["status"] == "failed", (case.kind, summary)
        reason = run["reason"]
        assert str(raised) in reason and case.says in reason, reason
        assert MODEL in reason and day.isoformat() in reason, reason
        assert "\n" not in reason and "\r" not in reason and "Traceback" not in reason, reason
        assert "unexpected" not in reason, reason
        assert "rerun" in reason or "re-export" in reason, reason  # says what to do
    else:
        assert raised is None and run["status"] == "completed", (case.kind, raised)
        status = {m_key(m): m["status"] for m in store.metrics(run_id=run["run_id"])}
        for key in case.red:
            assert status.get(key) == "RED", (case.kind, key, status.get(key))
        for key in case.amber:
            assert status.get(key) in ("AMBER", "RED"), (case.kind, key, status.get(key))
        if case.expect == FINE:
            assert case.green_because and run["overall_status"] == "GREEN", (case.kind, run["overall_status"])
        else:
            assert run["overall_status"] in ("AMBER", "RED"), case.kind
        for m in store.metrics(run_id=run["run_id"]):
            assert not any(c in m_key(m) for c in "\r\n") and len(m_key(m)) <= 256, m_key(m)
            assert m["segment"] is None or len(m["segment"]) <= 256
        segments = {m["segment"] for m in store.metrics(run_id=run["run_id"]) if m["segment"]}
        assert len(segments) <= MAX_SEGMENT_VALUES + 1
        assert not case.segment or any(re.fullmatch(case.segment, g) for g in segments), sorted(segments)
    problems, _, _ = chain.verify(store.engine)
    assert problems == [], (case.kind, problems)
    assert store.metrics(run_id=good_run) == before  # the earlier run is untouched
    size = evidence_bytes(home, day)
    assert size <= MAX_DAY_EVIDENCE_BYTES, (case.kind, size)
    return run | {"evidence_bytes": size}


def m_key(m: dict) -> str:
    from mrm.core.results import control_key

    return control_key(m["check"], m["metric"], m["column"], m["segment"])


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c.kind for c in CASES])
def test_a_bad_partition_ends_as_a_finding_or_one_could_not_run_line(setting, index):
    case = CASES[index]
    day = GOOD_DAY + timedelta(days=1 + index)
    run = run_case(case, day, setting["feed"], setting["home"], setting["good"]["run_id"])
    print(f"{case.kind}: {run['status']} {run['overall_status']} evidence {run['evidence_bytes']:,} bytes")


def test_a_long_segment_value_is_recorded_on_postgresql(setting, pg_url):
    """Finding 15: one 300-character segment value made the whole day unrecordable on PostgreSQL
    (segment String(256)); now it is a finding, and every metric of the day is recorded."""
    from support import empty_history

    from mrm import pipeline

    mp = setting["mp"]
    mp.setenv("MRM_DB_URL", pg_url)
    clear_caches()
    try:
        empty_history(pipeline.get_store().engine)
        good = pipeline.run_model(MODEL, GOOD_DAY)
        case = next(c for c in CASES if c.kind == "300-character segment values")
        run = run_case(case, date(2026, 10, 20), setting["feed"], setting["home"], good["run_id"])
        assert run["status"] == "completed" and run["overall_status"] in ("AMBER", "RED")
    finally:
        mp.delenv("MRM_DB_URL")
        clear_caches()


def test_the_1m_character_case_keeps_the_days_evidence_within_the_bound(setting):
    """2.5 % of 20,000 rows hold one of ten distinct 1M-character regions (before: a 4.4 MB partition
    gave 803 MB of evidence). The values are counted truncated with a hash, so the ten stay distinct; the
    share is RED; the evidence is within the bound."""
    import json

    from mrm import pipeline

    day = date(2026, 10, 25)
    case = next(c for c in CASES if c.kind == "1M-character strings in a categorical")
    frame = replaced(
        day_frame(day, rows=20_000, seed=7), "region", 0.025, lambda k: f"{k % 10:02d}" + "x" * 1_000_000
    )
    write_partition(setting["feed"], day, one(frame))
    partition = sum(p.stat().st_size for p in (setting["feed"] / f"dt={day}").iterdir())
    run = run_case(Case(case.kind, lambda f: None, FINDING, red=case.red), day, setting["feed"],
                   setting["home"], setting["good"]["run_id"])  # fmt: skip
    oversized = next(
        m for m in pipeline.get_store().metrics(run_id=run["run_id"])
        if m["metric"] == "oversized_value_rate" and m["column"] == "region"
    )  # fmt: skip
    assert oversized["value"] == pytest.approx(500 / 20_000) and oversized["detail"]["values"] == 500
    folder = setting["home"] / "evidence" / MODEL / day.isoformat() / run["run_id"]
    with np.load(folder / "day_aggregate.npz") as npz:
        counts = json.loads(npz["meta"].tobytes())["categorical"]["region"][0]
    long = sorted(k for k in counts if "chars, sha256" in k)
    assert len(long) == 10 and all(len(k) <= 200 and "…[1000002 chars, sha256 " in k for k in long)
    sizes = {p.name: p.stat().st_size for p in folder.iterdir()}
    print(f"partition {partition:,} bytes; evidence {run['evidence_bytes']:,} bytes: {sizes}")
    assert run["evidence_bytes"] <= MAX_DAY_EVIDENCE_BYTES


# -- a SageMaker capture feed with a deeply nested record ----------------------------------------------
def capture_lines(day: date, rows: int, seed: int) -> list[str]:
    import json

    frame = day_frame(day, rows, seed)
    lines = []
    for r in frame.itertuples():
        data_in = json.dumps({"amount": r.amount, "tenure": r.tenure, "region": r.region})
        meta = {"eventId": r.event_id, "inferenceTime": r.event_ts.strftime("%Y-%m-%dT%H:%M:%SZ")}
        capture = {"endpointInput": {"observedContentType": "application/json", "mode": "INPUT",
                                     "data": data_in, "encoding": "JSON"},
                   "endpointOutput": {"observedContentType": "application/json", "mode": "OUTPUT",
                                      "data": json.dumps({"score": r.score}),
                                      "encoding": "JSON"}}  # fmt: skip
        lines.append(json.dumps({"captureData": capture, "eventMetadata": meta, "eventVersion": "0"}))
    return lines


def write_capture(root: Path, day: date, lines: list[str]) -> None:
    folder = root / f"{day:%Y/%m/%d}" / "07"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "00-00-000-x.jsonl").write_text("".join(line + "\n" for line in lines))


def capture_inventory(folder: Path, capture: Path, max_bad_records: int) -> None:
    write_inventory(folder, capture)
    path = folder / f"{MODEL}.yaml"
    raw = yaml.safe_load(path.read_text())
    raw["monitoring"]["scoring_log"] = {"sagemaker_capture": {
        "uri": capture.as_uri() + "/", "input_format": "json", "output_format": "json", "score_path": "score",
        "json_fields": {"amount": "amount", "tenure": "tenure", "region": "region"},
        "decision_thresholds": [[0.0, "approve"], [0.3, "review"], [0.7, "decline"]],
        "max_bad_records": max_bad_records}}  # fmt: skip
    path.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_a_deeply_nested_capture_record_is_a_bad_record_of_the_run(tmp_path, monkeypatch):
    """Finding 14 through the pipeline: with max_bad_records 0 the day is one could-not-run line naming
    the model, the date and the file; allowed one bad record, the run completes without it. That run is
    legitimately GREEN: the inventory allows a bad record, the 1,999 good ones are like the reference."""
    import json

    from mrm import pipeline
    from mrm.store import chain

    capture = tmp_path / "capture" / "endpoint" / "AllTraffic"
    for i, day in enumerate(REFERENCE_DAYS):
        write_capture(capture, day, capture_lines(day, 2_000, seed=100 + i))
    monkeypatch.setenv("MRM_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("MRM_INVENTORY", str(tmp_path / "inventory"))
    deep = '{"amount": ' + "[" * 100_000 + "]" * 100_000 + "}"
    for max_bad, day in ((0, date(2026, 9, 2)), (1, date(2026, 9, 3))):
        capture_inventory(tmp_path / "inventory", capture, max_bad)
        lines = capture_lines(day, 2_000, seed=day.day)
        hostile = json.loads(lines[7])
        hostile["captureData"]["endpointInput"]["data"] = deep
        lines[7] = json.dumps(hostile)
        write_capture(capture, day, lines)
        clear_caches()
        try:
            summary = pipeline.run_model(MODEL, day)
        except MrmError:
            summary = None
        run = next(r for r in pipeline.get_store().runs(MODEL) if r["logical_date"] == day)
        if max_bad == 0:
            assert summary is None and run["status"] == "failed"
            reason = run["reason"]
            assert reason.startswith(
                f"read scoring log: {MODEL}: SageMaker capture for {day} has 1 unreadable"
            )
            assert "00-00-000-x.jsonl line 8: endpointInput.data is not JSON (nested 100001 levels" in reason
            assert "\n" not in reason and "Traceback" not in reason
        else:
            statuses = {m_key(m): m["status"] for m in pipeline.get_store().metrics(run_id=run["run_id"])}
            assert run["status"] == "completed" and run["overall_status"] == "GREEN", {
                k: v for k, v in statuses.items() if v not in ("GREEN", "INFO")
            }
            assert summary["rows"] == 1_999
        assert chain.verify(pipeline.get_store().engine)[0] == []
        assert evidence_bytes(tmp_path / "home", day) <= MAX_DAY_EVIDENCE_BYTES
    clear_caches()
