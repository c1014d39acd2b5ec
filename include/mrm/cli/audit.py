"""``mrm export``, ``mrm evidence-pack``, ``mrm audit verify`` and ``mrm audit acts``: the metrics history
as the record auditors read, keep and verify (``mrm db upgrade`` and ``mrm purge``: :mod:`mrm.cli.db`)."""

from __future__ import annotations

import sys
from pathlib import Path

from mrm.cli.args import iso_date

ACT_TABLE = ["act_id", "acted_at", "person", "authenticated", "kind", "model_id", "ticket_key", "control",
             "logical_date", "until_date", "cause", "comment"]  # fmt: skip
# the table's columns; csv and json have every column of the view mrm_v_review_acts


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

    audit = sub.add_parser("audit", help="the tamper-evident history").add_subparsers(
        dest="action", required=True
    )
    verify = audit.add_parser(
        "verify", help="walk the hash chain; exit 1 naming the first edited/deleted/inserted record"
    )
    verify.add_argument(
        "--anchor",
        metavar="URI",
        help="also check every anchored head in URI (default: MRM_AUDIT_ANCHOR if set)",
    )
    anchor = audit.add_parser(
        "anchor", help="publish the signed chain head to the anchor store, written once"
    )
    anchor.add_argument(
        "--to",
        metavar="URI",
        help="s3://bucket/prefix/ or file:///folder/ (default MRM_AUDIT_ANCHOR, else $MRM_HOME/anchors/)",
    )
    acts = audit.add_parser(
        "acts",
        help="the desk's review acts (the view mrm_v_review_acts): who did what, when, how authenticated",
    )
    acts.add_argument("--person", metavar="P", help="acts of this person (a person id of the role map)")
    acts.add_argument("--model", metavar="ID", help="acts on this model (a portfolio attestation has none)")
    acts.add_argument("--since", type=iso_date, metavar="DATE", help="made on or after this UTC date")
    acts.add_argument("--until", type=iso_date, metavar="DATE", help="made on or before this UTC date")
    acts.add_argument("--format", choices=["table", "csv", "json"], default="table")


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
    from mrm.ticketing.desk import describe

    data, manifest = build(wiring.get_store(), args.model, args.since, args.until, describe=describe)
    Path(args.out).write_bytes(data)
    chain_state = "intact" if manifest["chain"]["intact"] else "NOT intact (see manifest.json)"
    print(f"{args.out}: {len(manifest['files'])} files, {len(manifest['evidence_files'])} evidence files, "
          f"{manifest['review_acts']} review acts; hash chain {chain_state}")  # fmt: skip
    return 0


def cmd_audit_verify(args) -> int:
    from mrm import settings, wiring
    from mrm.store.reruns import format_flags, rerun_flags
    from mrm.store.verify import examine

    store = wiring.get_store()
    uri = args.anchor or settings.audit_anchor()
    found = examine(store.engine)
    problems, head, count = found.problems, found.head, found.count
    legacy = f" ({found.legacy} written before the chain was keyed, unkeyed)" if found.legacy else ""
    if uri:
        problems += _print_anchors(store, uri)
    for line in format_flags(rerun_flags(store.engine)):  # reruns that show a day better: not a failure
        print(line)
    for line in problems:
        print(f"mrm: {line}", file=sys.stderr)
    if problems:
        print(f"{store.safe_url}: {len(problems)} problem(s) in a chain of {count} records", file=sys.stderr)
        return 1
    print(f"{store.safe_url}: chain of {count} records{legacy} intact; head {head}")
    return 0


def _print_anchors(store, uri: str) -> list[str]:
    """Check the history against the anchors at ``uri``; print the heads checked; return the problems."""
    from mrm.store.anchor.check import check

    checked = check(store, uri)
    heads = checked.anchors
    print(f"{checked.uri}: {len(heads)} anchored head(s) checked")
    shown = heads if len(heads) <= 20 else [*heads[:10], None, *heads[-10:]]
    for a in shown:
        if a is None:
            print(f"  ... {len(heads) - 20} more ...")
        else:
            print(f"  seq {a.seq}  {a.chain_hash[:16]}  {a.at}  {a.where}")
    if checked.unanchored and heads:
        first, last = checked.unanchored
        print(f"  chain entries {first}..{last} are newer than the newest anchor (run `mrm audit anchor`)")
    return checked.problems


def cmd_audit_anchor(args) -> int:
    from mrm import settings, wiring
    from mrm.store.anchor import publish

    store = wiring.get_store()
    done = publish(store, args.to or settings.audit_anchor_uri())
    if done is None:
        print(f"{store.safe_url}: nothing to anchor (the history holds no records yet)")
    elif not done.written:
        print(f"{store.safe_url}: chain head {done.seq} is already anchored ({done.where})")
    else:
        n = done.entries
        print(f"{store.safe_url}: anchored chain head {done.seq} ({done.chain_hash[:16]}) to {done.where} "
              f"({n} new entr{'y' if n == 1 else 'ies'})")  # fmt: skip
    return 0


def cmd_audit_acts(args) -> int:
    from mrm import wiring
    from mrm.cli.format import emit
    from mrm.store import review_views

    found = review_views.review_acts(
        wiring.get_store().engine, person=args.person, model_id=args.model, since=args.since, until=args.until
    )
    columns = ACT_TABLE if args.format == "table" else review_views.ACT_COLUMNS
    print(emit([_act_row(a, args.format) for a in found], columns, args.format))
    return 0


def _act_row(act: dict, fmt: str) -> dict:
    """How an act prints: acted_at to the second in UTC (json: ISO 8601), conditions one line but in json."""
    when = act["acted_at"]
    shown = when.isoformat() if fmt == "json" else f"{when:%Y-%m-%d %H:%M:%S} UTC"
    conditions = act["conditions"] if fmt == "json" else "; ".join(act["conditions"] or []) or None
    return {**act, "acted_at": shown, "conditions": conditions}


COMMANDS = {
    ("export", None): cmd_export,
    ("evidence-pack", None): cmd_evidence_pack,
    ("audit", "verify"): cmd_audit_verify,
    ("audit", "anchor"): cmd_audit_anchor,
    ("audit", "acts"): cmd_audit_acts,
}
