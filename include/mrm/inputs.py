"""What the checks of a run read, found through the source seam and cached per process: the day's
aggregate (streamed once by ``start``), the reference window and its profile, the matured cohort joined
to the labels known by the run date, and the reference window's own performance."""

from __future__ import annotations

import contextlib
from datetime import date, timedelta

from mrm import settings
from mrm.errors import MrmError
from mrm.evidence.writer import EvidenceWriter, sha256
from mrm.inventory import ModelEntry
from mrm.sources.registry import source_for
from mrm.wiring import get_inventory, get_store, process_cache


def aggregate(day_input, profile):
    """Stream the day into its aggregate. Objects not on local disk are first streamed to a temporary
    folder (S3 checks each is still the listed version), so memory does not grow with the day. The
    aggregate's sample (kept as evidence) has its event ids hashed (checks.sample_evidence)."""
    from mrm.checks.engine import aggregate as ag
    from mrm.checks.sample_evidence import without_raw_ids
    from mrm.core.storage import local_copies
    from mrm.errors import NoDataError
    from mrm.sources.parquet_stream import scan_day

    rows = settings.sample_rows()
    if day_input.pushdown is not None:  # the source counts the day itself (Athena pushdown)
        from mrm.checks.engine.counted import aggregate_counted

        pushed = dict(sample_rows=rows, seed=ag.SEED, where=day_input.where, empty=day_input.empty)
        return without_raw_ids(
            aggregate_counted(day_input.pushdown, day_input.entry, profile, day_input.day, **pushed)
        )
    if day_input.batches is not None:  # the source decodes the day as it reads (capture, Athena CSV)
        where, files = day_input.where, len(day_input.files)
        stream = day_input.batches()
        agg = ag.aggregate_batches(
            stream, day_input.entry, profile, day_input.day, sample_rows=rows, where=where, files=files
        )
        return without_raw_ids(agg)
    if day_input.frame is not None:
        agg = ag.aggregate_frame(day_input.frame, day_input.entry, profile, day_input.day, sample_rows=rows)
        return without_raw_ids(agg)
    with local_copies(day_input.files, prefix="mrm_day_") as copies:
        if scan_day(copies, day_input.entry, day_input.where) == 0:
            raise NoDataError(day_input.empty)
        return without_raw_ids(
            ag.aggregate_day(
                copies,
                day_input.entry,
                profile,
                day_input.day,
                sample_rows=rows,
                where=day_input.where,
                normalise=day_input.normalise,
            )
        )


def reference_profile(entry: ModelEntry, fingerprint: str | None = None):
    """The entry's reference profile (cached under MRM_PROFILE_CACHE, checked against the SHA-256s the
    history's runs recorded for it); with ``fingerprint``, fails unless the reference is still the one
    the run started with."""
    from mrm.checks.reference import reference_profile as cached_profile
    from mrm.store import reads

    def recorded(fp: str) -> set[str]:  # what the history's runs recorded for the profile: it must be one
        return reads.profile_hashes(get_store().engine, entry.model_id, fp)

    def spooled(window) -> None:  # the window's scores taken while its spooled files exist
        if entry.monitoring.performance is not None:
            _spooled_scores(entry.model_id, entry.fingerprint(), source_for(entry).cache_key)["scores"] = (
                _scores_of_spooled(entry, window)
            )

    profile, _ = cached_profile(
        entry, settings.profile_cache_uri(), read=reference, recorded=recorded, spooled=spooled
    )
    if fingerprint and profile.fingerprint != fingerprint:
        raise MrmError(
            f"{entry.model_id}: the reference window's data or the inventory entry changed while the run was "
            "in progress; rerun the date"
        )
    return profile


