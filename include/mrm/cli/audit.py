"""``mrm export``, ``mrm evidence-pack``, ``mrm audit verify``, ``mrm purge`` and ``mrm db upgrade``: the
metrics history as the record auditors read, keep and verify."""

from __future__ import annotations

import sys
from pathlib import Path

from mrm.cli.args import iso_date


def add_parsers(sub) -> None:
    exp = sub.add_parser(
        "export", help="the history of a period as CSV / JSON / Parquet (a dataset if --to ends in /)"
    )
    exp.add_argument("--since", type=iso_date, metavar="DATE")
    exp.add_argument("--until", type=iso_date, metavar="DATE")
    exp.add_argument(
        "--to", required=True, metavar="URI", help="file, s3://bucket/key, or a folder/prefix ending in /"
    )
    exp.add_argument("--format", choices=["csv", "json", "parquet"])

    pack = sub.add_parser(
        "evidence-pack", help="runs, metrics, tickets, inventory versions and evidence files in a zip"
    )
    pack.add_argument("--model", required=True, metavar="ID")
    pack.add_argument("--since", type=iso_date, metavar="DATE")
    pack.add_argument("--until", type=iso_date, metavar="DATE")
    pack.add_argument("--out", required=True, metavar="FILE.zip")

    db = sub.add_parser("db", help="the metrics history's schema").add_subparsers(
        dest="action", required=True
    )
    db.add_parser("upgrade", help="apply the schema migrations (Alembic) to MRM_DB_URL")

    audit = sub.add_parser("audit", help="the tamper-evident history").add_subparsers(
        dest="action", required=True
    )
    audit.add_parser(
        "verify", help="walk the hash chain; exit 1 naming the first edited/deleted/inserted record"
    )
    purge = sub.add_parser(
        "purge", help="remove records older than the retention period (refuses younger ones)"
    )
    purge.add_argument("--before", required=True, type=iso_date, metavar="DATE")


def cmd_export(args) -> int:
    from mrm import wiring
    from mrm.evidence.export import export

    to = args.to
    if "://" not in to:  # a local path
        to = Path(to).resolve().as_uri() + ("/" if args.to.endswith("/") else "")
    print(export(wiring.get_store(), to, args.since, args.until, args.format))
    return 0


def cmd_evidence_pack(args) -> int:
    from mrm import wiring
    from mrm.evidence.pack import build

    data, manifest = build(wiring.get_store(), args.model, args.since, args.until)
    Path(args.out).write_bytes(data)
    chain_state = "intact" if manifest["chain"]["intact"] else "NOT intact (see manifest.json)"
    print(f"{args.out}: {len(manifest['files'])} files, {len(manifest['evidence_files'])} evidence files; "
          f"hash chain {chain_state}")  # fmt: skip
    return 0


def cmd_db_upgrade(args) -> int:
    from mrm import settings
    from mrm.store.history import HistoryStore, hide_password

    before, after = HistoryStore.upgrade(settings.db_url())
    safe = hide_password(settings.db_url())
    print(f"{safe}: schema revision {before or 'none'} -> {after}")
    return 0


def cmd_purge(args) -> int:
    from mrm import settings, wiring
    from mrm.store.retention import purge

    counts = purge(wiring.get_store(), args.before, wiring.cli_trigger(), settings.retention_days())
    print(f"purged records before {args.before}: " + ", ".join(f"{n} from {t}" for t, n in counts.items()))
    return 0


def cmd_audit_verify(args) -> int:
    from mrm import wiring
    from mrm.store import chain
    from mrm.store.reads import format_flags, rerun_flags

    store = wiring.get_store()
    problems, head, count = chain.verify(store.engine)
    for line in format_flags(rerun_flags(store.engine)):  # reruns that show a day better: not a failure
        print(line)
    for line in problems:
        print(f"mrm: {line}", file=sys.stderr)
    if problems:
        print(f"{store.safe_url}: {len(problems)} problem(s) in a chain of {count} records", file=sys.stderr)
        return 1
    print(f"{store.safe_url}: chain of {count} records intact; head {head}")
    return 0


COMMANDS = {
    ("export", None): cmd_export,
    ("evidence-pack", None): cmd_evidence_pack,
    ("audit", "verify"): cmd_audit_verify,
    ("purge", None): cmd_purge,
    ("db", "upgrade"): cmd_db_upgrade,
}
