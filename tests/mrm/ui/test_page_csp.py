"""The Model Risk pages send a CSP of their own (security review finding 27): their inline CSS and one
script by hash, nothing else inline, no eval, no network, framed only by the Airflow UI (same origin).
In Chromium, inside an iframe sandboxed as Airflow's UI sandboxes plugin pages: no CSP violation, the
filters submit, and links to evidence (new tab) and to Airflow runs (the Airflow window) still work,
without running code in the Airflow window."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from hostile_reports import WATCH, scripts_of
from served import directives, serving_root

from mrm.demo.ui_tour import chromium
from mrm.ui import URL_PREFIX
from mrm.ui.html import CSS, PAGE_SCRIPT

PAGES = ["/", "/?tier=1&sort=-psi", "/breaches", "/models/card_fraud", "/models/credit_line?days=5",
         "/models/no_such_model", "/models/card_fraud?days=0"]  # fmt: skip


def sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_sends_its_csp_and_carries_only_what_it_allows(client, path):
    response = client.get(URL_PREFIX + path)
    assert response.headers["content-type"].startswith("text/html")
    csp = directives(response.headers["content-security-policy"])
    assert csp["default-src"] == csp["connect-src"] == csp["object-src"] == csp["base-uri"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'self'"] and csp["form-action"] == ["'self'"]
    assert "'unsafe-eval'" not in response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in response.headers["content-security-policy"]
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"

    html = response.text
    inline = [text for attrs, text in scripts_of(html) if not attrs.get("src")]
    assert inline == [PAGE_SCRIPT] and csp["script-src"] == [sha256(PAGE_SCRIPT)]
    styles = re.findall(r"<style>(.*?)</style>", html, re.S)
    assert styles == [CSS] and csp["style-src"] == [sha256(CSS)]
    assert not re.search(r"<[^>]+\son[a-z]+=", html), "an inline event handler the CSP would block"
    assert not re.search(r"<[^>]+\sstyle=", html), "a style attribute the CSP would block"


def test_the_page_script_runs_nothing_in_the_airflow_window():
    for word in ("Function", "eval", "setTimeout", "setInterval", "postMessage", "innerHTML", "write"):
        assert word not in PAGE_SCRIPT, word


def test_csv_and_redirects_carry_the_headers_too(client):
    csv = client.get(f"{URL_PREFIX}/breaches?format=csv")
    assert csv.headers["x-content-type-options"] == "nosniff"
    assert "frame-ancestors 'self'" in csv.headers["content-security-policy"]
    moved = client.get(f"{URL_PREFIX}/dags/mrm_monitor__card_fraud", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["x-frame-options"] == "SAMEORIGIN"


# -- in Chromium, in Airflow's iframe ------------------------------------------------------------------------
def airflow_iframe_sandbox() -> str:
    """The sandbox Airflow's UI gives a plugin page's iframe, read from the installed UI's bundle."""
    import airflow

    assets = Path(airflow.__file__).parent / "ui" / "dist" / "assets"
    found = {
        m.group(1)
        for js in assets.glob("*.js")
        for m in re.finditer(r"sandbox:`(allow-[a-z -]+)`", js.read_text(encoding="utf-8", errors="replace"))
    }
    (sandbox,) = found
    assert "allow-popups" not in sandbox and "allow-top-navigation" not in sandbox
    return sandbox


def airflow_like(page_app) -> FastAPI:
    """The app at /model-risk, and at / a page that frames it as Airflow's UI does."""
    root = FastAPI()
    sandbox = airflow_iframe_sandbox()

    @root.get("/plugin/model-risk")
    def plugin(path: str = "/") -> HTMLResponse:
        return HTMLResponse(f'<!doctype html><iframe sandbox="{sandbox}" src="{URL_PREFIX}{path}"></iframe>')

    @root.get("/dags/{rest:path}")
    def airflow_page(rest: str) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>Airflow run</title>")

    root.mount(URL_PREFIX, page_app)
    return root


needs_chromium = pytest.mark.skipif(
    chromium() is None, reason="Chromium not installed (apt-get install -y chromium)"
)


@needs_chromium
def test_in_airflows_iframe_the_pages_work_under_their_csp(client):
    from playwright.sync_api import sync_playwright

    with serving_root(airflow_like(client.app)) as base, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.add_init_script(WATCH)  # in every frame: note what a CSP blocks
            page.goto(f"{base}/plugin/model-risk")
            frame = page.frame_locator("iframe")
            frame.locator("td a[href$='/models/card_fraud']").first.wait_for(timeout=30000)

            portfolio = page.frames[1]
            frame.locator("select[name=tier]").select_option("1")  # the filters submit on change
            portfolio.wait_for_url("**/model-risk/?tier=1**", timeout=30000)

            portfolio.goto(f"{base}{URL_PREFIX}/models/card_fraud")
            with page.expect_popup() as popup:  # evidence: a new tab, as the Airflow window's own link
                frame.locator("a", has_text="Evidently report").first.click()
            report = popup.value
            report.locator(".MuiPaper-root").first.wait_for(timeout=30000)
            assert "/evidence/card_fraud/" in report.url
            assert report.evaluate("window.opener") is None

            model = page.frames[1]
            violations = model.evaluate("window.__violations")
            heat = model.evaluate(
                "(() => { const h = document.getElementById('heat'); "
                "return h ? h.scrollLeft + h.clientWidth >= h.scrollWidth - 1 : null })()"
            )
            frame.locator("a", has_text="Airflow run").first.click()  # the Airflow window follows
            page.wait_for_url(f"{base}/dags/**", timeout=30000)
            assert page.title() == "Airflow run"
        finally:
            browser.close()
    assert violations == []
    assert heat is True  # the heat map scrolled to its newest day by the page's script