def day_aggregate(entry: ModelEntry, writer: EvidenceWriter, kept: dict, profile_fingerprint: str, day: date):
    """The run's reference profile and the day's aggregate that ``start`` kept (``kept``: its evidence
    reference, checked against its SHA-256)."""
    from mrm.checks.engine.day_aggregate import DayAggregate

    profile = reference_profile(entry, profile_fingerprint)
    data = writer.store.get(kept["uri"])
    if sha256(data) != kept["sha256"]:
        raise MrmError(f"{kept['uri']} changed since the run started; rerun {day.isoformat()}")
    return profile, DayAggregate.from_bytes(data, profile, entry)


@process_cache(maxsize=16)
def _reference(model_id: str, inventory_hash: str, source_key: str):
    """The reference window's rows, read once per process (key includes the inventory hash): to profile a
    source without stable Parquet files (and for its performance baseline), and for `mrm baseline suggest`."""
    from mrm.checks.reference import read_reference

    return read_reference(get_inventory().get(model_id))


def reference(entry: ModelEntry):
    return _reference(entry.model_id, entry.fingerprint(), source_for(entry).cache_key)


def reference_performance(model_id: str, inventory_hash: str) -> dict | None:
    """Performance of the reference window, with every label known by its end + maturity."""
    return _reference_outcomes(model_id, inventory_hash)[0]


def reference_calibration(entry: ModelEntry):
    """The calibrator of label-free estimates, fit on the reference window's scores joined to the labels
    known by its end + maturity (as :func:`reference_performance`), cached per inventory hash."""
    return _reference_outcomes(entry.model_id, entry.fingerprint())[1]


def reference_counts_record(entry: ModelEntry) -> dict | None:
    """The fingerprint and SHA-256 of the kept reference counts the run was judged against, for its
    lineage (None for a source without stable files: its counts are not kept)."""
    return _reference_outcomes(entry.model_id, entry.fingerprint())[2]


@process_cache(maxsize=16)
def _reference_outcomes(model_id: str, inventory_hash: str):
    """(the reference window's performance statistics, its calibrator or None when estimation is off or
    uncalibrated, the record of the counts kept) from the window's labelled counts, once per process and
    inventory hash; the counts themselves are freed once both are computed."""
    from mrm.checks.estimation import calibration
    from mrm.checks.performance import statistics

    entry = get_inventory().get(model_id)
    perf = entry.monitoring.performance
    counts, record = _reference_counts(entry)
    stats, _ = statistics(counts, perf)
    est = perf.estimation
    calibrator = calibration(counts, perf) if est.enabled and est.calibration == "isotonic" else None
    return stats, calibrator, record


def _reference_counts(entry: ModelEntry):
    """The reference window's labelled counts and their record: kept under MRM_PROFILE_CACHE by the
    fingerprint of the objects they are read from (:mod:`mrm.checks.reference_counts`), checked against
    the SHA-256s the history's runs recorded for it; a source without stable files reads them each time."""
    from mrm.checks import reference_counts as rc
    from mrm.sources.labels import label_files_by_day
    from mrm.store import reads

    perf, ref = entry.monitoring.performance, entry.monitoring.reference
    known_by = ref.end + timedelta(days=perf.label_maturity_days)
    scores = source_for(entry).reference_files(ref.days())
    if scores is None:
        counts, _ = _labelled(entry, _reference_scores(entry), ref.start, known_by)
        return counts, None
    label_days = label_files_by_day(entry, ref.start, known_by)
    labels = [f for files in label_days.values() if files is not None for f in files]
    fp = rc.fingerprint(entry.fingerprint(), [f for d in sorted(scores) for f in scores[d]], labels)
    cache = rc.CountsCache(settings.profile_cache_uri())
    recorded = reads.reference_counts_hashes(get_store().engine, entry.model_id, fp)
    kept = cache.get(entry.model_id, fp, recorded)
    if kept is not None:
        counts, digest = kept
    else:
        import logging
        import time

        from mrm.core.progress import PROGRESS_LOGGER

        progress, started = logging.getLogger(PROGRESS_LOGGER), time.perf_counter()
        progress.info("%s: joining the reference window %s..%s to its labels (once per reference, then kept)",
                      entry.model_id, ref.start, ref.end)  # fmt: skip

        def read(keep):  # the window's days kept on disk as they are read: memory stays bounded
            return _labelled(
                entry, _reference_scores(entry, scores, keep), ref.start, known_by, label_days, keep
            )

        counts, _ = _kept_reads(entry, None, read)
        digest = cache.put(entry.model_id, fp, counts)
        progress.info("%s: reference counts built in %.1f s", entry.model_id, time.perf_counter() - started)
    return counts, {"fingerprint": fp, "sha256": digest}


