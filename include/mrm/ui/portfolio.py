"""The portfolio: every model of the inventory (and any the history still holds) with its latest RAG
per control family, worst first; filters and sorting are applied here, server-side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from urllib.parse import urlencode

from mrm.controls import INFO
from mrm.errors import BadRequestError
from mrm.inventory import Inventory
from mrm.ui.html import ERROR, NO_RUNS, STATUS_ORDER, Column, Table, badge, e, fmt, link

FAMILIES = ("quality", "drift", "performance", "governance")
MONITORING_FAMILIES = FAMILIES[:3]
FILTERS = ("tier", "status", "owner", "rag")


def family_status(counts: dict[str, int] | None) -> str | None:
    """The worst status among a family's controlled metrics; None when it has none (INFO only)."""
    statuses = [s for s, n in (counts or {}).items() if n and s != INFO]
    return min(statuses, key=lambda s: STATUS_ORDER.get(s, 9)) if statuses else None


def _families(runs: dict[str, dict]) -> dict[str, str | None]:
    """RAG per family: quality and drift from the newest monitoring run; performance from the newest run
    that evaluated a cohort, the monitoring run or, for a date without its log, the performance run of
    that date or later (back-tests are analysis: never shown here); governance from its own run."""
    monitoring, governance = runs.get("monitoring"), runs.get("governance")
    alone = runs.get("performance")
    out: dict[str, str | None] = {}
    for family in MONITORING_FAMILIES:
        run = monitoring
        if family == "performance" and alone and (not run or alone["logical_date"] >= run["logical_date"]):
            run = alone  # the cohort evaluated on its own when the date's monitoring run could not run
        if run is None:
            out[family] = None
        elif run["status"] == "failed":
            out[family] = ERROR  # the run could not complete: no control was evaluated
        else:
            out[family] = family_status(run["statuses"].get(family))
    out["governance"] = family_status(governance["statuses"].get("governance")) if governance else None
    return out


def rows(inventory: Inventory, latest: dict[str, dict], open_tickets: dict[str, int]) -> list[dict]:
    """One row per model: inventory fields, its latest monitoring run, RAG per family, open tickets."""
    out = []
    for model_id in sorted(set(inventory.entries) | set(latest)):
        entry = inventory.entries.get(model_id)
        runs = latest.get(model_id, {})
        monitoring = runs.get("monitoring")
        families = _families(runs)
        statuses = [s for s in families.values() if s]
        overall = NO_RUNS if not runs else min(statuses, key=STATUS_ORDER.get, default="GREEN")
        out.append(
            {
                "model_id": model_id,
                "name": entry.name if entry else "",
                "tier": entry.risk_tier if entry else None,
                "status": entry.status if entry else "not in inventory",
                "owner": entry.owner if entry else "",
                "last_logical_date": monitoring["logical_date"] if monitoring else None,
                "last_finished_at": monitoring["finished_at"] if monitoring else None,
                "last_run": monitoring["status"] if monitoring else "no runs",
                "reason": monitoring["reason"] if monitoring else None,
                "overall": overall,
                **families,
                "open_tickets": open_tickets.get(model_id, 0),
            }
        )
    return out


# -- filtering and sorting -------------------------------------------------------------------------------
SORTS = {
    "worst": lambda r: (STATUS_ORDER.get(r["overall"], 9), -r["open_tickets"], r["tier"] or 9, r["model_id"]),
    "model": lambda r: r["model_id"],
    "tier": lambda r: (r["tier"] or 9, r["model_id"]),
    "status": lambda r: (r["status"], r["model_id"]),
    "owner": lambda r: (r["owner"], r["model_id"]),
    "last_run": lambda r: (r["last_logical_date"] or date.min, r["model_id"]),
    "tickets": lambda r: (r["open_tickets"], r["model_id"]),
}


@dataclass(frozen=True)
class View:
    """The portfolio's query parameters: filters (empty = all) and the sort key (``-`` = descending)."""

    tier: str = ""
    status: str = ""
    owner: str = ""
    rag: str = ""
    sort: str = "worst"

    def apply(self, all_rows: list[dict]) -> list[dict]:
        key = self.sort.removeprefix("-")
        if key not in SORTS:
            raise BadRequestError(
                f"unknown sort '{self.sort}'; valid: {', '.join(SORTS)} (prefix - to reverse)"
            )
        chosen = [
            r
            for r in all_rows
            if (not self.tier or str(r["tier"]) == self.tier)
            and (not self.status or r["status"] == self.status)
            and (not self.owner or r["owner"] == self.owner)
            and (not self.rag or r["overall"] == self.rag)
        ]
        return sorted(chosen, key=SORTS[key], reverse=self.sort.startswith("-"))

    def query(self, **changes: str) -> str:
        params = {k: v for k, v in {**self.__dict__, **changes}.items() if v and (k, v) != ("sort", "worst")}
        return "?" + urlencode(params) if params else "?"


