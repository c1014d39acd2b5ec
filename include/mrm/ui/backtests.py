"""The model page's Back-tests table: the current run of kind ``backtest`` per logical date (``mrm
backtest``), with its cohort, AUC, Gini, KS and label coverage; analysis, never ticketed. Built from
:func:`mrm.store.reads.backtests`."""

from __future__ import annotations

from mrm.store.reads import BACKTEST_METRICS
from mrm.ui.html import Column, Table, badge, e

LABELS = {"auc": "AUC", "gini": "Gini", "ks": "KS", "label_coverage": "Label coverage"}
HINT = "mrm backtest: each date's matured cohort, newest first; analysis, never ticketed"
EMPTY = "no back-tests: mrm backtest --model ID --since DATE --until DATE"


def rows(backtests: list[dict]) -> list[dict]:
    return [
        {
            **{k: v for k, v in b.items() if k != "values"},
            **{m: b["values"].get(m) for m in BACKTEST_METRICS},
            "cohort": f"{b['cohort_start']} .. {b['cohort_end']}" if b["cohort_start"] else "",
        }
        for b in backtests
    ]


def table(backtests: list[dict]) -> Table:
    def result(r: dict) -> str:
        why = f'<div class="small muted">{e(r["reason"])}</div>' if r["reason"] else ""
        return badge(r["overall_status"]) + why

    columns = [
        Column("logical_date", "Date"),
        Column("cohort", "Cohort"),
        Column("overall_status", "Result", result),
        *(Column(m, LABELS.get(m, m), num=True) for m in BACKTEST_METRICS),
        Column("row_count", "Labelled", num=True),
        Column("finished_at", "Finished"),
        Column("triggered_by", "By"),
        Column("cohort_start", "Cohort start", in_html=False),
        Column("cohort_end", "Cohort end", in_html=False),
        Column("status", "Run", in_html=False),
        Column("reason", "Reason", in_html=False),
        Column("run_id", "Run id", in_html=False),
    ]
    return Table("backtests", columns, rows(backtests), EMPTY)
