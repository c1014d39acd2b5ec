"""Synthetic scoring logs and labels for the three example models, with documented incidents.

Day numbers count from the first monitored day: day 1 = 2026-09-01, day 60 = 2026-10-30. The 14 days
before day 1 are the reference window of every example model. Everything is seeded: the same call
writes the same bytes.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from mrm.core.storage import join, store_for

FIRST_DAY = date(2026, 9, 1)
DAYS = 60
REFERENCE_DAYS = 14
MODELS = ("card_fraud", "credit_line", "aml_alert")
ROWS_PER_DAY = {"card_fraud": 2000, "credit_line": 1500, "aml_alert": 1200}


def day(n: int) -> date:
    """The logical date of demo day ``n`` (1-based; days <= 0 are the reference window)."""
    return FIRST_DAY + timedelta(days=n - 1)


@dataclass(frozen=True)
class Incident:
    model_id: str
    first: int  # first affected day number
    last: int  # last affected day number
    kind: str
    description: str
    # (metric, column, segment, status) the monitoring must report on each affected day;
    # ("could_not_run", None, None, "ERROR") for a run that cannot complete
    expect: tuple[tuple[str, str | None, str | None, str], ...] = field(default_factory=tuple)

    def days(self) -> range:
        return range(self.first, self.last + 1)


COUNTRIES = ("DE", "ES", "FR", "GB", "IT", "NL")
CANNOT_RUN = (("could_not_run", None, None, "ERROR"),)


def _red(metric: str, column: str | None = None, segment: str | None = None) -> tuple:
    return (metric, column, segment, "RED")


INCIDENTS: tuple[Incident, ...] = (
    Incident("card_fraud", 5, 7, "segment_nulls",
             "the device-fingerprint vendor fails for Dutch traffic only: device_score null for 20% "
             "of NL events",
             (_red("null_rate", "device_score", "country=NL"),)),
    Incident("card_fraud", 25, 27, "nulls",
             "device-fingerprint vendor outage: device_score is null for 30% of events",
             (_red("null_rate", "device_score"), _red("null_rate_increase", "device_score"),
              *(_red("null_rate", "device_score", f"country={c}") for c in COUNTRIES))),
    Incident("card_fraud", 34, 60, "performance",
             "a new fraud pattern the model does not see, in events from day 10 on: invisible until their "
             "labels mature (21 days); breaches start on day 32 as affected events enter the 7-day "
             "cohort, and are RED on both controls from day 34",
             (_red("gini_drop"), _red("ks_drop"))),
    Incident("card_fraud", 40, 60, "shift",
             "a new merchant segment: transaction amounts are 2.5x larger from day 40 on",
             (_red("psi", "amount"),)),
    Incident("card_fraud", 55, 55, "truncated",
             "the export stopped at 18:00 UTC: the day lacks its evening (fewer rows, no late hours; with "
             "the amount shift, two of six features drift)",
             (_red("freshness_hours"), ("volume_ratio", None, None, "AMBER"), _red("psi", "hour_of_day"),
              ("drifted_feature_share", None, None, "AMBER"))),
    Incident("credit_line", 12, 16, "amber_nulls",
             "a bureau feed degrades: utilization is null for 10% of applications (AMBER), which "
             "the persistence rule escalates to RED on the third day in a row",
             ()),
    Incident("credit_line", 22, 22, "percent_units",
             "one upstream service sends debt_to_income in percent for 3% of applications",
             (_red("out_of_range_rate", "debt_to_income"),)),
    Incident("credit_line", 34, 41, "late_labels",
             "the outcome feed for applications of days 5-7 arrives 45 days late: the matured cohorts "
             "that contain them lack labels (coverage AMBER with one such day, RED with two or more; "
             "day 41's AMBER is escalated by the persistence rule)",
             (_red("label_coverage"),)),
    Incident("credit_line", 33, 33, "missing",
             "the nightly export failed: no partition for the day", CANNOT_RUN),
    Incident("credit_line", 50, 60, "volume",
             "a marketing campaign ended: application volume halves from day 50 on",
             (_red("volume_ratio"),)),
    Incident("credit_line", 56, 58, "population",
             "a new broker channel sends a different population: lower bureau scores and incomes, higher "
             "debt-to-income",
             (_red("psi", "bureau_score"), _red("psi", "income"), _red("psi", "debt_to_income"),
              _red("drifted_feature_share"), _red("score_psi"), _red("decision_rate_shift", "approve"),
              _red("decision_rate_shift", "review"), _red("decision_rate_shift", "decline"))),
    Incident("aml_alert", 10, 10, "late_events",
             "the export re-sends 3% of the previous day's alerts (timestamps outside the day)",
             (_red("out_of_day_rate"),)),
    Incident("aml_alert", 12, 12, "extra_column",
             "an upstream release adds an undeclared column risk_flag to the scoring log",
             (("extra_column_count", None, None, "AMBER"),)),
    Incident("aml_alert", 20, 20, "corrupt",
             "a truncated upload: the day's Parquet file is corrupt", CANNOT_RUN),
    Incident("aml_alert", 30, 34, "new_category",
             "a new counterparty type 'crypto_exchange' appears in 6% of alerts",
             (_red("unexpected_category_rate", "counterparty_type"), _red("psi", "counterparty_type"))),
    Incident("aml_alert", 43, 60, "miscalibration",
             "from day 25 on, 1.6x more alerts end in a SAR than the score says: invisible until labels "
             "mature (14 days); AMBER on days 41-42 as the cohort fills, RED from day 43",
             (_red("calibration_ratio"),)),
    Incident("aml_alert", 45, 45, "duplicates",
             "an upstream replay re-sends 2% of the day's alerts (duplicate event_ids)",
             (_red("duplicate_rate"),)),
    Incident("aml_alert", 52, 60, "score_shift",
             "an upstream rules change routes riskier alerts to the model: scores shift up, and with them "
             "the shares of alerts auto-closed, investigated and escalated",
             (_red("score_psi"), _red("decision_rate_shift", "auto_close"),
              _red("decision_rate_shift", "investigate"), _red("decision_rate_shift", "escalate"))),
)  # fmt: skip

# the AMBER -> RED escalation of credit_line's utilization nulls, day by day
_PERSISTENCE = {12: "AMBER", 13: "AMBER", 14: "RED", 15: "RED", 16: "RED"}


def expected_findings(model_id: str, n: int) -> set[tuple[str, str | None, str | None, str]]:
    """Every AMBER / RED / ERROR finding the monitoring must report for a model on demo day ``n``."""
    found = {e for inc in incidents_on(model_id, n) for e in inc.expect}
    if model_id == "credit_line" and n in _PERSISTENCE:
        status = _PERSISTENCE[n]
        found |= {
            ("null_rate", "utilization", None, status),
            ("null_rate_increase", "utilization", None, status),
        }
    return found


def incidents_on(model_id: str, n: int, kind: str | None = None) -> list[Incident]:
    return [i for i in INCIDENTS if i.model_id == model_id and n in i.days() and kind in (None, i.kind)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _incident_rng(model_id: str, k: int) -> np.random.Generator:
    """Randomness for an incident, apart from the day's main stream (clean columns stay identical)."""
    return np.random.default_rng([MODELS.index(model_id), k + 100, 99])


