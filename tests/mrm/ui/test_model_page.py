"""A model's page on a history filled by real runs (see conftest.py): the inventory card, charts with
threshold bands and the breaches marked, the PSI heat map, runs with their links, tickets, and the CSVs."""

from __future__ import annotations

import pytest
from ui_pages import bands, breaches, chart, chart_titles, csv_rows, heat_cells

from mrm.ticketing.tracker import BuiltinTracker


@pytest.fixture(scope="module")
def credit_line(client) -> str:
    response = client.get("/model-risk/models/credit_line")
    assert response.status_code == 200
    return response.text


def test_the_card_shows_the_inventory_entry(client, ui_history):
    html = client.get("/model-risk/models/card_fraud").text
    entry = ui_history.inventory.get("card_fraud")

    for label, value in [
        ("Owner", "fraud-models@example.com"),
        ("Risk tier", f"1: {entry.tier_rationale}"),
        ("Status", "approved"),
        ("Approval", "head-of-model-risk@example.com, 2026-07-15"),
        ("Validation due", "2027-07-10"),
    ]:
        assert f"<dt>{label}</dt><dd>{value}</dd>" in html
    thresholds = {
        (r["metric"], r["column"]): r
        for r in csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=controls"))
    }
    assert (thresholds[("psi", "all")]["amber"], thresholds[("psi", "all")]["red"]) == ("0.1", "0.25")
    assert thresholds[("volume_ratio", "all")]["worse"] == "lower is worse"
    assert len(thresholds) == sum(1 + len(c.columns) for c in entry.monitoring.controls.values())


def test_a_chart_per_key_metric_and_feature(credit_line, ui_history):
    features = [f.name for f in ui_history.inventory.get("credit_line").monitoring.features]
    titles = chart_titles(credit_line)

    assert titles[0] == "score_psi"
    assert [t for t in titles if t.startswith("psi(")] == [f"psi({f})" for f in features]
    assert [t for t in titles if t.startswith("null_rate(")] == [f"null_rate({f})" for f in features]
    assert {"volume_ratio", "null_rate_increase(utilization)"} <= set(titles)  # the latter: it breached


def test_the_chart_has_threshold_bands_and_marks_each_breach_as_recorded(credit_line, ui_history):
    svg = chart(credit_line, "null_rate(utilization)")
    rows = [
        r
        for r in ui_history.store.metrics("credit_line")
        if (r["metric"], r["column"], r["segment"]) == ("null_rate", "utilization", None)
    ]

    amber, red = rows[-1]["amber_threshold"], rows[-1]["red_threshold"]
    assert (amber, red) == (0.08, 0.2)  # credit_line's own override for utilization
    found = bands(svg)
    assert found["amber"] == (amber, red)
    assert found["red"][0] == red and found["red"][1] > red
    assert breaches(svg) == [(r["logical_date"].isoformat(), r["status"], r["value"]) for r in rows]
    assert [b[1] for b in breaches(svg)] == ["AMBER", "AMBER", "RED"]
    # day 14 is RED by the persistence rule although its value lies in the amber band: shown as recorded
    assert amber <= rows[-1]["value"] < red
    assert len(svg.findall("{http://www.w3.org/2000/svg}polyline")) == 1


def test_a_chart_without_breaches_has_its_bands_and_no_marks(credit_line):
    svg = chart(credit_line, "psi(income)")
    assert bands(svg)["amber"] == (0.1, 0.25)
    assert breaches(svg) == []


def test_a_lower_is_worse_metric_has_its_red_band_below(credit_line):
    found = bands(chart(credit_line, "volume_ratio"))
    assert found["amber"] == (0.6, 0.8)  # tier 1: amber 0.8, red 0.6
    assert found["red"][1] == 0.6 and found["red"][0] < 0.6


