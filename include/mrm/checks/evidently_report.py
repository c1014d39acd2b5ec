"""Evidently reports as mrm writes them: the HTML without Evidently's inlined 3.5 MB JavaScript bundle and
font (one shared copy is written next to the reports instead, see :func:`mrm.evidence.write_shared`), and
frames handed to Evidently with the inventory's column kinds and categorical nulls marked so that they
reach the "missing" PSI bin.
"""

from __future__ import annotations

import base64
import hashlib
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from mrm.checks import stats
from mrm.inventory import ModelEntry

if TYPE_CHECKING:
    import pandas as pd

# A daily report references the shared copy, so it is tens of kB rather than 3.9 MB. LIB_DIR is
# relative to the report's folder.
LIB_DIR = "../../../_lib"


def evidently_lib_files() -> dict[str, bytes]:
    """The files a report made by :func:`render_html` needs, by name under the shared folder."""
    import evidently
    from evidently.legacy.utils.dashboard import STATIC_PATH

    static = Path(STATIC_PATH)
    return {
        f"evidently-{evidently.__version__}.js": (static / "index.js").read_bytes(),
        "material-ui-icons.woff2": (static / "material-ui-icons.woff2").read_bytes(),
    }


@cache
def lib_hashes() -> dict[str, str]:
    """The pinned SHA-256 (hex) of each shared file: that of the file the installed Evidently bundles.
    The page serves a ``_lib`` file only if it has this hash; reports carry it as SRI."""
    return {name: hashlib.sha256(data).hexdigest() for name, data in evidently_lib_files().items()}


def sri(name: str) -> str:
    """The Subresource Integrity value (``sha256-<base64>``) of shared file ``name``."""
    return "sha256-" + base64.b64encode(bytes.fromhex(lib_hashes()[name])).decode()


def render_html(snapshot) -> bytes:
    """The report of ``snapshot``: Evidently's widgets as data (:func:`json_for_html`) in the page of
    :func:`page`, which loads the shared bundle (SRI-pinned) and draws them."""
    from evidently.legacy.model.dashboard import DashboardInfo
    from evidently.legacy.model.widget import AdditionalGraphInfo, BaseWidgetInfo
    from evidently.legacy.renderers.html_widgets import group_widget

    widgets = [group_widget(title="", widgets=snapshot._widgets), *snapshot._tests_widgets]
    graphs = {}
    for widget in widgets:
        for graph in widget.get_additional_graphs():
            info = graph.params if isinstance(graph, AdditionalGraphInfo) else graph
            graphs[str(graph.id)] = info.dict() if isinstance(info, BaseWidgetInfo) else info
    dashboard = DashboardInfo(name="Report", widgets=widgets).dict()
    for item in dashboard["widgets"]:  # as evidently.legacy.utils.dashboard.dashboard_info_to_json does
        item.pop("additionalGraphs", None)
    return page(json_for_html(dashboard), json_for_html(graphs)).encode()


