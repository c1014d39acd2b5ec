"""Evidence is served sandboxed (security review findings 1 and 13): a report under a CSP ``sandbox``
without allow-same-origin that runs only the pinned bundle and the report's own inline scripts (by hash),
every other file never as a page, all with nosniff; the shared bundle is the one route without the
app's login (a sandboxed report sends no cookies). In Chromium through the real app: a hostile day's
report draws and shows the payloads as text, and the same data in Evidently's old template runs nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fastapi import Depends, FastAPI, HTTPException
from fastapi.testclient import TestClient
from served import directives, serving

from mrm.checks.evidently_report import evidently_lib_files, script_hashes
from mrm.demo.ui_tour import chromium
from mrm.evidence.writer import EvidenceWriter, write_shared
from mrm.inventory import load_inventory
from mrm.store import HistoryStore, RunRecord
from mrm.ui import URL_PREFIX
from mrm.ui.app import create_app


@pytest.fixture(scope="module")
def day5(client):
    from ui_pages import csv_rows

    rows = csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=runs"))
    return next(r for r in rows if r["logical_date"] == "2026-09-05")


def test_a_report_is_sandboxed_and_runs_only_its_own_scripts(client, day5):
    response = client.get(day5["evidently_report"])
    assert response.status_code == 200 and response.headers["x-content-type-options"] == "nosniff"
    csp = directives(response.headers["content-security-policy"])

    assert csp["sandbox"] == ["allow-scripts"]  # no allow-same-origin: an opaque origin
    assert csp["script-src"] == ["'self'", *script_hashes()]
    assert csp["default-src"] == csp["connect-src"] == csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'self'"] and csp["base-uri"] == ["'none'"]


@pytest.mark.parametrize(
    ("link", "kind", "download"),
    [("gx_result", "application/json", False), ("day_aggregate", "application/octet-stream", True)],
)
def test_other_evidence_is_never_a_page(client, day5, link, kind, download):
    url = day5.get(link) or day5["evidently_report"].replace("drift_report.html", "day_aggregate.npz")
    response = client.get(url)
    assert (response.status_code, response.headers["content-type"]) == (200, kind)
    assert directives(response.headers["content-security-policy"]) == {
        "sandbox": [], "default-src": ["'none'"], "frame-ancestors": ["'self'"]
    }  # fmt: skip
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers.get("content-disposition", "").startswith("attachment") is download


def refuse_everyone() -> None:
    raise HTTPException(401, "Not authenticated")


def test_only_the_shared_bundle_is_served_outside_the_apps_dependencies(tmp_path, ui_history, day5):
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    base = (tmp_path / "evidence").as_uri()
    write_shared(base, evidently_lib_files())
    app = create_app(
        [Depends(refuse_everyone)], store=lambda: store, inventory=lambda: ui_history.inventory,
        evidence_uri=lambda: base,
    )  # fmt: skip
    client = TestClient(app, root_path=URL_PREFIX)
    for name, data in evidently_lib_files().items():
        response = client.get(f"{URL_PREFIX}/evidence/_lib/{name}")
        assert (response.status_code, response.content) == (200, data)
        assert response.headers["access-control-allow-origin"] == "*"
    for path in (
        "/",
        "/breaches",
        "/models/card_fraud",
        "/icon.svg",
        day5["evidently_report"][len(URL_PREFIX) :],
    ):
        assert client.get(URL_PREFIX + path).status_code == 401, path


# -- in Chromium, through the real app -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from hostile_reports import hostile_run

    return hostile_run(tmp_path_factory.mktemp("hostile_route"))


def app_of(hostile) -> FastAPI:
    store = HistoryStore(f"sqlite:///{hostile.home / 'history.db'}")
    inventory = load_inventory(hostile.inventory)[0]
    return create_app(
        store=lambda: store, inventory=lambda: inventory, evidence_uri=lambda: hostile.evidence_uri
    )


def report_url(run: dict, name: str = "drift_report.html") -> str:
    return f"{URL_PREFIX}/evidence/{run['model_id']}/{run['logical_date'].isoformat()}/{run['run_id']}/{name}"


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="Chromium not installed (apt-get install -y chromium)"
)


@needs_chromium
def test_a_hostile_days_report_through_the_route_draws_shows_the_values_and_runs_nothing_else(hostile):
    from hostile_reports import PAYLOADS, look

    with serving(app_of(hostile)) as base:
        seen = look(base + report_url(hostile.run), drawn=True)

    assert seen["pwned"] == "undefined" and seen["images"] == 0
    assert seen["drawn"] and all(p in seen["labels"] for p in PAYLOADS)
    assert seen["violations"] == []  # the CSP allows all the report needs (no eval, no network)
    assert seen["fonts"] == ["Material Icons: loaded"]  # the shared font, through CORS


@needs_chromium
def test_evidentlys_old_template_with_the_same_data_runs_no_script_through_the_route(hostile):
    """A report as mrm wrote it before (attacker <script>s live in the HTML): the CSP alone stops them."""
    from hostile_reports import in_evidentlys_template, look

    old = in_evidentlys_template(hostile.report.read_text(encoding="utf-8")).encode()
    store = HistoryStore(f"sqlite:///{hostile.home / 'history.db'}")
    run = {**hostile.run, "run_id": "oldtemplate01"}
    writer = EvidenceWriter(hostile.evidence_uri, run["model_id"], run["logical_date"], run["run_id"])
    now = datetime(2026, 9, 6, 1, 0, tzinfo=UTC)
    store.record_run(
        RunRecord(
            run_id=run["run_id"], model_id=run["model_id"], model_version="4.2.0",
            logical_date=run["logical_date"], status="completed", overall_status="GREEN", started_at=now,
            finished_at=now, triggered_by="test", inventory_hash="0" * 64,
            evidence={"drift_report": writer.put("drift_report.html", old)},
        )
    )  # fmt: skip

    with serving(app_of(hostile)) as base:
        seen = look(base + report_url(run), drawn=False)

    assert seen["pwned"] == "undefined"
    blocked = [v for v in seen["violations"] if v.startswith("script-src")]
    assert blocked, seen["violations"]  # the injected inline scripts were there, and refused
