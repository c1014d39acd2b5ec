"""A history filled by real monitoring runs on the demo data (file://), once per session, and clients of
the Model Risk app on it. The demo's incidents on the days run (see mrm.demo.data.INCIDENTS):

- card_fraud days 5-8: device_score null for 20% of Dutch events on days 5-7 (RED in segment
  country=NL; one ticket, two occurrences), GREEN again on day 8. Days 5-7 run "by Airflow"
  (triggered_by airflow:...), day 7 twice (the first run is superseded), day 8 from the CLI.
- credit_line days 12-14: utilization null for 10% (AMBER, AMBER, then RED by the persistence rule).
- aml_alert day 20: the day's Parquet file is corrupt: a run that could not complete.
- governance for the three models on day 14.
- aml_alert_next: a copy of aml_alert in validation, added to the inventory afterwards: never run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from support import clear_caches, local_inventory

from mrm.demo.data import day
from mrm.errors import MrmError
from mrm.inventory import Inventory, load_inventory
from mrm.store import HistoryStore
from mrm.ui import URL_PREFIX
from mrm.ui.app import create_app

AIRFLOW_RUN = "airflow:mrm_monitor__card_fraud/scheduled__{d}T00:00:00+00:00/try1"
NEW_MODEL = "aml_alert_next"


@dataclass
class UiHistory:
    store: HistoryStore
    inventory: Inventory
    evidence_uri: str
    home: Path

    def client(self) -> TestClient:
        app = create_app(
            store=lambda: self.store, inventory=lambda: self.inventory, evidence_uri=lambda: self.evidence_uri
        )
        return TestClient(app, root_path=URL_PREFIX)


def add_unmonitored_model(folder: Path) -> None:
    """A copy of aml_alert that is still in validation (no monitoring runs), with its own owner."""
    raw = yaml.safe_load((folder / "aml_alert.yaml").read_text())
    raw.update(model_id=NEW_MODEL, status="in_validation", owner="fincrime-next@example.com", version="2.0.0")
    raw.pop("approval")
    (folder / f"{NEW_MODEL}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))


def _fill() -> None:
    from mrm import pipeline
    from mrm.governance import run_governance

    for n in (5, 6, 7):
        pipeline.run_model("card_fraud", day(n), AIRFLOW_RUN.format(d=day(n).isoformat()))
    pipeline.run_model("card_fraud", day(7), AIRFLOW_RUN.format(d=day(7).isoformat()).replace("try1", "try2"))
    pipeline.run_model("card_fraud", day(8))
    for n in (12, 13, 14):
        pipeline.run_model("credit_line", day(n))
    with pytest.raises(MrmError):
        pipeline.run_model("aml_alert", day(20))
    run_governance(day(14), "test", pipeline.get_inventory(), pipeline.get_store())


@pytest.fixture(scope="session")
def ui_history(tmp_path_factory, demo_files) -> UiHistory:
    root = tmp_path_factory.mktemp("ui_history")
    folder = local_inventory(root / "inventory", demo_files)
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MRM_HOME", str(home))
        mp.setenv("MRM_INVENTORY", str(folder))
        mp.delenv("MRM_DB_URL", raising=False)
        mp.delenv("MRM_EVIDENCE", raising=False)
        clear_caches()
        try:
            _fill()
        finally:
            clear_caches()
    add_unmonitored_model(folder)
    return UiHistory(
        store=HistoryStore(f"sqlite:///{home / 'history.db'}"),
        inventory=load_inventory(folder)[0],
        evidence_uri=(home / "evidence").as_uri(),
        home=home,
    )


@pytest.fixture(scope="session")
def client(ui_history) -> TestClient:
    return ui_history.client()


@dataclass
class EmptyHistory:
    store: HistoryStore
    client: TestClient


@pytest.fixture
def empty(tmp_path, ui_history) -> EmptyHistory:
    """The app on a new, empty history with the same inventory."""
    store = HistoryStore(f"sqlite:///{tmp_path / 'empty' / 'history.db'}")
    evidence = (tmp_path / "evidence").as_uri()
    app = create_app(
        store=lambda: store, inventory=lambda: ui_history.inventory, evidence_uri=lambda: evidence
    )
    return EmptyHistory(store, TestClient(app, root_path=URL_PREFIX))
