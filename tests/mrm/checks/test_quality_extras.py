"""What Great Expectations lacks (the frame-based oracle, oracles.frame_checks): robust volume, null-rate
increase, events outside the logical day, freshness and extra columns. Every expected number is counted
by hand below."""

from __future__ import annotations

import statistics
from datetime import date

import numpy as np
import pandas as pd
import pytest
from oracles.frame_checks import check_quality_extras

DAY = date(2026, 9, 1)
TOL = 1e-12
REFERENCE = {"daily_rows": [100, 104, 96, 110, 90, 101, 99], "null_rates": {"amount": 0.1, "tenure": 0.25}}


@pytest.fixture(scope="module")
def entry(make_entry):
    return make_entry()  # features amount, tenure, region


def day_frame(event_ts: list, **columns) -> pd.DataFrame:
    n = len(event_ts)
    data = {
        "event_id": [f"e{i}" for i in range(n)],
        "event_ts": pd.Series(event_ts, dtype="object"),
        "score": 0.2,
        "decision": "approve",
        "amount": 1.0,
        "tenure": 2.0,
        "region": "north",
    }
    return pd.DataFrame({**data, **columns})


def by_metric(results) -> dict[tuple[str, str | None], object]:
    out = {(r.metric, r.column): r for r in results}
    assert len(out) == len(results)
    return out


def extras(frame: pd.DataFrame, entry, reference: dict = REFERENCE, day: date = DAY):
    return by_metric(check_quality_extras(frame, entry, reference, day))


def stamps(*texts: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(t) for t in texts]


# -- volume --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("rows", [0, 12, 100, 103, 250])
def test_volume_robust_z_is_the_distance_from_the_median_in_scaled_mads(entry, rows):
    counts = REFERENCE["daily_rows"]
    median = statistics.median(counts)  # 100
    mad = statistics.median(abs(c - median) for c in counts)  # deviations 0 1 1 4 4 10 10: 4
    frame = day_frame(stamps(*["2026-09-01T12:00Z"] * rows))

    r = extras(frame, entry)[("volume_robust_z", None)]

    assert (median, mad) == (100, 4)
    assert r.value == pytest.approx(abs(rows - 100) / (1.4826 * 4), abs=TOL)
    assert r.detail == {
        "rows": rows,
        "reference_median": 100.0,
        "reference_mad_scaled": pytest.approx(5.9304),
    }


def test_a_reference_without_spread_divides_by_one_not_by_zero(entry):
    reference = {"daily_rows": [50, 50, 50, 51], "null_rates": {}}  # MAD 0

    r = extras(day_frame(stamps(*["2026-09-01T12:00Z"] * 47)), entry, reference)[("volume_robust_z", None)]

    assert r.value == 3.0
    assert r.detail["reference_mad_scaled"] == 0.0


def test_a_small_spread_is_floored_at_one(entry):
    reference = {"daily_rows": [10, 11], "null_rates": {}}  # median 10.5, MAD 0.5, scaled 0.7413

    r = extras(day_frame(stamps(*["2026-09-01T12:00Z"] * 13)), entry, reference)[("volume_robust_z", None)]

    assert r.value == 2.5
    assert r.detail["reference_mad_scaled"] == pytest.approx(0.7413, abs=TOL)


# -- null rates against the reference ------------------------------------------------------------------


def test_null_rate_increase_is_today_minus_the_reference_per_column(entry):
    ts = stamps(*["2026-09-01T12:00Z"] * 8)
    frame = day_frame(ts, amount=[np.nan, np.nan, np.nan, 1.0, 2.0, 3.0, 4.0, 5.0], tenure=1.0)
    reference = {"daily_rows": [8], "null_rates": {"amount": 0.1, "tenure": 0.25, "retired_col": 0.5}}

    out = extras(frame, entry, reference)

    assert out[("null_rate_increase", "amount")].value == pytest.approx(3 / 8 - 0.1, abs=TOL)
    assert out[("null_rate_increase", "tenure")].value == pytest.approx(-0.25, abs=TOL)  # fewer nulls
    assert out[("null_rate_increase", "amount")].detail == {"reference": 0.1}
    assert ("null_rate_increase", "retired_col") not in out  # not in today's frame: nothing to compare
    assert not any(col == "region" for metric, col in out if metric == "null_rate_increase")


def test_categorical_nulls_count_as_nulls(entry):
    frame = day_frame(stamps(*["2026-09-01T12:00Z"] * 4), region=["north", None, np.nan, "south"])
    reference = {"daily_rows": [4], "null_rates": {"region": 0.0}}

    assert extras(frame, entry, reference)[("null_rate_increase", "region")].value == 0.5


# -- the logical day and freshness ---------------------------------------------------------------------

