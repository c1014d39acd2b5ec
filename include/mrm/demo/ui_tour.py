"""A risk manager's morning in a real browser: Airflow's api-server with this repo's plugins on a
demo history, driven through headless Chromium (Debian's /usr/bin/chromium, via Playwright).

Used by the browser test (a short demo) and by ``docs/screenshots/capture.py`` (the full demo):
log in, open "Model Risk" from the nav, open a model, see its charts, follow an evidence link.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

from mrm.airflow.local import airflow_env

USER, PASSWORD = "riskmgr", "morning-coffee-42"  # a local login for the tour (SimpleAuthManager)


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    """``airflow api-server`` on 127.0.0.1 over an existing Airflow home (the demo's), with one
    password login instead of the demo's all-admins mode, so the page is behind a real login."""

    def __init__(self, airflow_home: Path, mrm_home: Path, users: dict[str, tuple[str, str]] | None = None):
        """``users``: name -> (Airflow role, password); default the tour's one admin."""
        users = users or {USER: ("admin", PASSWORD)}
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        passwords = airflow_home / "tour-passwords.json"
        passwords.write_text(json.dumps({u: pw for u, (_, pw) in users.items()}))
        self.env = {
            **os.environ,
            **airflow_env(airflow_home),
            "MRM_HOME": str(mrm_home),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": ",".join(f"{u}:{r}" for u, (r, _) in users.items()),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
            "AIRFLOW__API__BASE_URL": self.base,
        }
        self.log = airflow_home / "tour-api-server.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> ApiServer:
        airflow = str(Path(sys.executable).with_name("airflow"))
        self.proc = subprocess.Popen(
            [airflow, "api-server", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env, stdout=self.log.open("w"), stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"airflow api-server exited ({self.proc.returncode}); see {self.log}")
            try:
                if requests.get(f"{self.base}/api/v2/monitor/health", timeout=5).ok:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(1)
        self.stop()
        raise TimeoutError(f"airflow api-server did not answer within {timeout:g} s; see {self.log}")

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc = None


@dataclass
class Tour:
    """What the browser saw, for assertions."""

    nav_href: str = ""
    models: list[str] = field(default_factory=list)
    charts: list[str] = field(default_factory=list)  # data-series of the model page's charts
    breach_points: int = 0
    report_title: str = ""
    report_text: str = ""
    screenshots: list[Path] = field(default_factory=list)


def tour(base: str, model_id: str, out_dir: Path | None = None, width: int = 1440) -> Tour:
    """Log in, open Model Risk from the nav, open ``model_id``, follow its first Evidently report."""
    from playwright.sync_api import sync_playwright

    seen = Tour()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": width, "height": 1000})
        _log_in(page, base)
        nav = page.locator("a", has_text="Model Risk").first
        seen.nav_href = nav.get_attribute("href") or ""
        nav.click()
        frame = page.frame_locator("iframe")
        frame.locator("table").first.wait_for(timeout=30000)
        seen.models = [a.inner_text() for a in frame.locator("td a[href*='/models/']").all()]
        _shot(page, out_dir, "portfolio.png", seen)
        frame.locator(f"a[href$='/models/{model_id}']").first.click()
        frame.locator("svg.metric-chart").first.wait_for(timeout=30000)
        charts = frame.locator("svg.metric-chart")
        seen.charts = [charts.nth(i).get_attribute("data-series") or "" for i in range(charts.count())]
        seen.breach_points = frame.locator("svg.metric-chart circle.breach").count()
        page.set_viewport_size({"width": width, "height": 2000})  # the iframe grows with the window
        _shot(page, out_dir, f"model-{model_id}.png", seen)
        with page.expect_popup() as popup:
            frame.locator("a", has_text="Evidently report").first.click()
        report = popup.value
        report.wait_for_load_state("networkidle")
        report.wait_for_selector("text=Drift in column", timeout=30000)
        seen.report_title = report.title()
        seen.report_text = report.inner_text("body")
        browser.close()
    return seen


@dataclass
class LatestControls:
    """The "Latest controls" section of a model's page as the browser showed it."""

    section_text: str = ""  # the whole section, heading to the next section
    first_line: str = ""  # its first line under the heading
    outcome_text: str = ""  # the could-not-run box ("" when the newest day completed)
    last_completed: str = ""  # the heading of the controls below the box


def latest_controls(base: str, model_id: str) -> LatestControls:
    """Log in, open Model Risk from the nav, open ``model_id`` from the portfolio; read its first
    section ("Latest controls")."""
    from playwright.sync_api import sync_playwright

    seen = LatestControls()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1440, "height": 1000})
        _log_in(page, base)
        page.locator("a", has_text="Model Risk").first.click()
        frame = page.frame_locator("iframe")
        frame.locator(f"a[href$='/models/{model_id}']").first.click()
        heading = frame.locator("h2#latest")
        heading.wait_for(timeout=30000)
        text = frame.locator("main").inner_text()
        start = text.index(heading.inner_text())
        end = text.index(frame.locator("h2#metrics").inner_text())
        seen.section_text = text[start:end]
        seen.first_line = next(
            line for line in seen.section_text.splitlines()[1:] if line.strip() and line.strip() != "CSV"
        )
        box = frame.locator("#newest-outcome")
        if box.count():
            seen.outcome_text = box.inner_text()
            seen.last_completed = frame.locator("h3.last-completed").inner_text()
        browser.close()
    return seen


def _log_in(page, base: str, user: str = USER, password: str = PASSWORD) -> None:
    page.goto(f"{base}/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def _shot(page, out_dir: Path | None, name: str, seen: Tour) -> None:
    if out_dir is None:
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(500)  # let the iframe paint
    page.screenshot(path=str(out_dir / name))
    seen.screenshots.append(out_dir / name)
