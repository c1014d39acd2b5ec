"""The risk manager's desk in a real browser: log in to Airflow's api-server as a person, open a
ticket's page or the review page of the Model Risk app, open an act's form (``<details>``), fill it and
submit it as a person would; read what the page shows. Used by the browser test of the desk and for
the README's screenshots (headless Chromium via Playwright)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mrm.demo.ui_tour import _log_in, chromium

URL_PREFIX = "/model-risk"  # where the plugin mounts the page (mrm.ui.URL_PREFIX; demo may not import ui)


@contextmanager
def logged_in(base: str, user: str, password: str, width: int = 1280) -> Iterator:
    """A browser page logged in to Airflow as ``user``."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium(), args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            _log_in(page, base, user, password)
            yield page
        finally:
            browser.close()


def open_page(page, base: str, path: str) -> str:
    """Open a page of the Model Risk app (e.g. ``/tickets/1``, ``/review``); its text."""
    page.goto(f"{base}{URL_PREFIX}{path}")
    page.wait_for_selector("main")
    return page.inner_text("main")


def acts_offered(page) -> list[str]:
    """The acts whose forms the page shows (data-act of each ``<details class=act>``)."""
    return [d.get_attribute("data-act") for d in page.locator("details.act").all()]


def submit(page, act: str, fields: dict[str, str], nth: int = 0) -> str:
    """Open the ``nth`` form of ``act``, fill ``fields`` (name -> value; a select by value) and submit it
    with its button; the text of the page it lands on."""
    box = page.locator(f'details.act[data-act="{act}"]').nth(nth)
    if box.get_attribute("open") is None:
        box.locator("summary").click()
    form = box.locator("form")
    for name, value in fields.items():
        field = form.locator(f'[name="{name}"]')
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    with page.expect_navigation():
        form.locator("button[type=submit]").click()
    page.wait_for_selector("main")
    return page.inner_text("main")


def shot(page, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(300)
    page.screenshot(path=str(path), full_page=True)
    return path
