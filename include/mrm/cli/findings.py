"""``mrm findings [add | update | close | import]``: the validation findings register from the command
line. Each act goes through :mod:`mrm.ticketing.register` (the rules: :mod:`mrm.ticketing.finding_rules`),
recorded as the OS user (the real uid's name) marked ``cli: not authenticated by Airflow``; ``--by NAME``
is kept only as "on behalf of NAME". The OS user acts with the roles the role map gives that name: the
entry's ``validator`` is an e-mail address, so from the CLI a validator acts as a member of
``roles.model_risk_team`` (and a remediating owner as one of ``roles.models.<id>.owners``).
"""

from __future__ import annotations

import sys
from pathlib import Path

from mrm.cli.args import inventory_arg, iso_date, who
from mrm.cli.format import emit

STATUSES = ("open", "remediation_submitted", "verified_closed")  # mrm.store.schema.FINDING_STATUSES
SEVERITIES = ("high", "medium", "low")  # mrm.store.schema.SEVERITIES
FINDING_COLUMNS = ["finding_id", "model_id", "severity", "status", "due_date", "owner", "description",
                   "plan", "evidence", "added_at", "person", "authenticated", "acted_at"]  # fmt: skip


def _by(p) -> None:
    p.add_argument("--by", default=None, metavar="NAME", help="on whose behalf (kept after the OS user)")
    inventory_arg(p)


def add_parsers(sub) -> None:
    fin = sub.add_parser("findings", help="the validation findings register")
    fin.add_argument("--model", metavar="ID")
    fin.add_argument("--status", choices=[*STATUSES, "all"], default="all")
    fin.add_argument("--format", choices=["table", "json", "csv"], default="table")
    fin_sub = fin.add_subparsers(dest="action")
    add = fin_sub.add_parser("add", help="record a validation finding (the validator or the team)")
    add.add_argument("--model", dest="model_id", required=True, metavar="ID")
    add.add_argument("--id", dest="finding_id", required=True, metavar="VAL-YYYY-NNN")
    add.add_argument("--severity", required=True, choices=SEVERITIES)
    add.add_argument("--due", required=True, type=iso_date, metavar="YYYY-MM-DD")
    add.add_argument("--description", required=True, metavar="TEXT")
    add.add_argument("--owner", required=True, metavar="EMAIL", help="who remediates")
    add.add_argument("--plan", metavar="TEXT", help="the remediation plan")
    add.add_argument("--evidence", nargs="+", default=[], metavar="URI", help="evidence links")
    _by(add)
    upd = fin_sub.add_parser("update", help="change a finding's plan, due date, evidence or status")
    upd.add_argument("finding_id", metavar="ID")
    upd.add_argument("--plan", metavar="TEXT")
    upd.add_argument("--due", type=iso_date, metavar="YYYY-MM-DD")
    upd.add_argument("--status", choices=["remediation_submitted", "open"])
    upd.add_argument("--evidence", action="append", default=[], metavar="URI", help="a link (repeatable)")
    upd.add_argument("--comment", metavar="TEXT", help="why (kept with the event)")
    _by(upd)
    close = fin_sub.add_parser("close", help="verify a finding's remediation and close it (validator)")
    close.add_argument("finding_id", metavar="ID")
    close.add_argument("--reason", required=True, help="what was verified (kept in the history)")
    _by(close)
    imp = fin_sub.add_parser("import", help="record the findings of a CSV or YAML file (all or none)")
    imp.add_argument("file", metavar="FILE", help="FILE.csv or FILE.yaml")
    _by(imp)


def _context(args):
    from mrm import wiring
    from mrm.ticketing.desk import Actor
    from mrm.ticketing.review import CLI

    return wiring.get_store(), wiring.get_inventory(), Actor(wiring.os_user(), CLI, who(args.by))


def _show(finding: dict, verb: str) -> int:
    print(f"{finding['finding_id']} {verb}: {finding['severity']} finding of {finding['model_id']}, "
          f"{finding['status']}, due {finding['due_date']}, owner {finding['owner']}")  # fmt: skip
    return 0


def cmd_findings(args) -> int:
    from mrm import wiring
    from mrm.store import findings as store_findings

    status = None if args.status == "all" else args.status
    with wiring.get_store().engine.connect() as conn:
        rows = store_findings.findings(conn, model_id=args.model, status=status)
    if args.format != "json":
        rows = [{**r, "evidence": " ".join(r["evidence"] or [])} for r in rows]
    print(emit(rows, FINDING_COLUMNS, args.format))
    return 0


def cmd_add(args) -> int:
    from mrm.ticketing import register

    store, inventory, actor = _context(args)
    fields = {"severity": args.severity, "description": args.description, "owner": args.owner,
              "plan": args.plan, "due_date": args.due, "evidence": args.evidence}  # fmt: skip
    return _show(register.add(store, inventory, actor, args.finding_id, args.model_id, fields), "added")


def cmd_update(args) -> int:
    from mrm.ticketing import register

    store, inventory, actor = _context(args)
    changes = {"plan": args.plan, "due_date": args.due, "status": args.status, "evidence": args.evidence}
    found = register.update(store, inventory, actor, args.finding_id, changes, args.comment)
    return _show(found, "updated")


def cmd_close(args) -> int:
    from mrm.ticketing import register

    store, inventory, actor = _context(args)
    return _show(register.close(store, inventory, actor, args.finding_id, args.reason), "verified closed")


def cmd_import(args) -> int:
    from mrm.errors import FindingsImportError
    from mrm.ticketing import register

    store, inventory, actor = _context(args)
    try:
        recorded = register.import_file(store, inventory, actor, Path(args.file))
    except FindingsImportError as exc:
        for line in exc.lines():
            print(f"mrm: {line}", file=sys.stderr)
        return 1
    ids = ", ".join(f["finding_id"] for f in recorded)
    print(f"{len(recorded)} finding(s) recorded from {args.file}: {ids}")
    return 0


COMMANDS = {
    ("findings", None): cmd_findings,
    ("findings", "add"): cmd_add,
    ("findings", "update"): cmd_update,
    ("findings", "close"): cmd_close,
    ("findings", "import"): cmd_import,
}