def day_scores(entry: ModelEntry, day: date, used: dict | None = None):
    """The scores of the day's events (each event id once) as float64, or None without a partition;
    ``used``: the kept parts read are added to it (fingerprint -> digest, for the run's lineage)."""
    from mrm.errors import NoDataError

    def read(keep):
        scored = _scores(entry, [day], f"scoring log of {day}", keep=keep)  # each event once, its first score
        return scored.scores

    try:
        return _kept_reads(entry, used, read)
    except NoDataError:
        return None


def stored_estimate(entry: ModelEntry, day: date, metric: str):
    """The value the history's current monitoring run of ``day`` stored for ``metric`` (or None)."""
    from mrm.store import reads

    return reads.stored_value(get_store().engine, entry.model_id, day, metric)


def labelled_cohort(entry: ModelEntry, day: date, start: date, end: date, used: dict | None = None):
    """The cohort scored on [start, end] joined to the labels known by ``day``, as per-distinct-score
    counts (:class:`mrm.checks.performance_counts.ScoreCounts`): (counts, label coverage or None without
    scores, the cohort's missing and unreadable days). The days' parts are kept on the worker's disk and
    read back a bucket at a time (:mod:`mrm.sources.part_store`); ``used``: the kept parts read are added
    to it (fingerprint -> digest, for the run's lineage)."""
    from mrm.errors import NoDataError

    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    where = f"scoring log of the cohort {start}..{end}"

    def read(keep):  # the cohort's days, its label days and the run's own day (the estimates') at once
        from concurrent.futures import ThreadPoolExecutor

        from mrm.sources.labels import label_parts

        with ThreadPoolExecutor(max_workers=3, thread_name_prefix="mrm-outcomes") as pool:
            labels = pool.submit(label_parts, entry, start, day, None, keep)
            if entry.monitoring.performance.estimation.enabled:
                pool.submit(_warm, entry, day, keep)
            scored = _scores(entry, days, where, skip_unreadable=True, keep=keep)
            note = {
                "cohort_missing_days": [d.isoformat() for d in scored.missing_days],
                "unreadable": scored.unreadable,
            }
            return (*_labelled(entry, scored, start, day, keep=keep, labels=labels.result()), note)

    try:
        return _kept_reads(entry, used, read)
    except NoDataError:
        return _empty_cohort(), None, {}


def _warm(entry: ModelEntry, day: date, keep) -> None:
    """Make the run day's part while the cohort is read (the estimates read it next); a day that cannot
    be read is left for the estimates to report."""
    with contextlib.suppress(MrmError):
        _scores(entry, [day], f"scoring log of {day}", keep=keep)


def _kept_reads(entry: ModelEntry, used: dict | None, read):
    """``read(keep)`` with the worker's kept day parts (:mod:`mrm.sources.part_store`; ``keep`` None when
    MRM_PART_CACHE is ``none``); if a kept part is found changed, it is dropped, with a warning, and the
    read made once more trusting no kept part (every day read from its objects and kept anew). The kept
    parts read are added to ``used``."""
    import logging

    from mrm.sources.part_store import Keep, PartStore, TamperedPart, forget_written
    from mrm.store import reads

    root = settings.part_cache_dir()
    if root is None:
        return read(None)
    store = PartStore(root)
    keep = Keep(store, reads.day_part_hashes(get_store().engine, entry.model_id))
    try:
        out = read(keep)
    except TamperedPart as exc:
        logging.getLogger("mrm.pipeline").warning("%s: %s", entry.model_id, exc)
        store.drop(exc.path)
        forget_written()
        keep = Keep(store)
        out = read(keep)
    if used is not None:
        used.update(keep.used)
    return out