def _card_fraud(rng: np.random.Generator, n: int, k: int) -> pd.DataFrame:
    amount = rng.lognormal(3.8, 1.0, n) * (2.5 if incidents_on("card_fraud", k, "shift") else 1.0)
    mcc = rng.choice(
        ["grocery", "electronics", "travel", "fashion", "digital_goods", "fuel"],
        n,
        p=[0.30, 0.15, 0.10, 0.20, 0.15, 0.10],
    )
    country = rng.choice(["DE", "FR", "GB", "IT", "ES", "NL"], n, p=[0.3, 0.2, 0.2, 0.1, 0.1, 0.1])
    card_age = np.minimum(rng.exponential(900, n).round(), 20000)
    device = rng.beta(2, 5, n)
    null_share = 0.30 if incidents_on("card_fraud", k, "nulls") else 0.01
    device[rng.random(n) < null_share] = np.nan
    if incidents_on("card_fraud", k, "segment_nulls"):
        device[(country == "NL") & (_incident_rng("card_fraud", k).random(n) < 0.20)] = np.nan
    hour = rng.choice(24, n, p=np.r_[np.full(6, 0.02), np.full(18, 0.88 / 18)]).astype(float)
    logit = (
        -3.0
        + 0.15 * (np.log(amount) - 3.8)
        + 1.6 * (np.nan_to_num(device, nan=0.28) - 0.28)
        + 0.9 * (mcc == "digital_goods")
        - 0.0004 * (card_age - 900)
        + rng.normal(0, 0.9, n)
    )
    frame = pd.DataFrame(
        {
            "amount": amount.round(2),
            "merchant_category": mcc,
            "country": country,
            "card_age_days": card_age,
            "device_score": device,
            "hour_of_day": hour,
        }
    )
    return frame.assign(score=_sigmoid(logit))


