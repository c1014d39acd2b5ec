"""The compact cohort: (event-id hash, first score) read from the Parquet partitions two columns at a time,
and the labels streamed and matched by hash, equal to the frame-based join (``labelled``: pandas
``drop_duplicates`` and ``merge`` on the ids themselves) on the same files."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrm import inputs
from mrm.checks.performance import labelled, statistics
from mrm.checks.performance_counts import ScoreCounts
from mrm.errors import NoDataError, SchemaError, SourceError
from mrm.sources.labels import known_between, latest_known
from mrm.sources.parquet import PartitionedParquet
from mrm.sources.scores import event_hashes, read_scores

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(4)]
RUN_DAY = date(2026, 9, 10)
PERFORMANCE = {"label_maturity_days": 9, "cohort_days": 4, "threshold": 0.4, "min_positives": 5,
               "min_negatives": 5}  # fmt: skip


def write_day(root: Path, day: date, frames: list[pd.DataFrame]) -> None:
    folder = root / f"dt={day.isoformat()}"
    folder.mkdir(parents=True, exist_ok=True)
    for i, frame in enumerate(frames):
        frame.to_parquet(folder / f"part-{i:04d}.parquet", index=False)


@pytest.fixture
def logs(tmp_path, make_entry):
    """Four cohort days (the third missing), two files a day, events repeated within and across days
    with other scores; labels over 10 days with corrections, offsets, unknown times and late ones."""
    rng = np.random.default_rng(7)
    scoring, labels = tmp_path / "scoring", tmp_path / "labels"
    ids = [f"e{i}" for i in range(2_000)]
    for k, day in enumerate(DAYS):
        if k == 2:
            continue
        chunk = ids[k * 600 : k * 600 + 700]  # 100 ids shared with the next day
        chunk = chunk + chunk[:50]  # and 50 repeated within the day
        score = np.round(rng.random(len(chunk)), 2)  # ties
        frame = pd.DataFrame({"event_id": chunk, "score": score, "decision": "approve", "amount": 1.0})
        write_day(scoring, day, [frame.iloc[:400], frame.iloc[400:]])
    for k in range(10):
        day = DAYS[0] + timedelta(days=k)
        some = rng.choice(ids, 300, replace=False)
        when = pd.Timestamp(day, tz="UTC") + pd.to_timedelta(rng.integers(0, 86_400, 300), unit="s")
        frame = pd.DataFrame({"event_id": some, "label": rng.integers(0, 2, 300), "label_ts": when})
        frame.loc[frame.index[:5], "label_ts"] = pd.NaT  # a label without a time is not known
        text = frame.assign(label_ts=frame["label_ts"].map(lambda t: None if pd.isna(t) else t.isoformat()))
        if k == 4:  # timestamps without a zone: UTC
            frame["label_ts"] = frame["label_ts"].dt.tz_localize(None)
        elif k % 2:  # ISO strings in another offset on odd days
            text["label_ts"] = frame["label_ts"].map(
                lambda t: None if pd.isna(t) else t.tz_convert("Europe/Amsterdam").isoformat()
            )
            frame = text
        write_day(labels, day, [frame])
    entry = make_entry(scoring_log=scoring.as_uri(), labels=labels.as_uri(), performance=PERFORMANCE)
    return entry, scoring, labels


def frame_join(entry, known_by: date, first: date = DAYS[0]):
    source = PartitionedParquet.from_entry(entry, "scoring log")
    scored = source.read_days(DAYS, columns=("event_id", "score"))
    return labelled(scored.frame, known_between(entry, first, known_by), known_by)


def test_the_compact_scores_are_the_first_score_of_each_distinct_event(logs):
    entry, *_ = logs
    source = PartitionedParquet.from_entry(entry, "scoring log")
    compact = read_scores(source, entry, DAYS, "cohort")
    frame = source.read_days(DAYS).frame.drop_duplicates("event_id")

    expected = dict(zip(event_hashes(frame["event_id"]).tolist(), frame["score"].tolist(), strict=True))
    assert dict(zip(compact.hashes.tolist(), compact.scores.tolist(), strict=True)) == expected
    assert np.all(np.diff(compact.hashes.astype("float64")) >= 0) and len(compact) == len(frame) == 1_500
    assert compact.missing_days == [DAYS[2]] and compact.unreadable == []


def test_the_labelled_cohort_equals_the_frame_based_join(logs):
    entry, *_ = logs
    start, end = DAYS[0], DAYS[-1]
    counts, coverage, note = inputs.labelled_cohort(entry, RUN_DAY, start, end)
    joined, want_coverage = frame_join(entry, RUN_DAY)
    want = ScoreCounts.of(joined["label"].to_numpy(), joined["score"].to_numpy())

    assert coverage == want_coverage and 0 < coverage < 1
    assert np.array_equal(counts.values, want.values)
    assert np.array_equal(counts.positives, want.positives)
    assert np.array_equal(counts.negatives, want.negatives)
    assert note == {"cohort_missing_days": ["2026-09-03"], "unreadable": []}
    stats, reason = statistics(counts, entry.monitoring.performance)
    assert reason is None and stats == statistics(joined, entry.monitoring.performance)[0]


@pytest.mark.parametrize("known_by", [DAYS[0], DAYS[0] + timedelta(days=4), RUN_DAY])
def test_the_latest_label_known_by_the_date_is_the_frame_based_one(logs, known_by):
    entry, *_ = logs
    compact = read_scores(PartitionedParquet.from_entry(entry, "scoring log"), entry, DAYS, "cohort")
    hashes, labels = latest_known(entry, DAYS[0], known_by, known_by, compact.hashes)
    joined, _ = frame_join(entry, known_by)

    expected = dict(zip(event_hashes(joined["event_id"]).tolist(), joined["label"].tolist(), strict=True))
    assert dict(zip(hashes.tolist(), labels.tolist(), strict=True)) == expected


def test_labels_of_events_outside_the_cohort_are_not_kept(logs):
    entry, *_ = logs
    among = np.sort(event_hashes(["e1", "e2", "e3", "nobody"]))
    hashes, _ = latest_known(entry, DAYS[0], RUN_DAY, RUN_DAY, among)
    assert set(hashes.tolist()) <= set(among.tolist())


def test_an_unreadable_cohort_day_is_skipped_and_named_a_reference_day_fails(logs):
    entry, scoring, _ = logs
    bad = scoring / f"dt={DAYS[1].isoformat()}" / "part-0001.parquet"
    bad.write_bytes(b"not parquet at all")
    source = PartitionedParquet.from_entry(entry, "scoring log")

    compact = read_scores(source, entry, DAYS, "cohort", skip_unreadable=True)
    assert len(compact.unreadable) == 1 and "part-0001.parquet" in compact.unreadable[0]
    assert "re-export the partition, then rerun this date" in compact.unreadable[0]
    assert len(compact) == 700 + 200  # the first and the last day (e0..e699, e1800..e1999)
    with pytest.raises(SourceError, match="not valid Parquet"):
        read_scores(source, entry, DAYS, "reference window")


def test_a_cohort_without_the_score_column_fails_with_the_contract_message(logs, tmp_path, make_entry):
    root = tmp_path / "noscore"
    write_day(root, DAYS[0], [pd.DataFrame({"event_id": ["a"], "decision": ["approve"]})])
    entry = make_entry(scoring_log=root.as_uri())

    source = PartitionedParquet.from_entry(entry, "scoring log")
    message = r"^toy_model: cohort 2026-09-01 lacks required column\(s\) score; "
    with pytest.raises(SchemaError, match=message):
        read_scores(source, entry, DAYS, "cohort", skip_unreadable=True)


def test_a_cohort_without_any_day_is_no_data_and_has_no_coverage(logs, tmp_path, make_entry):
    _, _, labels = logs
    nothing = (tmp_path / "none").as_uri()
    entry = make_entry(scoring_log=nothing, labels=labels.as_uri(), performance=PERFORMANCE)
    with pytest.raises(NoDataError):
        read_scores(PartitionedParquet.from_entry(entry, "scoring log"), entry, DAYS, "cohort")

    counts, coverage, _ = inputs.labelled_cohort(entry, RUN_DAY, DAYS[0], DAYS[-1])
    assert (len(counts), coverage) == (0, None)


def fnv1a_fmix(text: str) -> int:
    """The hash written out byte by byte in Python: FNV-1a 64, then MurmurHash3's fmix64 of h ^ length."""
    mask, data = 2**64 - 1, text.encode()
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & mask
    h ^= len(data)
    h ^= h >> 33
    h = (h * 0xFF51AFD7ED558CCD) & mask
    h ^= h >> 33
    h = (h * 0xC4CEB9FE1A85EC53) & mask
    return h ^ (h >> 33)


