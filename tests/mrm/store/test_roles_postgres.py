"""Least privilege on PostgreSQL, tried as an attacker holding the app role's credentials (what every
worker, the scheduler and the api-server hold) and mrm's code: after `mrm db upgrade` run by the
administrator, the app role cannot disable a trigger, UPDATE a chained table, DELETE or TRUNCATE
anything, become the owner, switch triggers off with session_replication_role, or purge; yet it
records runs, opens and closes tickets and delivers the outbox. A purge by a member of the owner role
works without a superuser, and the history still verifies."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from support import clear_caches, empty_history

from mrm.cli import main
from mrm.controls import Evaluated
from mrm.core.results import MetricResult
from mrm.errors import StoreError
from mrm.store import HistoryStore, RunRecord, chain, migrate, schema
from mrm.store.roles import Roles, upgrade

pytestmark = pytest.mark.integration

CHAINED = ("mrm_runs", "mrm_metrics", "mrm_ticket_events", "mrm_inventory_versions", "mrm_chain",
           "mrm_purges", "mrm_key_rotations")  # fmt: skip
ALL_TABLES = [*sorted(t.name for t in schema.metadata.sorted_tables), "mrm_alembic_version"]
KEY = "roles-test-chain-key-" + "k" * 24


def as_user(url: str, user: str) -> str:
    return sa.make_url(url).set(username=user, password=None).render_as_string(hide_password=False)


class Cluster:
    """The roles of this session (unique names) and the URLs to log in as each."""

    def __init__(self, admin_url: str):
        tag = uuid.uuid4().hex[:8]
        self.owner, self.app, self.dba = f"t{tag}_owner", f"t{tag}_app", f"t{tag}_dba"
        self.admin_url = admin_url
        self.app_url, self.dba_url = as_user(admin_url, self.app), as_user(admin_url, self.dba)
        self.roles = Roles(self.owner, self.app)


def admin(url: str, *sql: str) -> None:
    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in sql:
            conn.exec_driver_sql(statement)
    engine.dispose()


@pytest.fixture(scope="module")
def cluster(pg_url):
    """A history created by the admin (as before roles existed), upgraded by the admin with
    mrm.store.roles (what `mrm db upgrade` runs), and a DBA login that is a member of the owner role."""
    saved = os.environ.get("MRM_CHAIN_KEY")
    os.environ["MRM_CHAIN_KEY"] = KEY  # the keyed chain's key (the workers' secret, not the database's)
    admin_store = HistoryStore(pg_url)
    empty_history(admin_store.engine)
    admin_store.engine.dispose()
    c = Cluster(pg_url)
    c.lines = upgrade(pg_url, c.roles)
    admin(pg_url, f'CREATE ROLE "{c.dba}" LOGIN IN ROLE "{c.owner}"')
    yield c
    engine = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:  # hand everything back to the admin, then drop this session's roles
        for role in (c.dba, c.app, c.owner):
            if conn.execute(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first():
                conn.execute(sa.text(f'REASSIGN OWNED BY "{role}" TO CURRENT_USER'))
                conn.execute(sa.text(f'DROP OWNED BY "{role}"'))
                conn.execute(sa.text(f'DROP ROLE "{role}"'))
    engine.dispose()
    if saved is None:
        os.environ.pop("MRM_CHAIN_KEY", None)
    else:
        os.environ["MRM_CHAIN_KEY"] = saved


@pytest.fixture(autouse=True)
def _forget_cli_stores():
    yield
    clear_caches()  # the CLI's cached stores (one per MRM_DB_URL) close their connections


@pytest.fixture
def app(cluster):
    store = HistoryStore(cluster.app_url)
    yield store
    store.engine.dispose()


def refused(url: str, sql: str) -> str:
    """Run ``sql`` in its own transaction as the login of ``url``; the database's refusal, first line."""
    engine = sa.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(sql)
    except sa.exc.DBAPIError as exc:
        return str(exc.orig).splitlines()[0]
    finally:
        engine.dispose()
    raise AssertionError(f"{sql!r} was allowed")