def test_the_heat_map_shows_psi_by_feature_and_day(client, credit_line, ui_history):
    rows = [
        r for r in ui_history.store.metrics("credit_line") if r["metric"] == "psi" and r["segment"] is None
    ]
    cells = heat_cells(credit_line)

    assert len(cells) == len(rows) == 6 * 3
    for r in rows:
        assert cells[(r["column"], r["logical_date"].isoformat())] == (r["status"], f"{r['value']:.2f}")
    table = csv_rows(client.get("/model-risk/models/credit_line?format=csv&table=psi"))
    assert {(t["feature"], d): float(v) for t in table for d, v in t.items() if d != "feature"} == {
        (r["column"], r["logical_date"].isoformat()): r["value"] for r in rows
    }


def test_the_latest_controls_are_the_newest_runs_worst_first(client, ui_history):
    table = csv_rows(client.get("/model-risk/models/credit_line?format=csv&table=latest"))
    monitoring, governance = (
        ui_history.store.runs("credit_line")[-1],
        ui_history.store.runs("credit_line", kind="governance")[-1],
    )
    expected = [
        r
        for run in (monitoring, governance)
        for r in ui_history.store.metrics(run_id=run["run_id"])
        if r["status"] != "INFO"
    ]

    assert len(table) == len(expected)
    assert [(t["control"], t["status"]) for t in table[:2]] == [
        ("quality.null_rate[utilization]", "RED"),
        ("quality.null_rate_increase[utilization]", "RED"),
    ]
    assert {(t["run_id"], t["status"], t["value"]) for t in table} == {
        (r["run_id"], r["status"], "" if r["value"] is None else repr(r["value"])) for r in expected
    }


def test_the_runs_link_to_airflow_and_to_the_evidence(client, ui_history):
    table = csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=runs"))
    runs = ui_history.store.runs("card_fraud", kind=None)

    assert sorted(t["run_id"] for t in table) == sorted(r["run_id"] for r in runs)  # reruns included
    day7 = [t for t in table if t["logical_date"] == "2026-09-07"]
    assert [(t["triggered_by"][-4:], t["current"]) for t in day7] == [("try2", "True"), ("try1", "False")]
    assert (
        day7[0]["airflow_run"]
        == "/dags/mrm_monitor__card_fraud/runs/scheduled__2026-09-07T00%3A00%3A00%2B00%3A00"
    )
    cli = next(t for t in table if t["logical_date"] == "2026-09-08")
    assert cli["airflow_run"] == "" and cli["triggered_by"].startswith("cli:")
    run = next(r for r in runs if r["run_id"] == day7[0]["run_id"])
    prefix = f"/model-risk/evidence/card_fraud/2026-09-07/{run['run_id']}"
    assert (day7[0]["evidently_report"], day7[0]["gx_result"]) == (
        f"{prefix}/drift_report.html",
        f"{prefix}/quality_gx.json",
    )
    html = client.get("/model-risk/models/card_fraud").text
    assert f'<a href="{prefix}/drift_report.html" target="_blank" rel="noopener">Evidently report</a>' in html
    assert (
        'href="/dags/mrm_monitor__card_fraud/runs/scheduled__2026-09-07T00%3A00%3A00%2B00%3A00" target="_top"'
        in html
    )
    assert html.count("superseded by a rerun") == 1


def test_a_run_that_could_not_complete_shows_why(client):
    table = csv_rows(client.get("/model-risk/models/aml_alert?format=csv&table=runs"))
    failed = next(t for t in table if t["kind"] == "monitoring")
    assert (failed["status"], failed["overall_status"]) == ("failed", "ERROR")
    assert failed["reason"].startswith("read scoring log: cannot read scoring log file")
    assert "not valid Parquet" in client.get("/model-risk/models/aml_alert").text


