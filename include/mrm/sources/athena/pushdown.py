"""The Athena pushdown (``scoring_log.athena.aggregate: pushdown``): the day's counts computed by one query
(``include/sql/scoring_log_aggregate.sql``) over the rows of the model's own query template, and the
evidence sample by a second (the rows with the smallest seeded ``xxhash64`` of their event id), so that
what leaves Athena is the counts and the sample, not the day.

This module knows nothing of profiles or aggregates (the source room sits below the checks): it renders
and runs a :class:`Plan` made of names, floats and labels, which :mod:`mrm.checks.engine.counted` builds
from the reference profile and turns the result back into a day's aggregate.

The one place Athena (Trino) and DuckDB (the tests' engine, over the same Parquet files) spell things
differently is :data:`DUCKDB_MACROS` and :data:`DUCKDB_SPELLING`, with :func:`edges_sql`'s array literal.
"""

from __future__ import annotations

import base64
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from mrm.errors import ConfigError
from mrm.inventory.sources import IDENTIFIER

TEMPLATE = "scoring_log_aggregate.sql"
SECTIONS = ("numeric", "categorical", "ids", "times", "segment", "query", "sample")
MAX_QUERY_BYTES = 262_144  # Athena's limit on a query string
_MARGIN = 4_096  # for the values pyathena writes in (the model id, the date, the seed)
MAX_SEQUENCE = 10_000  # Trino's sequence(): the most edges one base64 literal may carry
PARAMETERS = ("model_id", "dt", "day", "seed")
CONTRACT_NAMES = ("event_id", "event_ts", "score", "decision")

# Functions Trino has and DuckDB lacks, defined on the DuckDB connection under Trino's names.
DUCKDB_MACROS = (
    "CREATE OR REPLACE MACRO is_nan(x) AS isnan(x)",
    "CREATE OR REPLACE MACRO to_utf8(x) AS x",
    "CREATE OR REPLACE MACRO xxhash64(x) AS hash(x)",
    # the number of edges <= x by binary search (steps 8192 .. 1: up to MAX_SEQUENCE edges), as Trino's
    "CREATE OR REPLACE MACRO width_bucket(x, e) AS CASE WHEN x IS NULL THEN NULL ELSE list_reduce("
    "[8192, 4096, 2048, 1024, 512, 256, 128, 64, 32, 16, 8, 4, 2, 1], "
    "lambda p, s: p + IF(p + s <= len(e) AND e[p + s] <= x, s, 0), 0) END",
)
# Spellings whose meaning differs: DuckDB's sha256 of text already returns hex.
DUCKDB_SPELLING = {"lower(to_hex(sha256(": "lower((sha256("}

_TOKEN = re.compile(r"%\((?P<name>[^)]*)\)s|(?P<percent>%%)|\{\{\s*(?P<ident>[a-z_]+)\s*\}\}")


@dataclass(frozen=True)
class NumericSpec:
    name: str
    edges: np.ndarray | None  # the reference's fine edges (None: no sketch, no bins)
    low: float | None
    high: float | None
    sums: bool = True  # the sum of every bin (else of the two open-ended bins only)


@dataclass(frozen=True)
class CategoricalSpec:
    name: str
    keep: tuple[str, ...]  # counted one by one whatever their rows (the reference's, the inventory's)
    limit: int  # and at most this many others with most rows; the rest together


@dataclass(frozen=True)
class SegmentSpec:
    segment: str  # the segment column
    column: str  # a column counted within each segment value
    numeric: bool
    edges: dict[str, np.ndarray] = field(default_factory=dict)  # reference segment value -> its edges
    other: np.ndarray | None = None  # the edges of the reference's "(other)" segment, if any
    keep: tuple[str, ...] = ()  # reference categories (categorical PSI within segments)
    named: tuple[str, ...] = ()  # the reference's segment values


