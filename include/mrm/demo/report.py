"""What ``mrm demo`` prints: a line per model-day, the governance findings, what the monitoring found
(injected incidents caught or missed, tickets) and what reached people through the stand-ins."""

from __future__ import annotations

from collections import defaultdict

from mrm import settings
from mrm.demo import data


def notifications_report(peers) -> str:
    from mrm.notify import outbox

    store = _store()
    sent = outbox.items(store, "all")
    by = defaultdict(int)
    for item in sent:
        by[(item["channel"], item["kind"], item["status"])] += 1
    lines = ["=" * 100, "What reached people (outbox -> local stand-ins)", "=" * 100]
    for (channel, kind, status), n in sorted(by.items()):
        lines.append(f"  {channel:<8} {kind:<26} {status:<10} {n}")
    lines += ["", *peers.report()]
    jira = {i["receipt"]["external_key"] for i in sent if i["channel"] == "jira" and i["receipt"] and
            i["receipt"].get("external_key")}  # fmt: skip
    first = _first_issue(store, peers)
    if first:
        lines += ["", f"  e.g. Jira {first['key']} ({len(jira)} issues linked to built-in tickets):",
                  f"    {first['summary']}",
                  *(f"    | {line}" for line in _plain(first["description"]).splitlines() if line.strip()),
                  f"    + {len(first['comments'])} comment(s), priority {first['priority']}, "
                  f"assignee {first['assignee']}"]  # fmt: skip
    lines += [
        "",
        "  mrm tickets show MRM-1                                  # a ticket's events and deliveries",
        "  mrm tickets close MRM-1 --reason '...'                  # a person's decision, mirrored to Jira",
        "  mrm outbox --status all                                 # every delivery, attempts, errors",
    ]
    return "\n".join(lines)


def in_demo_order(tickets: list[dict]) -> list[dict]:
    """Tickets in the order one process running the days one after another opens them (by first date,
    the models in the demo's order): the models' workers open theirs side by side, so the keys
    (MRM-n) interleave differently from one demo to the next."""
    order = {m: i for i, m in enumerate(data.MODELS)}
    return sorted(tickets, key=lambda t: (t["first_logical_date"], order.get(t["model_id"], len(order)),
                                          t["ticket_id"]))  # fmt: skip


def _first_issue(store, peers) -> dict | None:
    """The Jira issue of the demo's first ticket (labelled with its model and control, as the Jira
    channel labels issues); the first issue created if none is."""
    import hashlib

    from mrm.ticketing import BuiltinTracker

    issues = sorted(peers.jira.issues.values(), key=lambda i: i["created"])
    for t in in_demo_order(BuiltinTracker(store).tickets(status="all"))[:1]:
        labels = {
            f"mrm-model-{t['model_id']}",
            f"mrm-control-{hashlib.sha1(t['control'].encode()).hexdigest()[:12]}",
        }
        for issue in issues:
            if labels <= set(issue["labels"]):
                return issue
    return next(iter(issues), None)


def _plain(description) -> str:
    """Jira Cloud descriptions are Atlassian Document Format: the text of its paragraphs."""
    if isinstance(description, str):
        return description
    out = []
    for block in (description or {}).get("content", []):
        out.append(
            "".join(part.get("text", "") for part in block.get("content", []) if isinstance(part, dict))
        )
    return "\n".join(out)


def _store():
    from mrm.pipeline import get_store

    return get_store()


def governance_lines(models: tuple[str, ...], days: int) -> list[str]:
    day = data.day(days)
    lines = []
    for model_id in models:
        rows = [m for m in _store().metrics(model_id, day, day) if m["check"] == "governance"]
        bad = [f"{m['metric']} {m['status']} ({_describe(m)})" for m in rows if m["status"] != "GREEN"]
        lines.append(f"  {model_id:<12} {'; '.join(bad) if bad else f'{len(rows)} checks, no findings'}")
    return lines


def _describe(m: dict) -> str:
    detail = m["detail"] or {}
    if "due" in detail:
        return f"due {detail['due']}"
    return ", ".join(f"{k}: {v}" for k, v in detail.items())