def _credit_line(rng: np.random.Generator, n: int, k: int) -> pd.DataFrame:
    income = rng.lognormal(10.8, 0.5, n).round(-2)
    dti = np.minimum(rng.gamma(2.0, 0.18, n), 5.0)
    util = np.minimum(rng.beta(2, 3, n) * 1.2, 1.5)
    util[rng.random(n) < (0.10 if incidents_on("credit_line", k, "amber_nulls") else 0.04)] = np.nan
    bureau = np.clip(rng.normal(690, 60, n).round(), 300, 850)
    employment = rng.choice(
        ["salaried", "self_employed", "retired", "student", "unemployed"], n, p=[0.62, 0.15, 0.12, 0.07, 0.04]
    )
    months = np.minimum(rng.exponential(60, n).round(), 600)
    months[rng.random(n) < 0.02] = np.nan
    if incidents_on("credit_line", k, "population"):
        bureau, income, dti = (
            np.clip(bureau - 70, 300, 850),
            (income * 0.6).round(-2),
            np.minimum(dti * 1.6, 5.0),
        )
    logit = (
        -2.3
        - 0.012 * (bureau - 690)
        + 0.9 * (dti - 0.36)
        + 0.8 * (np.nan_to_num(util, nan=0.48) - 0.48)
        + 0.5 * (employment == "unemployed")
        + rng.normal(0, 0.5, n)
    )
    frame = pd.DataFrame(
        {
            "income": income,
            "debt_to_income": dti.round(3),
            "utilization": util,
            "bureau_score": bureau,
            "employment_type": employment,
            "months_at_address": months,
        }
    )
    return frame.assign(score=_sigmoid(logit))


def _aml_alert(rng: np.random.Generator, n: int, k: int) -> pd.DataFrame:
    txn = np.minimum(rng.poisson(rng.lognormal(3.0, 0.8, n)), 10000).astype(float)
    cash = rng.beta(1.5, 6, n)
    cross = rng.beta(1, 8, n)
    segment = rng.choice(["retail", "sme", "corporate", "private_banking"], n, p=[0.6, 0.25, 0.1, 0.05])
    counterparty = rng.choice(
        ["individual", "business", "bank", "money_service"], n, p=[0.5, 0.3, 0.15, 0.05]
    )
    if incidents_on("aml_alert", k, "new_category"):
        counterparty[rng.random(n) < 0.06] = "crypto_exchange"
    shift = 1.2 if incidents_on("aml_alert", k, "score_shift") else 0.0
    logit = (
        -1.6
        + 3.0 * (cash - 0.2)
        + 2.5 * (cross - 0.11)
        + 0.6 * (segment == "private_banking")
        + 0.7 * (counterparty == "money_service")
        + shift
        + rng.normal(0, 0.7, n)
    )
    frame = pd.DataFrame(
        {
            "txn_count_30d": txn,
            "cash_share": cash.round(4),
            "cross_border_share": cross.round(4),
            "customer_segment": segment,
            "counterparty_type": counterparty,
        }
    )
    return frame.assign(score=_sigmoid(logit))


