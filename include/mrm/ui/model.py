"""One model's page: its inventory card, a chart per key metric, the PSI heat map, the latest controls,
its runs with links to Airflow and the evidence, and its tickets. Built from rows the history holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from urllib.parse import quote

from mrm import metrics
from mrm.controls import ACCEPTED, AMBER, GREEN, INFO, RED
from mrm.core.results import control_key
from mrm.inventory import ModelEntry
from mrm.store import reruns
from mrm.store.tickets import ticket_key
from mrm.ui import backtests, charts, outcome
from mrm.ui.html import STATUS_ORDER, Column, Table, badge, e, fmt, link

KEY_METRICS = (
    "score_psi",
    "psi",
    "null_rate",
    "volume_ratio",
    "gini_drop",
    "auc",
    "calibration_ratio",
    "label_coverage",
)
EVIDENCE_LABELS = {"drift_report": "Evidently report", "quality_gx": "GX result"}
TABLES = ("latest", "psi", "runs", "backtests", "tickets", "controls", "metrics")
DEFAULT_DAYS = 90  # the window of the page, counted back from the model's newest logical date


@dataclass
class ModelData:
    model_id: str
    entry: ModelEntry | None
    metrics: list[dict]  # current runs' rows in the window, date order
    runs: list[dict]  # every run in the window, newest first
    tickets: list[dict]
    since: date | None
    last: date | None
    backtests: list[dict] = field(default_factory=list)  # current backtest runs, newest first (any date)


# -- series and heat map ----------------------------------------------------------------------------------
def _column_order(entry: ModelEntry | None) -> dict[str | None, int]:
    names = [f.name for f in entry.monitoring.features] if entry and entry.monitoring else []
    return {None: -1, **{n: i for i, n in enumerate([*names, "score", "decision"])}}


def series(rows: list[dict], entry: ModelEntry | None) -> list[charts.Series]:
    """A series per key metric (per feature where per column; whole population), then any other series
    that breached in the window."""
    grouped: dict[tuple[str, str | None], list[dict]] = {}
    for row in rows:
        if row["segment"] is None and row["check"] != "governance":
            grouped.setdefault((row["metric"], row["column"]), []).append(row)
    order = _column_order(entry)
    features = {f.name for f in entry.monitoring.features} if entry and entry.monitoring else None
    breached = {k for k, rs in grouped.items() if any(r["status"] in (AMBER, RED, ACCEPTED) for r in rs)}
    key = {
        k for k in grouped if k[0] in KEY_METRICS and (k[1] is None or features is None or k[1] in features)
    }
    keys = [k for k in grouped if k in key or k in breached]
    rank = {m: i for i, m in enumerate(KEY_METRICS)}
    keys.sort(key=lambda k: (rank.get(k[0], len(rank)), k[0], order.get(k[1], 99), k[1] or ""))
    return [_series(k, grouped[k]) for k in keys]


def _series(key: tuple[str, str | None], rows: list[dict]) -> charts.Series:
    with_limits = [r for r in rows if r["amber_threshold"] is not None and r["red_threshold"] is not None]
    newest = with_limits[-1] if with_limits else None
    return charts.Series(
        metric=key[0],
        column=key[1],
        points=[charts.Point(r["logical_date"], r["value"], r["status"]) for r in rows],
        amber=newest["amber_threshold"] if newest else None,
        red=newest["red_threshold"] if newest else None,
    )


def psi_by_feature(rows: list[dict], entry: ModelEntry | None) -> tuple[dict, list[date]]:
    """``{feature: {day: (psi, status)}}`` and the days, for the heat map."""
    values: dict[str, dict[date, tuple[float | None, str]]] = {}
    for row in rows:
        if row["metric"] == "psi" and row["segment"] is None and row["column"]:
            values.setdefault(row["column"], {})[row["logical_date"]] = (row["value"], row["status"])
    order = _column_order(entry)
    ordered = dict(sorted(values.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))
    return ordered, sorted({d for by_day in values.values() for d in by_day})


def psi_table(values: dict, days: list[date]) -> Table:
    columns = [Column("feature", "feature"), *(Column(d.isoformat(), d.isoformat(), num=True) for d in days)]
    rows = [
        {"feature": f, **{d.isoformat(): v for d, (v, _) in by_day.items()}} for f, by_day in values.items()
    ]
    return Table("psi_by_feature", columns, rows, "no PSI recorded yet")


# -- tables ------------------------------------------------------------------------------------------------
def latest_table(rows: list[dict]) -> Table:
    """The controls of the newest monitoring run and of the newest governance run, worst first."""
    newest: dict[bool, date] = {}
    for row in rows:
        gov = row["check"] == "governance"
        newest[gov] = max(newest.get(gov, row["logical_date"]), row["logical_date"])
    chosen = [
        {**r, "control": control_key(r["check"], r["metric"], r["column"], r["segment"])}
        for r in rows
        if r["status"] != INFO and r["logical_date"] == newest.get(r["check"] == "governance")
    ]
    chosen.sort(key=lambda r: (STATUS_ORDER.get(r["status"], 9), r["control"]))
    columns = [
        Column("status", "Status", lambda r: badge(r["status"])),
        Column("control", "Control"),
        Column("value", "Value", num=True),
        Column("amber_threshold", "Amber", num=True),
        Column("red_threshold", "Red", num=True),
        Column("logical_date", "Date"),
        Column("run_id", "Run", in_html=False),
    ]
    return Table("latest_controls", columns, chosen, "no runs yet")


def metrics_table(rows: list[dict]) -> Table:
    keys = ["logical_date", "check", "metric", "column", "segment", "cohort_start", "cohort_end", "value"]
    keys += ["amber_threshold", "red_threshold", "status", "run_id"]
    return Table("metrics", [Column(k, k) for k in keys], rows, "no runs yet")


def airflow_run_path(triggered_by: str | None, ui_root: str) -> str | None:
    """``airflow:<dag_id>/<run_id>/try<n>`` -> the run's page in the Airflow UI, relative to its root."""
    if not triggered_by or not triggered_by.startswith("airflow:"):
        return None
    parts = triggered_by.removeprefix("airflow:").split("/")
    if len(parts) < 2:
        return None
    run_id = "/".join(parts[1:-1]) or parts[1]
    return f"{ui_root}/dags/{quote(parts[0], safe='')}/runs/{quote(run_id, safe='')}"