@pytest.mark.parametrize(
    "ids",
    [
        ["e1", "evt-00042", "", "ü-ß-漢字", "a" * 40],
        [f"card_fraud-20260901-{i:06d}" for i in range(50)],
        ["", ""],
    ],
    ids=["mixed-lengths", "one-length", "empty"],
)
def test_event_hashes_equal_the_hash_written_out_in_python(ids):
    import pyarrow as pa

    want = [fnv1a_fmix(x) for x in ids]
    assert event_hashes(ids).tolist() == want
    assert event_hashes(pa.array(ids)).tolist() == event_hashes(pd.Series(ids)).tolist() == want
    assert event_hashes(pa.array(ids).dictionary_encode()).tolist() == want
    chunked = pa.chunked_array([pa.array(["x", *ids[:1]]), pa.array(ids[1:], type=pa.string())]).slice(1)
    assert event_hashes(chunked).tolist() == want


def test_event_hashes_are_stable_and_integers_hash_as_their_text():
    import pyarrow as pa

    assert event_hashes(pa.array([42, 7])).tolist() == event_hashes(["42", "7"]).tolist()
    assert event_hashes(pa.array(["a", None])).tolist() == event_hashes(["a", ""]).tolist()
    assert event_hashes(["e1", "evt-00042", ""]).tolist() == PINNED  # the same in every process, forever


