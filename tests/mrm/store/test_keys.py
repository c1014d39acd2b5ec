"""Where the chain key comes from: the Airflow connection ``mrm_chain_key``, MRM_CHAIN_KEY(_FILE), a local
SQLite history's key file; a PostgreSQL history without a key is one line from `mrm audit verify`, while
reading needs no key. Keys never appear in messages or reprs."""

from __future__ import annotations

import json
import stat
from datetime import UTC, date, datetime

import pytest
from support import clear_caches, empty_history

from mrm import wiring
from mrm.cli import main
from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.errors import ConfigError, StoreError
from mrm.store import HistoryStore, RunRecord, chain, keys

CURRENT, PREVIOUS = "connection-key-current-0123456789", "connection-key-previous-0123456789"


@pytest.fixture
def no_key(monkeypatch):
    for name in ("MRM_CHAIN_KEY", "MRM_CHAIN_KEY_FILE", "AIRFLOW_CONN_MRM_CHAIN_KEY"):
        monkeypatch.delenv(name, raising=False)


def record(store: HistoryStore) -> None:
    now = datetime.now(UTC)
    run = RunRecord(run_id=f"k{now:%H%M%S%f}", model_id="m", model_version="1", logical_date=date(2026, 9, 1),
                    status="completed", started_at=now, finished_at=now, triggered_by="test",
                    inventory_hash="f" * 64, overall_status="GREEN")  # fmt: skip
    store.record_run(run, [Evaluated(MetricResult("drift", "psi", "x", 0.01, {}), 0.1, 0.25, "GREEN")])


def test_a_local_sqlite_history_gets_a_private_key_file_beside_it(tmp_path, no_key):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    first, again = keys.from_settings(url), keys.from_settings(url)
    path = tmp_path / "h.db.key"
    assert first == again and first.source == f"the local key file {path}"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text().strip() not in repr(first)


def test_a_postgresql_history_without_a_key_is_one_line(no_key):
    with pytest.raises(StoreError) as caught:
        keys.from_settings("postgresql+psycopg://app:s3cr3t-pw@db/mrm")
    assert str(caught.value).startswith("no chain key for the metrics history: add the Airflow connection")
    assert "s3cr3t-pw" not in str(caught.value)


def test_short_and_unreadable_keys_are_refused(tmp_path, monkeypatch, no_key):
    monkeypatch.setenv("MRM_CHAIN_KEY", "short")
    with pytest.raises(StoreError, match="shorter than 16 characters"):
        keys.from_settings("postgresql+psycopg://db/mrm")
    monkeypatch.delenv("MRM_CHAIN_KEY")
    monkeypatch.setenv("MRM_CHAIN_KEY_FILE", str(tmp_path / "absent"))
    with pytest.raises(StoreError, match=r"cannot read the chain key from MRM_CHAIN_KEY_FILE=.*absent"):
        keys.from_settings("postgresql+psycopg://db/mrm")


def test_the_airflow_connection_gives_the_current_and_previous_keys(monkeypatch, no_key):
    conn = {"conn_type": "generic", "password": CURRENT, "extra": {"previous": [PREVIOUS]}}
    monkeypatch.setenv("AIRFLOW_CONN_MRM_CHAIN_KEY", json.dumps(conn))
    ring = wiring.chain_keyring("postgresql+psycopg://db/mrm")
    assert ring.ids == (keys.key_id(CURRENT.encode()), keys.key_id(PREVIOUS.encode()))
    assert ring.source == "the Airflow connection 'mrm_chain_key'" and CURRENT not in repr(ring)


def test_an_airflow_connection_without_a_password_or_unreadable_is_one_line(monkeypatch, no_key):
    monkeypatch.setenv("AIRFLOW_CONN_MRM_CHAIN_KEY", json.dumps({"conn_type": "generic"}))
    with pytest.raises(
        StoreError, match=r"^the Airflow connection 'mrm_chain_key' has no password: its password"
    ):
        wiring.chain_keyring("postgresql+psycopg://db/mrm")
    monkeypatch.setenv("AIRFLOW_CONN_MRM_CHAIN_KEY", "{not json")
    with pytest.raises(ConfigError, match=r"^AIRFLOW_CONN_MRM_CHAIN_KEY is not a valid connection"):
        wiring.chain_keyring("postgresql+psycopg://db/mrm")


def test_get_store_chains_with_the_airflow_connections_key(monkeypatch, mrm_home, no_key):
    monkeypatch.setenv("AIRFLOW_CONN_MRM_CHAIN_KEY", f"generic://:{CURRENT}@")
    store = wiring.get_store()
    record(store)
    with store.engine.connect() as conn:
        kids = {k for (k,) in conn.exec_driver_sql("SELECT DISTINCT key_id FROM mrm_chain")}
    assert kids == {keys.key_id(CURRENT.encode())}
    assert chain.verify(store.engine)[0] == []
    assert not (mrm_home / "history.db.key").exists()  # the connection won over the local key file


def test_audit_verify_on_postgresql_without_a_key_is_one_line_but_reading_works(
    pg_url, mrm_home, monkeypatch, capsys
):
    monkeypatch.setenv("MRM_DB_URL", pg_url)
    clear_caches()
    store = wiring.get_store()  # with the test session's MRM_CHAIN_KEY
    empty_history(store.engine)
    record(store)
    monkeypatch.delenv("MRM_CHAIN_KEY")
    clear_caches()

    assert main(["tickets", "--status", "all"]) == 0  # reads need no key
    capsys.readouterr()
    assert main(["audit", "verify"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and len(err.splitlines()) == 1
    assert err.startswith("mrm: error: no chain key for the metrics history: add the Airflow connection")


def test_an_engine_nothing_is_bound_to_finds_the_key_from_the_settings(tmp_path, no_key):
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = HistoryStore(url)  # the default key source: the local key file
    record(store)
    plain = sa.create_engine(url)
    try:
        assert chain.keyring(plain) == store.keyring() and chain.verify(plain)[0] == []
    finally:
        plain.dispose()
        store.engine.dispose()