def evidence_href(base: str, run: dict, uri: str) -> str:
    name = quote(uri.rstrip("/").rsplit("/", 1)[-1])
    return f"{base}/evidence/{run['model_id']}/{run['logical_date'].isoformat()}/{run['run_id']}/{name}"


def runs_table(runs: list[dict], base: str, ui_root: str) -> Table:
    seen: set[tuple[date, str]] = set()
    rows = []
    for r in runs:  # newest first: the first of each date and kind is the current one
        key = (r["logical_date"], r["kind"])
        items = {k: v for k, v in (r["evidence"] or {}).items() if isinstance(v, dict) and "uri" in v}
        hrefs = {k: evidence_href(base, r, v["uri"]) for k, v in sorted(items.items())}
        rows.append(
            {
                **r,
                "current": key not in seen,
                "airflow_run": airflow_run_path(r["triggered_by"], ui_root),
                "evidently_report": hrefs.get("drift_report"),
                "gx_result": hrefs.get("quality_gx"),
                "_evidence": hrefs,
            }
        )
        seen.add(key)
    flags = rerun_flags(rows)
    for r in rows:
        r["rerun_flag"] = reruns.flag_text(flags[r["run_id"]]) if r["run_id"] in flags else ""

    def status(r: dict) -> str:
        note = "" if r["current"] else ' <span class="muted small">superseded by a rerun</span>'
        flag = f'<div class="notice small rerun-flag">{e(r["rerun_flag"])}</div>' if r["rerun_flag"] else ""
        return badge(r["overall_status"]) + note + flag

    def links(r: dict) -> str:
        out = [link(r["airflow_run"], "Airflow run", target="_top")] if r["airflow_run"] else []
        out += [link(r["_evidence"][k], label, target="_blank") for k, label in EVIDENCE_LABELS.items()
                if k in r["_evidence"]]  # fmt: skip
        other = [link(h, k.removesuffix("_results"), target="_blank") for k, h in r["_evidence"].items()
                 if k not in EVIDENCE_LABELS]  # fmt: skip
        if other:
            out.append(f'<span class="small">JSON: {" ".join(other)}</span>')
        return " · ".join(out)

    def trigger(r: dict) -> str:
        return "Airflow" if r["triggered_by"].startswith("airflow:") else e(r["triggered_by"])

    columns = [
        Column("logical_date", "Date"),
        Column("kind", "Kind"),
        Column("overall_status", "Result", status),
        Column("status", "Run"),
        Column("finished_at", "Finished"),
        Column("row_count", "Rows", num=True),
        Column("triggered_by", "By", trigger),
        Column("airflow_run", "Links", links),
        Column("reason", "Reason", wrap=True),
        Column("rerun_flag", "Rerun flag", in_html=False),
        Column("rerun_reason", "Rerun reason", in_html=False),
        Column("supersedes", "Supersedes", in_html=False),
        Column("run_id", "Run id", in_html=False),
        Column("current", "Current", in_html=False),
        Column("started_at", "Started", in_html=False),
        Column("evidently_report", "Evidently report", in_html=False),
        Column("gx_result", "GX result", in_html=False),
    ]
    return Table("runs", columns, rows, "no runs yet")


