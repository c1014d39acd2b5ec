"""bench/results.json: each benchmark script owns one section and keeps the others."""

from __future__ import annotations

import json
import os
import platform
from datetime import UTC, datetime
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results.json"


def write_section(key: str, figures: dict, out: Path = RESULTS, drop: tuple[str, ...] = ()) -> None:
    """Replace section ``key`` of ``out`` with ``figures`` stamped with the time and the machine; the other
    sections stay (``drop``: top-level keys to remove, e.g. an older layout's)."""
    doc = json.loads(out.read_text()) if out.exists() else {}
    for legacy in drop:
        doc.pop(legacy, None)
    doc[key] = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
        },
        **figures,
    }
    out.write_text(json.dumps(doc, indent=1, default=str) + "\n")
