"""Evidence through the page: files a run recorded (file:// and s3://), checked against their recorded
SHA-256; the shared library Evidently reports load; nothing else (unrecorded files, path traversal)."""

from __future__ import annotations

import re
import shutil
import subprocess
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from urllib.parse import unquote, urljoin, urlparse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from ui_pages import csv_rows

from mrm.evidence.writer import EvidenceWriter
from mrm.store import HistoryStore, RunRecord
from mrm.ui import URL_PREFIX
from mrm.ui.app import create_app


def path_of(uri: str) -> Path:
    return Path(unquote(urlparse(uri).path))


@pytest.fixture(scope="module")
def day5(client, ui_history) -> dict:
    """card_fraud's run of day 5 as the runs CSV lists it, with its evidence as the history recorded it."""
    row = next(
        r
        for r in csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=runs"))
        if r["logical_date"] == "2026-09-05"
    )
    return {**row, "evidence": ui_history.store.run(row["run_id"])["evidence"]}


def test_the_evidently_report_is_served_as_recorded(client, day5):
    response = client.get(day5["evidently_report"])

    assert response.status_code == 200
    assert response.content == path_of(day5["evidence"]["drift_report"]["uri"]).read_bytes()
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert "connect-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"


def test_the_report_loads_evidentlys_shared_library_through_the_route(client, day5, ui_history):
    report = client.get(day5["evidently_report"]).text
    sources = re.findall(r'(?:src|href)="(\.\./\.\./\.\./_lib/[^"]+)"', report) + re.findall(
        r"url\(['\"]?(\.\./\.\./\.\./_lib/[^'\")]+)", report
    )
    assert {s.rsplit(".", 1)[-1] for s in sources} == {"js", "woff2"}

    for src in sources:
        url = urljoin(day5["evidently_report"], src)
        assert url.startswith("/model-risk/evidence/_lib/")
        response = client.get(url)
        assert response.status_code == 200, url
        assert (
            response.content
            == (path_of(ui_history.evidence_uri) / "_lib" / src.rsplit("/", 1)[-1]).read_bytes()
        )


def test_the_gx_result_is_served_as_json(client, day5):
    response = client.get(day5["gx_result"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["success"] in (True, False)
    assert response.content == path_of(day5["evidence"]["quality_gx"]["uri"]).read_bytes()


def test_a_file_the_run_did_not_record_is_not_served(client, day5):
    folder = path_of(day5["evidence"]["drift_report"]["uri"]).parent
    (folder / "not_recorded.json").write_text('{"secret": 1}')

    response = client.get(day5["evidently_report"].replace("drift_report.html", "not_recorded.json"))
    assert response.status_code == 404
    assert (
        "recorded no evidence file &#x27;not_recorded.json&#x27; "
        "(recorded: day_aggregate.npz, drift_report.html, " in response.text
    )
    assert "secret" not in response.text


@pytest.mark.parametrize(
    "tail",
    [
        "..%2F..%2F..%2F..%2Fhistory.db",
        "..%2F2026-09-06%2Fdrift_report.html",
        "%2e%2e/%2e%2e/%2e%2e/history.db",
        "drift_report.html/..%2F..%2F..%2F..%2Fhistory.db",
    ],
)
def test_path_traversal_below_a_run_is_refused(client, day5, tail):
    url = day5["evidently_report"].replace("drift_report.html", tail)
    response = client.get(url)
    assert response.status_code == 404 and b"SQLite format" not in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/model-risk/evidence/_lib/..%2Fhistory.db",
        "/model-risk/evidence/_lib/..%2F..%2Fhistory.db",
        "/model-risk/evidence/_lib/history.db",
        "/model-risk/evidence/_lib/evidently-0.7.23.js%2F..%2F..%2Fhistory.db",
    ],
)
def test_the_shared_library_route_serves_only_evidentlys_files(client, path):
    response = client.get(path)
    assert response.status_code == 404 and b"SQLite format" not in response.content


def test_a_run_under_another_model_or_date_is_not_found(client, day5):
    for wrong in ("/credit_line/2026-09-05/", "/card_fraud/2026-09-06/"):
        url = day5["evidently_report"].replace("/card_fraud/2026-09-05/", wrong)
        response = client.get(url)
        assert response.status_code == 404
        assert f"no run {day5['run_id']} of" in response.text


