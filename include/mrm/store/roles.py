"""Least privilege on PostgreSQL: the history is owned by a role no worker logs in as.

``mrm db upgrade``, run by an administrator whose login may create roles (the PostgreSQL superuser or a
CREATEROLE login), in one transaction:

1. creates, if missing, the owner role (default ``mrm_owner``, NOLOGIN) and the app role (default
   ``mrm_app``, LOGIN; its password only if one is given, from an environment variable);
2. hands every mrm table, view, sequence and function to the owner role (``ALTER ... OWNER TO``), so a
   history created by another role is adopted;
3. runs the migrations as the owner (``SET LOCAL ROLE``), so whatever they create is the owner's;
4. grants the app role exactly what the workers, the scheduler and the api-server need: SELECT and
   INSERT on every mrm table, SELECT on the views and on the schema version, USAGE and SELECT on the
   sequences, UPDATE on ``mrm_tickets`` and ``mrm_outbox`` only (a ticket's state, an item's delivery
   state); nothing else (no DELETE, TRUNCATE, REFERENCES, TRIGGER) and no membership in the owner.

The app role does not own the tables, so it cannot ``ALTER TABLE ... DISABLE TRIGGER``, and the
triggers refuse UPDATE and DELETE on the chained tables for it; ``session_replication_role`` needs a
superuser. A purge is a login that is a member of the owner role (see :mod:`mrm.store.retention`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from mrm.errors import ConfigError, StoreError
from mrm.store import migrate
from mrm.store.history import HistoryStore, hide_password

DEFAULT_OWNER, DEFAULT_APP = "mrm_owner", "mrm_app"
STATEFUL = ("mrm_tickets", "mrm_outbox")  # the only tables whose rows change: the app may UPDATE them
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
_KINDS = {"r": "TABLE", "p": "TABLE", "v": "VIEW", "m": "MATERIALIZED VIEW", "S": "SEQUENCE"}
_OBJECTS = """
SELECT c.relname, c.relkind, pg_get_userbyid(c.relowner) AS owner,
       EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid
               AND d.deptype IN ('a', 'i')) AS linked
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relname LIKE 'mrm\\_%' AND c.relkind IN ('r','p','v','m','S')
ORDER BY c.relname
"""
_FUNCTIONS = """
SELECT p.oid::regprocedure::text, pg_get_userbyid(p.proowner)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema() AND p.proname LIKE 'mrm\\_%'
"""


def identifier(name: str) -> str:
    """A role name mrm may put in SQL: lower-case letters, digits and underscores (argparse type)."""
    if not _IDENTIFIER.match(name or ""):
        raise ConfigError(
            f"role name {name!r} is not a plain identifier: use lower-case letters, digits and underscores, "
            "starting with a letter or _ (at most 63)"
        )
    return name


@dataclass(frozen=True)
class Roles:
    owner: str = DEFAULT_OWNER
    app: str = DEFAULT_APP
    app_password: str | None = None  # set on the app role when given; never printed
    password_from: str | None = None  # where it came from (an environment variable's name), for the report

    def __post_init__(self):
        identifier(self.owner), identifier(self.app)
        if self.owner == self.app:
            raise ConfigError(f"the owner and the app role must differ (both {self.owner})")

    def __repr__(self) -> str:  # never the password
        return f"Roles(owner={self.owner!r}, app={self.app!r})"


def upgrade(url: str, roles: Roles = Roles()) -> list[str]:
    """Migrate the history at ``url``; on PostgreSQL also create the roles, hand the objects to the owner
    and grant the app role. Returns the lines to print."""
    safe = hide_password(url)
    if not url.startswith("postgresql"):
        before, after = HistoryStore.upgrade(url)
        return [
            f"{safe}: schema revision {before or 'none'} -> {after}",
            "SQLite has no roles: this history is protected by its keyed chain and the anchor "
            "(mrm audit verify --anchor), not by the database",
        ]
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            first, *rest = _run(conn, roles)
            return [f"{safe}: {first}", *rest]
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise StoreError(f"mrm db upgrade of {safe} failed: {reason}; nothing was changed") from None
    finally:
        engine.dispose()


def _run(conn: Connection, roles: Roles) -> list[str]:
    me = conn.execute(text("SELECT current_user")).scalar_one()
    if me in (roles.owner, roles.app):
        raise StoreError(
            f"mrm db upgrade must run as an administrator (the superuser or a CREATEROLE login), not as "
            f"{me}, one of the roles it manages; nothing was changed"
        )
    done = _ensure_roles(conn, me, roles)
    moved = _adopt(conn, roles.owner)
    before = migrate.current_on(conn)
    conn.execute(text(f'SET LOCAL ROLE "{roles.owner}"'))
    migrate.upgrade_on(conn)
    conn.execute(text("RESET ROLE"))
    after = migrate.current_on(conn)
    counts = _grant(conn, roles)
    return [
        f"schema revision {before or 'none'} -> {after} (migrated as {roles.owner})",
        "roles: " + "; ".join(done),
        f"ownership: {moved} object(s) handed to {roles.owner}" if moved
        else f"ownership: every mrm object is owned by {roles.owner}",
        f"{roles.app} may SELECT and INSERT on {counts['tables']} tables, SELECT {counts['views']} views, "
        f"use {counts['sequences']} sequences, UPDATE only {', '.join(STATEFUL)}; no DELETE, TRUNCATE, "
        f"REFERENCES, TRIGGER, no ALTER, not a member of {roles.owner}",
    ]  # fmt: skip


def _role(conn: Connection, name: str) -> dict | None:
    row = conn.execute(
        text("SELECT rolsuper, rolcanlogin, rolbypassrls FROM pg_roles WHERE rolname = :n"), {"n": name}
    ).mappings().first()  # fmt: skip
    return dict(row) if row else None


def _ensure_roles(conn: Connection, me: str, roles: Roles) -> list[str]:
    done = []
    for name, login in ((roles.owner, False), (roles.app, True)):
        if _role(conn, name) is None:
            conn.execute(text(f'CREATE ROLE "{name}" {"LOGIN" if login else "NOLOGIN"}'))
            done.append(f"{name} ({'LOGIN' if login else 'NOLOGIN'}) created")
        else:
            done.append(f"{name} exists")
    app = _role(conn, roles.app)
    owns = conn.execute(
        text(
            "SELECT current_database(), pg_has_role(:a, d.datdba, 'MEMBER') OR pg_has_role(:a, n.nspowner, "
            "'MEMBER') FROM pg_database d, pg_namespace n "
            "WHERE d.datname = current_database() AND n.nspname = current_schema()"
        ),
        {"a": roles.app},
    ).one()
    if owns[1]:  # the owner of a schema may DROP SCHEMA ... CASCADE whoever owns the tables in it
        raise StoreError(
            f"the app role {roles.app} owns the database {owns[0]} or its schema, so it could drop the "
            f"history; give them to the administrator first (ALTER DATABASE {owns[0]} OWNER TO <admin>; "
            "ALTER SCHEMA ... OWNER TO <admin>); nothing was changed"
        )
    if app["rolsuper"] or app["rolbypassrls"]:
        raise StoreError(
            f"the app role {roles.app} is a superuser or bypasses row security; give the workers a plain "
            "login role (ALTER ROLE ... NOSUPERUSER NOBYPASSRLS) or name another with --app-role"
        )
    if roles.app_password is not None:
        sql = conn.execute(
            text("SELECT format('ALTER ROLE %I PASSWORD %L', CAST(:r AS text), CAST(:p AS text))"),
            {"r": roles.app, "p": roles.app_password},
        ).scalar_one()  # server-side quoting; the statement is never shown
        conn.exec_driver_sql(sql.replace("%", "%%"))
        done.append(f"{roles.app}'s password set from ${roles.password_from or 'the given variable'}")
    if conn.execute(
        text("SELECT pg_has_role(:a, :o, 'MEMBER')"), {"a": roles.app, "o": roles.owner}
    ).scalar():
        conn.execute(text(f'REVOKE "{roles.owner}" FROM "{roles.app}"'))
        done.append(f"{roles.app} removed from {roles.owner}")
    pg16 = conn.execute(text("SELECT current_setting('server_version_num')::int >= 160000")).scalar()
    if not conn.execute(
        text(f"SELECT pg_has_role(:m, :o, '{'SET' if pg16 else 'MEMBER'}')"), {"m": me, "o": roles.owner}
    ).scalar():  # the migrations run after SET ROLE to the owner
        conn.execute(text(f'GRANT "{roles.owner}" TO "{me}"' + (" WITH SET TRUE" if pg16 else "")))
        done.append(f"{me} made a member of {roles.owner}")
    conn.execute(text(f'GRANT USAGE, CREATE ON SCHEMA "{_schema(conn)}" TO "{roles.owner}"'))
    conn.execute(text(f'GRANT USAGE ON SCHEMA "{_schema(conn)}" TO "{roles.app}"'))
    if not conn.execute(
        text("SELECT has_database_privilege(:a, current_database(), 'CONNECT')"), {"a": roles.app}
    ).scalar():  # a database that does not let PUBLIC connect (deploy/initdb)
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        conn.execute(text(f'GRANT CONNECT ON DATABASE "{database}" TO "{roles.app}"'))
    return done


def _schema(conn: Connection) -> str:
    return conn.execute(text("SELECT current_schema()")).scalar_one()


def _adopt(conn: Connection, owner: str) -> int:
    """ALTER ... OWNER TO the owner for every mrm object it does not own. A sequence that belongs to a
    table's column (serial, identity) follows its table, as its indexes do."""
    moved = 0
    for name, kind, current, linked in conn.execute(text(_OBJECTS)).all():
        if current != owner and not (kind == "S" and linked):
            conn.execute(text(f'ALTER {_KINDS[kind]} "{name}" OWNER TO "{owner}"'))
            moved += 1
    for signature, current in conn.execute(text(_FUNCTIONS)).all():
        if current != owner:
            conn.execute(text(f'ALTER FUNCTION {signature} OWNER TO "{owner}"'))
            moved += 1
    return moved


def _grant(conn: Connection, roles: Roles) -> dict[str, int]:
    app, counts = f'"{roles.app}"', {"tables": 0, "views": 0, "sequences": 0}
    for name, kind, _, _ in conn.execute(text(_OBJECTS)).all():
        what = f'{_KINDS[kind]} "{name}"' if kind == "S" else f'"{name}"'
        conn.execute(text(f"REVOKE ALL ON {what} FROM {app}"))
        conn.execute(text(f"REVOKE ALL ON {what} FROM PUBLIC"))
        if kind == "S":
            conn.execute(text(f"GRANT USAGE, SELECT ON {what} TO {app}"))
            counts["sequences"] += 1
        elif kind in ("v", "m"):
            conn.execute(text(f"GRANT SELECT ON {what} TO {app}"))
            counts["views"] += 1
        elif name == migrate.VERSION_TABLE:  # read to check the revision; written only by upgrades
            conn.execute(text(f"GRANT SELECT ON {what} TO {app}"))
        else:
            extra = ", UPDATE" if name in STATEFUL else ""
            conn.execute(text(f"GRANT SELECT, INSERT{extra} ON {what} TO {app}"))
            counts["tables"] += 1
    return counts
