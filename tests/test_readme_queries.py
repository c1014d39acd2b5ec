"""The SQL examples of the README's "For auditors" section run on a real history and return rows."""

from __future__ import annotations

import re
from datetime import date

import pytest
import sqlalchemy as sa
from support import REPO, empty_history

from mrm import pipeline


def readme_queries() -> list[str]:
    section = (REPO / "README.md").read_text().split("## For auditors", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sql\n(.*?)```", section, flags=re.S)


def test_the_readme_has_the_three_auditor_queries():
    assert len(readme_queries()) == 3


@pytest.fixture(params=["sqlite", "postgres"])
def history(request, mrm_home, file_inventory, monkeypatch):
    if request.param == "postgres":
        from support import clear_caches

        monkeypatch.setenv("MRM_DB_URL", request.getfixturevalue("pg_url"))
        clear_caches()
        empty_history(pipeline.get_store().engine)
    return request.param


def test_every_auditor_query_runs_and_returns_rows(history):
    for day in (date(2026, 9, 25), date(2026, 9, 26)):
        pipeline.run_model("card_fraud", day)
    engine = pipeline.get_store().engine
    with engine.connect() as conn:
        results = [conn.execute(sa.text(q)).mappings().all() for q in readme_queries()]

    latest, trail, series = results
    assert {r["logical_date"] for r in latest} == {date(2026, 9, 26)} or {
        str(r["logical_date"]) for r in latest
    } == {"2026-09-26"}
    assert any(r["metric"] == "null_rate" and r["status"] == "RED" for r in latest)
    assert [r["kind"] for r in trail if r["control"] == "quality.null_rate[device_score]"] == [
        "opened",
        "occurrence",
    ]
    assert len(series) == 2 and all(r["red_threshold"] == 0.25 for r in series)
