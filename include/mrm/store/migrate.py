"""Schema migrations of the metrics history through Alembic (``mrm db upgrade``; on PostgreSQL run as the
owner role by :mod:`mrm.store.roles`)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection, Engine, inspect, text

VERSION_TABLE = "mrm_alembic_version"  # not Airflow's alembic_version, should both share a database
MIGRATION_LOCK = 7277002  # PostgreSQL advisory lock of migrations (the chain's writers use 7277001)


def _config(conn=None):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).parent / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def head() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config()).get_current_head()


def current(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return current_on(conn)


def current_on(conn: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext

    return MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_revision()


def has_tables(engine: Engine) -> bool:
    return any(
        name.startswith("mrm_") and name != VERSION_TABLE for name in inspect(engine).get_table_names()
    )


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Bring the schema to the newest revision; returns (revision before, revision after)."""
    before = current(engine)
    with engine.begin() as conn:
        upgrade_on(conn)
    return before, head()


def upgrade_on(conn: Connection) -> None:
    """Migrate to the newest revision inside the caller's transaction (mrm.store.roles runs it as the
    owner role)."""
    from alembic import command

    if conn.dialect.name == "postgresql":  # two first tasks opening a new history at once: one migrates,
        # the other waits here and then finds the schema at head (DDL is transactional on PostgreSQL)
        conn.execute(text(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK})"))
    command.upgrade(_config(conn), "head")
