"""The one rule for what a run reuses from a cache (reference profiles, reference counts): the cached
bytes must have the SHA-256 of the hash record written beside them and, once runs have recorded
hashes for the cache entry's fingerprint in the chained history, one of those."""

from __future__ import annotations

import json


def unsound(store, found: dict[str, str], hash_file: str, actual: str, recorded: set[str]) -> str:
    """Why a cache entry must not be used ("" when it may): ``found`` its files by name (URIs in
    ``store``), ``actual`` the SHA-256 of its bytes, ``recorded`` what runs recorded for it. Worded
    after the entry's name ("<entry> has no hash record ...")."""
    if hash_file not in found:
        return f"has no hash record ({hash_file})"
    try:
        kept = json.loads(store.get(found[hash_file]))["sha256"]
    except (ValueError, KeyError, TypeError):
        return f"has an unreadable hash record ({hash_file})"
    if actual != kept:
        return f"no longer has the SHA-256 of its hash record ({str(kept)[:12]}…, is {actual[:12]}…)"
    if recorded and actual not in recorded:
        runs = ", ".join(h[:12] + "…" for h in sorted(recorded))
        return f"has SHA-256 {actual[:12]}…, not the one its runs recorded ({runs})"
    return ""