def test_tickets_open_and_past_with_their_occurrences_and_last_value(client, ui_history):
    table = csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=tickets"))
    tracker = BuiltinTracker(ui_history.store)
    tickets = tracker.tickets("card_fraud", status="all")

    assert sorted(t["key"] for t in table) == sorted(t["key"] for t in tickets)
    nl = next(t for t in table if t["control"] == "quality.null_rate[device_score]{country=NL}")
    assert (nl["status"], nl["occurrences"], nl["first_logical_date"], nl["last_logical_date"]) == (
        "open",
        "3",
        "2026-09-05",
        "2026-09-07",
    )  # the rerun of day 7 did not count twice
    events = tracker.events(int(nl["key"].removeprefix("MRM-")))
    assert [e["kind"] for e in events] == ["opened", "occurrence", "occurrence", "returned_to_green"]
    assert float(nl["last_value"]) == events[-1]["value"]


def test_the_metrics_csv_is_the_history_of_the_window(client, ui_history):
    table = csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=metrics"))
    rows = ui_history.store.metrics("card_fraud")

    assert len(table) == len(rows)
    assert [(t["run_id"], t["metric"], t["column"], t["status"]) for t in table] == [
        (r["run_id"], r["metric"], r["column"] or "", r["status"]) for r in rows
    ]
    assert [float(t["value"]) if t["value"] else None for t in table] == [r["value"] for r in rows]
    superseded = {r["run_id"] for r in ui_history.store.runs("card_fraud")} - {t["run_id"] for t in table}
    assert len(superseded) == 1  # day 7's first run: a rerun superseded it


def test_the_window_is_counted_back_from_the_newest_date(client):
    # card_fraud's newest date is its governance run of day 14; its monitoring stopped on day 8
    table = csv_rows(client.get("/model-risk/models/card_fraud?format=csv&table=runs&days=7"))
    assert [(t["logical_date"], t["kind"]) for t in table] == [
        ("2026-09-14", "governance"),
        ("2026-09-08", "monitoring"),
    ]
    assert (
        '<a href="?format=csv&amp;table=runs&amp;days=7">CSV</a>'
        in client.get("/model-risk/models/card_fraud?days=7").text
    )
    assert client.get("/model-risk/models/card_fraud?days=0").status_code == 400


def test_a_model_without_runs_shows_its_card_and_no_runs_yet(client):
    response = client.get("/model-risk/models/aml_alert_next")
    assert response.status_code == 200
    assert "<dt>Status</dt><dd>in_validation</dd>" in response.text
    assert response.text.count("no runs yet") >= 3  # controls, charts, runs
    assert csv_rows(client.get("/model-risk/models/aml_alert_next?format=csv&table=runs")) == []


def test_an_unknown_model_is_a_404_that_says_so_and_links_back(client):
    response = client.get("/model-risk/models/no_such_model")
    assert response.status_code == 404
    assert "Model &#x27;no_such_model&#x27; is not in the inventory (models: aml_alert, aml_alert_next, " in (
        response.text
    )
    assert '<a href="/model-risk/">← Portfolio</a>' in response.text


def test_an_unknown_table_is_a_400_that_lists_the_tables(client):
    response = client.get("/model-risk/models/card_fraud?format=csv&table=nope")
    assert response.status_code == 400
    assert "table must be one of latest, psi, runs, backtests, tickets, controls, metrics" in response.text


