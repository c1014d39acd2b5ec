"""Reading a key path (:func:`mrm.inventory.sources.parse_path`'s tokens) from a parsed JSON payload."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

MISSING = object()  # what a path gives where the document does not have it


def getter(tokens: Sequence[str | int]) -> Callable[[Any], Any]:
    """A function reading ``tokens`` from a parsed document (MISSING where it is absent)."""
    if len(tokens) == 1 and isinstance(tokens[0], str):
        key = tokens[0]
        return lambda doc: doc.get(key, MISSING) if type(doc) is dict else MISSING
    return lambda doc: walk(doc, tokens)


def walk(doc: Any, tokens: Sequence[str | int]) -> Any:
    """The value at ``tokens``; a ``*`` token gives the list of the values of every element."""
    for i, tok in enumerate(tokens):
        if tok == "*":
            if not isinstance(doc, list):
                return MISSING
            return [walk(item, tokens[i + 1 :]) for item in doc]
        if isinstance(tok, int):
            if not isinstance(doc, list) or tok >= len(doc):
                return MISSING
            doc = doc[tok]
        else:
            if not isinstance(doc, dict) or tok not in doc:
                return MISSING
            doc = doc[tok]
    return doc
