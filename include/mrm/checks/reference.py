"""The reference a model's days are judged against: its profile (:mod:`mrm.checks.engine.profile`),
computed once from the reference window, whatever source holds it, and cached by a fingerprint of its
inputs.

- A source with stable Parquet files (day partitions): the profile is built column by column from the
  window's files (:func:`~mrm.checks.engine.profiling.profile_from_files`, each column read in pieces:
  memory of about two float64 copies of one column of the window).
- Athena and SageMaker capture: the window's days are spooled one batch at a time to local Parquet
  files (:mod:`mrm.checks.reference_spool`) and profiled from those as from a Parquet source's (the
  same bytes as :func:`~mrm.checks.engine.profiling.profile_from_frame` of the window read whole); an
  Athena source with ``aggregate: pushdown`` too, from its days' rows (``rows_input``: UNLOAD or CSV).

The fingerprint covers the inventory entry's hash, :data:`~mrm.checks.engine.profile.PROFILE_VERSION`,
the profile settings and what the window's data is, found without reading it: the files' URIs, sizes and
ETags, or for Athena the rendered SQL and its bound parameters (UNLOAD writes new files on every query,
so its result files cannot identify the reference). A cached profile is found before any data is read.

A cached profile carries its own hash record: ``profile.sha256`` beside its files holds the SHA-256 of
what was built (:func:`profile_sha256`), and every run records it in its ``reference``
(``profile_sha256``, chained with the run). A profile whose bytes no longer have the hash of its record,
or (given the history's hashes for its fingerprint) none that a run recorded, is not used: it is rebuilt
from the reference window, with one warning. A build is deterministic, so a rebuild has the first run's
hash again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from mrm.checks.engine.profile import PROFILE_VERSION, ProfileSettings, ReferenceProfile
from mrm.checks.engine.profiling import profile_from_files, profile_from_frame, reference_info
from mrm.checks.hash_record import unsound
from mrm.core.progress import PROGRESS_LOGGER
from mrm.core.storage import ObjectInfo, join, store_for
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    from collections.abc import Callable

    import pandas as pd

log = logging.getLogger(__name__)
progress = logging.getLogger(PROGRESS_LOGGER)  # what a long step is doing: a terminal and task logs show it
HASH_FILE = "profile.sha256"  # the hash record written with a profile's files


def profile_sha256(files: dict[str, bytes]) -> str:
    """The SHA-256 of a profile's files: of the sorted JSON of each file's name and SHA-256."""
    each = {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())}
    return hashlib.sha256(json.dumps(each, sort_keys=True).encode()).hexdigest()


class ProfileCache:
    """Profiles under ``<uri>/<model_id>/<fingerprint>/`` (a folder or an s3:// prefix)."""

    def __init__(self, uri: str):
        self.uri = uri
        self.store = store_for(uri)

    def _prefix(self, model_id: str, fingerprint: str) -> str:
        return join(self.uri, model_id, fingerprint)

    def get(
        self, model_id: str, fingerprint: str, recorded: set[str] | None = None
    ) -> ReferenceProfile | None:
        """The cached profile, if there is one and it is intact: its bytes have the hash of its record and,
        when ``recorded`` (the hashes runs recorded for this fingerprint) is not empty, one of those. A
        profile that fails is not returned (a warning says why): the caller rebuilds it."""
        prefix = self._prefix(model_id, fingerprint)
        found = {o.uri.rsplit("/", 1)[1]: o.uri for o in self.store.list(prefix + "/")}
        if "profile.json" not in found:
            return None
        files = {name: self.store.get(uri) for name, uri in found.items() if name != HASH_FILE}
        actual = profile_sha256(files)
        why = unsound(self.store, found, HASH_FILE, actual, recorded or set())
        if why:
            log.warning("reference profile %s/ of %s %s; not used, rebuilt from the reference window",
                        prefix, model_id, why)  # fmt: skip
            return None
        profile = ReferenceProfile.from_files(files)
        profile.sha256 = actual
        return profile

    def put(self, profile: ReferenceProfile) -> str:
        """Write the profile's files and its hash record (profile.json last: it marks the profile
        complete); sets ``profile.sha256``."""
        prefix = self._prefix(profile.model_id, profile.fingerprint)
        files = profile.to_files()
        profile.sha256 = profile_sha256(files)
        record = json.dumps({"sha256": profile.sha256, "files": sorted(files)}).encode()
        for name, data in [*((n, d) for n, d in files.items() if n != "profile.json"), (HASH_FILE, record),
                           ("profile.json", files["profile.json"])]:  # fmt: skip
            self.store.put(join(prefix, name), data, overwrite=True)
        return prefix


def profile_fingerprint(entry: ModelEntry, inputs: list[ObjectInfo] | dict, settings: ProfileSettings) -> str:
    """sha256 of the entry's hash, the profile version and settings, and the window's inputs (a list of
    objects, or a source's identity, :meth:`mrm.sources.base.ScoringLogSource.identity`)."""
    from mrm.evidence.writer import fingerprint

    doc = {
        "inputs": {"files": fingerprint(inputs)} if isinstance(inputs, list) else inputs,
        "entry": entry.fingerprint(),
        "version": PROFILE_VERSION,
        "settings": asdict(settings),
    }
    return hashlib.sha256(json.dumps(doc, sort_keys=True, default=str).encode()).hexdigest()


def read_reference(entry: ModelEntry, source=None) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The reference window's rows as one conformed frame (memory: the whole window), and what the run
    records about the window (rows, files, their fingerprint, missing days, daily rows, null rates).
    ``source``: the entry's (:func:`~mrm.sources.registry.source_for`) unless given."""
    from mrm.sources.contract import conform, required_columns
    from mrm.sources.registry import source_for

    ref = entry.monitoring.reference
    source = source or source_for(entry, what="reference scoring log")
    data = source.read_days(ref.days())
    frame = conform(data.frame, entry, f"reference window {ref.start}..{ref.end} of {source.cache_key}")
    daily = dict(frame.groupby("_dt").size().items())
    nulls = {c: int(frame[c].isna().sum()) for c in required_columns(entry)}
    return frame, reference_info(entry, data.files, len(frame), daily, nulls, data.missing_days)


def _spooled_profile(entry: ModelEntry, source, days: list, settings: ProfileSettings, fp: str,
                     read: Callable, also: Callable | None) -> ReferenceProfile:  # fmt: skip
    """The profile of a window without stable files, from its days spooled to local Parquet files
    (:mod:`mrm.checks.reference_spool`: memory of one batch and one column, not the window), then
    ``also(spooled)`` before the files are removed (an Athena pushdown model's from its days' rows); a
    source offering no stream of its days' rows has its window ``read`` whole and profiled as a frame."""
    from mrm.checks.reference_spool import NotSpoolable, spooled_window

    try:
        with spooled_window(entry, source, days) as spooled:
            profile = profile_from_files(entry, spooled.files_by_day, settings, fp, spooled.info(entry))
            if also is not None:
                also(spooled)
            return profile
    except NotSpoolable:
        frame, info = read(entry)
        return profile_from_frame(frame, entry, info, settings, fp)


def reference_profile(
    entry: ModelEntry,
    cache_uri: str,
    settings: ProfileSettings | None = None,
    read: Callable[[ModelEntry], tuple[pd.DataFrame, dict[str, Any]]] = read_reference,
    recorded: Callable[[str], set[str]] | None = None,
    spooled: Callable | None = None,
) -> tuple[ReferenceProfile, bool]:
    """The entry's reference profile from the cache, or computed from the reference window and cached.
    Returns (profile, True if it came from the cache). ``read``: how a window without stable files is
    read (the pipeline passes its per-process cache); ``recorded``: the SHA-256s the history's runs
    recorded for a profile fingerprint (the pipeline passes the history's), which a cached profile must
    have one of. ``spooled``: called with a window without stable files spooled to local files
    (:class:`mrm.checks.reference_spool.Spooled`) once its profile is built, before they are removed."""
    from mrm.sources.registry import source_for

    settings = settings or ProfileSettings.for_entry(entry)
    source = source_for(entry, what="reference scoring log")
    cache = ProfileCache(cache_uri)
    days = entry.monitoring.reference.days()
    by_day = source.reference_files(days)
    inputs = source.identity(days) if by_day is None else [f for day in sorted(by_day) for f in by_day[day]]
    fp = profile_fingerprint(entry, inputs, settings)
    if (cached := cache.get(entry.model_id, fp, recorded(fp) if recorded else None)) is not None:
        return cached, True
    started = time.perf_counter()
    progress.info("%s: building the reference profile of %s..%s (once per reference, then kept)",
                  entry.model_id, days[0], days[-1])  # fmt: skip
    if by_day is None:
        profile = _spooled_profile(entry, source, days, settings, fp, read, spooled)
    else:
        profile = profile_from_files(entry, by_day, settings, fp)
    cache.put(profile)
    progress.info("%s: reference profile built in %.1f s", entry.model_id, time.perf_counter() - started)
    return profile, False