def day_line(model_id: str, n: int, states: dict[str, str]) -> str:
    day = data.day(n)
    runs = _store().runs(model_id, day, day)
    if not runs:
        return f"  {day} {model_id:<12} no run recorded (DAG run {states.get('_dag_run')})"
    last = runs[-1]
    if last["status"] == "failed":
        return f"  {day} {model_id:<12} COULD NOT RUN  {last['reason']}"
    rows = _store().metrics(run_id=last["run_id"])
    bad = [m for m in rows if m["status"] in ("RED", "AMBER", "ACCEPTED")]
    text = ", ".join(f"{_control(m)}={m['value']:.3g} {m['status']}" for m in bad)
    waiting = sorted({m["check"] for m in rows if m["status"] == "INSUFFICIENT_DATA"})
    if waiting:
        text += f"{'; ' if text else ''}insufficient data for {', '.join(waiting)} controls"
    return f"  {day} {model_id:<12} {last['overall_status']:<6} {text}"


def _control(m: dict) -> str:
    return (
        m["metric"]
        + (f"[{m['column']}]" if m["column"] else "")
        + (f"{{{m['segment']}}}" if m["segment"] else "")
    )


def _spans(days: list) -> str:
    """2026-09-25, 2026-09-26, 2026-09-27 -> '2026-09-25..2026-09-27 (3 days)'."""
    days = sorted(days)
    spans, start, prev = [], days[0], days[0]
    for d in days[1:]:
        if (d - prev).days != 1:
            spans.append((start, prev))
            start = d
        prev = d
    spans.append((start, prev))
    text = ", ".join(str(a) if a == b else f"{a}..{b}" for a, b in spans)
    return f"{text} ({len(days)} day{'s' if len(days) > 1 else ''})"


def findings(store, model_id: str, day) -> set[tuple]:
    """(metric, column, segment, status) of every AMBER / RED control of the day's current run;
    ("could_not_run", None, None, "ERROR") when the latest run could not complete."""
    runs = store.runs(model_id, day, day)
    if runs and runs[-1]["status"] == "failed":
        return {("could_not_run", None, None, "ERROR")}
    return {
        (m["metric"], m["column"], m["segment"], m["status"])
        for m in store.metrics(model_id, day, day)
        if m["status"] in ("AMBER", "RED")
    }


def _caught(store, incident: data.Incident, days: int) -> bool:
    return all(
        data.expected_findings(incident.model_id, n) <= findings(store, incident.model_id, data.day(n))
        for n in incident.days()
        if n <= days
    )


def report(models: tuple[str, ...], days: int) -> str:
    from mrm.ticketing import BuiltinTracker

    store = _store()
    lines = ["=" * 100, "What the monitoring found", "=" * 100]
    for model_id in models:
        lines.append(f"\n{model_id}")
        breaches = defaultdict(list)
        for m in store.metrics(model_id):
            if m["status"] in ("RED", "AMBER", "ACCEPTED"):
                breaches[(_control(m), m["status"])].append(m["logical_date"])
        failed = [r for r in store.runs(model_id) if r["status"] == "failed"]
        if not breaches and not failed:
            lines.append("  all controls GREEN on every day")
        for (control, status), found in sorted(breaches.items()):
            lines.append(f"  {status:<6} {control:<40} {_spans(found)}")
        for r in failed:
            lines.append(f"  ERROR  could not run on {r['logical_date']}: {r['reason']}")
        lines.append("  injected incidents, and whether the monitoring caught each on every day:")
        for inc in (i for i in data.INCIDENTS if i.model_id == model_id and i.first <= days):
            caught = "caught" if _caught(store, inc, days) else "MISSED"
            span = (
                data.day(inc.first)
                if inc.first == inc.last
                else f"{data.day(inc.first)}..{data.day(inc.last)}"
            )
            lines.append(f"    [{caught}] {span}: {inc.description}")
    tracker = BuiltinTracker(store)
    lines.append("\nTickets (built-in tracker)")
    for t in in_demo_order(tracker.tickets(status="all")):
        lines.append(
            f"  {t['key']:<7} {t['status']:<6} {t['model_id']:<12} {t['control']:<44} "
            f"{t['first_logical_date']}..{t['last_logical_date']}  {t['occurrences']} occurrence(s)"
        )
    home = settings.home()
    lines += [
        "\nWhere to look",
        f"  metrics history (SQLite): {settings.db_url()}",
        f"  evidence (Evidently HTML, GX JSON per run): {home / 'evidence'}/<model>/<date>/<run_id>/",
        "  mrm history --model card_fraud --since 2026-10-01       # the numbers behind this summary",
        "  mrm tickets --status all                                # the ticket trail",
        "  make airflow                                            # the Airflow UI on this history "
        "(http://127.0.0.1:8080)",
    ]
    return "\n".join(lines)
