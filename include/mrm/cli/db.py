"""``mrm db upgrade`` and ``mrm purge``: what an administrator of the metrics history runs, not the
workers (on PostgreSQL: a login that may create roles, and a member of the owner role)."""

from __future__ import annotations

import argparse
import os

from mrm.cli.args import inventory_arg, iso_date


def _role_name(text: str) -> str:
    """An argparse ``type``: a plain role identifier, or a usage error saying so."""
    from mrm.errors import ConfigError
    from mrm.store.roles import identifier

    try:
        return identifier(text)
    except ConfigError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_parsers(sub) -> None:
    from mrm.store.roles import DEFAULT_APP, DEFAULT_OWNER

    db = sub.add_parser("db", help="the metrics history's schema and roles").add_subparsers(
        dest="action", required=True
    )
    up = db.add_parser(
        "upgrade",
        help="apply the schema migrations to MRM_DB_URL; on PostgreSQL also create the owner and app roles "
        "and grant the app role (run as an administrator that may create roles)",
    )
    up.add_argument("--owner-role", type=_role_name, default=DEFAULT_OWNER, metavar="NAME",
                    help=f"the NOLOGIN role that owns the history (default {DEFAULT_OWNER})")  # fmt: skip
    up.add_argument("--app-role", type=_role_name, default=DEFAULT_APP, metavar="NAME",
                    help=f"the LOGIN role of the workers and the UI (default {DEFAULT_APP})")  # fmt: skip
    up.add_argument("--app-password-env", metavar="VAR",
                    help="the app role's password is read from this variable (never printed)")  # fmt: skip

    purge = sub.add_parser(
        "purge", help="remove records older than the retention period (refuses younger ones)"
    )
    purge.add_argument("--before", required=True, type=iso_date, metavar="DATE")
    purge.add_argument(
        "--break-glass",
        action="store_true",
        help="required on SQLite, where no database role can be kept from purging",
    )
    inventory_arg(purge)


def cmd_db_upgrade(args) -> int:
    from mrm import settings
    from mrm.errors import ConfigError
    from mrm.store.roles import Roles, upgrade

    password = None
    if args.app_password_env:
        password = os.environ.get(args.app_password_env)
        if not password:
            raise ConfigError(
                f"--app-password-env {args.app_password_env}: that environment variable is not set or empty"
            )
    roles = Roles(args.owner_role, args.app_role, password, args.app_password_env)
    for line in upgrade(settings.db_url(), roles):
        print(line)
    return 0


def cmd_purge(args) -> int:
    from mrm import settings, wiring
    from mrm.inventory import load_policy
    from mrm.store.retention import period, purge

    days = period(load_policy(settings.inventory_dir()).retention_days, settings.retention_days())
    store = wiring.get_store()
    counts = purge(store, args.before, wiring.cli_trigger(), days, break_glass=args.break_glass)
    print(f"purged records before {args.before} (retention {days} days): "
          + ", ".join(f"{n} from {t}" for t, n in counts.items()))  # fmt: skip
    return 0


COMMANDS = {
    ("db", "upgrade"): cmd_db_upgrade,
    ("purge", None): cmd_purge,
}