def record(store: HistoryStore, model_id: str, day: date, segment: str | None = None) -> RunRecord:
    now = datetime.now(UTC)
    run = RunRecord(
        run_id=f"{model_id}{day:%y%m%d}{now.microsecond:06d}", model_id=model_id, model_version="1",
        logical_date=day, status="completed", started_at=now, finished_at=now, triggered_by="test",
        inventory_hash=uuid.uuid4().hex * 2, overall_status="RED",
    )  # fmt: skip
    metrics = [Evaluated(MetricResult("drift", "psi", "x", 0.3, {"i": 1}, segment), 0.1, 0.25, "RED")]
    store.record_run(run, metrics, {"model_id": model_id, "threshold": 0.25})
    return run


def privileges(url: str, role: str) -> dict[str, set[str]]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT table_name, privilege_type FROM information_schema.role_table_grants "
            "WHERE grantee = :r AND table_name LIKE 'mrm%'"
        ), {"r": role}).all()  # fmt: skip
    engine.dispose()
    out: dict[str, set[str]] = {}
    for table, privilege in rows:
        out.setdefault(table, set()).add(privilege)
    return out


# -- what mrm db upgrade did ------------------------------------------------------------------------
def test_upgrade_adopts_the_admins_history_and_grants_the_app_role_exactly(cluster):
    assert cluster.lines[0].endswith(f"-> {migrate.head()} (migrated as {cluster.owner})")
    assert f"{cluster.owner} (NOLOGIN) created" in cluster.lines[1]
    assert f"{cluster.app} (LOGIN) created" in cluster.lines[1]
    assert "handed to" in cluster.lines[2]  # the tables the admin created before are the owner's now
    engine = sa.create_engine(cluster.admin_url)
    with engine.connect() as conn:
        owners = dict(conn.execute(sa.text(
            "SELECT c.relname, pg_get_userbyid(c.relowner) FROM pg_class c "
            "WHERE c.relname LIKE 'mrm\\_%' AND c.relkind IN ('r', 'v', 'S', 'i')"
        )).all())  # fmt: skip
        function_owner = conn.execute(sa.text(
            "SELECT pg_get_userbyid(proowner) FROM pg_proc WHERE proname = 'mrm_reject_change'"
        )).scalar_one()  # fmt: skip
        login = dict(conn.execute(sa.text(
            "SELECT rolname, rolcanlogin FROM pg_roles WHERE rolname IN (:o, :a)"
        ), {"o": cluster.owner, "a": cluster.app}).all())  # fmt: skip
        member = conn.execute(
            sa.text("SELECT pg_has_role(:a, :o, 'MEMBER')"), {"a": cluster.app, "o": cluster.owner}
        ).scalar()
    engine.dispose()
    assert set(owners) >= set(ALL_TABLES) | {"mrm_v_current_runs", "mrm_chain_seq_seq"}
    assert set(owners.values()) == {cluster.owner} and function_owner == cluster.owner
    assert login == {cluster.owner: False, cluster.app: True} and member is False

    granted = privileges(cluster.admin_url, cluster.app)
    expected = {t: {"SELECT", "INSERT"} for t in ALL_TABLES}
    expected.update(mrm_tickets={"SELECT", "INSERT", "UPDATE"}, mrm_outbox={"SELECT", "INSERT", "UPDATE"},
                    mrm_alembic_version={"SELECT"})  # fmt: skip
    expected.update({v: {"SELECT"} for v in ("mrm_v_current_runs", "mrm_v_metric_series",
                                             "mrm_v_latest_status", "mrm_v_breach_trail",
                                             "mrm_v_review_acts", "mrm_v_acceptances",
                                             "mrm_v_findings")})  # fmt: skip
    assert granted == expected


def test_upgrade_again_by_the_cli_is_idempotent_and_takes_back_a_stray_grant(cluster, monkeypatch, capsys):
    admin(cluster.admin_url, f'GRANT DELETE, TRUNCATE ON mrm_runs TO "{cluster.app}"',
          f'GRANT "{cluster.owner}" TO "{cluster.app}"')  # fmt: skip
    monkeypatch.setenv("MRM_DB_URL", cluster.admin_url)
    rc = main(["db", "upgrade", "--owner-role", cluster.owner, "--app-role", cluster.app])
    out = capsys.readouterr()
    assert rc == 0, out.err
    head = migrate.head()
    assert f"schema revision {head} -> {head}" in out.out
    assert f"{cluster.app} removed from {cluster.owner}" in out.out
    assert f"every mrm object is owned by {cluster.owner}" in out.out
    assert privileges(cluster.admin_url, cluster.app)["mrm_runs"] == {"SELECT", "INSERT"}


