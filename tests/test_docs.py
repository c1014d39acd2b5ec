"""The documentation keeps up with the code: every `mrm` command and every MRM_* setting is in the
README, every inventory key is in docs/inventory.md, and the files the docs name exist."""

from __future__ import annotations

import argparse
import ast
import re
import typing

import pytest
from pydantic import BaseModel
from support import REPO

from mrm.cli import COMMANDS, parser
from mrm.inventory import ModelEntry, Policy

README = (REPO / "README.md").read_text()
INVENTORY_DOC = (REPO / "docs" / "inventory.md").read_text()
ARCHITECTURE = (REPO / "docs" / "ARCHITECTURE.md").read_text()
PACKAGE = REPO / "include" / "mrm"


# -- the mrm command ---------------------------------------------------------------------------------
def _subcommands(p: argparse.ArgumentParser) -> tuple[dict[str, argparse.ArgumentParser], bool]:
    """A parser's sub-commands by name, and whether one must be given."""
    for action in p._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices), action.required
    return {}, False


def cli_commands() -> list[tuple[str, str | None]]:
    """Every (command, sub-command or None) the parser accepts."""
    found = []
    for name, command in _subcommands(parser())[0].items():
        actions, required = _subcommands(command)
        found += [] if actions and required else [(name, None)]
        found += [(name, action) for action in actions]
    return found


def test_the_parser_has_the_commands_of_the_contract():
    assert {"inventory", "run", "tickets", "demo"} <= {name for name, _ in cli_commands()}
    assert ("tickets", None) in cli_commands() and ("tickets", "close") in cli_commands()
    assert ("inventory", None) not in cli_commands()  # `mrm inventory` alone is a usage error


def test_every_command_the_parser_accepts_has_a_handler_and_every_handler_a_command():
    assert sorted(cli_commands(), key=str) == sorted(COMMANDS, key=str)


@pytest.mark.parametrize("command", cli_commands(), ids=lambda c: " ".join(filter(None, c)))
def test_every_command_is_documented_in_the_readme(command):
    usage = " ".join(["mrm", *filter(None, command)])
    assert re.search(rf"^{re.escape(usage)}(?: |$)", README, re.M), f"`{usage}` has no usage line in README"


# -- settings ----------------------------------------------------------------------------------------
_READ = re.compile(
    r"""(?:os\.environ\.get|os\.getenv)\(\s*["'](MRM_[A-Z0-9_]+)["']"""
    r"""|os\.environ\[\s*["'](MRM_[A-Z0-9_]+)["']\s*\](?!\s*=[^=])"""
)


def settings_read() -> list[str]:
    """Every MRM_* variable include/mrm reads from the environment."""
    names = set()
    for path in PACKAGE.rglob("*.py"):
        names |= {a or b for a, b in _READ.findall(path.read_text())}
    return sorted(names)


def test_the_settings_found_include_the_basic_ones():
    assert {"MRM_HOME", "MRM_DB_URL", "MRM_INVENTORY", "MRM_EVIDENCE"} <= set(settings_read())


@pytest.mark.parametrize("name", settings_read())
def test_every_setting_is_in_the_readmes_settings_table(name):
    assert re.search(rf"^\| `{name}` \|", README, re.M), f"{name} is not in the README's table of settings"


# -- the inventory reference -------------------------------------------------------------------------
def _models_in(annotation: typing.Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


def inventory_models() -> dict[type[BaseModel], str]:
    """Every model reachable from a model file and from _policy.yaml, with the first key path to it."""
    found: dict[type[BaseModel], str] = {}

    def walk(model: type[BaseModel], path: str) -> None:
        if model in found:
            return
        found[model] = path
        for name, field in model.model_fields.items():
            for inner in _models_in(field.annotation):
                walk(inner, f"{path}.{name}".lstrip("."))

    walk(ModelEntry, "")
    walk(Policy, "_policy.yaml")
    return found


def _doc_tables(text: str) -> list[set[str]]:
    """The keys of each table in the document (rows starting with | `key` |)."""
    tables: list[set[str]] = [set()]
    for line in text.splitlines():
        key = re.match(r"^\| `([^`]+)` \|", line)
        if key:
            tables[-1].add(key.group(1))
        elif tables[-1]:
            tables.append(set())
    return tables


def test_the_walk_reaches_the_nested_configs():
    names = {m.__name__ for m in inventory_models()}
    assert {"Monitoring", "Feature", "AthenaSourceConfig", "CaptureSourceConfig", "Retry"} <= names


@pytest.mark.parametrize("model", inventory_models(), ids=lambda m: m.__name__)
def test_every_inventory_key_is_in_a_table_of_docs_inventory_md(model):
    fields = set(model.model_fields)
    best = max(_doc_tables(INVENTORY_DOC), key=lambda keys: len(keys & fields))
    missing = sorted(fields - best)
    where = inventory_models()[model] or "a model file"
    assert not missing, f"{model.__name__} ({where}): {', '.join(missing)} missing in docs/inventory.md"


def _message_strings(tree: ast.Module) -> list[str]:
    """The string literals of a module that are not docstrings."""
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
    ]


def test_the_documents_that_messages_point_to_exist():
    named = {
        doc
        for path in PACKAGE.rglob("*.py")
        for text in _message_strings(ast.parse(path.read_text()))
        for doc in re.findall(r"\bdocs/[\w/.-]+\.md\b", text)
    }
    assert "docs/inventory.md" in named  # the unknown-key message of the inventory
    assert [doc for doc in sorted(named) if not (REPO / doc).is_file()] == []


# -- ARCHITECTURE.md ---------------------------------------------------------------------------------
ROOTS = ("include/", "dags/", "plugins/", "tests/", "docs/")
_INLINE = re.compile(r"(?<![\w/.-])(?:include|dags|plugins|tests|docs)/[\w./*-]*")
_TREE_ITEM = re.compile(r"^(?P<indent> *)(?P<name>[\w.*-]+(?:/[\w.*-]+)*(?:/|\.\w+))(?:\s|$)")


def _tree_paths(text: str) -> set[str]:
    """Paths of the file trees in the fenced blocks: an indented name is inside the folder above it."""
    paths, stack, fenced = set(), [], False
    for line in text.splitlines():
        if line.startswith("```"):
            fenced, stack = not fenced, []
            continue
        m = _TREE_ITEM.match(line) if fenced else None
        if m is None:
            stack = stack if line.startswith(" ") else []
            continue
        indent, name = len(m["indent"]), m["name"]
        stack = [(i, p) for i, p in stack if i < indent]
        path = (stack[-1][1] if stack else "") + name
        if path.startswith(ROOTS):
            paths.add(path)
            stack += [(indent, path)] if path.endswith("/") else []
    return paths


def architecture_paths() -> set[str]:
    inline = {p.rstrip(".") for p in _INLINE.findall(ARCHITECTURE)}
    return {p for p in inline | _tree_paths(ARCHITECTURE) if p not in ROOTS}


def _exists(path: str) -> bool:
    return any(REPO.glob(path.rstrip("/"))) if "*" in path else (REPO / path).exists()


def test_the_path_reader_follows_the_indented_trees():
    tree = "```\ninclude/mrm/\n  store/        the history\n    chain.py    the hash chain\n  cli/\n```"
    assert _tree_paths(tree) == {"include/mrm/", "include/mrm/store/", "include/mrm/store/chain.py",
                                 "include/mrm/cli/"}  # fmt: skip


def test_every_path_architecture_md_names_exists():
    assert len(architecture_paths()) > 10
    assert sorted(p for p in architecture_paths() if not _exists(p)) == []
