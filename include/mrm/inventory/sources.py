"""The ``scoring_log`` settings of the sources that are not a plain Parquet URI: an Athena query and
SageMaker Model Monitor data capture (their readers live in :mod:`mrm.sources`; how they work is in
docs/sources.md). Pure pydantic: importing this module reads nothing and imports no driver."""

from __future__ import annotations

import itertools
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from mrm.inventory.base import RESERVED

_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_TOKEN = re.compile(r"(\.)?([A-Za-z_][A-Za-z0-9_\-]*)|\[(\d+|\*)\]")


IDENTIFIER = r"^[a-z_][a-z0-9_]{0,254}$"  # Athena/Glue database, table and column names
Identifier = Annotated[str, Field(pattern=IDENTIFIER)]


class AthenaSourceConfig(BaseModel):
    """Where a model's scoring log comes from when it is read through Athena."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    query: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*\.sql$")] = "scoring_log.sql"
    connection: Annotated[str, Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")] = "mrm_athena"
    database: Identifier | None = None
    table: Identifier | None = None
    workgroup: Annotated[str, Field(pattern=r"^[A-Za-z0-9._-]{1,128}$")] | None = None
    poll_seconds: Annotated[float, Field(gt=0, le=60)] = 1.0
    timeout_seconds: Annotated[float, Field(gt=0, le=24 * 3600)] = 1800.0
    unload: bool = True
    aggregate: Literal["stream", "pushdown"] = Field(
        "stream",
        description="stream: the day's rows are streamed to the worker and counted there; pushdown: Athena "
        "computes the day's counts in one query and returns them with a seeded sample "
        "(include/sql/scoring_log_aggregate.sql)",
    )
    partition_columns: list[Identifier] = Field(
        default_factory=lambda: ["dt"], description="columns the query returns for filtering only; dropped"
    )


# -- key paths --------------------------------------------------------------------------------------
def parse_path(path: str) -> tuple[str | int, ...]:
    """``predictions[0].score`` -> ("predictions", 0, "score"); ``[*]`` is "*" (at most one)."""
    tokens: list[str | int] = []
    pos = 0
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if not m or (m.group(2) is not None and (m.group(1) is not None) != (pos > 0)):
            raise ValueError(
                f"key path {path!r}: cannot read from {path[pos:]!r}; use keys and indexes such as "
                "predictions[0].score, instances[*].amount or [3]"
            )
        _, key, index = m.groups()
        tokens.append(key if key is not None else ("*" if index == "*" else int(index)))
        pos = m.end()
    if not tokens:
        raise ValueError("key path is empty")
    if tokens.count("*") > 1:
        raise ValueError(f"key path {path!r}: at most one [*] (the batch) per path")
    return tuple(tokens)


# -- the config -------------------------------------------------------------------------------------
class CaptureSourceConfig(BaseModel):
    """How to read one endpoint variant's capture files as a scoring log (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    uri: Annotated[str, Field(pattern=r"^(s3|file)://.+", description="capture prefix down to the variant")]
    input_format: Literal["csv", "json"]
    feature_order: list[str | None] | None = Field(
        None, description="csv input: feature names in column order; null skips a column"
    )
    json_fields: dict[str, str] | None = Field(None, description="json input: feature name -> key path")
    output_format: Literal["csv", "json"]
    score_column: Annotated[int, Field(ge=0)] = 0
    score_path: str | None = None
    decision_column: Annotated[int, Field(ge=0)] | None = None
    decision_path: str | None = None
    decision_thresholds: list[tuple[float, str]] | None = Field(
        None, description="ascending (threshold, decision): a score >= threshold gets that decision"
    )
    model_version: str | None = None
    model_version_path: str | None = None
    max_bad_records: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _consistent(self) -> CaptureSourceConfig:
        problems = [
            *self._input_problems(),
            *self._name_problems(),
            *self._output_problems(),
            *self._decision_problems(),
            *self._path_problems(),
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _input_problems(self) -> list[str]:
        if self.input_format == "csv":
            return [
                *(
                    ["csv input needs feature_order (the feature names in column order)"]
                    if not self.feature_order or not any(self.feature_order)
                    else []
                ),
                *(
                    ["json_fields applies to json input; csv input is named by feature_order"]
                    if self.json_fields is not None
                    else []
                ),
            ]
        return [
            *(["json input needs json_fields (feature name -> key path)"] if not self.json_fields else []),
            *(["feature_order applies to csv input; json input is read by json_fields"]
              if self.feature_order is not None else []),
        ]  # fmt: skip

    def _name_problems(self) -> list[str]:
        problems = []
        names = [n for n in (self.feature_order or []) if n] + list(self.json_fields or {})
        for name in names:
            if not re.match(_NAME, name):
                problems.append(f"feature name {name!r} is not an identifier")
            elif name in RESERVED:
                problems.append(f"{name!r} is a scoring-log column, not a feature")
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            problems.append(f"features named twice: {', '.join(dupes)}")
        return problems

    def _output_problems(self) -> list[str]:
        if self.output_format == "csv":
            wrong = [
                k
                for k in ("score_path", "decision_path", "model_version_path")
                if getattr(self, k) is not None
            ]
            return (
                [f"{', '.join(wrong)} apply to json output; csv output uses score_column etc."]
                if wrong
                else []
            )
        problems = (
            ["json output needs score_path, e.g. predictions[0].score"] if self.score_path is None else []
        )
        wrong = [k for k in ("score_column", "decision_column") if k in self.model_fields_set]
        if wrong:
            problems.append(f"{', '.join(wrong)} apply to csv output; json output uses score_path etc.")
        return problems

    def _decision_problems(self) -> list[str]:
        problems = []
        if self.decision_column is None and self.decision_path is None and not self.decision_thresholds:
            problems.append(
                "no way to get the decision: set decision_column / decision_path (the endpoint returns "
                "it) or decision_thresholds (derived from the score)"
            )
        if self.decision_thresholds:
            cuts = [t for t, _ in self.decision_thresholds]
            if any(b <= a for a, b in itertools.pairwise(cuts)):
                problems.append(f"decision_thresholds must ascend strictly: {cuts}")
        if self.model_version is not None and self.model_version_path is not None:
            problems.append("give model_version (a constant) or model_version_path, not both")
        return problems

    def _path_problems(self) -> list[str]:
        paths = {k: getattr(self, k) for k in ("score_path", "decision_path", "model_version_path")}
        paths.update({f"json_fields.{name}": path for name, path in (self.json_fields or {}).items()})
        problems = []
        for key, path in paths.items():
            if path is None:
                continue
            try:
                parse_path(path)
            except ValueError as exc:
                problems.append(f"{key}: {exc}")
        return problems

    @property
    def features(self) -> list[str]:
        return [n for n in self.feature_order if n] if self.input_format == "csv" else list(self.json_fields)