GENERATORS = {"card_fraud": _card_fraud, "credit_line": _credit_line, "aml_alert": _aml_alert}
CUTS = {
    "card_fraud": (0.30, 0.70, ("approve", "review", "decline")),
    "credit_line": (0.15, 0.35, ("approve", "review", "decline")),
    "aml_alert": (0.20, 0.60, ("auto_close", "investigate", "escalate")),
}
VERSIONS = {"card_fraud": "4.2.0", "credit_line": "2.0.1", "aml_alert": "1.3.0"}


def scoring_log(model_id: str, n_day: int, rows: int | None = None) -> pd.DataFrame:
    """The scoring log of one model for demo day ``n_day``, incidents applied (not missing/corrupt)."""
    rng = np.random.default_rng([MODELS.index(model_id), n_day + 100])
    n = int(rng.poisson(rows or ROWS_PER_DAY[model_id]))
    if incidents_on(model_id, n_day, "volume"):
        n //= 2
    frame = GENERATORS[model_id](rng, n, n_day)
    low, high, names = CUTS[model_id]
    decision = np.where(frame["score"] < low, names[0], np.where(frame["score"] < high, names[1], names[2]))
    d = day(n_day)
    midnight = datetime(d.year, d.month, d.day, tzinfo=UTC)
    seconds = rng.uniform(0, 86400, n)
    if "hour_of_day" in frame:  # card_fraud: the event time agrees with the hour feature
        seconds = frame["hour_of_day"].to_numpy() * 3600 + seconds / 24
    ts = pd.to_datetime(seconds, unit="s", utc=True) + (midnight - datetime(1970, 1, 1, tzinfo=UTC))
    head = pd.DataFrame(
        {
            "event_id": [f"{model_id}-{d:%Y%m%d}-{i:06d}" for i in range(n)],
            "event_ts": ts,
            "model_id": model_id,
            "model_version": VERSIONS[model_id],
        }
    )
    out = pd.concat([head, frame.drop(columns="score")], axis=1)
    out["score"] = frame["score"].round(6)
    out["decision"] = decision
    return _apply_log_incidents(out.sort_values("event_ts", ignore_index=True), model_id, n_day)


def _apply_log_incidents(out: pd.DataFrame, model_id: str, n_day: int) -> pd.DataFrame:
    kinds = {i.kind for i in incidents_on(model_id, n_day)}
    rng = _incident_rng(model_id, n_day)
    if "duplicates" in kinds:
        out = pd.concat([out, out.sample(frac=0.02, random_state=n_day)], ignore_index=True)
    if "truncated" in kinds:  # the export stopped at 18:00
        out = out[out["event_ts"].dt.hour < 18].reset_index(drop=True)
    if "late_events" in kinds:  # 3% of yesterday's alerts sent again with today's file
        late = rng.random(len(out)) < 0.03
        out.loc[late, "event_ts"] = out.loc[late, "event_ts"] - pd.Timedelta(days=1)
        out.loc[late, "event_id"] = out.loc[late, "event_id"] + "-late"
    if "extra_column" in kinds:
        out["risk_flag"] = rng.random(len(out)) < 0.1
    if "percent_units" in kinds:  # one upstream service sends debt-to-income in percent
        wrong = rng.random(len(out)) < 0.03
        out.loc[wrong, "debt_to_income"] = out.loc[wrong, "debt_to_income"] * 100
    return out


LABEL_MATURITY_DAYS = {"card_fraud": 21, "credit_line": 28, "aml_alert": 14}
PERFORMANCE_DRIFT_FROM_DAY = 10  # card_fraud: labels of events from this day on follow a new pattern
MISCALIBRATION_FROM_DAY = 25  # aml_alert: from this day on, 1.6x more alerts end in a SAR than scored
LATE_LABEL_DAYS = (5, 6, 7)  # credit_line: outcomes of these days' applications arrive 45 days late


