"""A monitoring run on a day whose categorical values carry script payloads (security review finding 1),
made through the real pipeline and drift check, and the same report data in Evidently's own template
(what mrm wrote before it built the page itself): shared by the report and evidence-route tests."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from support import clear_caches, local_inventory

MODEL, COLUMN, DAY_N = "card_fraud", "merchant_category", 5
PAYLOADS = (
    "</script><script>window.PWNED=1</script>",
    "<img src=x onerror=window.PWNED=1>",
    "\u2028</script><script>window.PWNED=1</script>\u2029",
    "<!--<script>",
)
# what the injected scripts would set, and a look at the page once the browser is done with it
PROBE = """() => ({
    pwned: typeof window.PWNED,
    drawn: !!document.querySelector('.MuiPaper-root'),
    labels: Array.from(document.querySelectorAll('svg text')).map(t => t.textContent),
    images: document.querySelectorAll('img[src="x"]').length,
    violations: window.__violations || [],
    fonts: Array.from(document.fonts).map(f => f.family.replace(/["']/g, '') + ': ' + f.status),
})"""
# before any script of the page: note what the page's CSP blocks
WATCH = (
    "window.__violations=[];document.addEventListener('securitypolicyviolation',"
    "function(e){window.__violations.push(e.effectiveDirective+' '+e.blockedURI)});"
)


@dataclass
class HostileRun:
    home: Path
    inventory: Path
    run: dict

    @property
    def report(self) -> Path:
        return Path(unquote(urlparse(self.run["evidence"]["drift_report"]["uri"]).path))

    @property
    def evidence_uri(self) -> str:
        return (self.home / "evidence").as_uri()


def poison(data_uri: str, day) -> None:
    """Every tenth row of the day gets each payload as its merchant category (40% of the rows)."""
    path = Path(unquote(urlparse(data_uri).path)) / "scoring" / MODEL / f"dt={day.isoformat()}"
    (part,) = path.glob("*.parquet")
    table = pq.read_table(part)
    values = table.column(COLUMN).to_pylist()
    for i in range(len(values)):
        if i % 10 < len(PAYLOADS):
            values[i] = PAYLOADS[i % 10]
    field = table.schema.field(COLUMN)
    pq.write_table(
        table.set_column(table.schema.get_field_index(COLUMN), field, pa.array(values, field.type)), part
    )


def hostile_run(root: Path) -> HostileRun:
    """card_fraud's day 5 with the payloads, run by mrm.pipeline.run_model in a home of its own."""
    from mrm import pipeline
    from mrm.demo.data import day, write_demo_data

    data = (root / "data").as_uri()
    write_demo_data(data, models=(MODEL,), days=DAY_N, rows=2000)
    poison(data, day(DAY_N))
    folder = local_inventory(root / "inventory", data, models=(MODEL,))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MRM_HOME", str(root / "home"))
        mp.setenv("MRM_INVENTORY", str(folder))
        mp.delenv("MRM_DB_URL", raising=False)
        mp.delenv("MRM_EVIDENCE", raising=False)
        mp.delenv("MRM_SAMPLE_ROWS", raising=False)
        clear_caches()
        try:
            run_id = pipeline.run_model(MODEL, day(DAY_N))["run_id"]
            run = pipeline.get_store().run(run_id)
        finally:
            clear_caches()
    return HostileRun(root / "home", folder, run)


class Scripts(HTMLParser):
    """Each <script> element of a page as the HTML tokenizer sees it: (attributes, text)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[tuple[dict, str]] = []
        self._open: dict | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self._open, self._text = dict(attrs), ""

    def handle_data(self, data):
        if self._open is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "script" and self._open is not None:
            self.scripts.append((self._open, self._text))
            self._open = None


def scripts_of(html: str) -> list[tuple[dict, str]]:
    parser = Scripts()
    parser.feed(html)
    parser.close()
    return parser.scripts


def data_blocks(html: str) -> tuple[dict, dict]:
    """The report's dashboard and graphs, read from its JSON blocks as the browser's JSON.parse would."""
    from mrm.checks.evidently_report import DATA_ID, GRAPHS_ID

    blocks = {a.get("id"): text for a, text in scripts_of(html) if a.get("type") == "application/json"}
    return json.loads(blocks[DATA_ID]), json.loads(blocks[GRAPHS_ID])


def in_evidentlys_template(html: str) -> str:
    """The report's data in Evidently's own template (evidently.legacy.utils.dashboard
    .file_html_template, json.dumps inside <script>): the report as mrm wrote it before this page."""
    from evidently.legacy.utils.dashboard import TemplateParams, file_html_template

    from mrm.checks.evidently_report import LIB_DIR, evidently_lib_files

    dashboard, graphs = data_blocks(html)

    class Info:  # what the template reads of a DashboardInfo
        def dict(self):
            return copy.deepcopy(dashboard)

    lib, font = evidently_lib_files()
    params = TemplateParams(
        dashboard_id="metric_old", dashboard_info=Info(), additional_graphs=graphs, embed_font=False,
        embed_lib=False, font_file=f"{LIB_DIR}/{font}", include_js_files=[f"{LIB_DIR}/{lib}"],
    )  # fmt: skip
    return file_html_template(params)


def look(url: str, *, drawn: bool) -> dict:
    """Open ``url`` in headless Chromium (Playwright) and return :data:`PROBE`; ``drawn``: wait until the
    dashboard has drawn its plots' labels (else only for the page's load)."""
    from playwright.sync_api import sync_playwright

    from mrm.demo.ui_tour import chromium

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            page.add_init_script(WATCH)
            page.goto(url, wait_until="load")
            if drawn:
                # a locator, not wait_for_function: that polls with eval, which the report's CSP forbids
                page.locator("svg text").nth(20).wait_for(state="attached", timeout=30000)
                page.evaluate("document.fonts.load(\"24px 'Material Icons'\").then(() => true, () => false)")
            return page.evaluate(PROBE)
        finally:
            browser.close()


class StaticServer:
    """A plain web server on a folder (no CSP, no headers of mrm's): what escaping alone must withstand."""

    def __init__(self, folder: Path):
        import functools
        from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

        class Quiet(SimpleHTTPRequestHandler):
            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(folder)))
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> StaticServer:
        import threading

        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