# -- a run recorded here, to change its evidence or keep it on S3 -------------------------------------------
def record_run_with_evidence(store: HistoryStore, base_uri: str, data: bytes) -> str:
    day = date(2026, 9, 5)
    writer = EvidenceWriter(base_uri, "card_fraud", day, "run0001")
    now = datetime(2026, 9, 6, 1, 0, tzinfo=UTC)
    store.record_run(
        RunRecord(
            run_id="run0001", model_id="card_fraud", model_version="4.2.0", logical_date=day,
            status="completed", overall_status="GREEN", started_at=now, finished_at=now, triggered_by="test",
            inventory_hash="0" * 64, evidence={"quality_gx": writer.put("quality_gx.json", data)},
        )
    )  # fmt: skip
    return f"{URL_PREFIX}/evidence/card_fraud/2026-09-05/run0001/quality_gx.json"


def app_on(store: HistoryStore, ui_history, evidence_uri: str) -> TestClient:
    app = create_app(
        store=lambda: store, inventory=lambda: ui_history.inventory, evidence_uri=lambda: evidence_uri
    )
    return TestClient(app, root_path=URL_PREFIX)


def test_evidence_changed_after_it_was_recorded_is_refused(tmp_path, ui_history):
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    base = (tmp_path / "evidence").as_uri()
    url = record_run_with_evidence(store, base, b'{"success": true}')
    client = app_on(store, ui_history, base)
    assert client.get(url).content == b'{"success": true}'

    (tmp_path / "evidence/card_fraud/2026-09-05/run0001/quality_gx.json").write_bytes(b'{"success": false}')
    response = client.get(url)
    assert response.status_code == 409
    assert "no longer matches the SHA-256 recorded for run run0001" in response.text


def test_evidence_on_s3_is_read_through_the_object_store(tmp_path, ui_history, aws):
    import boto3

    boto3.client("s3").create_bucket(Bucket="mrm-evidence")
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    url = record_run_with_evidence(store, "s3://mrm-evidence/prod", b'{"from": "s3"}')
    client = app_on(store, ui_history, "s3://mrm-evidence/prod")

    response = client.get(url)
    assert (response.status_code, response.content) == (200, b'{"from": "s3"}')
    assert store.run("run0001")["evidence"]["quality_gx"]["uri"] == (
        "s3://mrm-evidence/prod/card_fraud/2026-09-05/run0001/quality_gx.json"
    )
    missing = client.get("/model-risk/evidence/_lib/evidently-0.7.23.js")
    assert missing.status_code == 404 and "cannot read s3://mrm-evidence/prod/_lib/evidently-0.7.23.js" in (
        missing.text
    )


