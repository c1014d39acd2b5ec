"""What decoding a day's capture records found wrong (:class:`Bad`), and the small conversions of JSON
values every part of the decoder shares."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np

NESTED = "\x00nested"  # what as_text makes of a JSON object or array, to be reported


class Bad:
    """Bad records found while decoding: record index -> the first reason."""

    def __init__(self) -> None:
        self.reasons: dict[int, str] = {}

    def add(self, record: int, reason: str) -> None:
        self.reasons.setdefault(int(record), reason)

    def __contains__(self, record: int) -> bool:
        return record in self.reasons


def objects(values: list) -> np.ndarray:
    """``values`` as a 1-d numpy array of Python objects."""
    import numpy as np

    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def nan_text(values: np.ndarray) -> np.ndarray:
    """Values that legitimately parse to NaN (a float NaN, or the text nan/NaN)."""
    import numpy as np

    def nan(v: Any) -> bool:
        return (isinstance(v, float) and v != v) or (isinstance(v, str) and v.strip().lower() == "nan")

    return np.fromiter((nan(v) for v in values), bool, len(values))


def as_text(value: Any) -> str:
    """A JSON scalar as text (a whole float without its .0); NESTED for an object or array."""
    if isinstance(value, (dict, list)):
        return NESTED
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def shown(value: Any) -> str:
    """A value as JSON for a message, at most 60 characters."""
    import json

    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
