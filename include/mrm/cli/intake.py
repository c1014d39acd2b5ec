"""``mrm intake new | rules``: AI/ML use-case intake. ``new`` reads an answers file, proposes a risk tier
with the policy's intake rule, and writes a ``proposed`` inventory entry that keeps every answer."""

from __future__ import annotations

from mrm.cli.args import inventory_arg
from mrm.errors import InventoryError

HEADER = """\
# Inventory entry for {model_id}, proposed by `mrm intake new` from {answers} on {date}.
# Status proposed: registered, not monitored. The tier is the intake rule's proposal (see intake:);
# the model risk team confirms or changes it (with tier_rationale), assigns the independent validator,
# and moves the entry to in_validation, then approved (approval evidence and a monitoring plan).
"""


def add_parsers(sub) -> None:
    intake = sub.add_parser("intake", help="AI/ML use-case intake").add_subparsers(
        dest="action", required=True
    )
    new = intake.add_parser("new", help="propose a risk tier from an answers file; write a proposed entry")
    new.add_argument("--model-id", required=True, metavar="ID")
    new.add_argument("--answers", required=True, metavar="FILE.yaml", help="the intake answers (YAML)")
    inventory_arg(new)
    rules = intake.add_parser("rules", help="the policy's tiering rule and flags, as a table")
    inventory_arg(rules)


def cmd_intake_new(args) -> int:
    from pathlib import Path

    from mrm import settings
    from mrm.inventory.intake import entry_from, propose
    from mrm.inventory.load import load_answers, load_policy

    folder = settings.inventory_dir()
    path = _new_path(folder, args.model_id)
    answers = load_answers(Path(args.answers))
    policy = load_policy(folder)
    proposal = propose(answers, policy)
    entry = entry_from(answers, proposal, args.model_id, validator=policy.model_risk_team)
    _write(path, entry, args.answers)
    print(f"{path}: proposed entry written; proposed tier {proposal.tier}")
    print("rationale:", *(f"  - {line}" for line in proposal.rationale), sep="\n")
    flags = [f"  - {f.flag}: {f.because}" for f in proposal.flags] or ["  (none)"]
    print("flags:", *flags, sep="\n")
    return 0


def _new_path(folder, model_id: str):
    import re

    if not re.fullmatch(r"[a-z][a-z0-9_]{1,62}", model_id):
        raise InventoryError(
            [f"model id {model_id!r} must be lower_snake_case (a-z, 0-9, _), 2 to 63 characters"]
        )
    if not folder.is_dir():
        raise InventoryError([f"{folder}: inventory folder not found (set MRM_INVENTORY or --inventory DIR)"])
    for existing in (folder / f"{model_id}.yaml", folder / f"{model_id}.yml"):
        if existing.exists():
            raise InventoryError(
                [f"{existing}: model '{model_id}' is already in the inventory; choose another --model-id"]
            )
    return folder / f"{model_id}.yaml"


def _write(path, entry: dict, answers: str) -> None:
    """Write the entry (never over a file), then load it as the inventory would; remove it if refused."""
    import yaml

    from mrm.inventory.load import load_entry, load_policy

    text = HEADER.format(model_id=entry["model_id"], answers=answers, date=entry["intake"]["date"])
    with path.open("x", encoding="utf-8") as out:
        out.write(text + yaml.safe_dump(entry, sort_keys=False, allow_unicode=True, width=100))
    try:
        load_entry(path, load_policy(path.parent))
    except InventoryError:
        path.unlink()
        raise


def cmd_intake_rules(args) -> int:
    from mrm import settings
    from mrm.cli.format import table
    from mrm.inventory.intake import describe
    from mrm.inventory.load import load_policy

    rules = load_policy(settings.inventory_dir()).intake
    rows = [{"tier": r.tier, "when": describe(r.when), "because": r.because} for r in rules.rules]
    rows.append({"tier": rules.default_tier, "when": "(no rule matches)", "because": rules.default_because})
    print("Tiering rule: every matching rule is a line of the rationale; the lowest tier wins.")
    print(table(rows, ["tier", "when", "because"]))
    flags = [{"flag": f.flag, "when": describe(f.when), "because": f.because} for f in rules.flags]
    print("\nFlags of heightened risk:")
    print(table(flags, ["flag", "when", "because"]) if flags else "(none)")
    return 0


COMMANDS = {("intake", "new"): cmd_intake_new, ("intake", "rules"): cmd_intake_rules}