def labels_for(log: pd.DataFrame, model_id: str, n_day: int) -> pd.DataFrame:
    """Outcomes for a day's events: label ~ Bernoulli(score) (the model is calibrated), known 2 days to
    the model's label maturity later. card_fraud events from PERFORMANCE_DRIFT_FROM_DAY on follow a
    pattern the score barely sees: label ~ Bernoulli(0.3 * score + 0.7 * the day's mean score);
    aml_alert events from MISCALIBRATION_FROM_DAY on end in a SAR 1.6x as often as scored; credit_line's
    labels for LATE_LABEL_DAYS arrive 45 days late."""
    rng = np.random.default_rng([MODELS.index(model_id), n_day + 100, 7])
    events = log.drop_duplicates("event_id")
    p = events["score"].to_numpy()
    if model_id == "card_fraud" and n_day >= PERFORMANCE_DRIFT_FROM_DAY:
        p = 0.3 * p + 0.7 * p.mean()
    if model_id == "aml_alert" and n_day >= MISCALIBRATION_FROM_DAY:
        p = np.minimum(1.6 * p, 1.0)
    label = (rng.random(len(events)) < p).astype("int8")
    delay = rng.integers(2, LABEL_MATURITY_DAYS[model_id], len(events))
    if model_id == "credit_line" and n_day in LATE_LABEL_DAYS:
        delay = delay + 45  # the bureau's outcome feed for these days arrives weeks late
    label_ts = events["event_ts"].reset_index(drop=True) + pd.to_timedelta(delay, unit="D")
    return pd.DataFrame({"event_id": events["event_id"].to_numpy(), "label": label, "label_ts": label_ts})


def _parquet(frame: pd.DataFrame) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), buf)
    return buf.getvalue()


def write_demo_data(
    base_uri: str, models: tuple[str, ...] = MODELS, days: int = DAYS, rows: int | None = None
) -> dict[str, int]:
    """Write reference + ``days`` monitored days of scoring logs and labels under ``base_uri``:
    ``<base>/scoring/<model>/dt=YYYY-MM-DD/part-0000.parquet`` and ``<base>/labels/<model>/dt=.../``,
    plus each model's validation report under ``<base>/validation-reports/``.
    Returns the number of files written per model."""
    store = store_for(base_uri)
    written = {}
    for model_id in models:
        report = join(base_uri, "validation-reports", f"{model_id}-{VERSIONS[model_id]}.pdf")
        store.put(
            report, f"validation report of {model_id} {VERSIONS[model_id]} (demo)\n".encode(), overwrite=True
        )
        labels = []
        count = 0
        for k in range(1 - REFERENCE_DAYS, days + 1):
            kinds = {i.kind for i in incidents_on(model_id, k)}
            if "missing" in kinds:
                continue
            uri = join(base_uri, "scoring", model_id, f"dt={day(k).isoformat()}", "part-0000.parquet")
            log = scoring_log(model_id, k, rows)
            data = _parquet(log)
            if "corrupt" in kinds:
                data = data[: len(data) // 3]  # a truncated upload
            store.put(uri, data, overwrite=True)
            labels.append(labels_for(log, model_id, k))
            count += 1
        all_labels = pd.concat(labels, ignore_index=True)
        for label_day, part in all_labels.groupby(all_labels["label_ts"].dt.date):
            uri = join(base_uri, "labels", model_id, f"dt={label_day.isoformat()}", "part-0000.parquet")
            store.put(uri, _parquet(part.reset_index(drop=True)), overwrite=True)
            count += 1
        written[model_id] = count
    return written


def load_to(base_uri: str, days: int = DAYS) -> str:
    """``mrm demo --load-to URI`` (docker-compose's one-shot): the demo data under ``base_uri``, creating
    the S3 bucket first if it does not exist. Returns a one-line summary."""
    if base_uri.startswith("s3://"):
        import boto3

        s3 = boto3.client("s3")
        bucket = base_uri.removeprefix("s3://").split("/", 1)[0]
        if bucket not in {b["Name"] for b in s3.list_buckets().get("Buckets", [])}:
            s3.create_bucket(Bucket=bucket)
    files = write_demo_data(base_uri, MODELS, days)
    return f"wrote {sum(files.values())} files under {base_uri} for {', '.join(MODELS)}"
