"""Factories shared by the mrm library tests: inventory entries, raw inventory mappings, scoring frames."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from mrm.inventory import ModelEntry

EXAMPLES = Path(__file__).resolve().parents[2] / "include" / "inventory"

TOY_ENTRY: dict[str, Any] = {
    "model_id": "toy_model",
    "name": "Toy model",
    "version": "1.0.0",
    "purpose": "A toy model used by the unit tests.",
    "business_line": "Testing",
    "model_type": "logistic regression",
    "owner": "toy-owner@example.com",
    "developer": "toy-developer@example.com",
    "validator": "toy-validator@example.com",
    "risk_tier": 2,
    "tier_rationale": "Only used in unit tests; no customer impact at all.",
    "status": "approved",
    "approval": {"approver": "toy-approver@example.com", "date": "2026-07-01"},
    "monitoring": {
        "start_date": "2026-09-01",
        "scoring_log": "file:///tmp/mrm-toy/scoring/",
        "reference": {"start": "2026-08-18", "end": "2026-08-31"},
        "decisions": ["approve", "review", "decline"],
        "features": [
            {"name": "amount", "type": "numeric", "min": 0, "max": 100},
            {"name": "tenure", "type": "numeric", "min": 0, "max": 50},
            {"name": "region", "type": "categorical", "categories": ["north", "south", "east"]},
        ],
        "controls": {
            "null_rate": {"amber": 0.05, "red": 0.10, "columns": {"tenure": {"amber": 0.20, "red": 0.40}}},
            "volume_ratio": {"amber": 0.8, "red": 0.6},
            "psi": {"amber": 0.10, "red": 0.25},
            "score_psi": {"amber": 0.10, "red": 0.25},
        },
    },
}


@pytest.fixture
def examples_dir() -> Path:
    """The example inventory shipped with the repository."""
    return EXAMPLES


@pytest.fixture
def example_raw() -> Callable[[str], dict[str, Any]]:
    """The parsed YAML mapping of one example inventory file, as a fresh copy to mutate."""

    def load(model_id: str = "credit_line") -> dict[str, Any]:
        return yaml.safe_load((EXAMPLES / f"{model_id}.yaml").read_text())

    return load


@pytest.fixture
def write_yaml() -> Callable[[Path, str, Any], Path]:
    """Write ``data`` as ``<folder>/<name>.yaml`` and return the path."""

    def write(folder: Path, name: str, data: Any) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(data, sort_keys=False))
        return path

    return write


@pytest.fixture(scope="session")
def make_entry() -> Callable[..., ModelEntry]:
    """A validated ModelEntry of the toy model; keyword arguments replace keys of ``monitoring``."""

    def make(**monitoring: Any) -> ModelEntry:
        raw = copy.deepcopy(TOY_ENTRY)
        raw["monitoring"].update(monitoring)
        return ModelEntry.model_validate(raw)

    return make


@pytest.fixture(scope="session")
def make_scoring_frame() -> Callable[..., pd.DataFrame]:
    """A conforming scoring-log day for an entry: seeded, ``shift`` moves every distribution."""

    def make(entry: ModelEntry, rows: int, *, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
        rng = np.random.default_rng(seed)
        data: dict[str, Any] = {
            "event_id": [f"{entry.model_id}-{seed}-{i}" for i in range(rows)],
            "event_ts": pd.Timestamp(datetime(2026, 9, 1, tzinfo=UTC)),
            "score": rng.beta(2.0, 5.0 - 2.0 * shift, rows),
        }
        decisions = entry.monitoring.decisions
        weights = np.linspace(3.0, 1.0, len(decisions)) + shift * np.linspace(-1.0, 1.0, len(decisions))
        data["decision"] = list(rng.choice(decisions, rows, p=weights / weights.sum()))
        for f in entry.monitoring.features:
            if f.type == "numeric":
                low, high = f.min or 0.0, f.max if f.max is not None else 100.0
                centre = low + (high - low) * (0.4 + 0.2 * shift)
                data[f.name] = np.clip(rng.normal(centre, (high - low) / 8, rows), low, high)
            else:
                cats = f.categories or ["a", "b", "c"]
                probs = np.linspace(1.0, 2.0 + 4.0 * shift, len(cats))
                data[f.name] = list(rng.choice(cats, rows, p=probs / probs.sum()))
        return pd.DataFrame(data)

    return make
