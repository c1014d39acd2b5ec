"""The Evidently evidence report, opened in a real browser (headless Chromium): it loads the shared
JavaScript from <evidence>/_lib/ and draws the same PSI the history stores."""

from __future__ import annotations

import shutil
import subprocess
from datetime import date

import pytest
from oracles.frame_checks import check_drift

from mrm.checks.evidently_report import evidently_lib_files
from mrm.evidence.writer import EvidenceWriter, write_shared

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="Chromium not installed (apt-get install -y chromium) for the browser test"
)


def dump_dom(path) -> str:
    flags = [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--allow-file-access-from-files", "--virtual-time-budget=10000", "--dump-dom",
    ]  # fmt: skip
    out = subprocess.run(
        [CHROMIUM, *flags, f"--user-data-dir={path.parent / 'chromium-profile'}", path.as_uri()],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    return out.stdout


def test_the_report_renders_with_the_shared_library_and_shows_the_stored_psi(
    tmp_path, make_entry, make_scoring_frame
):
    entry = make_entry()
    reference = make_scoring_frame(entry, 400, seed=1)
    current = make_scoring_frame(entry, 300, seed=2, shift=0.8)
    outcome = check_drift(reference, current, entry)
    base = (tmp_path / "evidence").as_uri()
    write_shared(base, evidently_lib_files())
    item = EvidenceWriter(base, entry.model_id, date(2026, 9, 1), "run1").put(
        "drift_report.html", outcome.report_html
    )
    html_path = tmp_path / "evidence" / entry.model_id / "2026-09-01" / "run1" / "drift_report.html"
    assert item["size"] < 1_000_000, "the report must not inline Evidently's 3.5 MB bundle"

    dom = dump_dom(html_path)
    assert "Drift in column 'amount'" in dom, "the dashboard was not drawn: shared JavaScript not loaded?"
    assert "PSI (reference deciles, mrm)" in dom
    psi = next(r.value for r in outcome.results if r.metric == "psi" and r.column == "amount")
    assert f"Drift score: {round(psi, 3):g}" in dom


# -- the shared script is pinned by SRI (security review finding 13) ----------------------------------------
DRAWN = "MuiPaper-root"  # only in the DOM once the bundle drew the dashboard (the data alone has not)


def report_with_shared_library(tmp_path, make_entry, make_scoring_frame):
    entry = make_entry()
    outcome = check_drift(
        make_scoring_frame(entry, 400, seed=1), make_scoring_frame(entry, 300, seed=2), entry
    )
    base = (tmp_path / "evidence").as_uri()
    write_shared(base, evidently_lib_files())
    EvidenceWriter(base, entry.model_id, date(2026, 9, 1), "run1").put(
        "drift_report.html", outcome.report_html
    )
    return tmp_path / "evidence", f"{entry.model_id}/2026-09-01/run1/drift_report.html"


def chromium_dom(url: str, profile, *flags: str) -> str:
    base = [
        "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
        "--disable-background-networking", "--disable-component-update", "--virtual-time-budget=10000",
        "--dump-dom", f"--user-data-dir={profile}",
    ]  # fmt: skip
    return subprocess.run([CHROMIUM, *base, *flags, url], capture_output=True, text=True, timeout=120).stdout


def test_a_report_opened_from_a_local_folder_still_draws(tmp_path, make_entry, make_scoring_frame):
    """Browsers cannot check SRI on file:// pages; the report then loads the bundle without it."""
    root, report = report_with_shared_library(tmp_path, make_entry, make_scoring_frame)
    assert DRAWN in chromium_dom((root / report).as_uri(), tmp_path / "profile")  # no file-access flag


def test_over_http_a_changed_shared_script_is_not_run(tmp_path, make_entry, make_scoring_frame):
    """Served by any web server (not the page's route, which refuses it anyway): the browser's SRI check
    keeps a changed bundle from running."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    root, report = report_with_shared_library(tmp_path, make_entry, make_scoring_frame)
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{report}"
        assert DRAWN in chromium_dom(url, tmp_path / "p1")
        (lib,) = (root / "_lib").glob("evidently-*.js")
        lib.write_bytes(lib.read_bytes() + b"\n;document.title='changed';")
        assert DRAWN not in chromium_dom(url, tmp_path / "p2")
    finally:
        server.shutdown()
        server.server_close()


# -- a day whose categorical values carry script payloads (security review finding 1) ------------------------
@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    from hostile_reports import hostile_run

    return hostile_run(tmp_path_factory.mktemp("hostile"))


def test_a_hostile_days_report_runs_no_injected_script_and_shows_the_values_as_text(hostile):
    """Served by a plain web server (no CSP): the escaping alone keeps every payload data."""
    from hostile_reports import PAYLOADS, StaticServer, look

    folder = hostile.home / "evidence"
    with StaticServer(folder) as server:
        seen = look(f"{server.base}/{hostile.report.relative_to(folder).as_posix()}", drawn=True)

    assert seen["pwned"] == "undefined" and seen["images"] == 0
    assert seen["drawn"], "the dashboard was not drawn"
    for payload in PAYLOADS:  # the category axis of merchant_category's plots shows them verbatim
        assert payload in seen["labels"], payload


def test_the_same_data_in_evidentlys_own_template_runs_the_payload(hostile, tmp_path):
    """The test above can fail: the data as Evidently's template writes it runs the attacker's script."""
    from hostile_reports import StaticServer, in_evidentlys_template, look

    old = hostile.report.with_name("old_template.html")
    old.write_text(in_evidentlys_template(hostile.report.read_text(encoding="utf-8")), encoding="utf-8")
    folder = hostile.home / "evidence"
    with StaticServer(folder) as server:
        seen = look(f"{server.base}/{old.relative_to(folder).as_posix()}", drawn=False)
    assert seen["pwned"] == "number"
