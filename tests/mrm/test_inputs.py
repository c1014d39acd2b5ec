"""What a run's checks read: rebuilding the reference window's labelled counts lists its label days once,
for both the counts' fingerprint and the join of the window to its labels."""

from __future__ import annotations

from datetime import timedelta

from mrm import inputs
from mrm.sources import labels
from mrm.wiring import get_inventory


def test_a_rebuild_of_the_reference_counts_lists_the_label_days_once(mrm_home, file_inventory, monkeypatch):
    listings = []
    real = labels.label_files_by_day

    def counted(entry, first, last):  # the real listing, counted
        listings.append((first, last))
        return real(entry, first, last)

    monkeypatch.setattr(labels, "label_files_by_day", counted)
    entry = get_inventory().get("card_fraud")
    ref, perf = entry.monitoring.reference, entry.monitoring.performance

    counts, record = inputs._reference_counts(entry)  # nothing kept yet: built from the window

    assert counts.positives.sum() > 0 and record["fingerprint"]
    known_by = ref.end + timedelta(days=perf.label_maturity_days)
    assert listings == [(ref.start, known_by)]
