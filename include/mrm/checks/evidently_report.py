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
    """Evidently's own HTML template (evidently.core.metric_types.render_widgets), minus the inlined lib."""
    import uuid

    from evidently.legacy.model.dashboard import DashboardInfo
    from evidently.legacy.model.widget import AdditionalGraphInfo, BaseWidgetInfo
    from evidently.legacy.renderers.html_widgets import group_widget
    from evidently.legacy.utils.dashboard import TemplateParams, file_html_template

    widgets = [group_widget(title="", widgets=snapshot._widgets), *snapshot._tests_widgets]
    graphs = {}
    for widget in widgets:
        for graph in widget.get_additional_graphs():
            info = graph.params if isinstance(graph, AdditionalGraphInfo) else graph
            graphs[str(graph.id)] = info.dict() if isinstance(info, BaseWidgetInfo) else info
    lib, font = evidently_lib_files()
    params = TemplateParams(
        dashboard_id="metric_" + uuid.uuid4().hex,
        dashboard_info=DashboardInfo(name="Report", widgets=widgets),
        additional_graphs=graphs,
        embed_font=False,
        embed_lib=False,
        font_file=f"{LIB_DIR}/{font}",
        include_js_files=[f"{LIB_DIR}/{lib}"],
    )
    html = file_html_template(params)
    return _with_integrity(html, f"{LIB_DIR}/{lib}", sri(lib)).encode()


def _with_integrity(html: str, src: str, integrity: str) -> str:
    """The report with ``integrity=`` on its one script tag that loads the shared bundle: a browser then
    runs the bundle only if it has the pinned hash (but for a report opened from a local folder, where
    browsers cannot check SRI). Fails loudly if Evidently's template changed."""
    tag = f'<script src="{src}"></script>'
    if html.count(tag) != 1:
        from mrm.errors import MrmError

        raise MrmError(
            f"Evidently's report template no longer has exactly one {tag}; update "
            "mrm.checks.evidently_report for this Evidently version"
        )
    return html.replace(tag, f'<script src="{src}" integrity="{integrity}"></script>{_FILE_FALLBACK % src}')


# A browser refuses SRI on a file:// page (no CORS there): a report opened from a local folder loads the
# bundle again without it. Over http(s) (the page's route) the integrity check stands: no fallback.
_FILE_FALLBACK = (
    '<script>if(!window.drawDashboard&&location.protocol==="file:")'
    "document.write('<script src=\"%s\"><\\/script>')</script>"
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
