"""Helpers shared by tests (importable as `support`; conftest modules cannot be imported by name
reliably because every folder's conftest.py is loaded as `conftest`)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
INVENTORY = REPO / "include" / "inventory"


def clear_caches() -> None:
    """Forget the cached history store and reference frames (they are keyed by process-wide settings)."""
    from mrm import wiring

    wiring.clear_caches()


def local_inventory(
    folder: Path, data_uri: str, models: tuple[str, ...] | None = None, *, notifications: bool = False
) -> Path:
    """Copy the example inventory, pointing its sources at ``data_uri`` instead of s3://mrm-demo.
    ``notifications``: keep the policy's routing to Jira, e-mail, Slack and SNS (the test must then
    provide those peers); by default tickets stay in the built-in tracker only."""
    import yaml

    folder.mkdir(parents=True, exist_ok=True)
    for src in sorted(INVENTORY.glob("*.yaml")):
        if models is None or src.stem in models:
            text = src.read_text().replace("s3://mrm-demo", data_uri)
            if src.name == "_policy.yaml" and not notifications:
                policy = yaml.safe_load(text)
                policy.pop("notifications", None)
                text = yaml.safe_dump(policy, sort_keys=False)
            (folder / src.name).write_text(text)
    return folder


def empty_history(engine) -> None:
    """Delete every row of the history's tables on PostgreSQL, as a superuser with the append-only
    triggers switched off for this transaction (what an application role cannot do)."""
    from mrm.store import schema

    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        for table in reversed(schema.metadata.sorted_tables):
            conn.execute(table.delete())


def assert_same_quality_and_drift(store, run_a: str, run_b: str) -> dict:
    """Every quality and drift metric of run_a is in run_b with the same status and a value within 1e-9
    (freshness left out: sources differ in timestamp precision). Returns run_b's metrics by key."""

    def metrics(run_id):
        return {(m["check"], m["metric"], m["column"], m["segment"]): (m["value"], m["status"])
                for m in store.metrics(run_id=run_id)}  # fmt: skip

    a, b = metrics(run_a), metrics(run_b)
    compared = [k for k in a if k[0] in ("quality", "drift") and k[1] != "freshness_hours"]
    assert len(compared) > 40 and set(compared) <= set(b)
    for key in compared:
        (va, sa), (vb, sb) = a[key], b[key]
        assert sa == sb, key
        assert (va is None and vb is None) or abs(va - vb) <= 1e-9, (key, va, vb)
    return b


def record_daily_runs(history, runs: list[dict], model_id: str = "toy_model") -> None:
    """Record one completed GREEN run of ``model_id`` a day from 2026-09-01 (``run0``, ``run1``, ...) for
    each dict of ``runs``: the RunRecord fields it sets besides those (e.g. ``lineage``, ``reference``)."""
    from datetime import UTC, date, datetime, timedelta

    from mrm.store import RunRecord

    now = datetime(2026, 9, 6, 1, 0, tzinfo=UTC)
    for n, fields in enumerate(runs):
        history.record_run(
            RunRecord(
                run_id=f"run{n}", model_id=model_id, model_version="1.0.0",
                logical_date=date(2026, 9, 1) + timedelta(days=n), status="completed", overall_status="GREEN",
                started_at=now, finished_at=now, triggered_by="test", inventory_hash="0" * 64, **fields,
            )
        )  # fmt: skip