def rerun_flags(rows: list[dict]) -> dict[str, dict]:
    """``{run_id: flag}``: the current runs (rows from :func:`runs_table`) that show their day better than a
    run they replaced (:func:`mrm.store.reruns.flag_of`)."""
    days: dict[tuple[date, str], list[dict]] = {}
    for r in sorted(rows, key=lambda r: r["finished_at"]):
        days.setdefault((r["logical_date"], r["kind"]), []).append(r)
    found = (reruns.flag_of(group) for group in days.values())
    return {f["run_id"]: f for f in found if f is not None}


def tickets_table(tickets: list[dict], base: str = "") -> Table:
    rows = [{**t, "key": ticket_key(t["ticket_id"])} for t in tickets]
    rows.sort(key=lambda t: (t["status"] != "open", -t["ticket_id"]))
    columns = [
        Column("key", "Ticket", lambda t: link(f"{base}/tickets/{t['ticket_id']}", t["key"])),
        Column("status", "Status"),
        Column("severity", "Severity", lambda t: badge(t["severity"])),
        Column("priority", "Priority"),
        Column("control", "Control"),
        Column("first_logical_date", "First breach"),
        Column("last_logical_date", "Last breach"),
        Column("occurrences", "Occurrences", num=True),
        Column("last_value", "Last value", num=True),
        Column("escalated_at", "Escalated"),
        Column("closed_at", "Closed"),
        Column("closed_reason", "Closed because", wrap=True),
        Column("closed_by", "Closed by", in_html=False),
        Column("opened_at", "Opened", in_html=False),
        Column("title", "Title", in_html=False),
    ]
    return Table("tickets", columns, rows, "no tickets")


def controls_table(entry: ModelEntry | None) -> Table:
    rows = []
    for name, ctl in sorted((entry.monitoring.controls if entry and entry.monitoring else {}).items()):
        d = metrics.CATALOGUE[name]
        worse = "higher" if d.direction == "above" else "lower"
        for column, t in [(None, ctl), *sorted(ctl.columns.items())]:
            rows.append(
                {"metric": name, "column": column or "all", "amber": t.amber, "red": t.red,
                 "worse": f"{worse} is worse", "check": d.check, "description": d.description}
            )  # fmt: skip
    columns = [
        Column("check", "Check"),
        Column("metric", "Metric"),
        Column("column", "Column"),
        Column("amber", "Amber", num=True),
        Column("red", "Red", num=True),
        Column("worse", "Direction"),
        Column("description", "Meaning", wrap=True),
    ]
    return Table("thresholds", columns, rows, "no controls: this model is not monitored")


def tables(data: ModelData, base: str, ui_root: str) -> dict[str, Table]:
    values, days = psi_by_feature(data.metrics, data.entry)
    return {
        "latest": latest_table(data.metrics),
        "psi": psi_table(values, days),
        "runs": runs_table(data.runs, base, ui_root),
        "backtests": backtests.table(data.backtests),
        "tickets": tickets_table(data.tickets, base),
        "controls": controls_table(data.entry),
        "metrics": metrics_table(data.metrics),
    }


# -- the page ------------------------------------------------------------------------------------------------
def card(entry: ModelEntry | None, model_id: str) -> str:
    if entry is None:
        return f'<div class="notice">{e(model_id)} is no longer in the inventory; its history is shown.</div>'
    approval = entry.approval
    fields = [
        ("Model", f"{entry.name} · v{entry.version}"),
        ("Owner", entry.owner),
        ("Business owner", entry.business_owner or "none"),
        ("Risk tier", f"{entry.risk_tier}: {entry.tier_rationale}"),
        ("Status", entry.status),
        ("Approval", f"{approval.approver}, {approval.date}" if approval else "none"),
        (
            "Validation report",
            approval.validation_report if approval and approval.validation_report else "none",
        ),
        ("Last validation", fmt(entry.last_validation)),
        ("Validation due", fmt(entry.validation_due)),
        ("Business line", entry.business_line),
        ("Regulatory flags", ", ".join(entry.regulatory_flags) or "none"),
        ("Purpose", entry.purpose),
    ]
    if entry.monitoring:
        m = entry.monitoring
        fields += [
            ("Reference window", f"{m.reference.start} .. {m.reference.end}"),
            ("Persistence", f"AMBER {m.persistence.amber_runs_to_red} runs in a row -> RED"
             if m.persistence.amber_runs_to_red else "AMBER never escalates"),
        ]  # fmt: skip
    items = "".join(f"<div><dt>{e(k)}</dt><dd>{e(v)}</dd></div>" for k, v in fields)
    return f'<dl class="card">{items}</dl>'


