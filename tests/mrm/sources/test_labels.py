"""Labels known by a date: the label days :func:`label_parts` reads are those of the listing it is given
(``by_day``), so a caller that listed them once (for a fingerprint) is read from that listing, and
without one it lists ``first``..``last`` itself; each event's latest label wins (:func:`latest_of`)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mrm.sources.labels import cutoff_ns, label_files_by_day, label_parts, latest_of
from mrm.sources.scores import event_hashes

DAYS = [date(2026, 9, 1) + timedelta(days=i) for i in range(3)]
LABELS = {  # day -> (event, label): e1 corrected on the second day, e4 labelled on the third only
    DAYS[0]: [("e1", 0), ("e2", 1)],
    DAYS[1]: [("e1", 1), ("e3", 0)],
    DAYS[2]: [("e4", 1)],
}
EVENTS = ["e1", "e2", "e3", "e4"]


@pytest.fixture
def entry(tmp_path: Path, make_entry):
    root = tmp_path / "labels"
    for day, rows in LABELS.items():
        folder = root / f"dt={day.isoformat()}"
        folder.mkdir(parents=True)
        when = pd.Timestamp(day, tz="UTC") + pd.Timedelta(hours=12)
        frame = pd.DataFrame(
            {"event_id": [e for e, _ in rows], "label": [y for _, y in rows], "label_ts": when}
        )
        frame.to_parquet(folder / "part-0000.parquet", index=False)
    return make_entry(labels=root.as_uri())


def known(entry, by_day=None) -> dict[str, float]:
    """Each event's latest label known by the last day, by event id."""
    among = np.sort(event_hashes(EVENTS))
    days = [(p.hashes, p.ns, p.known, p.labels) for p in label_parts(entry, DAYS[0], DAYS[-1], by_day)]
    at, labels = latest_of(among, days, cutoff_ns(DAYS[-1]))
    name = {int(h): e for h, e in zip(event_hashes(EVENTS).tolist(), EVENTS, strict=True)}
    return {name[int(among[i])]: float(y) for i, y in zip(at.tolist(), labels.tolist(), strict=True)}


def test_without_a_listing_every_day_of_the_range_is_listed_and_read(entry):
    assert known(entry) == {"e1": 1.0, "e2": 1.0, "e3": 0.0, "e4": 1.0}  # e1: the correction of day 2
    assert known(entry, label_files_by_day(entry, DAYS[0], DAYS[-1])) == known(entry)


def test_a_listing_of_some_days_gives_only_those_days_labels(entry):
    listed = label_files_by_day(entry, DAYS[0], DAYS[-1])
    some = {d: listed[d] for d in (DAYS[0], DAYS[2])}  # the second day left out of the listing

    assert known(entry, some) == {"e1": 0.0, "e2": 1.0, "e4": 1.0}  # e1 as first labelled, no e3
    assert known(entry, {**listed, DAYS[1]: None}) == known(entry, some)  # a day not listable: skipped


def test_labels_known_only_after_the_cutoff_are_not_known_yet(entry):
    among = np.sort(event_hashes(EVENTS))
    days = [(p.hashes, p.ns, p.known, p.labels) for p in label_parts(entry, DAYS[0], DAYS[-1])]
    at, _ = latest_of(among, days, cutoff_ns(DAYS[0]))  # by the end of the first day: its two labels
    assert at.size == 2
