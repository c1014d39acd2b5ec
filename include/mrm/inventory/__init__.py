"""The model inventory: one YAML file per model, validated with pydantic (unknown keys rejected).

This room owns every configuration model mrm reads (the monitoring plan, the source settings of
Athena and SageMaker capture, notifications, the tier policy) and imports no implementation: the DAG
files import it, so it must stay light (pydantic and yaml only).

    base.py           strict models; the scoring-log contract's column names
    schema.py         the monitoring plan (features, reference, controls, performance, segments)
    sources.py        ``scoring_log`` settings of Athena and SageMaker data capture
    notifications.py  where tickets and alerts go (policy defaults, model overrides)
    entry.py          ModelEntry: identity, people, risk, lifecycle, plan; its fingerprint
    policy.py         ``_policy.yaml``: tier defaults, model risk team, governance rules
    load.py           reading a folder: Inventory, load_inventory, load_entry, one message per problem
    scaffold.py       ``mrm inventory new``
    intake_policy.py  ``_policy.yaml``'s ``intake:``: the tiering rule of new AI/ML use cases, the flags
    intake.py         the intake answers, the proposed tier (``propose``), the proposed entry (``entry_from``)
"""

from __future__ import annotations

from mrm.inventory.base import CONTRACT_COLUMNS, RESERVED_COLUMNS
from mrm.inventory.entry import VALIDATION_MONTHS, Approval, ModelEntry, Status
from mrm.inventory.load import (
    POLICY_FILE,
    Inventory,
    inventory_files,
    load_entry,
    load_inventory,
    load_policy,
)
from mrm.inventory.policy import Governance, Policy, TierDefaults
from mrm.inventory.schema import (
    SEGMENT_METRICS,
    AthenaScoringLog,
    CaptureScoringLog,
    Control,
    Feature,
    Monitoring,
    Performance,
    Persistence,
    Segments,
    Threshold,
    Window,
    check_controls,
)

__all__ = [
    "CONTRACT_COLUMNS",
    "POLICY_FILE",
    "RESERVED_COLUMNS",
    "SEGMENT_METRICS",
    "VALIDATION_MONTHS",
    "Approval",
    "AthenaScoringLog",
    "CaptureScoringLog",
    "Control",
    "Feature",
    "Governance",
    "Inventory",
    "ModelEntry",
    "Monitoring",
    "Performance",
    "Persistence",
    "Policy",
    "Segments",
    "Status",
    "Threshold",
    "TierDefaults",
    "Window",
    "check_controls",
    "inventory_files",
    "load_entry",
    "load_inventory",
    "load_policy",
]