def _labelled(
    entry: ModelEntry,
    scored,
    first: date,
    known_by: date,
    label_days: dict | None = None,
    keep=None,
    labels: list | None = None,
):
    """(counts of the scored events' latest labels known by ``known_by``, read from the label partitions
    of ``first``..``known_by`` (``label_days``: their objects by day, if listed); the labelled share of
    the scored events, None without events), joined bucket by bucket (:mod:`mrm.checks.cohort_join`)."""
    from mrm.checks.cohort_join import join
    from mrm.sources.labels import cutoff_ns, label_parts

    if not scored.parts:
        return _empty_cohort(), None
    labels = labels if labels is not None else label_parts(entry, first, known_by, label_days, keep)
    joined = join(scored.parts, labels, cutoff_ns(known_by))
    return joined.counts, joined.coverage


def _scores(
    entry: ModelEntry, days: list[date], where: str, *, skip_unreadable: bool = False, files=None, keep=None
):
    """The distinct events of some days and their first scores, compact (hash, score): only those two
    columns are read, batch by batch (a cohort of several days of a wide, high-volume log)."""
    from mrm.sources.scores import read_scores

    source = source_for(entry)
    return read_scores(
        source, entry, days, where, skip_unreadable=skip_unreadable, files_by_day=files, keep=keep
    )


def _reference_scores(entry: ModelEntry, files=None, keep=None):
    """The reference window's distinct events and scores (``files``: its objects by day, if listed;
    ``keep``: how its days' parts are kept, :mod:`mrm.sources.part_store`). A source without stable
    Parquet files (Athena, capture): the scores taken from its window spooled for the profile in this
    process, else the window spooled again (:mod:`mrm.checks.reference_spool`; Athena pushdown too, from
    its days' rows); a source with no stream of its days' rows: the window read whole, once per process."""
    from mrm.sources.scores import SCORE_COLUMNS, compact_frame

    ref = entry.monitoring.reference
    where = f"reference window {ref.start}..{ref.end}"
    files = files if files is not None else source_for(entry).reference_files(ref.days())
    if files is None:
        from mrm.checks.reference_spool import NotSpoolable, spooled_window

        source = source_for(entry, what="reference scoring log")
        taken = _spooled_scores(entry.model_id, entry.fingerprint(), source_for(entry).cache_key)
        if "scores" in taken:  # taken while the profile was built from the spooled window
            return taken.pop("scores")
        try:
            with spooled_window(entry, source, ref.days()) as window:
                return _scores_of_spooled(entry, window)
        except NotSpoolable:
            frame, _ = reference(entry)
            return compact_frame(frame[list(SCORE_COLUMNS)], entry, where)
    return _scores(entry, ref.days(), where, files=files, keep=keep)


@process_cache(maxsize=16)
def _spooled_scores(model_id: str, inventory_hash: str, source_key: str) -> dict:
    """Where the reference window's scores wait, under ``scores``, once taken from the window spooled
    for its profile (:func:`reference_profile`), until :func:`_reference_scores` takes them."""
    return {}


def _scores_of_spooled(entry: ModelEntry, window):
    """The distinct events and scores of a reference window spooled to local Parquet files
    (:mod:`mrm.checks.reference_spool`), read as a Parquet source's days are (two columns, batch by
    batch); its days without rows are its missing days."""
    from mrm.sources.scores import read_scores

    ref = entry.monitoring.reference
    where = f"reference window {ref.start}..{ref.end}"
    source = source_for(entry, what="reference scoring log")
    return read_scores(source, entry, ref.days(), where, files_by_day=window.files_by_day)


def _empty_cohort():
    from mrm.checks.performance_counts import ScoreCounts

    return ScoreCounts.empty()