PINNED = [7929245055008955962, 2463457337727848351, 17280346270528514342]  # computed once, then pinned


def test_a_frame_already_read_gives_the_same_compact_scores(logs):
    from mrm.sources.scores import compact_frame

    entry, *_ = logs
    source = PartitionedParquet.from_entry(entry, "scoring log")
    frame = source.read_days(DAYS).frame
    from_frame = compact_frame(frame, entry, "reference")
    from_files = read_scores(source, entry, DAYS, "cohort")

    assert np.array_equal(from_frame.hashes, from_files.hashes)
    assert np.array_equal(from_frame.scores, from_files.scores)


def test_the_reference_performance_equals_the_frame_based_one_on_the_demo_data(mrm_home, file_inventory):
    from mrm.checks import performance_stats
    from mrm.wiring import get_inventory

    entry = get_inventory().get("card_fraud")
    perf, ref = entry.monitoring.performance, entry.monitoring.reference
    known_by = ref.end + timedelta(days=perf.label_maturity_days)
    frame = PartitionedParquet.from_entry(entry, "scoring log").read_days(ref.days()).frame
    joined, _ = labelled(frame, known_between(entry, ref.start, known_by), known_by)
    y, score = joined["label"].to_numpy(), joined["score"].to_numpy()
    want = performance_stats.performance(y, score, perf.threshold)

    got = inputs.reference_performance(entry.model_id, entry.fingerprint())
    assert got.keys() == want.keys()  # the row-based statistics of the frame-based join
    assert got == pytest.approx(want, abs=1e-12)
    assert got["n"] == len(joined) > 1000