# What a JSON text may not hold inside an HTML <script> element: "<" (it could close the element or open
# "<!--" / "<script" states), ">" and "&" (kept out for any other HTML context), U+2028/U+2029 (line
# breaks in older JavaScript). Outside strings JSON has none of them, so this escapes only string
# contents, and JSON.parse reads them back as the same characters.
_HTML_UNSAFE = str.maketrans(
    {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


def json_for_html(value) -> str:
    """``value`` as JSON text safe inside ``<script type="application/json">``: numpy values as
    Evidently encodes them (its NumpyEncoder), NaN and infinities as null (JSON has neither), every
    non-ASCII character and the HTML-unsafe ones as \\uXXXX escapes."""
    import json
    import math

    from evidently.legacy.utils import NumpyEncoder

    def finite(v):
        if isinstance(v, float) and not math.isfinite(v):
            return None
        if isinstance(v, dict):
            return {k: finite(x) for k, x in v.items()}
        return [finite(x) for x in v] if isinstance(v, list) else v

    plain = finite(json.loads(json.dumps(value, cls=NumpyEncoder)))
    return json.dumps(plain, allow_nan=False, separators=(",", ":")).translate(_HTML_UNSAFE)


# The report's only inline scripts: the same text in every report of this Evidently version, so the
# page's CSP allows them by hash (:func:`inline_scripts`) and runs no other inline script.
DATA_ID, GRAPHS_ID, ROOT_ID = "mrm-dashboard", "mrm-graphs", "mrm-root"
_GLOBAL = "var global = globalThis"
_DRAW = (
    "(function(){function data(id){return JSON.parse(document.getElementById(id).textContent)}"
    f"window.drawDashboard(data('{DATA_ID}'),new Map(Object.entries(data('{GRAPHS_ID}'))),'{ROOT_ID}')}})()"
)
# A browser refuses SRI on a file:// page (no CORS there): a report opened from a local folder loads the
# bundle again without it. Over http(s) (the page's route) the integrity check stands: no fallback.
_FILE_FALLBACK = (
    'if(!window.drawDashboard&&location.protocol==="file:")document.write(\'<script src="%s"><\\/script>\')'
)
# Evidently's own style block (evidently.legacy.utils.dashboard.file_html_template), with the shared font
_STYLE = (
    "@font-face{font-family:'Material Icons';font-style:normal;font-weight:400;src:url(%s)}"
    ".center-align{text-align:center}"
    ".material-icons{font-family:'Material Icons';font-weight:normal;font-style:normal;font-size:24px;"
    "line-height:1;letter-spacing:normal;text-transform:none;display:inline-block;white-space:nowrap;"
    "word-wrap:normal;direction:ltr;text-rendering:optimizeLegibility;-webkit-font-smoothing:antialiased}"
)


def _lib_src() -> tuple[str, str]:
    lib, font = lib_hashes()  # the names, in evidently_lib_files() order
    return f"{LIB_DIR}/{lib}", f"{LIB_DIR}/{font}"


def inline_scripts() -> list[str]:
    """The text of each inline script a report carries (the same in every report)."""
    return [_GLOBAL, _FILE_FALLBACK % _lib_src()[0], _DRAW]


def script_hashes() -> list[str]:
    """CSP sources (``'sha256-…'``) of the report's inline scripts: a page allowing only these runs no
    inline script that data could have smuggled into a report."""
    return ["'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
            for s in inline_scripts()]  # fmt: skip


def page(dashboard_json: str, graphs_json: str) -> str:
    """The report's HTML around its data (JSON texts from :func:`json_for_html`): the data in
    ``application/json`` blocks the browser never runs, read by one constant script with JSON.parse;
    the shared bundle loaded with ``integrity=`` and CORS (``crossorigin``), so that a browser runs it
    only with the pinned hash, also from the sandboxed (opaque) origin the page's route serves it in."""
    lib, font = _lib_src()
    integrity = sri(lib.rsplit("/", 1)[-1])
    glob, fallback, draw = inline_scripts()
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="UTF-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0">\n'
        f"<style>{_STYLE % font}</style>\n"
        f'<script type="application/json" id="{DATA_ID}">{dashboard_json}</script>\n'
        f'<script type="application/json" id="{GRAPHS_ID}">{graphs_json}</script>\n'
        f'</head>\n<body>\n<div id="{ROOT_ID}"></div>\n<script>{glob}</script>\n'
        f'<script src="{lib}" integrity="{integrity}" crossorigin="anonymous"></script>'
        f"<script>{fallback}</script>\n<script>{draw}</script>\n</body>\n</html>\n"
    )


def data_definition(entry: ModelEntry, columns: list[str]):
    """Evidently's data definition of ``columns``: the inventory's categorical features, the rest numeric."""
    from evidently import DataDefinition

    categorical = {f.name for f in entry.monitoring.features if f.type == "categorical"}
    return DataDefinition(
        numerical_columns=[c for c in columns if c not in categorical],
        categorical_columns=[c for c in columns if c in categorical],
    )


def with_missing_marker(frame: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """A copy of ``frame`` whose categorical nulls are stats.MISSING, so that they reach the "missing"
    PSI bin (Evidently drops nulls before calling a stattest)."""
    out = frame.copy()
    for col in categorical:
        out[col] = out[col].astype("object").where(out[col].notna(), stats.MISSING)
    return out


def foreign_scripts(html: bytes) -> list[str]:
    """What in ``html`` (a report) a browser could run besides :func:`page`'s own scripts: a script
    element of another kind, source or text, or an ``on…`` event attribute; empty for a sound report."""
    from html.parser import HTMLParser

    own = _own_script(set(inline_scripts()), _lib_src()[0])
    found: list[str] = []

    class Scripts(HTMLParser):
        """The HTML tokenizer's view: each <script> element as (attributes, text), each on… attribute."""

        def reset(self):
            super().reset()
            self.script: tuple[dict, list[str]] | None = None

        def handle_starttag(self, tag, attrs):
            found.extend(f"<{tag} {k}=…>" for k, _ in attrs if k.startswith("on"))
            if tag == "script":
                self.script = (dict(attrs), [])

        def handle_data(self, data):
            if self.script is not None:
                self.script[1].append(data)

        def handle_endtag(self, tag):
            if tag == "script" and self.script is not None:
                (attrs, parts), self.script = self.script, None
                if not own(attrs, "".join(parts)):
                    shown = " ".join(f"{k}={v!r}" for k, v in attrs.items())
                    found.append(f"<script {shown}>{''.join(parts)[:60]!r}")

    parser = Scripts(convert_charrefs=True)
    parser.feed(html.decode("utf-8", errors="replace"))
    parser.close()
    return found


def _own_script(inline: set[str], lib: str):
    """Whether a <script> element (attributes, text) is one :func:`page` writes: a JSON block without
    "<", the shared bundle, or one of the constant inline scripts."""

    def own(attrs: dict, text: str) -> bool:
        kind, src = attrs.get("type"), attrs.get("src")
        if kind == "application/json":
            return attrs.get("id") in (DATA_ID, GRAPHS_ID) and "<" not in text
        if src is not None:
            return src == lib and not text and kind is None
        return kind is None and text in inline

    return own
