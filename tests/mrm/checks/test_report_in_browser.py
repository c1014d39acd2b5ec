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