# -- the newest day leads: a day that could not run is never shown as a clean one ----------------------
@pytest.fixture(scope="module")
def two_failed_days(tmp_path_factory):
    """aml_alert's days 18-19 complete; day 20 (the demo's corrupt upload) and day 21 (corrupted here the
    same way) cannot run. Returns a client of the page on that history and the history."""
    from fastapi.testclient import TestClient
    from support import clear_caches, local_inventory

    from mrm import pipeline
    from mrm.core.storage import join, store_for
    from mrm.demo.data import day, write_demo_data
    from mrm.errors import MrmError
    from mrm.store import HistoryStore
    from mrm.ui import URL_PREFIX
    from mrm.ui.app import create_app

    root = tmp_path_factory.mktemp("two_failed_days")
    data = (root / "data").as_uri()
    write_demo_data(data, models=("aml_alert",), days=21)
    day21 = join(data, "scoring", "aml_alert", f"dt={day(21).isoformat()}", "part-0000.parquet")
    whole = store_for(data).get(day21)
    store_for(data).put(day21, whole[: len(whole) // 3], overwrite=True)  # a truncated upload
    folder = local_inventory(root / "inventory", data, ("_policy", "aml_alert"))
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("MRM_HOME", str(home))
        mp.setenv("MRM_INVENTORY", str(folder))
        mp.delenv("MRM_DB_URL", raising=False)
        mp.delenv("MRM_EVIDENCE", raising=False)
        clear_caches()
        try:
            for n in (18, 19):
                pipeline.run_model("aml_alert", day(n))
            for n in (20, 21):
                with pytest.raises(MrmError):
                    pipeline.run_model("aml_alert", day(n))
            inventory = pipeline.get_inventory()
        finally:
            clear_caches()
    store = HistoryStore(f"sqlite:///{home / 'history.db'}")
    app = create_app(store=lambda: store, inventory=lambda: inventory, evidence_uri=lambda: "")
    return TestClient(app, root_path=URL_PREFIX), store


def test_a_day_that_could_not_run_leads_the_page_with_why_since_when_and_its_ticket(two_failed_days):
    client, store = two_failed_days
    html = client.get("/model-risk/models/aml_alert").text
    failed = store.runs("aml_alert")[-1]
    (ticket,) = [t for t in BuiltinTracker(store).tickets("aml_alert") if t["control"] == "run.could_not_run"]

    latest = html[html.index('<h2 id="latest">') : html.index('<h2 id="metrics">')]
    box = latest[latest.index('id="newest-outcome"') : latest.index('class="last-completed"')]
    assert "could not run</span> <b>2026-09-21</b>: no control was evaluated for this day." in box
    assert f"<dt>Why</dt><dd>{failed['reason']}</dd>" in box and "not valid Parquet" in failed["reason"]
    assert "<dt>Since</dt><dd>2026-09-20 (2 days in a row)</dd>" in box
    assert f'<dd><a href="#tickets">{ticket["key"]}</a> (open since 2026-09-20)</dd>' in box
    assert '<h2 id="tickets">' in html  # where the ticket's link goes
    assert '<h3 class="last-completed">Last completed run: 2026-09-19</h3>' in latest
    assert "every control GREEN" not in html


def test_below_it_are_the_last_completed_runs_controls(two_failed_days):
    client, store = two_failed_days
    day19 = next(r for r in store.runs("aml_alert") if str(r["logical_date"]) == "2026-09-19")
    expected = {r["metric"] for r in store.metrics(run_id=day19["run_id"]) if r["status"] != "INFO"}

    table = csv_rows(client.get("/model-risk/models/aml_alert?format=csv&table=latest"))

    assert {t["logical_date"] for t in table} == {"2026-09-19"}
    assert {t["run_id"] for t in table} == {day19["run_id"]}
    assert {t["control"].split(".", 1)[1].split("[")[0] for t in table} == expected
    if all(t["status"] == "GREEN" for t in table):
        assert "no control AMBER or RED on 2026-09-19" in client.get("/model-risk/models/aml_alert").text


def test_a_model_that_never_completed_a_run_says_so_above_its_governance_controls(client):
    html = client.get("/model-risk/models/aml_alert").text  # conftest: only day 20 (failed) ran

    assert "could not run</span> <b>2026-09-20</b>" in html
    assert "<dt>Since</dt><dd>2026-09-20 (1 day)</dd>" in html
    assert "No completed monitoring run in this window · governance run: 2026-09-14" in html
    assert "every control GREEN" not in html


def test_a_model_whose_newest_day_completed_has_no_could_not_run_box(credit_line):
    assert 'id="newest-outcome"' not in credit_line
    assert "the newest run&#x27;s, worst first" in credit_line