@dataclass(frozen=True)
class Plan:
    numeric: list[NumericSpec]
    categorical: list[CategoricalSpec]
    segments: list[SegmentSpec]
    sample_rows: int
    seed: int
    cut: int  # characters of a category kept before its length and sha256 stand for the rest
    segment_cut: int  # the same for a segment value
    segment_limit: int  # segment values returned one by one besides the reference's


# -- literals ---------------------------------------------------------------------------------------------
def ident(name: str) -> str:
    if not (re.fullmatch(IDENTIFIER, name) or name in CONTRACT_NAMES):
        raise ConfigError(f"column {name!r} cannot be used in an Athena query: lower-case letters, digits, _")
    return f'"{name}"'


def string(value: str) -> str:
    """A SQL string literal (Trino and DuckDB: no backslash escapes; a quote is doubled)."""
    if not isinstance(value, str) or "\x00" in value:
        raise ConfigError(f"{value!r} cannot be a query literal")
    return "'" + value.replace("'", "''") + "'"


def double(value: float) -> str:
    """An exact DOUBLE literal in E notation (Python's shortest round-trip digits)."""
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{value!r} is not a finite number and cannot be a query literal")
    text = repr(v)
    return text if "e" in text else text + "E0"


def edges_sql(edges: np.ndarray, engine: Literal["athena", "duckdb"]) -> str:
    """An ARRAY(double) of the edges, bit-exact: for Athena their big-endian IEEE-754 bits as one base64
    literal (10.7 characters an edge), for DuckDB E-notation literals."""
    e = np.asarray(edges, dtype="float64")
    if not e.size:
        return "ARRAY[0E0]"
    if not np.all(np.isfinite(e)):
        raise ConfigError("reference edges must be finite to be sent to Athena")
    if engine == "duckdb":
        return "ARRAY[" + ", ".join(double(v) for v in e.tolist()) + "]"
    if e.size > MAX_SEQUENCE:
        raise ConfigError(f"{e.size} edges exceed what one Athena array literal carries ({MAX_SEQUENCE})")
    packed = base64.b64encode(e.astype(">f8").tobytes()).decode("ascii")
    return (
        f"transform(sequence(0, {e.size - 1}), i -> "
        f"from_ieee754_64(substr(from_base64('{packed}'), 8 * i + 1, 8)))"
    )


def kept_sql(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(string(v) for v in values)})" if values else "false"