# -- rendering ----------------------------------------------------------------------------------------------
def table(chosen: list[dict], base: str, view: View) -> Table:
    def model(r: dict) -> str:
        return link(f"{base}/models/{r['model_id']}", r["model_id"]) + (
            f'<div class="muted small">{e(r["name"])}</div>' if r["name"] else ""
        )

    def last_run(r: dict) -> str:
        if r["last_logical_date"] is None:
            return badge(NO_RUNS)
        tip = f"finished {fmt(r['last_finished_at'])}" + (
            f"; could not run: {r['reason']}" if r["reason"] else ""
        )
        failed = ' <span class="badge b-ERROR">could not run</span>' if r["last_run"] == "failed" else ""
        return f'<span title="{e(tip)}">{e(fmt(r["last_logical_date"]))}</span>{failed}'

    columns = [
        Column("model_id", "Model", model),
        Column("tier", "Tier", num=True),
        Column("status", "Status"),
        Column("owner", "Owner"),
        Column("last_logical_date", "Last run", last_run),
        Column("overall", "Overall", lambda r: badge(r["overall"])),
        *(Column(f, f.capitalize(), lambda r, f=f: badge(r[f])) for f in FAMILIES),
        Column("open_tickets", "Open tickets", num=True),
        Column("name", "Name", in_html=False),  # folded into the model's cell on the page
        Column("last_finished_at", "Finished", in_html=False),  # folded into the last run's cell
        Column("last_run", "Run status", in_html=False),
        Column("reason", "Why the run could not complete", in_html=False),
    ]
    sort_keys = {
        "model_id": "model",
        "tier": "tier",
        "status": "status",
        "owner": "owner",
        "last_logical_date": "last_run",
        "overall": "worst",
        "open_tickets": "tickets",
    }
    headers = {}
    for col in columns:
        if col.key in sort_keys:
            key = sort_keys[col.key]
            flipped = f"-{key}" if view.sort == key else key
            arrow = " ▲" if view.sort == key else " ▼" if view.sort == f"-{key}" else ""
            headers[col.key] = link(view.query(sort=flipped), col.label + arrow)
    return Table("portfolio", columns, chosen, "no model matches these filters", headers)


def filters_form(all_rows: list[dict], view: View) -> str:
    def select(name: str, label: str, options: list[str], labels: dict) -> str:
        current = getattr(view, name)
        opts = "".join(
            f'<option value="{e(o)}"{" selected" if o == current else ""}>{e(labels.get(o, o))}</option>'
            for o in ["", *options]
        )
        return f'<label>{e(label)}<select name="{name}" data-submit>{opts}</select></label>'

    values = {
        k: sorted({str(r[k]) for r in all_rows if r[k] not in (None, "")})
        for k in ("tier", "status", "owner")
    }
    rags = sorted({r["overall"] for r in all_rows}, key=lambda s: STATUS_ORDER.get(s, 9))
    sort = f'<input type="hidden" name="sort" value="{e(view.sort)}">' if view.sort != "worst" else ""
    return (
        '<form class="filters" method="get">'
        + select("tier", "Tier", values["tier"], {"": "all"})
        + select("status", "Status", values["status"], {"": "all"})
        + select("owner", "Owner", values["owner"], {"": "all"})
        + select("rag", "Overall", rags, {"": "all", NO_RUNS: "no runs"})
        + sort
        + '<button type="submit">Apply</button> <a class="small" href="?">reset</a></form>'
    )


def summary_chips(all_rows: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in all_rows:
        counts[r["overall"]] = counts.get(r["overall"], 0) + 1
    chips = [
        f"{badge(s)} <span class=small>{n}</span>"
        for s, n in sorted(counts.items(), key=lambda kv: STATUS_ORDER.get(kv[0], 9))
    ]
    return f'<div class="chips">{"".join(f"<span>{c}</span>" for c in chips)}</div>'


def body(all_rows: list[dict], chosen: list[dict], base: str, view: View) -> str:
    html_table = table(chosen, base, view)
    intro = (
        '<p class="muted">RAG per control family from each model\'s latest run (worst control of the '
        "family); worst first. Governance: the latest governance run.</p>"
    )
    if not any(r["last_logical_date"] for r in all_rows):
        intro += '<div class="notice">No monitoring runs yet: the history is empty.</div>'
    csv_link = link(view.query(format="csv"), "CSV")
    return (
        f"<h1>Portfolio</h1>{intro}{summary_chips(all_rows)}{filters_form(all_rows, view)}"
        f'<h2>{len(chosen)} of {len(all_rows)} models <span class="csv">{csv_link}</span></h2>'
        f"{html_table.html()}"
    )