# -- in a real browser ---------------------------------------------------------------------------------------
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install -y chromium)")
def test_the_report_renders_in_a_browser_through_the_route(tmp_path, ui_history, day5):
    import uvicorn

    from mrm.demo.s3 import free_port

    root = FastAPI()
    root.mount(URL_PREFIX, ui_history.client().app)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(root, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        while not server.started:
            time.sleep(0.05)
        flags = [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
            "--disable-background-networking", "--disable-component-update", "--virtual-time-budget=10000",
            "--dump-dom",
            f"--user-data-dir={tmp_path / 'chromium-profile'}",
        ]  # fmt: skip
        url = f"http://127.0.0.1:{port}{day5['evidently_report']}"
        dom = subprocess.run([CHROMIUM, *flags, url], capture_output=True, text=True, timeout=120).stdout
    finally:
        server.should_exit = True
        thread.join(timeout=10)
    assert "Drift in column 'amount'" in dom, "the dashboard was not drawn: shared JavaScript not loaded?"
    assert "PSI (reference deciles), whole day" in dom  # the stored whole-day value, not a sample's


# -- a run row written by an attacker (security review finding 7) -------------------------------------------
def insert_run(store: HistoryStore, run_id: str, evidence: dict, day: date = date(2026, 9, 5)) -> str:
    """What whoever can INSERT into mrm_runs can write: a run whose evidence points anywhere."""
    now = datetime(2026, 9, 6, 1, 0, tzinfo=UTC)
    store.record_run(
        RunRecord(
            run_id=run_id, model_id="card_fraud", model_version="4.2.0", logical_date=day,
            status="completed", overall_status="GREEN", started_at=now, finished_at=now, triggered_by="test",
            inventory_hash="0" * 64, evidence=evidence,
        )
    )  # fmt: skip
    return f"{URL_PREFIX}/evidence/card_fraud/{day.isoformat()}/{run_id}"


def sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def own(tmp_path, ui_history):
    """A history and evidence folder of its own, and the app on them."""
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    base = (tmp_path / "evidence").as_uri()
    return store, base, app_on(store, ui_history, base)


@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/passwd"])
def test_a_run_row_pointing_at_a_system_file_is_not_served(own, caplog, target):
    store, _, client = own
    data = Path(target).read_bytes()
    url = insert_run(store, "evil0001", {"drift_report": {"uri": Path(target).as_uri(), "sha256": sha(data)}})

    with caplog.at_level("WARNING", logger="mrm.ui.evidence"):
        response = client.get(f"{url}/{target.rsplit('/', 1)[-1]}")

    assert response.status_code == 404
    assert "cannot be served; the reason is in the api-server&#x27;s log" in response.text
    assert target not in response.text and (not data or data[:20] not in response.content)
    assert b"root:" not in response.content and b"PATH=" not in response.content
    (line,) = [r.getMessage() for r in caplog.records]
    assert (
        f"records {target.rsplit('/', 1)[-1]} at file://{target}, outside the run's evidence folder" in line
    )


@pytest.mark.parametrize(
    "where",
    [
        "{base}/card_fraud/2026-09-05/other0001/quality_gx.json",  # another run's folder
        "{base}/card_fraud/2026-09-06/evil0002/quality_gx.json",  # another day
        "{base}/credit_line/2026-09-05/evil0002/quality_gx.json",  # another model
        "{base}/card_fraud/2026-09-05/evil0002/../other0001/quality_gx.json",  # dot segments
        "{base}/card_fraud/2026-09-05/evil0002/%2e%2e/other0001/quality_gx.json",
        "{base}/card_fraud/2026-09-05/evil0002/quality_gx.json?x=1",
        "{base}/card_fraud/2026-09-05/evil0002/quality_gx.json#/../../x",
        "file://otherhost{path}/card_fraud/2026-09-05/evil0002/quality_gx.json",
        "file:{relative}/card_fraud/2026-09-05/evil0002/quality_gx.json",  # read from the working folder
        "s3://mrm-evidence{path}/card_fraud/2026-09-05/evil0002/quality_gx.json",
    ],
)
def test_evidence_outside_the_runs_own_folder_is_not_served(own, where):
    store, base, client = own
    secret = b'{"another": "run"}'
    other = EvidenceWriter(base, "card_fraud", date(2026, 9, 5), "other0001").put("quality_gx.json", secret)
    for model_id, day in [
        ("card_fraud", "2026-09-06"),
        ("credit_line", "2026-09-05"),
        ("card_fraud", "2026-09-05"),
    ]:
        EvidenceWriter(base, model_id, date.fromisoformat(day), "evil0002").put("quality_gx.json", secret)
    uri = where.format(
        base=base, path=path_of(base).as_posix(), relative=path_of(base).as_posix().lstrip("/")
    )
    url = insert_run(store, "evil0002", {"quality_gx": {"uri": uri, "sha256": other["sha256"]}})

    response = client.get(f"{url}/quality_gx.json")

    assert response.status_code == 404 and secret not in response.content


def test_evidence_without_a_recorded_sha256_is_not_served(own, caplog):
    store, base, client = own
    item = EvidenceWriter(base, "card_fraud", date(2026, 9, 5), "nohash01").put("quality_gx.json", b"{}")
    url = insert_run(store, "nohash01", {"quality_gx": {"uri": item["uri"]}})
    with caplog.at_level("WARNING", logger="mrm.ui.evidence"):
        response = client.get(f"{url}/quality_gx.json")
    assert response.status_code == 404
    assert [r.getMessage() for r in caplog.records] == [
        f"evidence refused: run nohash01 of card_fraud recorded no SHA-256 for {item['uri']}"
    ]


def test_a_link_in_the_runs_folder_to_a_file_outside_is_not_served(own):
    """Whoever can write the evidence folder (not only the database) plants a symlink."""
    store, base, client = own
    item = EvidenceWriter(base, "card_fraud", date(2026, 9, 5), "link0001").put("quality_gx.json", b"{}")
    planted = path_of(item["uri"]).with_name("passwd.json")
    planted.symlink_to("/etc/passwd")
    uri = item["uri"].replace("quality_gx.json", "passwd.json")
    url = insert_run(store, "link0001", {"quality_gx": {"uri": uri, "sha256": sha(planted.read_bytes())}})
    response = client.get(f"{url}/passwd.json")
    assert response.status_code == 404 and b"root:" not in response.content


def test_file_evidence_is_refused_when_the_evidence_is_on_s3(tmp_path, ui_history, aws, caplog):
    import boto3

    boto3.client("s3").create_bucket(Bucket="mrm-evidence")
    store = HistoryStore(f"sqlite:///{tmp_path / 'history.db'}")
    local = EvidenceWriter((tmp_path / "ev").as_uri(), "card_fraud", date(2026, 9, 5), "local001")
    item = local.put("quality_gx.json", b'{"local": 1}')
    url = insert_run(store, "local001", {"quality_gx": item})
    client = app_on(store, ui_history, "s3://mrm-evidence/prod")
    with caplog.at_level("WARNING", logger="mrm.ui.evidence"):
        response = client.get(f"{url}/quality_gx.json")
    assert response.status_code == 404 and b'{"local": 1}' not in response.content
    assert "a file:// URI where the evidence is s3://" in caplog.records[0].getMessage()


def test_an_untouched_run_is_still_served(own):
    store, base, client = own
    url = record_run_with_evidence(store, base, b'{"ok": true}')
    assert (client.get(url).status_code, client.get(url).content) == (200, b'{"ok": true}')


# -- the shared library: only the installed Evidently's bytes (finding 13) ----------------------------------
def installed_lib() -> dict[str, bytes]:
    from mrm.checks.evidently_report import evidently_lib_files

    return evidently_lib_files()


def test_a_changed_shared_library_is_not_served(own, caplog):
    from mrm.evidence.writer import write_shared

    _, base, client = own
    write_shared(base, installed_lib())
    (js,) = [n for n in installed_lib() if n.endswith(".js")]
    assert client.get(f"{URL_PREFIX}/evidence/_lib/{js}").status_code == 200

    lib = path_of(base) / "_lib" / js
    lib.write_bytes(lib.read_bytes() + b";fetch('/api/v2/connections')")
    with caplog.at_level("WARNING", logger="mrm.ui.evidence"):
        response = client.get(f"{URL_PREFIX}/evidence/_lib/{js}")
    assert response.status_code == 404 and b"fetch(" not in response.content
    assert "is not the file the installed Evidently bundles" in caplog.records[0].getMessage()

    font = path_of(base) / "_lib" / "material-ui-icons.woff2"
    font.write_bytes(b"not the font")
    assert client.get(f"{URL_PREFIX}/evidence/_lib/material-ui-icons.woff2").status_code == 404


def test_another_evidently_versions_library_is_not_served(own):
    _, base, client = own
    (path_of(base) / "_lib").mkdir(parents=True)
    (path_of(base) / "_lib" / "evidently-0.0.1.js").write_text("window.x=1")
    response = client.get(f"{URL_PREFIX}/evidence/_lib/evidently-0.0.1.js")
    assert response.status_code == 404 and "window.x" not in response.text


def test_the_report_pins_the_shared_script_with_sri(client, day5):
    import base64
    import hashlib

    (js,) = [n for n in installed_lib() if n.endswith(".js")]
    expected = "sha256-" + base64.b64encode(hashlib.sha256(installed_lib()[js]).digest()).decode()
    report = client.get(day5["evidently_report"]).text
    tag = f'<script src="../../../_lib/{js}" integrity="{expected}" crossorigin="anonymous"></script>'
    assert tag in report  # crossorigin: the sandboxed report's origin is opaque, SRI needs CORS
