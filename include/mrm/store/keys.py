"""The chain key: the secret the history's chain hashes are HMACs with, held outside the database.

Whoever can write the database but does not hold the key cannot recompute the chain after an edit. The
key comes, in this order, from

- the Airflow connection ``mrm_chain_key`` (its password; an Airflow secrets backend, or
  ``AIRFLOW_CONN_MRM_CHAIN_KEY``), looked up by :mod:`mrm.wiring`;
- ``MRM_CHAIN_KEY`` (the key itself) or ``MRM_CHAIN_KEY_FILE`` (a file holding it);
- for a local SQLite history only: a key file beside the database (``history.db.key``, mode 0600),
  made on first use, so a laptop or the demo works out of the box. It protects nothing against whoever
  can read that folder; production sets the connection.

A key is text; several separated by commas are a keyring: the first is current (new entries use it),
the others are previous keys still needed to verify older entries. Rotating is giving a new first key
and keeping the old one after it: the next append records the rotation in the chain (signed with the
old key). A key is known by its id, the first 16 hex digits of HMAC(key, "mrm chain key id").
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mrm.errors import StoreError

CONN_ID = "mrm_chain_key"
MIN_LENGTH = 16  # characters: shorter keys are refused


def key_id(key: bytes) -> str:
    return hmac.new(key, b"mrm chain key id", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True)
class Keyring:
    keys: tuple[bytes, ...]  # current first
    source: str  # where the keys came from, for messages (never the keys themselves)

    def __post_init__(self):
        if not self.keys:
            raise StoreError(f"the chain key from {self.source} is empty")
        short = [i for i, k in enumerate(self.keys) if len(k) < MIN_LENGTH]
        if short:
            raise StoreError(
                f"the chain key from {self.source} is shorter than {MIN_LENGTH} characters; "
                "use a random one, e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`"
            )

    def __repr__(self) -> str:  # never the keys
        return f"Keyring(current={self.current_id}, previous={list(self.ids[1:])}, source={self.source!r})"

    @property
    def current(self) -> bytes:
        return self.keys[0]

    @property
    def current_id(self) -> str:
        return key_id(self.current)

    @property
    def ids(self) -> tuple[str, ...]:
        return tuple(key_id(k) for k in self.keys)

    def key(self, kid: str) -> bytes | None:
        """The key with id ``kid``, or None when the keyring does not hold it."""
        return next((k for k in self.keys if key_id(k) == kid), None)

    def mac(self, kid: str, message: str) -> str:
        """HMAC-SHA256 hex of ``message`` with the key ``kid``; StoreError when it is not held."""
        key = self.key(kid)
        if key is None:
            raise StoreError(
                f"chain key {kid} is not in the keyring from {self.source}: give it as a previous key "
                f"(after the current one, comma-separated) to verify or extend the entries it made"
            )
        return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def from_text(text: str, source: str) -> Keyring:
    return Keyring(tuple(k.strip().encode() for k in text.split(",") if k.strip()), source)


def local_key_file(db_url: str) -> Path | None:
    """The key file beside a local SQLite history (None for any other database)."""
    if not db_url.startswith("sqlite:///") or db_url == "sqlite:///:memory:":
        return None
    return Path(db_url.removeprefix("sqlite:///") + ".key")


def _local(path: Path) -> Keyring:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_hex(32) + "\n")
        except FileExistsError:  # another process made it first
            pass
    return from_text(path.read_text(), f"the local key file {path}")


def from_settings(db_url: str) -> Keyring:
    """MRM_CHAIN_KEY, MRM_CHAIN_KEY_FILE, else the local key file of a SQLite history; else one line."""
    text = os.environ.get("MRM_CHAIN_KEY", "").strip()
    if text:
        return from_text(text, "MRM_CHAIN_KEY")
    file = os.environ.get("MRM_CHAIN_KEY_FILE", "").strip()
    if file:
        try:
            return from_text(Path(file).read_text(), f"MRM_CHAIN_KEY_FILE={file}")
        except OSError as exc:
            raise StoreError(
                f"cannot read the chain key from MRM_CHAIN_KEY_FILE={file}: {exc.strerror}"
            ) from None
    local = local_key_file(db_url)
    if local is not None:
        return _local(local)
    raise StoreError(
        f"no chain key for the metrics history: add the Airflow connection '{CONN_ID}' (password = the key; "
        "keep it in a secrets backend the database's users cannot read) or set MRM_CHAIN_KEY"
    )


KeySource = Callable[[], Keyring]
