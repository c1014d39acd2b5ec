"""The bucket-by-bucket join of a cohort's day parts to its label days, against the row-based join in
pandas (each event once with its earliest day's score; its latest label known before the cutoff, equal
times the one read last) and scikit-learn's AUC on those rows: equal counts, not merely close ones."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from mrm.checks import cohort_join
from mrm.checks.performance_counts import ScoreCounts, auc
from mrm.sources import day_parts
from mrm.sources.day_parts import DayLabels, DayScores
from mrm.sources.scores import event_hashes, first_occurrences

NS_DAY = 86_400 * 10**9


def score_day(frame: pd.DataFrame) -> DayScores:
    return DayScores(*first_occurrences([(event_hashes(frame["event_id"]), frame["score"].to_numpy("f8"))]))


def label_day(frame: pd.DataFrame) -> DayLabels:
    hashes = event_hashes(frame["event_id"])
    order = np.argsort(hashes, kind="stable")
    ns = frame["ns"].to_numpy("i8")
    return DayLabels(
        hashes[order], ns[order], frame["known"].to_numpy(bool)[order], frame["label"].to_numpy("f4")[order]
    )


def cohort(seed: int, days: int = 4, rows: int = 6000, decimals: int | None = 3):
    """Score days with events repeated within and across days, and label days with corrections, equal
    times, unknown times and labels known only after the cutoff."""
    rng = np.random.default_rng(seed)
    ids = [f"e{i}" for i in range(int(rows * days * 0.8))]
    scores = [
        pd.DataFrame({"event_id": rng.choice(ids, rows), "score": _rounded(rng.beta(2, 5, rows), decimals)})
        for _ in range(days)
    ]
    scores[1].loc[:20, "score"] = np.nan  # null scores are one distinct score
    scores[2].loc[:5, "score"] = -0.0
    labels = []
    for d in range(days + 3):
        n = rows // 2
        labels.append(
            pd.DataFrame(
                {
                    "event_id": rng.choice(ids, n),
                    "label": (rng.random(n) < 0.3).astype("f4"),
                    "ns": (d * NS_DAY + rng.integers(0, 4, n) * 3_600 * 10**9).astype("i8"),
                    "known": rng.random(n) > 0.05,
                }
            )
        )
    return scores, labels


def _rounded(scores: np.ndarray, decimals: int | None) -> np.ndarray:
    return scores if decimals is None else np.round(scores, decimals)


def row_join(scores: list[pd.DataFrame], labels: list[pd.DataFrame], cutoff: int) -> pd.DataFrame:
    events = pd.concat(scores, ignore_index=True).drop_duplicates("event_id")
    known = pd.concat(labels, ignore_index=True)
    known = known[known["known"] & (known["ns"] < cutoff)].reset_index(drop=True)
    known["read"] = np.arange(len(known))
    latest = known.sort_values(["ns", "read"]).drop_duplicates("event_id", keep="last")
    return events.merge(latest[["event_id", "label"]], on="event_id")


@pytest.mark.parametrize(("seed", "decimals"), [(1, 3), (2, 3), (3, None)])  # repeated scores, or not
def test_the_join_equals_the_row_based_join_and_scikit_learn(seed, decimals):
    scores, labels = cohort(seed, decimals=decimals)
    cutoff = 5 * NS_DAY
    joined = cohort_join.join([score_day(f) for f in scores], [label_day(f) for f in labels], cutoff)
    rows = row_join(scores, labels, cutoff)
    want = ScoreCounts.of(rows["label"].to_numpy(), rows["score"].to_numpy())

    assert joined.events == pd.concat(scores)["event_id"].nunique()
    assert joined.labelled == len(rows) and 0 < joined.coverage < 1
    np.testing.assert_array_equal(joined.counts.values, want.values)  # NaN last, once; -0.0 is 0.0
    np.testing.assert_array_equal(joined.counts.positives, want.positives)
    np.testing.assert_array_equal(joined.counts.negatives, want.negatives)
    finite = rows[np.isfinite(rows["score"])]
    finite_counts = ScoreCounts(
        joined.counts.values[:-1], joined.counts.positives[:-1], joined.counts.negatives[:-1]
    )
    assert auc(finite_counts) == pytest.approx(roc_auc_score(finite["label"], finite["score"]), abs=1e-12)


def test_a_cohort_of_one_event_per_bucket_edge_joins_across_every_bucket():
    """Hashes at the very edges of the buckets (0, each edge, the largest) each land in one bucket."""
    edges = day_parts._EDGES
    ends = np.array([0, 2**64 - 1], dtype="uint64")
    hashes = np.unique(np.concatenate([ends, edges - np.uint64(1), edges]))
    part = DayScores(hashes, np.linspace(0, 1, hashes.size))
    labels = DayLabels(
        hashes,
        np.zeros(hashes.size, "i8"),
        np.ones(hashes.size, bool),
        (np.arange(hashes.size) % 2).astype("f4"),
    )
    joined = cohort_join.join([part], [labels], 1)

    assert joined.events == joined.labelled == hashes.size == 2 * day_parts.BUCKETS
    assert joined.counts.positives.sum() == hashes.size // 2
    assert day_parts.bounds(hashes).tolist() == list(range(0, 2 * day_parts.BUCKETS + 1, 2))


def test_scores_beyond_the_sampled_range_infinities_and_nans_are_counted_in_order():
    scores, labels = cohort(6)
    scores[0].loc[:5, "score"] = [np.inf, -np.inf, 1e300, -1e300, 5e-324, np.nan]
    extreme = scores[0]["event_id"][:6].tolist()
    labels.append(
        pd.DataFrame({"event_id": extreme, "label": np.float32(1), "ns": 8 * NS_DAY, "known": True})
    )
    cutoff = 9 * NS_DAY
    joined = cohort_join.join([score_day(f) for f in scores], [label_day(f) for f in labels], cutoff)
    rows = row_join(scores, labels, cutoff)
    want = ScoreCounts.of(rows["label"].to_numpy(), rows["score"].to_numpy())
    np.testing.assert_array_equal(joined.counts.values, want.values)
    np.testing.assert_array_equal(joined.counts.positives, want.positives)
    np.testing.assert_array_equal(joined.counts.negatives, want.negatives)
    assert {np.inf, -np.inf, 1e300, -1e300} <= set(joined.counts.values.tolist())


def test_a_label_that_is_not_0_or_1_is_refused_as_the_row_based_counts_refuse_it():
    scores, labels = cohort(4)
    labels[2].loc[:9, "label"] = 2.0
    cutoff = 9 * NS_DAY
    rows = row_join(scores, labels, cutoff)
    with pytest.raises(ValueError) as want:
        ScoreCounts.of(rows.sort_values("event_id")["label"].to_numpy(), rows["score"].to_numpy())
    with pytest.raises(ValueError, match=r"y must hold only 0 and 1; found 2\.0") as got:
        cohort_join.join([score_day(f) for f in scores], [label_day(f) for f in labels], cutoff)
    assert str(got.value).split(" in ")[1] == str(want.value).split(" in ")[1]  # the same count of rows


def test_no_label_known_yet_is_an_empty_count_with_zero_coverage():
    scores, labels = cohort(5)
    joined = cohort_join.join([score_day(f) for f in scores], [label_day(f) for f in labels], 0)
    assert joined.labelled == 0 and joined.counts.rows == 0 and joined.coverage == 0.0
