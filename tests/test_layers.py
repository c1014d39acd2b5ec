"""The package's shape (docs/ARCHITECTURE.md, "Rooms in layers"): each room (a sub-package or top-level
module of mrm) imports only rooms of a lower layer, even inside functions; no module imports itself
back through others; no module passes 400 lines. Imports are read with ``ast``; nothing is imported."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from support import REPO

PACKAGE = REPO / "include" / "mrm"
MAX_LINES = 400
LAYERS = [  # low to high, as in docs/ARCHITECTURE.md
    {"errors", "metrics"},
    {"core"},
    {"settings"},
    {"inventory"},
    {"controls"},
    {"store"},
    {"airflow"},
    {"evidence"},
    {"sources", "checks"},
    {"notify", "ticketing"},
    {"wiring", "inputs"},
    {"pipeline", "governance", "outcomes"},
    {"ui", "demo"},
    {"cli"},
]
WITHIN_LAYER = {("checks", "sources"), ("ticketing", "notify"), ("inputs", "wiring"),
                ("governance", "pipeline"), ("outcomes", "pipeline")}  # fmt: skip
# (importer, imported): allowed one way only


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> set[str]:
    """mrm modules this file imports anywhere (module level or inside functions), TYPE_CHECKING aside."""
    name, found = module_name(path), set()

    def visit(body):
        for node in body:
            if isinstance(node, ast.If) and getattr(node.test, "id", getattr(node.test, "attr", "")) == (
                "TYPE_CHECKING"
            ):
                continue
            if isinstance(node, ast.Import):
                found.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    pkg = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                    base = ".".join(pkg[: len(pkg) - node.level + 1] + ([base] if base else []))
                found.update([base, *(f"{base}.{a.name}" for a in node.names)])
            for field in ("body", "orelse", "finalbody", "handlers"):
                if isinstance(getattr(node, field, None), list):
                    visit(getattr(node, field))

    visit(ast.parse(path.read_text(encoding="utf-8")).body)
    return {m for m in found if m == "mrm" or m.startswith("mrm.")}


def room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else None


def layer_of(name: str) -> int:
    return next(i for i, rooms in enumerate(LAYERS) if name in rooms)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}
ROOMS = sorted({room(m) for m in MODULES if room(m)})


def test_every_room_has_a_layer():
    assert [r for r in ROOMS if not any(r in layer for layer in LAYERS)] == []


@pytest.mark.parametrize("name", ROOMS)
def test_a_room_imports_only_rooms_below_it(name):
    upward = set()
    for module, path in MODULES.items():
        if room(module) != name:
            continue
        for target in imported(path):
            other = room(target)
            if other is None or other == name or other not in ROOMS:
                continue
            same = layer_of(other) == layer_of(name)
            if layer_of(other) > layer_of(name) or (same and (name, other) not in WITHIN_LAYER):
                upward.add(f"{module} -> {target}")
    assert sorted(upward) == []


def test_no_module_is_over_the_size_limit():
    big = {
        str(p.relative_to(PACKAGE)): n
        for p in MODULES.values()
        if "migrations" not in p.parts
        and p.name != "__init__.py"
        and (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert big == {}


def test_the_reader_sees_imports_inside_functions_and_not_type_checking_ones():
    sample = PACKAGE / "wiring.py"  # imports mrm.store inside a function, mrm.inventory under TYPE_CHECKING
    found = imported(sample)
    assert "mrm.store" in found and "mrm.inventory.Inventory" not in found
