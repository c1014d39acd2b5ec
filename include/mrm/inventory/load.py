"""Reading an inventory folder: one YAML file per model plus ``_policy.yaml``, one message per problem;
and an intake's answers file."""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from mrm.errors import InventoryError
from mrm.inventory.entry import ModelEntry
from mrm.inventory.intake import IntakeAnswers
from mrm.inventory.policy import Policy
from mrm.inventory.roles import check_roles


class Inventory:
    """All valid entries of an inventory folder, keyed by model id."""

    def __init__(
        self,
        entries: dict[str, ModelEntry],
        folder: Path,
        policy: Policy | None = None,
        problems: list[str] | None = None,
    ):
        self.entries = entries
        self.folder = folder
        self.policy = policy or Policy()
        self.problems = problems or []  # of the files that were skipped (load_inventory(strict=False))

    def get(self, model_id: str) -> ModelEntry:
        try:
            return self.entries[model_id]
        except KeyError:
            broken = [p for p in self.problems if Path(p.split(": ", 1)[0]).stem == model_id]
            if broken:
                more = f" (and {len(broken) - 1} more problem(s))" if len(broken) > 1 else ""
                message = (
                    f"model '{model_id}' has an invalid inventory entry: {broken[0]}{more}; fix the file "
                    "(`mrm inventory validate` lists every problem), then rerun"
                )
                raise InventoryError([message]) from None
            known = ", ".join(sorted(self.entries)) or "none"
            raise InventoryError(
                [f"model '{model_id}' is not in the inventory at {self.folder} (models: {known})"]
            ) from None

    def monitored(self) -> list[ModelEntry]:
        return [e for e in sorted(self.entries.values(), key=lambda e: e.model_id) if e.monitored]


# keys people put in the wrong place, and where they go
BELONGS_IN = {"flavor": "_policy.yaml's notifications.channels.jira (flavor: cloud or datacenter)"}


def _describe(err: ValidationError, path: Path) -> list[str]:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] == "extra_forbidden" and e["loc"] and e["loc"][-1] in BELONGS_IN:
            msg = f"not read here: {e['loc'][-1]} goes in {BELONGS_IN[e['loc'][-1]]}"
        elif e["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see docs/inventory.md for allowed keys)"
        elif e["type"] == "literal_error":
            msg = f"{msg}, got {e.get('input')!r}"
        lines.append(f"{path}: {loc}: {msg}")
    return lines


_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's safe loader when available: ~10x faster


def _read_yaml(path: Path):
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise InventoryError([f"{path}: invalid YAML at {where}{exc.problem or exc.context}"]) from None
    except UnicodeDecodeError as exc:
        raise InventoryError([f"{path}: not UTF-8 text (byte {exc.start}); save the file as UTF-8"]) from None
    except (OSError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InventoryError([f"{path}: cannot read YAML: {first}"]) from None


POLICY_FILE = "_policy.yaml"


def load_policy(folder: Path) -> Policy:
    path = folder / POLICY_FILE
    if not path.exists():
        return Policy()
    raw = _read_yaml(path)
    try:
        return Policy.model_validate(raw or {})
    except ValidationError as exc:
        raise InventoryError(_describe(exc, path)) from None


def load_entry(path: Path, policy: Policy | None = None) -> ModelEntry:
    """Parse and validate one inventory file; raise InventoryError with one line per problem."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise InventoryError(
            [f"{path}: expected a mapping of keys (model_id, name, ...), got {type(raw).__name__}"]
        )
    try:
        entry = ModelEntry.model_validate((policy or Policy()).apply(raw))
    except ValidationError as exc:
        raise InventoryError(_describe(exc, path)) from None
    if path.stem != entry.model_id:
        raise InventoryError(
            [f"{path}: model_id '{entry.model_id}' must match the file name '{path.stem}.yaml'"]
        )
    return entry


def load_answers(path: Path) -> IntakeAnswers:
    """Parse and validate an intake answers file (``mrm intake new --answers``); one line per problem."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise InventoryError(
            [f"{path}: expected a mapping of answers (name, purpose, ...), got {type(raw).__name__}"]
        )
    try:
        return IntakeAnswers.model_validate(raw)
    except ValidationError as exc:
        raise InventoryError(_describe(exc, path)) from None


def inventory_files(folder: Path) -> list[Path]:
    """Model files: every *.yaml / *.yml except those starting with "_" (e.g. _policy.yaml)."""
    return sorted(p for p in [*folder.glob("*.yaml"), *folder.glob("*.yml")] if not p.name.startswith("_"))


def load_inventory(folder: Path, *, strict: bool = True) -> tuple[Inventory, list[str]]:
    """Load every file. ``strict``: raise on any problem; otherwise skip broken files and return them."""
    if not folder.is_dir():
        raise InventoryError([f"{folder}: inventory folder not found (set MRM_INVENTORY or --inventory DIR)"])
    entries: dict[str, ModelEntry] = {}
    problems: list[str] = []
    try:
        policy = load_policy(folder)
    except InventoryError as exc:
        problems.extend(exc.lines())
        policy = Policy()
    for path in inventory_files(folder):
        try:
            entry = load_entry(path, policy)
        except InventoryError as exc:
            problems.extend(exc.lines())
            continue
        if entry.model_id in entries:
            problems.append(f"{path}: model_id '{entry.model_id}' is already defined in another file")
            continue
        entries[entry.model_id] = entry
    people = {m: (e.owner, e.developer) for m, e in entries.items()}
    known = set(entries) | {p.stem for p in inventory_files(folder)}
    if policy.roles is not None:
        problems += check_roles(policy.roles, people, known, str(folder / POLICY_FILE))
    if strict and problems:
        raise InventoryError(problems)
    return Inventory(entries, folder, policy, problems), problems
