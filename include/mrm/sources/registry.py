"""The scoring-log sources by kind, and :func:`source_for`, the one way the pipeline, the reference profile
and governance get a model's source.

The kind is ``parquet`` for a URI (``scoring_log: s3://...``), otherwise the one key of the
``scoring_log`` mapping (``{athena: {...}}``, ``{sagemaker_capture: {...}}``). A factory is called with
the entry and what the data is called in messages; implementations are imported only when used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from mrm.errors import ConfigError

if TYPE_CHECKING:
    from mrm.inventory import ModelEntry
    from mrm.sources.base import ScoringLogSource, SourceFactory


def _lazy(module: str, name: str) -> SourceFactory:
    """``name.from_entry`` of ``module``, imported on the first call."""

    def factory(entry: ModelEntry, what: str) -> ScoringLogSource:
        return getattr(import_module(module), name).from_entry(entry, what)

    return factory


SOURCES: dict[str, SourceFactory] = {
    "athena": _lazy("mrm.sources.athena.source", "AthenaSource"),
    "parquet": _lazy("mrm.sources.parquet", "PartitionedParquet"),
    "sagemaker_capture": _lazy("mrm.sources.sagemaker.source", "CaptureSource"),
}


def register_source(kind: str, factory: SourceFactory) -> None:
    """Make ``scoring_log: {<kind>: ...}`` readable by ``factory(entry, what)``."""
    SOURCES[kind] = factory


def kind_of(scoring_log: Any) -> str:
    """``parquet`` for a URI, else the key of the one-key ``scoring_log`` mapping (or model)."""
    if isinstance(scoring_log, str):
        return "parquet"
    return ", ".join(dict(scoring_log))


def source_for(entry: ModelEntry, what: str = "scoring log") -> ScoringLogSource:
    """The entry's scoring-log source; ``what`` names its data in messages."""
    kind = kind_of(entry.monitoring.scoring_log)
    factory = SOURCES.get(kind)
    if factory is None:
        raise ConfigError(f"unknown scoring_log kind '{kind}'; valid: {', '.join(sorted(SOURCES))}")
    return factory(entry, what)
