"""Athena query templates (``include/sql/<name>.sql``): one definition, its values bound as parameters,
rendered for Athena (pyathena's pyformat) or DuckDB (``$name``). The format is in docs/sources.md."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

from mrm.errors import ConfigError
from mrm.inventory.sources import IDENTIFIER

PARAMETERS = ("model_id", "dt", "day")  # the values a template may use


def sql_dir() -> Path:
    """MRM_SQL_DIR, or ``include/sql`` of this repository."""
    from mrm import settings

    return settings.sql_dir()


_TOKEN = re.compile(r"%\((?P<name>[^)]*)\)s|(?P<percent>%%)|(?P<lone>%)|\{\{\s*(?P<ident>[^}]*?)\s*\}\}")
_HEADER = re.compile(r"\A(?:[ \t]*(?:--[^\n]*)?(?:\n|\Z))+")


@dataclass(frozen=True)
class Template:
    """A query template: one definition, rendered for Athena (pyathena pyformat) or DuckDB (``$name``)."""

    name: str
    body: str  # the query without its leading comment lines
    parameters: tuple[str, ...]  # the value names it uses, in order of first use

    @classmethod
    def parse(cls, name: str, text: str) -> Template:
        body = _HEADER.sub("", text).strip().removesuffix(";").rstrip()
        where = f"query template {name}"
        if not re.match(r"(?is)^(select|with)\b", body):
            raise ConfigError(f"{where} must be one SELECT or WITH query (after its leading -- comments)")
        used: list[str] = []
        for m in _TOKEN.finditer(body):
            if m.group("lone"):
                raise ConfigError(
                    f"{where}: a lone % at offset {m.start()}; write a literal percent sign as %%"
                )
            if m.group("name") is not None and m.group("name") not in PARAMETERS:
                raise ConfigError(
                    f"{where} uses unknown parameter %({m.group('name')})s; known: "
                    + ", ".join(f"%({p})s" for p in PARAMETERS)
                )
            if m.group("ident") is not None and m.group("ident") != "table":
                raise ConfigError(
                    f"{where} uses unknown placeholder {{{{{m.group('ident')}}}}}; known: {{{{table}}}}"
                )
            if m.group("name") and m.group("name") not in used:
                used.append(m.group("name"))
        return cls(name, body, tuple(used))

    def values(self, params: dict[str, Any]) -> dict[str, Any]:
        """The values this template uses, by name (DuckDB rejects values a query does not use)."""
        return {name: params[name] for name in self.parameters}

    @property
    def uses_table(self) -> bool:
        return any(m.group("ident") for m in _TOKEN.finditer(self.body))

    def render(self, engine: Literal["athena", "duckdb"], table: str | None = None) -> str:
        """The query text for an engine: values stay placeholders (``%(name)s`` for pyathena, ``$name`` for
        DuckDB); ``{{table}}`` becomes ``table``, an identifier already checked (see :func:`quoted_table`)."""

        def one(m: re.Match) -> str:
            if m.group("name") is not None:
                return f"%({m.group('name')})s" if engine == "athena" else f"${m.group('name')}"
            if m.group("percent"):
                return "%%" if engine == "athena" else "%"
            if table is None:
                raise ConfigError(
                    f"query template {self.name} reads {{{{table}}}} but no table is configured: set table "
                    "in the model's Athena source or extra.table in its connection"
                )
            return table

        return _TOKEN.sub(one, self.body)


def load_template(name: str) -> Template:
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.sql", name):
        raise ConfigError(f"query template name {name!r} must be a file name like scoring_log.sql")
    path = sql_dir() / name
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            f"query template {name} cannot be read from {path} ({exc.strerror or exc}); "
            "add it under include/sql/ or set MRM_SQL_DIR"
        ) from None
    return Template.parse(name, text)


def quoted_table(database: str | None, table: str) -> str:
    """``"database"."table"`` after checking both parts are plain identifiers (ConfigError otherwise)."""
    parts = [p for p in (database, table) if p is not None]
    for part in parts:
        if not re.fullmatch(IDENTIFIER, part):
            raise ConfigError(
                f"{part!r} is not a valid Athena database/table name: lower-case letters, digits and _ only"
            )
    return ".".join(f'"{p}"' for p in parts)


def query_parameters(model_id: str, day: date) -> dict[str, Any]:
    """The values a template may use, for every engine: one definition."""
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"day must be a datetime.date, not {type(day).__name__}")
    if not isinstance(model_id, str):
        raise TypeError(f"model_id must be a str, not {type(model_id).__name__}")
    return {"model_id": model_id, "dt": day.isoformat(), "day": day}