# -- the template ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PushdownTemplate:
    sections: dict[str, str]

    @classmethod
    def parse(cls, text: str, name: str = TEMPLATE) -> PushdownTemplate:
        parts = re.split(r"(?m)^-- @([a-z_]+)[ \t]*\n", text)
        sections = {parts[i]: parts[i + 1].strip() for i in range(1, len(parts) - 1, 2)}
        missing = [s for s in SECTIONS if s not in sections]
        if missing:
            raise ConfigError(f"query template {name} lacks the section(s) -- @{', -- @'.join(missing)}")
        for body in sections.values():
            for m in _TOKEN.finditer(body):
                if m.group("name") is not None and m.group("name") not in PARAMETERS:
                    raise ConfigError(f"query template {name} uses unknown parameter %({m.group('name')})s")
        return cls(sections)

    def section(self, which: str, engine: str, **parts: str) -> str:
        """A section for an engine: values stay placeholders, ``{{part}}`` becomes its rendered text."""

        def one(m: re.Match) -> str:
            if m.group("name") is not None:
                return f"%({m.group('name')})s" if engine == "athena" else f"${m.group('name')}"
            if m.group("percent"):
                return "%%" if engine == "athena" else "%"
            return parts[m.group("ident")]

        text = _TOKEN.sub(one, self.sections[which])
        if engine == "duckdb":
            for trino, duck in DUCKDB_SPELLING.items():
                text = text.replace(trino, duck)
        return text

    def render(
        self, plan: Plan, day_sql: str, engine: Literal["athena", "duckdb"], max_bytes: int = MAX_QUERY_BYTES
    ) -> tuple[list[str], str]:
        """(the counts queries, the sample query) for ``day_sql``, the day's query already rendered. The
        counts are one query unless its text would pass ``max_bytes`` (Athena's limit, less a margin for
        the bound values): then the branches are split over as few queries as fit. Each branch reads only
        its own columns, so splitting scans no more bytes."""
        branches = [self.section("ids", engine), self.section("times", engine)]
        branches += [
            self.section("categorical", engine, name=string(s.name), column=ident(s.name),
                         cut=str(plan.cut), limit=str(int(s.limit) + len(s.keep)), kept=kept_sql("v", s.keep))
            for s in plan.categorical
        ]  # fmt: skip
        branches += [self._segment(s, plan, engine) for s in plan.segments]
        branches += [self._numeric(s, engine) for s in plan.numeric]
        room = max_bytes - _MARGIN - len(self.section("query", engine, day=day_sql, branches="").encode())
        chunks: list[list[str]] = [[]]
        for branch in (f"  UNION ALL\n{b}" for b in branches):
            size = len(branch.encode()) + 1
            if size > room:
                raise ConfigError(
                    f"one branch of the pushdown query is {size} bytes, more than an Athena query may hold "
                    f"({max_bytes}); set aggregate: stream in the model's Athena source"
                )
            if sum(len(b.encode()) + 1 for b in chunks[-1]) + size > room:
                chunks.append([])
            chunks[-1].append(branch)
        counts = [self.section("query", engine, day=day_sql, branches="\n".join(c)) for c in chunks]
        sample = self.section("sample", engine, day=day_sql, limit=str(int(plan.sample_rows)))
        return counts, sample

    def _numeric(self, s: NumericSpec, engine: str) -> str:
        has_edges = s.edges is not None
        return self.section(
            "numeric", engine, name=string(s.name), column=ident(s.name),
            bin="width_bucket(x, e)" if has_edges else "IF(x IS NULL, NULL, 0)",
            edges=edges_sql(s.edges if has_edges else np.array([]), engine),
            low=double(s.low) if s.low is not None else "x",  # x < x: never
            high=double(s.high) if s.high is not None else "x",
            sums="true" if s.sums else "false", last=str(s.edges.size if has_edges else 0),
        )  # fmt: skip

    def _segment(self, s: SegmentSpec, plan: Plan, engine: str) -> str:
        if s.numeric:
            x = f"CAST({ident(s.column)} AS double)"
            v, key, digest = "CAST(NULL AS varchar)", "CAST(NULL AS varchar)", "CAST(NULL AS varchar)"
            cases = " ".join(
                f"WHEN {string(value)} THEN width_bucket(x, {edges_sql(e, engine)})"
                for value, e in s.edges.items()
            )
            other = f"width_bucket(x, {edges_sql(s.other, engine)})" if s.other is not None else "0"
            bin_ = (
                f"IF(x IS NULL, NULL, CASE s {cases} ELSE {other} END)" if cases else "IF(x IS NULL, NULL, 0)"
            )
        else:
            x, v, bin_ = "CAST(NULL AS double)", f"CAST({ident(s.column)} AS varchar)", "CAST(NULL AS bigint)"
            key = f"IF({kept_sql('v', s.keep)}, v, NULL)"
            digest = f"IF(v IS NULL OR {kept_sql('v', s.keep)}, NULL, '*')"
        return self.section(
            "segment", engine, name=string(f"{s.segment}/{s.column}"), segment=ident(s.segment),
            cut=str(plan.segment_cut),
            segments=str(int(plan.segment_limit)), named=kept_sql("seg", s.named), segment_x=x,
            segment_v=v, segment_key=key, segment_digest=digest, segment_bin=bin_,
        )  # fmt: skip