def route_to_standins(
    folder: Path, project: str, *, jira_timeout: float, retry: dict, **notifications: object
) -> None:
    """Point the inventory's policy at the stand-ins: tickets to Jira (cloud, ``project``, connection
    mrm_jira), RED alerts by e-mail and Slack (no SNS), the AMBER digest by e-mail, the summary to Slack;
    then ``notifications`` keys replaced."""
    import yaml

    path = folder / "_policy.yaml"
    policy = yaml.safe_load(path.read_text())
    n = policy["notifications"]
    n.update(
        tickets=["jira"], red_alerts=["email", "slack"], amber_digest=["email"], portfolio_summary=["slack"]
    )
    n["channels"].pop("sns", None)
    n["channels"]["jira"] = {
        "connection": "mrm_jira",
        "flavor": "cloud",
        "project": project,
        "timeout_seconds": jira_timeout,
    }
    n["retry"] = retry
    n.update(notifications)
    path.write_text(yaml.safe_dump(policy, sort_keys=False))


def same_table(a, b) -> bool:
    """Arrow tables equal in schema and values, NaN counting as equal to NaN in the same place (Arrow's
    own ``equals`` has NaN unequal to itself) and nulls in the same places."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not a.schema.equals(b.schema, check_metadata=False) or a.num_rows != b.num_rows:
        return False
    for x, y in zip(a.columns, b.columns, strict=True):
        if pa.types.is_floating(x.type):
            if not pc.is_nan(x).equals(pc.is_nan(y)):
                return False
            zero = pa.scalar(0, x.type)
            x, y = (pc.if_else(pc.is_nan(c), zero, c) for c in (x, y))
        if not x.equals(y):
            return False
    return True


CAPTURE_FEATURES = ["amount", "merchant_category", "country", "card_age_days", "device_score", "hour_of_day"]


def _csv(value) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return repr(float(value)) if isinstance(value, float) else str(value)


def write_capture(frame, root: str) -> int:
    """card_fraud's scoring-log rows as SageMaker capture records (CSV in, CSV out), one per row, filed by
    the hour like SageMaker; returns how many."""
    import json
    from collections import defaultdict

    from mrm.core.storage import join, store_for

    files = defaultdict(list)
    for row in frame.itertuples(index=False):
        at = row.event_ts.tz_convert("UTC")
        record = {
            "captureData": {
                "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "encoding": "CSV",
                                  "data": ",".join(_csv(getattr(row, f)) for f in CAPTURE_FEATURES)},
                "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "encoding": "CSV",
                                   "data": repr(float(row.score))},
            },
            "eventMetadata": {"eventId": f"sm-{row.event_id}", "inferenceId": row.event_id,
                              "inferenceTime": at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")},
            "eventVersion": "0",
        }  # fmt: skip
        files[at.strftime("%Y/%m/%d/%H")].append(json.dumps(record))
    for folder, lines in files.items():
        target = join(root, f"{folder}/capture-0.jsonl")
        store_for(target).put(target, ("\n".join(lines) + "\n").encode(), overwrite=True)
    return sum(len(v) for v in files.values())


def capture_scoring_log(root: str) -> dict:
    """card_fraud's ``scoring_log`` reading the capture files :func:`write_capture` wrote under ``root``."""
    return {
        "sagemaker_capture": {
            "uri": root, "input_format": "csv", "feature_order": CAPTURE_FEATURES, "output_format": "csv",
            "decision_thresholds": [[0.0, "approve"], [0.30, "review"], [0.70, "decline"]],
            "model_version": "4.2.0",
        }
    }  # fmt: skip


def file_red_ticket(
    store, column: str = "amount", *, model_id: str = "card_fraud", owner: str = "fraud-models@example.com",
    day=None,
) -> int:  # fmt: skip
    """A RED ticket of ``drift.psi[<column>]`` (0.3 against amber 0.1, red 0.25) filed in the built-in
    tracker of ``store``, as a run of ``day`` (default 2026-09-30) would; returns its id."""
    from datetime import date

    from mrm.ticketing import Breach, BuiltinTracker

    breach = Breach(model_id, owner, f"drift.psi[{column}]", "drift", "psi", column, "RED", 0.3, 0.1, 0.25,
                    "run-1", day or date(2026, 9, 30), "psi breached")  # fmt: skip
    return BuiltinTracker(store).file(breach, 1).ticket_id