TIMES = stamps(
    "2026-09-01T00:00:00Z",  # in: the first instant of the day
    "2026-09-01T12:00:00Z",  # in
    "2026-09-02T01:00:00+02:00",  # in: 2026-09-01T23:00Z, the newest event of the day
    "2026-09-01T19:00:00-04:00",  # in: 2026-09-01T23:00Z
    "2026-09-02T00:00:00Z",  # out: the first instant of the next day
    "2026-08-31T23:59:59.999Z",  # out: the previous day
    "2026-09-01T23:30:00-02:00",  # out: 2026-09-02T01:30Z
)


def test_out_of_day_rate_counts_events_outside_the_utc_day(entry):
    frame = day_frame([*TIMES, None])  # a null event_ts is not in the day either

    out = extras(frame, entry)

    assert out[("out_of_day_rate", None)].value == 4 / 8
    assert out[("out_of_day_rate", None)].detail == {"day": "2026-09-01"}


def test_unparseable_event_times_are_outside_the_day(entry):
    frame = day_frame(["2026-09-01 10:00:00", "2026-09-01 11:00:00", "not a time", "2026-13-45 99:00:00"])

    out = extras(frame, entry)

    assert out[("out_of_day_rate", None)].value == 2 / 4
    assert out[("freshness_hours", None)].value == 13.0


def test_naive_event_times_are_read_as_utc(entry):
    frame = day_frame([pd.Timestamp("2026-09-01T23:59:00"), pd.Timestamp("2026-09-02T00:00:00")])

    out = extras(frame, entry)

    assert out[("out_of_day_rate", None)].value == 0.5
    assert out[("freshness_hours", None)].value == pytest.approx(1 / 60, abs=TOL)


def test_freshness_is_the_hours_from_the_newest_in_day_event_to_the_end_of_the_day(entry):
    out = extras(day_frame(list(TIMES)), entry)

    r = out[("freshness_hours", None)]
    assert r.value == 1.0  # the 23:30-02:00 and next-day events are later but not in the day
    assert r.detail == {"newest_event": "2026-09-01 23:00:00+00:00"}


def test_a_datetime_column_in_utc_gives_the_same_answers(entry):
    utc = pd.to_datetime(pd.Series(["2026-09-01T20:15:00Z", "2026-09-02T03:00:00Z"]), utc=True)
    frame = day_frame([None, None]).assign(event_ts=utc)

    out = extras(frame, entry)

    assert out[("out_of_day_rate", None)].value == 0.5
    assert out[("freshness_hours", None)].value == 3.75


def test_without_an_event_in_the_day_there_is_no_freshness(entry):
    out = extras(day_frame(stamps("2026-08-30T12:00Z", "2026-09-03T12:00Z")), entry)

    assert out[("freshness_hours", None)].value is None
    assert out[("out_of_day_rate", None)].value == 1.0


def test_an_empty_day_has_no_out_of_day_rate_nor_freshness(entry):
    out = extras(day_frame([]), entry)

    assert out[("out_of_day_rate", None)].value is None
    assert out[("freshness_hours", None)].value is None
    assert out[("volume_robust_z", None)].value == pytest.approx(100 / (1.4826 * 4), abs=TOL)


def test_iso_event_times_with_and_without_fractional_seconds_are_all_in_the_day(entry):
    frame = day_frame(["2026-09-01T10:00:00Z", "2026-09-01T10:00:00.250Z", "2026-09-01T18:00:00.5Z"])

    out = extras(frame, entry)

    assert out[("out_of_day_rate", None)].value == 0.0
    assert out[("freshness_hours", None)].value == pytest.approx(6 - 0.5 / 3600, abs=1e-9)


# -- extra columns -------------------------------------------------------------------------------------


def test_extra_columns_are_counted_and_listed_but_partition_and_model_columns_are_not(entry):
    frame = day_frame(stamps("2026-09-01T12:00Z")).assign(
        model_id="toy_model", model_version="1.0.0", _dt="2026-09-01", zeta_debug=1, alpha_raw="x"
    )

    r = extras(frame, entry)[("extra_column_count", None)]

    assert r.value == 2.0
    assert r.detail == {"columns": ["alpha_raw", "zeta_debug"]}


def test_a_conforming_frame_has_no_extra_columns(entry, make_scoring_frame):
    r = extras(make_scoring_frame(entry, 5), entry)[("extra_column_count", None)]

    assert (r.value, r.detail) == (0.0, {"columns": []})


def test_every_extra_metric_is_a_quality_metric(entry):
    out = check_quality_extras(day_frame(stamps("2026-09-01T12:00Z")), entry, REFERENCE, DAY)

    assert {r.check for r in out} == {"quality"}
    assert [r.metric for r in out] == [
        "volume_robust_z",
        "null_rate_increase",
        "null_rate_increase",
        "out_of_day_rate",
        "freshness_hours",
        "oversized_value_rate",
        "oversized_value_rate",
        "extra_column_count",
    ]