def test_upgrade_refuses_a_role_name_that_is_not_an_identifier(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["db", "upgrade", "--app-role", 'x"; DROP TABLE mrm_runs; --'])
    assert exit_.value.code == 2 and "is not a plain identifier" in capsys.readouterr().err


def test_upgrade_as_the_app_role_is_refused_in_one_line(cluster, monkeypatch, capsys):
    monkeypatch.setenv("MRM_DB_URL", cluster.app_url)
    assert main(["db", "upgrade", "--owner-role", cluster.owner, "--app-role", cluster.app]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "must run as an administrator" in line and cluster.app in line


# -- the attacker with the app role's credentials ------------------------------------------------------
def test_the_app_role_cannot_disable_the_append_only_trigger(cluster):
    for table in CHAINED:
        assert "must be owner" in refused(
            cluster.app_url, f"ALTER TABLE {table} DISABLE TRIGGER mrm_append_only"
        )
    assert "must be owner" in refused(cluster.app_url, "ALTER TABLE mrm_runs DISABLE TRIGGER ALL")


@pytest.mark.parametrize("table", CHAINED)
def test_the_app_role_cannot_update_a_chained_table(cluster, app, table):
    record(app, "upd", date(2026, 9, 1))  # rows to aim at
    column = {"mrm_chain": "row_hash", "mrm_purges": "purged_by", "mrm_key_rotations": "rotated_by",
              "mrm_metrics": "status", "mrm_ticket_events": "message", "mrm_runs": "overall_status",
              "mrm_inventory_versions": "model_version"}[table]  # fmt: skip
    assert "permission denied" in refused(cluster.app_url, f"UPDATE {table} SET {column} = 'GREEN'")


@pytest.mark.parametrize("table", ALL_TABLES)
def test_the_app_role_cannot_delete_or_truncate_any_mrm_table(cluster, table):
    assert "permission denied" in refused(cluster.app_url, f"DELETE FROM {table}")
    assert "permission denied" in refused(cluster.app_url, f"TRUNCATE {table}")
    purge_flag = f"SET LOCAL mrm.purge = 'on'; DELETE FROM {table}"
    assert "permission denied" in refused(cluster.app_url, purge_flag)


def test_the_app_role_cannot_become_the_owner_or_switch_triggers_off(cluster):
    assert "permission denied to set role" in refused(cluster.app_url, f'SET ROLE "{cluster.owner}"')
    assert "permission denied to set parameter" in refused(
        cluster.app_url, "SET session_replication_role = replica"
    )
    assert "permission denied" in refused(cluster.app_url, "CREATE TABLE mrm_shadow (x int)")


def test_even_granted_delete_the_trigger_lets_only_an_owner_member_purge(cluster):
    """Were a DBA to grant DELETE by mistake, the trigger still refuses the app role's DELETE, with the
    purge flag set; UPDATE stays refused for the owner's members too."""
    admin(cluster.admin_url, f'GRANT DELETE, UPDATE ON mrm_runs TO "{cluster.app}"')
    try:
        line = refused(cluster.app_url, "SET LOCAL mrm.purge = 'on'; DELETE FROM mrm_runs")
        assert "append-only: DELETE on mrm_runs is not allowed" in line
        assert "append-only: UPDATE" in refused(cluster.app_url, "UPDATE mrm_runs SET reason = 'x'")
        assert "append-only: UPDATE" in refused(cluster.dba_url, "UPDATE mrm_runs SET reason = 'x'")
        assert "append-only: DELETE" in refused(cluster.dba_url, "DELETE FROM mrm_runs")  # no purge flag
        assert "append-only: TRUNCATE" in refused(
            cluster.dba_url, "SET LOCAL mrm.purge = 'on'; TRUNCATE mrm_chain"
        )
    finally:
        admin(cluster.admin_url, f'REVOKE DELETE, UPDATE ON mrm_runs FROM "{cluster.app}"')


def test_a_purge_as_the_app_role_is_refused_in_one_line(cluster, app, monkeypatch, capsys):
    old = record(app, "old", date(2018, 3, 1))
    monkeypatch.setenv("MRM_DB_URL", cluster.app_url)
    assert main(["purge", "--before", "2019-01-01"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert f"a purge needs the owner role's login: {cluster.app} is not a member of {cluster.owner}" in line
    assert "MRM_DB_URL=postgresql+psycopg://" in line
    with pytest.raises(StoreError, match="a purge needs the owner role's login"):
        from mrm.store.retention import purge

        purge(app, date(2019, 1, 1), "attacker")
    assert app.run(old.run_id)["run_id"] == old.run_id


# -- the app role does its job ------------------------------------------------------------------------
def test_the_app_role_records_runs_tickets_and_delivers_the_outbox(cluster, app):
    from mrm.demo.standins.receiver import Receiver
    from mrm.inventory.notifications import Retry
    from mrm.notify import outbox
    from mrm.notify.base import TICKET_OPENED
    from mrm.notify.channels.webhook import WebhookSink
    from mrm.ticketing import Breach, BuiltinTracker

    run = record(app, "job", date(2026, 9, 2))
    assert [r["run_id"] for r in app.runs("job")] == [run.run_id]
    breach = Breach("job", "o@example.com", "drift.psi[x]", "drift", "psi", "x", "RED", 0.3, 0.1, 0.25,
                    run.run_id, run.logical_date, "breach")  # fmt: skip
    tracker = BuiltinTracker(app)
    opened = tracker.file(breach)
    with app.engine.begin() as conn:
        tracker.close_in(conn, opened.ticket_id, "risk-officer", "recalibrated", date(2026, 9, 3))
    (ticket,) = [t for t in tracker.tickets("job", "all")]
    assert ticket["status"] == "closed" and ticket["closed_by"] == "risk-officer"

    with Receiver(secret="whsec-roles") as receiver:
        item = outbox.Item("roles-1", "webhook", TICKET_OPENED, {"ticket_id": opened.ticket_id, "text": "t"},
                           "job", opened.ticket_id, run.logical_date)  # fmt: skip
        with app.engine.begin() as conn:
            outbox.enqueue(conn, [item])
        sink = WebhookSink(receiver.url, "whsec-roles", timeout=5)
        report = outbox.deliver(
            app, lambda name: sink, Retry(attempts=2, backoff_seconds=1), sleep=lambda s: None
        )
        assert report.delivered == ["roles-1"] and len(receiver.received) == 1
    (row,) = [r for r in outbox.items(app, "all") if r["key"] == "roles-1"]
    assert row["status"] == "delivered"
    assert chain.verify(app.engine)[0] == []


def test_a_run_that_fails_mid_way_as_the_app_role_leaves_a_history_that_verifies(cluster, app):
    before = len(app.runs(kind=None))
    with pytest.raises(StoreError, match="nothing was written, rerun the date"):
        record(app, "mid", date(2026, 9, 4), segment="s=" + "x" * 300)  # too long for the column: rollback
    assert len(app.runs(kind=None)) == before
    assert chain.verify(app.engine)[0] == []


# -- the owner's member purges, without a superuser --------------------------------------------------
def test_a_purge_by_an_owner_member_works_is_chained_and_verifies(cluster, app, monkeypatch, capsys):
    old = record(app, "old", date(2018, 6, 1))
    keep = record(app, "old", date(2026, 9, 7))
    monkeypatch.setenv("MRM_DB_URL", cluster.dba_url)
    assert main(["purge", "--before", "2019-01-01"]) == 0, capsys.readouterr().err
    out = capsys.readouterr().out
    assert "retention 2557 days" in out and "from mrm_runs" in out
    runs = {r["run_id"] for r in app.runs(kind=None)}
    assert old.run_id not in runs and keep.run_id in runs
    with app.engine.connect() as conn:
        last = (
            conn.execute(sa.select(schema.purges).order_by(schema.purges.c.purge_id.desc()))
            .mappings()
            .first()
        )
        entry = (
            conn.execute(sa.select(schema.chain).where(schema.chain.c.table_name == "mrm_purges"))
            .mappings()
            .all()
        )
    assert last["retention_days"] == 2557 and old.run_id in last["keys"]["mrm_runs"]
    assert str(last["purge_id"]) in {e["row_key"] for e in entry}
    assert chain.verify(app.engine)[0] == []


def test_a_worker_dying_after_its_chain_entry_leaves_a_history_that_verifies(cluster, app):
    """The transaction is rolled back after mrm_chain took a sequence number (PostgreSQL sequences are
    not transactional): no false 'deleted' alarm."""
    now = datetime.now(UTC)
    with pytest.raises(sa.exc.DBAPIError), app.engine.begin() as conn:
        conn.execute(schema.runs.insert().values(
            run_id="dying", model_id="mid", model_version="1", logical_date=date(2026, 9, 5),
            status="completed", started_at=now, finished_at=now, triggered_by="test", inventory_hash="h" * 64,
        ))  # fmt: skip
        chain.append(conn, "mrm_runs", ["dying"])
        conn.exec_driver_sql("SELECT 1 / 0")  # the worker dies here
    record(app, "mid", date(2026, 9, 6))
    assert chain.verify(app.engine)[0] == []


def test_upgrade_by_a_createrole_login_that_is_no_superuser(pg_url):
    """What docker-compose's mrm-init does: the administrator mrm_admin may create roles and owns the
    database, and is no superuser; the upgrade creates both roles and the app role works."""
    tag = f"t{uuid.uuid4().hex[:8]}"
    roles = Roles(f"{tag}_owner", f"{tag}_app", "app-secret-0123456789", "TEST_PW")
    database = f"{tag}_db"
    admin(pg_url, f"CREATE ROLE {tag}_admin LOGIN CREATEROLE",
          f"CREATE DATABASE {database} OWNER {tag}_admin",
          f"REVOKE ALL ON DATABASE {database} FROM PUBLIC")  # fmt: skip
    url = sa.make_url(pg_url).set(database=database).render_as_string(hide_password=False)
    try:
        lines = upgrade(as_user(url, f"{tag}_admin"), roles)
        assert lines[0].endswith(f"(migrated as {roles.owner})")
        assert f"{roles.app}'s password set from $TEST_PW" in lines[1] and "app-secret" not in "".join(lines)
        store = HistoryStore(as_user(url, roles.app))
        record(store, "adm", date(2026, 9, 1))
        assert chain.verify(store.engine)[0] == []
        store.engine.dispose()
        assert "must be owner" in refused(as_user(url, roles.app), "ALTER TABLE mrm_runs DISABLE TRIGGER ALL")
    finally:
        admin(pg_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
              *(f"DROP ROLE IF EXISTS {tag}_{r}" for r in ("app", "owner", "admin")))  # fmt: skip


def test_a_history_the_app_role_owned_is_taken_from_it(pg_url):
    """Before roles, the login that ran `mrm db upgrade` owned the tables and could DISABLE TRIGGER, edit
    and rewrite (security review, finding 3). Upgrading as the admin hands everything to the owner."""
    tag = f"t{uuid.uuid4().hex[:8]}"
    database, roles = f"{tag}_db", Roles(f"{tag}_owner", f"{tag}_app")
    admin(pg_url, f"CREATE ROLE {roles.app} LOGIN", f"CREATE DATABASE {database} OWNER {roles.app}")
    url = sa.make_url(pg_url).set(database=database).render_as_string(hide_password=False)
    try:
        legacy = HistoryStore(as_user(url, roles.app))  # migrated by the app role: it owns every table
        run = record(legacy, "legacy", date(2026, 9, 1))
        legacy.engine.dispose()
        with pytest.raises(StoreError, match=f"the app role {roles.app} owns the database {database}"):
            upgrade(url, roles)  # as the database's owner it could DROP SCHEMA public CASCADE
        admin(url, f"ALTER DATABASE {database} OWNER TO CURRENT_USER")
        lines = upgrade(url, roles)
        assert "handed to" in lines[2]
        app_url = as_user(url, roles.app)
        assert "must be owner" in refused(app_url, "ALTER TABLE mrm_runs DISABLE TRIGGER mrm_append_only")
        assert "permission denied" in refused(app_url, "UPDATE mrm_metrics SET status = 'GREEN'")
        assert "permission denied" in refused(app_url, "DELETE FROM mrm_chain")
        store = HistoryStore(app_url)
        assert store.run(run.run_id)["model_id"] == "legacy"
        record(store, "legacy", date(2026, 9, 2))
        assert chain.verify(store.engine)[0] == []
        store.engine.dispose()
    finally:
        admin(pg_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)',
              *(f"DROP ROLE IF EXISTS {r}" for r in (roles.app, roles.owner)))  # fmt: skip
