"""Retention with a floor: no setting, policy or caller keeps records less than 183 days; the period
applied is the longer of the policy's and MRM_RETENTION_DAYS, and is recorded; a SQLite history is
purged only with --break-glass; a purge is chained, so a forged purge register row shows."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from support import clear_caches

from mrm import settings
from mrm.cli import main
from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.errors import ConfigError, InventoryError, StoreError
from mrm.inventory import Policy, load_policy
from mrm.store import HistoryStore, RunRecord, chain, schema
from mrm.store.retention import DEFAULT_RETENTION_DAYS, MIN_RETENTION_DAYS, period, purge


def record(store: HistoryStore, day: date) -> RunRecord:
    now = datetime.now(UTC)
    run = RunRecord(f"r{day:%Y%m%d}", "m", "1", day, "completed", now, now, "test", "h" * 64)
    store.record_run(run, [Evaluated(MetricResult("drift", "psi", "x", 0.3), 0.1, 0.25, "RED")])
    return run


@pytest.fixture(autouse=True)
def _fresh_caches():
    yield
    clear_caches()


def test_the_floor_is_six_months_and_the_default_seven_years():
    assert MIN_RETENTION_DAYS == 183 and DEFAULT_RETENTION_DAYS == 7 * 365 + 2
    assert period(None, None) == MIN_RETENTION_DAYS
    assert period(DEFAULT_RETENTION_DAYS, 200) == DEFAULT_RETENTION_DAYS
    assert period(200, 3000) == 3000


@pytest.mark.parametrize("value", ["0", "10", "182", "-5", "seven years"])
def test_mrm_retention_days_below_the_floor_is_refused_in_one_line(monkeypatch, value):
    monkeypatch.setenv("MRM_RETENTION_DAYS", value)
    with pytest.raises(ConfigError) as err:
        settings.retention_days()
    assert "below the retention floor of 183 days" in str(err.value) and "\n" not in str(err.value)


def test_mrm_retention_days_at_the_floor_or_unset_is_accepted(monkeypatch):
    monkeypatch.setenv("MRM_RETENTION_DAYS", "183")
    assert settings.retention_days() == 183
    monkeypatch.delenv("MRM_RETENTION_DAYS")
    assert settings.retention_days() == DEFAULT_RETENTION_DAYS


def test_the_policy_keeps_seven_years_by_default_and_refuses_less_than_the_floor(tmp_path):
    assert Policy().retention_days == DEFAULT_RETENTION_DAYS
    assert Policy(retention_days=183).retention_days == 183
    (tmp_path / "_policy.yaml").write_text("retention_days: 90\n")
    with pytest.raises(InventoryError) as err:
        load_policy(tmp_path)
    (line,) = err.value.lines()
    assert "_policy.yaml" in line and "retention_days 90 is below the floor of 183 days" in line


def test_a_caller_cannot_purge_with_less_than_the_floor(any_history):
    record(any_history, date(2026, 1, 1))
    with pytest.raises(StoreError, match="a retention period of 10 days is below the floor of 183 days"):
        purge(any_history, date(2026, 3, 1), "x", retention_days=10, today=date(2026, 9, 1), break_glass=True)
    assert len(any_history.runs()) == 1


def test_a_sqlite_history_is_purged_only_with_break_glass(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = HistoryStore(url)
    old = record(store, date(2018, 1, 2))
    monkeypatch.setenv("MRM_DB_URL", url)

    assert main(["purge", "--before", "2019-01-01"]) == 1
    # the error line (a ResourceWarning of an earlier test's connection, collected meanwhile, may add a
    # "mrm: warning:" line under pytest, which enables those warnings)
    (line,) = [x for x in capsys.readouterr().err.splitlines() if not x.startswith("mrm: warning: ")]
    assert "without --break-glass" in line and "no role that could be kept from purging" in line
    assert store.run(old.run_id)

    assert main(["purge", "--before", "2019-01-01", "--break-glass"]) == 0
    assert "1 from mrm_runs" in capsys.readouterr().out
    assert store.runs() == [] and chain.verify(store.engine)[0] == []


def test_the_purge_applies_the_longer_of_policy_and_setting_and_records_it(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'h.db'}"
    store = HistoryStore(url)
    today = datetime.now(UTC).date()
    young = record(store, date(today.year - 4, 1, 1))  # within the policy's 3000 days, beyond the setting's
    inventory = tmp_path / "inventory"
    inventory.mkdir()
    (inventory / "_policy.yaml").write_text("retention_days: 3000\n")
    monkeypatch.setenv("MRM_DB_URL", url)
    monkeypatch.setenv("MRM_RETENTION_DAYS", "400")
    before = date(today.year - 3, 1, 1).isoformat()

    assert main(["purge", "--before", before, "--break-glass", "--inventory", str(inventory)]) == 1
    assert "the retention period is 3000 days" in capsys.readouterr().err
    assert store.run(young.run_id)

    (inventory / "_policy.yaml").write_text("retention_days: 200\n")  # now the setting's 400 is the longer
    assert main(["purge", "--before", before, "--break-glass", "--inventory", str(inventory)]) == 0
    assert "retention 400 days" in capsys.readouterr().out
    with store.engine.connect() as conn:
        (register,) = conn.execute(sa.select(schema.purges)).mappings().all()
    assert register["retention_days"] == 400 and register["keys"]["mrm_runs"] == [young.run_id]


def test_a_purge_is_chained_and_a_forged_purge_row_shows(any_history):
    """The attacker deletes a metric and inserts a purge register row naming it, as a purge would: the
    forged row is not in the chain, and verify says so."""
    for day in (date(2018, 1, 2), date(2026, 9, 1)):
        record(any_history, day)
    purge(any_history, date(2019, 1, 1), "auditor", break_glass=True)
    problems, _, _ = chain.verify(any_history.engine)
    assert problems == []
    with any_history.engine.connect() as conn:
        chained = conn.execute(
            sa.select(schema.chain.c.row_key).where(schema.chain.c.table_name == "mrm_purges")
        ).all()
    assert len(chained) == 1

    with any_history.engine.begin() as conn:
        if conn.dialect.name == "postgresql":  # as a superuser could; the app role cannot (roles tests)
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        metric = conn.execute(sa.select(sa.func.max(schema.metric_results.c.id))).scalar()
        conn.execute(schema.metric_results.delete().where(schema.metric_results.c.id == metric))
        conn.execute(schema.purges.insert().values(
            before_date=date(2026, 9, 2), retention_days=400, purged_at=datetime.now(UTC), purged_by="x",
            counts={"mrm_metrics": 1}, keys={"mrm_metrics": [str(metric)]}, chain_head="0" * 64,
        ))  # fmt: skip
    problems, _, _ = chain.verify(any_history.engine)
    assert any("purge" in p and "not in the chain" in p for p in problems), problems
    assert any(p.endswith("the record was deleted") for p in problems), problems  # not whitelisted
