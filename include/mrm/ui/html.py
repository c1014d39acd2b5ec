"""HTML building blocks of the Model Risk page: the layout (inline CSS and one script, no external
assets) and the Content-Security-Policy that allows exactly those, status badges, and tables that
render as HTML and as CSV from the same rows."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from html import escape
from typing import Any

from mrm.controls import ACCEPTED, AMBER, GREEN, INFO, INSUFFICIENT, RED
from mrm.core.csvsafe import neutralise

ERROR, NO_RUNS = "ERROR", "NO_RUNS"
LABELS = {INSUFFICIENT: "INSUFFICIENT", NO_RUNS: "no runs"}

CSS = """
:root{--ink:#101828;--muted:#667085;--line:#eaecf0;--soft:#f9fafb;--link:#175cd3;
--red:#d92d20;--red-bg:#fee4e2;--amber:#dc6803;--amber-bg:#fef0c7;--green:#039855;--green-bg:#d1fadf;
--grey-bg:#f2f4f7;--error:#5925dc;--error-bg:#ebe9fe;--accepted:#175cd3;--accepted-bg:#d1e9ff}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif;
color:var(--ink);background:#fff}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
header{display:flex;align-items:center;gap:24px;padding:10px 24px;border-bottom:1px solid var(--line);
background:var(--soft)}
header .brand{font-weight:700;font-size:16px;color:var(--ink)}
header nav a{margin-right:16px;color:var(--muted);font-weight:500}
header nav a.on{color:var(--ink);border-bottom:2px solid var(--ink);padding-bottom:2px}
main{padding:16px 24px 48px;max-width:1500px}
h1{font-size:20px;margin:4px 0 12px}h2{font-size:16px;margin:28px 0 8px;display:flex;gap:12px;
align-items:baseline}h2 .csv,h2 .hint{font-size:12px;font-weight:400;color:var(--muted)}
h3{font-size:13px;margin:0 0 4px;font-weight:600}
.muted{color:var(--muted)}.small{font-size:12px}
table{border-collapse:collapse;width:100%;font-size:13px;font-variant-numeric:tabular-nums}
th,td{padding:5px 8px;border-bottom:1px solid var(--line);text-align:left;vertical-align:top}
th{font-size:12px;font-weight:600;color:var(--muted);white-space:nowrap;background:var(--soft)}
td.num,th.num{text-align:right}td{white-space:nowrap}td.wrap{white-space:normal;min-width:240px}
tr:hover td{background:#fcfcfd}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
background:var(--grey-bg);color:#475467}
.b-RED{background:var(--red-bg);color:#b42318}.b-AMBER{background:var(--amber-bg);color:#b54708}
.b-GREEN{background:var(--green-bg);color:#027a48}.b-ERROR{background:var(--error-bg);color:var(--error)}
.b-ACCEPTED{background:var(--accepted-bg);color:var(--accepted)}
.b-NO_RUNS,.b-NONE{background:none;color:var(--muted);font-weight:400}
form.filters{display:flex;gap:12px;align-items:end;flex-wrap:wrap;margin:0 0 12px}
form.filters label{display:flex;flex-direction:column;font-size:12px;color:var(--muted)}
select,input,button{font:inherit;padding:4px 6px;border:1px solid #d0d5dd;border-radius:6px;background:#fff}
button{cursor:pointer}
.chips{display:flex;gap:8px;margin:0 0 12px;flex-wrap:wrap}
.card{display:grid;grid-template-columns:repeat(auto-fill,minmax(260px,1fr));gap:4px 24px;
padding:12px 16px;border:1px solid var(--line);border-radius:8px;background:var(--soft)}
.card div{padding:2px 0}.card dt{font-size:12px;color:var(--muted)}.card dd{margin:0}
.charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(330px,1fr));gap:16px}
.chart{border:1px solid var(--line);border-radius:8px;padding:8px 10px}
.chart svg{display:block;width:100%;height:auto}
svg .band-amber{fill:#fef0c7}svg .band-red{fill:#fee4e2}svg .axis{stroke:#d0d5dd}
svg .line{fill:none;stroke:#344054;stroke-width:1.5}svg text{font-size:10px;fill:#667085}
svg .breach-AMBER{fill:#f79009;stroke:#fff}svg .breach-RED{fill:#d92d20;stroke:#fff}
svg .breach-ACCEPTED{fill:#2e90fa;stroke:#fff}
.scroll{overflow-x:auto}
table.heat td{padding:0;border:1px solid #fff;text-align:center;font-size:11px;min-width:40px;height:24px}
table.heat th{font-size:11px;padding:2px 4px}
table.heat tbody th,table.heat thead th:first-child{position:sticky;left:0;z-index:1}
table.heat th.day{writing-mode:vertical-rl;
transform:rotate(180deg);height:70px}
.h-GREEN{background:#d1fadf}.h-AMBER{background:#fedf89}.h-RED{background:#fda29b}
.h-INSUFFICIENT_DATA{background:#eaecf0}.h-INFO{background:#f2f4f7}.h-ACCEPTED{background:#b2ddff}
.notice{padding:10px 14px;border-radius:8px;background:var(--amber-bg);margin:0 0 12px}
.empty{padding:16px;color:var(--muted);border:1px dashed #d0d5dd;border-radius:8px}
details{margin:6px 0}summary{cursor:pointer;color:var(--link)}
.acts{display:flex;flex-wrap:wrap;gap:4px 16px}details.act{margin:4px 0}
form.act{display:flex;flex-direction:column;gap:6px;max-width:520px;padding:8px 12px;margin:4px 0;
border:1px solid var(--line);border-radius:8px;background:var(--soft)}
form.act label{display:flex;flex-direction:column;font-size:12px;color:var(--muted);gap:2px}
form.act textarea{font:inherit;padding:4px 6px;border:1px solid #d0d5dd;border-radius:6px}
form.act button{align-self:flex-start;background:var(--ink);color:#fff;border-color:var(--ink)}
.change{padding:8px 12px;border:1px solid var(--line);border-radius:8px;margin:0 0 8px}
.notice.done{background:var(--green-bg)}
"""


def e(value: Any) -> str:
    return escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A value for people: numbers to 4 significant digits, dates in ISO, None as n/a."""
    if value is None:
        return "n/a"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.0f}" if abs(value) >= 10_000 else f"{value:.4g}"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M UTC")
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def badge(status: str | None) -> str:
    status = status or "NONE"
    label = LABELS.get(status, "—" if status == "NONE" else status)
    return f'<span class="badge b-{e(status)}">{e(label)}</span>'


def link(href: str, text: str, *, target: str | None = None) -> str:
    extra = f' target="{e(target)}" rel="noopener"' if target else ""
    return f'<a href="{e(href)}"{extra}>{e(text)}</a>'


# The page's one script (no inline handlers; allowed by hash in PAGE_CSP): submits a filter <select> on
# change, scrolls the heat map to its newest day, and follows links that Airflow's iframe would block.
# Airflow shows plugin pages in an iframe sandboxed without allow-popups and allow-top-navigation, so a
# link to an Airflow run (target _top) or to evidence (target _blank) does nothing there. The frame is
# same-origin with the Airflow window, so the script puts a plain link with the same href and target in
# that window's document and clicks it: the browser follows it as the Airflow window's own link. No code
# runs in the Airflow window (no eval, no Function, no timer there).
PAGE_SCRIPT = (
    "(function(){var h=document.getElementById('heat');if(h){h.scrollLeft=h.scrollWidth;}"
    "document.addEventListener('change',function(ev){var s=ev.target;"
    "if(s.matches&&s.matches('select[data-submit]')&&s.form)s.form.submit();});"
    "document.addEventListener('click',function(ev){"
    "var a=ev.target.closest&&ev.target.closest('a[target]');if(!a||window.top===window)return;"
    "var t=a.getAttribute('target');if(t!=='_top'&&t!=='_blank')return;"
    "var d;try{d=window.top.document;}catch(x){return;}"
    "ev.preventDefault();var b=d.createElement('a');b.href=a.href;b.target=t;b.rel='noopener';"
    "d.body.appendChild(b);b.click();b.remove();});})();"
)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


# The pages' CSP: the inline CSS and PAGE_SCRIPT by hash and nothing else (no other inline script, no
# eval, no network); forms and framing only by the page itself and the Airflow UI (same origin).
PAGE_CSP = (
    f"default-src 'none'; script-src {_sha256(PAGE_SCRIPT)}; style-src {_sha256(CSS)}; img-src 'self' data:; "
    "connect-src 'none'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}


def page(title: str, body: str, base: str, active: str = "") -> str:
    tabs = [
        ("portfolio", "Portfolio", f"{base}/"),
        ("breaches", "Breaches & tickets", f"{base}/breaches"),
        ("review", "Review", f"{base}/review"),
    ]
    nav = "".join(
        f'<a href="{e(href)}"{" class=on" if key == active else ""}>{e(text)}</a>' for key, text, href in tabs
    )
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(title)} · Model Risk</title>'
        f'<meta name="viewport" content="width=device-width, initial-scale=1"><style>{CSS}</style></head>'
        f'<body><header><a class="brand" href="{e(base)}/">Model Risk</a><nav>{nav}</nav></header>'
        f"<main>{body}</main><script>{PAGE_SCRIPT}</script></body></html>"
    )


# -- tables: one definition, two renderings -------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    key: str
    label: str
    cell: Callable[[dict], str] | None = None  # the cell's HTML (escaped); default: the value formatted
    num: bool = False
    wrap: bool = False
    in_html: bool = True  # False: a CSV-only column (shown folded into another cell on the page)


@dataclass
class Table:
    name: str  # the CSV file's name
    columns: list[Column]
    rows: list[dict]
    empty: str = "nothing to show"
    header_html: dict[str, str] = field(default_factory=dict)  # e.g. sort links, by column key

    def html(self) -> str:
        if not self.rows:
            return f'<div class="empty">{e(self.empty)}</div>'
        columns = [c for c in self.columns if c.in_html]
        head = "".join(
            f"<th{' class=num' if c.num else ''}>{self.header_html.get(c.key) or e(c.label)}</th>"
            for c in columns
        )
        body = "".join("<tr>" + "".join(self._td(c, row) for c in columns) + "</tr>" for row in self.rows)
        return f'<div class="scroll"><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'

    @staticmethod
    def _td(column: Column, row: dict) -> str:
        inner = column.cell(row) if column.cell else e(fmt(row.get(column.key)))
        cls = "num" if column.num else "wrap" if column.wrap else ""
        return f"<td{f' class={cls}' if cls else ''}>{inner}</td>"

    def csv(self) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow([c.key for c in self.columns])
        for row in self.rows:
            writer.writerow([csv_value(row.get(c.key)) for c in self.columns])
        return out.getvalue()


def csv_value(value: Any) -> str:
    """Full precision (floats round-trip), ISO dates, empty for None; text that a spreadsheet would
    run as a formula is quoted with a leading apostrophe (:func:`mrm.core.csvsafe.neutralise`)."""
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    return neutralise(str(value))  # the one neutraliser of every CSV mrm writes (= + - @ TAB CR)


STATUS_ORDER = {RED: 0, ERROR: 1, AMBER: 2, ACCEPTED: 3, INSUFFICIENT: 4, GREEN: 5, INFO: 6, NO_RUNS: 7}
