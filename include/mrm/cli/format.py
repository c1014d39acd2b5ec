"""How the ``mrm`` command prints rows: an aligned table, CSV or JSON, always with the documented columns."""

from __future__ import annotations

import json

from mrm.core.csvsafe import write_rows


def table(rows: list[dict], columns: list[str]) -> str:
    def cell(v) -> str:
        if v is None:
            return ""
        return f"{v:.4f}" if isinstance(v, float) else str(v)

    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(lines)


def emit(rows: list[dict], columns: list[str], fmt: str) -> str:
    """``rows`` as ``fmt`` (table, csv or json), with exactly ``columns`` in that order."""
    rows = [{c: r.get(c) for c in columns} for r in rows]
    if fmt == "json":
        return json.dumps(rows, indent=1, default=str)
    if fmt == "csv":  # text that a spreadsheet would run as a formula is quoted (mrm.core.csvsafe)
        return write_rows(rows, columns).rstrip("\n")
    return table(rows, columns) if rows else "(no rows)"
