"""JSON from capture files, parsed only within stated bounds: a capture line or payload longer than
:data:`MAX_RECORD_CHARS`, or nested deeper than :data:`MAX_JSON_DEPTH`, is a bad record (it counts
against ``max_bad_records``) instead of a parse that exhausts the stack or memory. The depth is found
before parsing, on the text with its strings blanked."""

from __future__ import annotations

import json
import re
from typing import Any

MAX_RECORD_CHARS = 1_048_576  # one capture line or one payload
MAX_JSON_DEPTH = 64  # nested objects and arrays

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)


def depth(text: str) -> int:
    """The deepest nesting of objects and arrays in JSON ``text`` (outside strings)."""
    import numpy as np

    raw = np.frombuffer(_STRING.sub('""', text).encode("utf-8", "surrogatepass"), dtype=np.uint8)
    step = (raw == ord("[")).astype(np.int64) + (raw == ord("{"))
    step -= (raw == ord("]")).astype(np.int64) + (raw == ord("}"))
    return int(np.cumsum(step).max(initial=0))


def loads(text: str) -> Any:
    """``json.loads(text)``; ValueError (saying why) if the text is not JSON, is too long, or nests too
    deep."""
    if len(text) > MAX_RECORD_CHARS:
        raise ValueError(f"{len(text):,} characters, more than the {MAX_RECORD_CHARS:,} allowed")
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and (found := depth(text)) > MAX_JSON_DEPTH:
        raise ValueError(f"nested {found} levels deep, more than the {MAX_JSON_DEPTH} allowed")
    try:
        return json.loads(text)
    except (RecursionError, MemoryError) as exc:
        raise ValueError(f"cannot be parsed within bounds ({type(exc).__name__})") from None
