"""``mrm inventory new``: a proposed inventory entry with every field explained."""

from __future__ import annotations

TEMPLATE = """\
# Inventory entry for {model_id}, scaffolded by `mrm inventory new`. Fill in every TODO, then run
# `mrm inventory validate`. A proposed model is registered but not monitored; set status: approved
# (with approval evidence and a monitoring plan) when validation signs it off.

# -- identity ----------------------------------------------------------------------------------------
model_id: {model_id}                 # lower_snake_case, must match the file name
name: TODO human-readable name
version: "0.1.0"                     # the version deployed; the scoring log's model_version must match
purpose: >-                          # the use case: what decision the model supports, for whom
  TODO describe the use case in a sentence or two.
business_line: TODO                  # e.g. Payments risk, Consumer credit
model_type: TODO                     # e.g. gradient-boosted trees, logistic scorecard
vendor: null                         # the vendor's name if bought in; null when developed in-house

# -- people (emails route tickets and alerts) ---------------------------------------------------------
business_owner: todo-business-owner@example.com   # accountable for the business use
owner: todo-model-owner@example.com               # the model owner: receives breach tickets
developer: todo-developer@example.com
validator: todo-validator@example.com             # independent: must differ from developer and owner

# -- risk --------------------------------------------------------------------------------------------
risk_tier: 3                         # 1 = highest materiality (strictest controls, yearly validation)
tier_rationale: >-                   # why this tier: impact, volume, automation, regulation
  TODO explain the tier in at least twenty characters.
regulatory_flags: []                 # any of: eu_ai_act_high_risk, fair_lending, gdpr_automated_decision,
                                     #   sr_26_2, aml_cft, consumer_duty
limitations: []                      # known weaknesses, one per line
conditions_of_use: []                # conditions the model may be used under

# -- lifecycle ---------------------------------------------------------------------------------------
status: proposed                     # proposed -> in_validation -> approved -> retired (or suspended)
# approval:                          # required once approved or suspended
#   approver: head-of-model-risk@example.com
#   date: 2026-01-31
#   validation_report: s3://bucket/validation-reports/{model_id}.pdf
#   conditions: []
# last_validation: 2026-01-31        # next validation defaults to +12/24/36 months by tier
# next_validation_due: 2027-01-31    # or set it explicitly

# -- monitoring plan (required once approved) ----------------------------------------------------------
# monitoring:
#   start_date: 2026-02-01           # first logical date monitored
#   scoring_log: s3://bucket/scoring/{model_id}/   # <prefix>/dt=YYYY-MM-DD/*.parquet
#   labels: s3://bucket/labels/{model_id}/         # event_id, label, label_ts; by day the label became known
#   reference: {{start: 2026-01-01, end: 2026-01-14}}
#   decisions: [approve, review, decline]
#   features:
#     - {{name: amount, type: numeric, min: 0, max: 10000, nullable: false}}
#     - {{name: country, type: categorical, categories: [DE, FR], nullable: false}}
#   performance: {{label_maturity_days: 45, cohort_days: 7, threshold: 0.5}}
#   controls: {{}}                   # tier defaults from _policy.yaml; override metric by metric
"""


def scaffold(model_id: str) -> str:
    return TEMPLATE.format(model_id=model_id)