def section(title: str, table_name: str, content: str, hint: str = "", days: int = DEFAULT_DAYS) -> str:
    csv = link(csv_query(table_name, days), "CSV")
    hint_html = f'<span class="hint">{e(hint)}</span>' if hint else ""
    return f'<h2 id="{table_name}">{e(title)} <span class="csv">{csv}</span>{hint_html}</h2>{content}'


def csv_query(table_name: str, days: int) -> str:
    """The CSV of one table, over the window the page shows."""
    return f"?format=csv&table={table_name}" + (f"&days={days}" if days != DEFAULT_DAYS else "")


def charts_html(data: ModelData) -> str:
    all_series = series(data.metrics, data.entry)
    if not all_series:
        return '<div class="empty">no runs yet</div>'
    days = [r["logical_date"] for r in data.metrics]
    first, last = min(days), max(days)
    blocks = []
    for s in all_series:
        latest = s.points[-1]
        head = f"<h3>{e(s.title)} {badge(latest.status)} <span class=muted>{e(fmt(latest.value))}</span></h3>"
        blocks.append(f'<div class="chart">{head}{charts.line_chart(s, first, last)}</div>')
    return f'<div class="charts">{"".join(blocks)}</div>'


def latest_html(table: Table, all_green: str = "every control GREEN") -> str:
    """The controls that are not GREEN (``all_green`` when there are none), the GREEN ones folded away."""
    if not table.rows:
        return table.html()
    green = [r for r in table.rows if r["status"] == GREEN]
    others = [r for r in table.rows if r["status"] != GREEN]
    html = Table(table.name, table.columns, others, all_green).html()
    if green:
        folded = Table(table.name, table.columns, green).html()
        html += f"<details><summary class=small>{len(green)} GREEN controls</summary>{folded}</details>"
    return html


def latest_section(data: ModelData, table: Table) -> str:
    """The newest day first: when it could not run, that (why, since when, the ticket) above the last
    completed run's controls, labelled with its date (:mod:`mrm.ui.outcome`)."""
    found = outcome.newest(data.runs, data.tickets)
    if found is None or not found.failed:
        return section("Latest controls", "latest", latest_html(table), "the newest run's, worst first")
    governance = max((r["logical_date"] for r in table.rows if r["check"] == "governance"), default=None)
    content = (
        outcome.notice(found)
        + outcome.completed_heading(found, governance)
        + latest_html(table, outcome.no_findings(found))
    )
    hint = "the newest day could not run; below, the last completed run's controls, worst first"
    return section("Latest controls", "latest", content, hint)


CHART_HINT = "bands: the amber and red thresholds; dots: the AMBER, RED and ACCEPTED values as recorded"


def body(data: ModelData, base: str, ui_root: str, days: int) -> str:
    t = tables(data, base, ui_root)
    values, psi_days = psi_by_feature(data.metrics, data.entry)
    heat = charts.heat_map(values, psi_days) if values else '<div class="empty">no PSI recorded yet</div>'
    window = (
        f"{fmt(data.since)} .. {fmt(data.last)} (last {days} days; ?days=N for more)"
        if data.last
        else "no runs yet"
    )
    title = f"{data.model_id}" + (f" · {data.entry.name}" if data.entry else "")
    back = link(base + "/", "← Portfolio")
    return (
        f'<p class="small">{back}</p><h1>{e(title)}</h1>{card(data.entry, data.model_id)}'
        + latest_section(data, t["latest"])
        + section("Key metrics over time", "metrics", charts_html(data), f"{window}; " + CHART_HINT, days)
        + section("PSI by feature and day", "psi", heat, days=days)
        + section("Runs", "runs", t["runs"].html(), days=days)
        + section("Back-tests", "backtests", t["backtests"].html(), backtests.HINT)
        + section("Tickets", "tickets", t["tickets"].html(), "open first")
        + section("Thresholds", "controls", t["controls"].html(), "from the inventory, tier defaults merged")
    )