def load_pushdown_template() -> PushdownTemplate:
    from mrm.sources.athena.template import sql_dir

    path = sql_dir() / TEMPLATE
    try:
        return PushdownTemplate.parse(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"query template {TEMPLATE} cannot be read from {path} ({exc.strerror or exc}); "
            "add it under include/sql/ or set MRM_SQL_DIR"
        ) from None


_ATHENA_EDGES = re.compile(
    r"transform\(sequence\(0, \d+\), i -> from_ieee754_64\(substr\(from_base64\('([A-Za-z0-9+/=]*)'\), "
    r"8 \* i \+ 1, 8\)\)\)"
)


def to_duckdb(sql: str) -> str:
    """A query as sent to Athena, in DuckDB's spelling (the tests play Athena's part on DuckDB): the base64
    edges as an array literal of the same doubles, and :data:`DUCKDB_SPELLING`."""
    decoded = lambda m: edges_sql(np.frombuffer(base64.b64decode(m[1]), dtype=">f8"), "duckdb")  # noqa: E731
    sql = _ATHENA_EDGES.sub(decoded, sql)
    for trino, duck in DUCKDB_SPELLING.items():
        sql = sql.replace(trino, duck)
    return sql


def duckdb_dialect(con) -> None:
    """Define on a DuckDB connection the Trino functions the template uses (the tests' engine)."""
    con.execute("SET TimeZone = 'UTC'")
    for macro in DUCKDB_MACROS:
        con.execute(macro)


# -- running it ---------------------------------------------------------------------------------------------
Execute = Callable[
    [str, dict[str, Any], str], tuple[Any, dict[str, Any]]
]  # (sql, values, label) -> rows, stats


@dataclass
class PushdownDay:
    """A day whose counts its engine computes: ``day_sql`` (the model's query, rendered for ``engine``) and
    its ``values``; ``execute`` runs one query and returns (Arrow table, statistics); ``normalise`` is
    applied to the sample (an Athena result's)."""

    engine: Literal["athena", "duckdb"]
    day_sql: str
    values: dict[str, Any]
    execute: Execute
    normalise: Callable | None = None
    max_bytes: int = MAX_QUERY_BYTES  # the longest query text (the counts are split to fit)
    queries: dict[str, dict[str, Any]] = field(default_factory=dict)  # statistics by query

    def _run(self, which: str, sql: str, plan: Plan):
        values = {**self.values, "seed": str(int(plan.seed))}
        used = re.findall(r"%\((\w+)\)s" if self.engine == "athena" else r"\$(\w+)", sql)
        table, stats = self.execute(sql, {k: values[k] for k in dict.fromkeys(used)}, which)
        self.queries[which] = {**stats, "rows_returned": table.num_rows}
        return table

    def sample(self, plan: Plan):
        """The day's evidence sample: the ``plan.sample_rows`` rows with the smallest seeded hash of their
        event id (all columns, normalised); its schema is the day's columns."""
        _, sql = load_pushdown_template().render(plan, self.day_sql, self.engine, self.max_bytes)
        table = self._run("sample", sql, plan)
        table = self.normalise(table) if self.normalise else table
        if "event_id" in table.column_names and table.num_rows:  # UNLOAD files come in no order
            table = table.sort_by([("event_id", "ascending")])
        return table

    def counts(self, plan: Plan):
        """The counts queries' result: one row per fact (see the template's header)."""
        import pyarrow as pa

        queries, _ = load_pushdown_template().render(plan, self.day_sql, self.engine, self.max_bytes)
        names = ["counts", *(f"counts_{i}" for i in range(2, len(queries) + 1))]
        tables = [self._run(name, sql, plan) for name, sql in zip(names, queries, strict=True)]
        return pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]

    def info(self) -> dict[str, Any]:
        """Per query its statistics, and the totals of bytes scanned and returned (what is known)."""
        total = {}
        for key in ("bytes_scanned", "bytes_returned"):
            known = [q[key] for q in self.queries.values() if q.get(key) is not None]
            total[key] = sum(known) if known else None
        return {"engine": self.engine, **total, "queries": self.queries}
