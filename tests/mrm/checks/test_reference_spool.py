"""A reference window without stable files (here SageMaker capture files decoded from the demo's
scoring log) spooled a day at a time to local Parquet files: its profile has the bytes of the profile of
the window read whole as one frame, and it records the same reference information."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
import yaml
from support import INVENTORY, capture_scoring_log, write_capture

from mrm.checks.engine.profile import ProfileSettings
from mrm.checks.engine.profiling import profile_from_frame
from mrm.checks.reference import profile_sha256, read_reference, reference_profile
from mrm.checks.reference_spool import spooled_window
from mrm.demo.data import scoring_log
from mrm.errors import NoDataError
from mrm.inventory import load_entry
from mrm.sources.registry import source_for

START = date(2026, 8, 18)


@pytest.fixture
def capture_entry(tmp_path: Path):
    """card_fraud with a 4-day reference window read from capture files: days 1, 2 and 4 captured (800
    rows each, the third with a column of nulls on one hour), day 3 not."""
    root = (tmp_path / "datacapture" / "card-fraud" / "AllTraffic").as_uri() + "/"
    for k in (0, 1, 3):
        frame = scoring_log("card_fraud", k - 13).head(800).copy()  # demo days <= 0: the reference
        frame["event_ts"] = [
            np.datetime64(START + timedelta(days=k), "ns") + np.timedelta64(i * 90, "s") for i in range(800)
        ]
        frame["event_ts"] = frame["event_ts"].dt.tz_localize("UTC")
        if k == 3:
            frame.loc[frame.index < 40, "device_score"] = np.nan
        write_capture(frame, root)
    raw = yaml.safe_load((INVENTORY / "card_fraud.yaml").read_text())
    raw["monitoring"]["reference"] = {
        "start": START.isoformat(),
        "end": (START + timedelta(days=3)).isoformat(),
    }
    raw["monitoring"]["scoring_log"] = capture_scoring_log(root)
    path = tmp_path / "card_fraud.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return load_entry(path)


def frame_profile(entry, settings: ProfileSettings):
    """The profile as it was built before spooling: the window read whole, profiled from the frame."""
    frame, info = read_reference(entry)
    return profile_from_frame(frame, entry, info, settings, "fp"), info


def test_the_spooled_profile_has_the_bytes_of_the_frames_profile(capture_entry, tmp_path):
    settings = ProfileSettings.for_entry(capture_entry)
    whole, info = frame_profile(capture_entry, settings)

    spooled, cached = reference_profile(capture_entry, (tmp_path / "profiles").as_uri(), settings)

    assert not cached
    assert spooled.info == info
    assert info["missing_days"] == ["2026-08-20"] and info["daily_rows"] == [800, 800, 800]
    source = source_for(capture_entry)
    assert info["files"] == sum(len(source.files(d)) for d in capture_entry.monitoring.reference.days()) == 60
    spooled.fingerprint = whole.fingerprint = "fp"
    a, b = spooled.to_files(), whole.to_files()
    assert {n: len(d) for n, d in a.items()} == {n: len(d) for n, d in b.items()}
    for name in a:
        assert a[name] == b[name], name
    assert profile_sha256(a) == profile_sha256(b)


def test_the_spooled_files_hold_the_days_and_are_removed_after(capture_entry):
    source = source_for(capture_entry, what="reference scoring log")
    days = capture_entry.monitoring.reference.days()

    with spooled_window(capture_entry, source, days) as spooled:
        paths = [Path(f.uri.removeprefix("file://")) for fs in spooled.files_by_day.values() for f in fs]
        assert all(p.is_file() for p in paths)
        assert sorted(spooled.files_by_day) == [days[0], days[1], days[3]]
        assert spooled.missing == [days[2]] and spooled.rows == 2400
        assert spooled.nulls["device_score"] >= 40

    assert not any(p.exists() for p in paths) and not paths[0].parent.exists()


def test_a_window_without_any_capture_is_no_data(capture_entry):
    source = source_for(capture_entry, what="reference scoring log")
    later = [date(2027, 1, 1), date(2027, 1, 2)]

    with (
        pytest.raises(NoDataError, match="no reference scoring log rows at all"),
        spooled_window(capture_entry, source, later),
    ):
        pass


def test_the_scores_read_from_the_spooled_files_are_those_of_the_whole_frame(capture_entry):
    """What mrm.inputs joins to the labels for the reference performance: the distinct events and first
    scores of the spooled files, as compact_frame of the window read whole gave them."""
    from mrm import inputs
    from mrm.sources.scores import SCORE_COLUMNS, compact_frame

    source = source_for(capture_entry, what="reference scoring log")
    frame, _ = read_reference(capture_entry)
    whole = compact_frame(frame[list(SCORE_COLUMNS)], capture_entry, "reference")

    with spooled_window(capture_entry, source, capture_entry.monitoring.reference.days()) as window:
        spooled = inputs._scores_of_spooled(capture_entry, window)

    assert len(spooled) == len(whole) == 2400
    assert np.array_equal(spooled.hashes, whole.hashes)
    assert np.array_equal(spooled.scores, whole.scores, equal_nan=True)
    assert spooled.missing_days == [capture_entry.monitoring.reference.days()[2]]
