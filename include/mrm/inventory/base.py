"""What every inventory model shares: strict models (unknown keys rejected, frozen) and the columns of
the scoring-log contract, which no feature may be named after."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

# every column the scoring-log contract defines (``_dt`` is the day partition the sources add)
CONTRACT_COLUMNS = ("event_id", "event_ts", "score", "decision")
RESERVED_COLUMNS = ("event_id", "event_ts", "model_id", "model_version", "score", "decision")
RESERVED = (*RESERVED_COLUMNS, "_dt")


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
