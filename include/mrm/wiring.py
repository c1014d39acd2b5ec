"""The composition root: the process's inventory and history store, built from :mod:`mrm.settings`,
and the per-process caches every run may share. The pipeline, governance, the CLI, the DAGs and the
UI take their parts from here; tests call :func:`clear_caches` after changing a setting."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from mrm import settings

if TYPE_CHECKING:
    from mrm.inventory import Inventory
    from mrm.store import HistoryStore
    from mrm.store.keys import Keyring

_CACHES: list[Any] = []


def process_cache(maxsize: int) -> Callable:
    """``functools.lru_cache``, registered so that :func:`clear_caches` forgets it too."""

    def wrap(fn: Callable) -> Callable:
        cached = lru_cache(maxsize=maxsize)(fn)
        _CACHES.append(cached)
        return cached

    return wrap


def clear_caches() -> None:
    """Forget every per-process cache (store, inventory, reference reads): settings may have changed.
    The stores' connection pools are closed first."""
    for store in _STORES.values():
        store.engine.dispose()
    _STORES.clear()
    for cached in _CACHES:
        cached.cache_clear()
    from mrm.sources import day_parts, part_store

    day_parts.clear()
    part_store.forget_written()


def get_inventory() -> Inventory:
    """The inventory, re-read whenever a file in its folder changes (cached per process otherwise)."""
    folder = settings.inventory_dir()
    stamp = (
        tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.y*ml")))
        if folder.is_dir()
        else ()
    )
    return _inventory(folder, stamp)


@process_cache(maxsize=4)
def _inventory(folder, stamp) -> Inventory:
    from mrm.inventory import load_inventory

    return load_inventory(folder, strict=False)[0]


_STORES: dict[str, HistoryStore] = {}


def get_store() -> HistoryStore:
    """The history store of MRM_DB_URL, one per URL per process."""
    url = settings.db_url()
    if url not in _STORES:
        from mrm.store import HistoryStore

        _STORES[url] = HistoryStore(url, key_source=lambda: chain_keyring(url))
    return _STORES[url]


def chain_keyring(url: str) -> Keyring:
    """The chain's keyring: the Airflow connection ``mrm_chain_key`` (password: the current key; extra
    ``{"previous": [...]}``: older keys) when AIRFLOW_CONN_MRM_CHAIN_KEY is set or Airflow has it, else
    :func:`mrm.store.keys.from_settings` (MRM_CHAIN_KEY, MRM_CHAIN_KEY_FILE, a local history's key file).
    Airflow itself is asked only in a process that already runs Airflow (worker, API server)."""
    from mrm.airflow.connections import get_connection
    from mrm.errors import ConfigError, StoreError
    from mrm.store import keys

    given = bool(os.environ.get(f"AIRFLOW_CONN_{keys.CONN_ID.upper()}"))
    if not given and "airflow" not in sys.modules:  # not in an Airflow process: importing it costs seconds
        return keys.from_settings(url)
    try:
        conn = get_connection(keys.CONN_ID, "the metrics history's chain key")
    except ConfigError:
        if given:
            raise  # given, but unreadable: say so rather than fall back
        return keys.from_settings(url)
    source = f"the Airflow connection '{keys.CONN_ID}'"
    if not conn.password:
        raise StoreError(f"{source} has no password: its password is the chain key")
    previous = conn.extra.get("previous") or []
    if isinstance(previous, str):
        previous = [previous]
    return keys.Keyring(tuple(k.encode() for k in (conn.password, *previous)), source)


CLI_MARK = "(os user, not authenticated by Airflow)"
MAX_ON_BEHALF = 120


def os_user() -> str:
    """The name of the process's real uid (not LOGNAME or USER, which anyone can set), at most 64
    characters; ``uid<n>`` for a uid without a passwd entry (e.g. a container's arbitrary uid)."""
    import os
    import pwd

    uid = os.getuid()
    try:
        return pwd.getpwuid(uid).pw_name[:64]
    except KeyError:
        return f"uid{uid}"


def cli_trigger(on_behalf_of: str | None = None) -> str:
    """Who acts from the command line, as the history records it (runs' triggered_by, tickets' closed_by,
    purges' purged_by): ``cli:<user> (os user, not authenticated by Airflow)``. The user is the name of
    the process's real uid, not LOGNAME or USER (which anyone can set); it is still the OS's word, not
    an identity Airflow authenticated. ``on_behalf_of`` (``--by NAME``, free text, unverified) is kept
    after it as ``on behalf of NAME``. At most 256 characters (the columns that hold it)."""
    user = os_user()
    claim = " ".join((on_behalf_of or "").split())[:MAX_ON_BEHALF]
    return f"cli:{user} {CLI_MARK}" + (f" on behalf of {claim}" if claim else "")
