"""``mrm inventory validate | new | list | show`` and ``mrm baseline suggest``: the model inventory."""

from __future__ import annotations

import sys

from mrm.cli.args import inventory_arg
from mrm.cli.format import emit

INVENTORY_COLUMNS = [
    "model_id", "name", "version", "status", "risk_tier", "owner", "validator", "approved_on",
    "validation_due", "monitored",
]  # fmt: skip


def add_parsers(sub) -> None:
    inv = sub.add_parser("inventory", help="the model inventory").add_subparsers(dest="action", required=True)
    validate = inv.add_parser("validate", help="validate every inventory file; exit 1 listing each problem")
    inventory_arg(validate)
    new = inv.add_parser("new", help="scaffold a proposed entry with every field explained")
    new.add_argument("--model-id", required=True, metavar="ID")
    inventory_arg(new)
    lst = inv.add_parser("list", help="every model in the inventory with its status")
    lst.add_argument("--status", choices=["proposed", "in_validation", "approved", "suspended", "retired"])
    lst.add_argument("--tier", type=int, choices=[1, 2, 3])
    lst.add_argument("--format", choices=["table", "csv", "json"], default="table")
    inventory_arg(lst)
    show = inv.add_parser("show", help="one entry as validated (tier defaults merged)")
    show.add_argument("model_id", metavar="ID")
    inventory_arg(show)

    base = sub.add_parser("baseline", help="the reference window").add_subparsers(
        dest="action", required=True
    )
    sug = base.add_parser(
        "suggest", help="propose control thresholds from the reference window (prints YAML)"
    )
    sug.add_argument("--model", required=True, metavar="ID")
    inventory_arg(sug)


def cmd_inventory_validate(args) -> int:
    from mrm import settings
    from mrm.inventory import inventory_files, load_inventory

    folder = settings.inventory_dir()
    inventory, problems = load_inventory(folder, strict=False)
    for line in problems:
        print(line, file=sys.stderr)
    print(
        f"{folder}: {len(inventory_files(folder))} file(s), {len(inventory.entries)} valid, "
        f"{len(inventory.monitored())} approved for monitoring, {len(problems)} problem(s)"
    )
    return 1 if problems else 0


def cmd_inventory_new(args) -> int:
    import re

    from mrm import settings
    from mrm.inventory.scaffold import scaffold

    if not re.fullmatch(r"[a-z][a-z0-9_]{1,62}", args.model_id):
        print(
            f"mrm: error: model id {args.model_id!r} must be lower_snake_case (a-z, 0-9, _)", file=sys.stderr
        )
        return 1
    path = settings.inventory_dir() / f"{args.model_id}.yaml"
    if path.exists():
        print(f"mrm: error: {path} already exists; edit it instead", file=sys.stderr)
        return 1
    path.write_text(scaffold(args.model_id))
    print(f"{path}: proposed entry written; fill in the TODOs, then run `mrm inventory validate`")
    return 0


def cmd_inventory_list(args) -> int:
    from mrm import wiring

    rows = []
    for e in sorted(wiring.get_inventory().entries.values(), key=lambda e: (e.risk_tier, e.model_id)):
        if (args.status and e.status != args.status) or (args.tier and e.risk_tier != args.tier):
            continue
        rows.append({
            "model_id": e.model_id, "name": e.name, "version": e.version, "status": e.status,
            "risk_tier": e.risk_tier, "owner": str(e.owner), "validator": str(e.validator),
            "approved_on": e.approval.date if e.approval else None, "validation_due": e.validation_due,
            "monitored": e.monitored,
        })  # fmt: skip
    print(emit(rows, INVENTORY_COLUMNS, args.format))
    return 0


def cmd_inventory_show(args) -> int:
    import yaml

    from mrm import wiring

    entry = wiring.get_inventory().get(args.model_id)
    doc = entry.model_dump(mode="json", exclude_none=True)
    doc["derived"] = {
        "monitored": entry.monitored,
        "validation_due": str(entry.validation_due) if entry.validation_due else None,
        "inventory_hash": entry.fingerprint(),
    }
    print(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True).rstrip())
    return 0


def cmd_baseline_suggest(args) -> int:
    from mrm import inputs, wiring
    from mrm.checks.baseline import suggest

    entry = wiring.get_inventory().get(args.model)
    frame, _ = inputs.reference(entry)
    print(suggest(frame, entry))
    return 0


COMMANDS = {
    ("inventory", "validate"): cmd_inventory_validate,
    ("inventory", "new"): cmd_inventory_new,
    ("inventory", "list"): cmd_inventory_list,
    ("inventory", "show"): cmd_inventory_show,
    ("baseline", "suggest"): cmd_baseline_suggest,
}
