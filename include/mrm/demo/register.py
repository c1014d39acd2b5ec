"""The demo's intake and validation findings, after its review: one AI/ML use case taken in through
the code ``mrm intake new`` calls (into the review inventory copy, never the repo's), and two
validation findings of card_fraud recorded in the register by the model risk team's reviewer (one
already past its due date). Recorded as a scripted demo act, marked not authenticated by Airflow."""

from __future__ import annotations

from datetime import timedelta

import yaml

from mrm import settings

ANSWERS = {  # an instant card-limit model: EU AI Act Annex III credit scoring, fully automated
    "name": "Instant card limit",
    "purpose": "Set the first credit limit of new card customers",
    "decision": "the initial credit limit offered at onboarding",
    "business_line": "Cards",
    "automation": "fully_automated",
    "customers_affected": 200000,
    "yearly_decisions": 250000,
    "personal_data": True,
    "uses_protected_attributes": True,
    "protected_attributes": ["age"],
    "model_type": "gradient_boosting",
    "vendor": "Acme Scoring Ltd",
    "regulatory_scope": ["eu_ai_act_annex_iii_credit", "consumer_duty"],
    "owner": "cards-risk@example.com",
    "developer": "cards-ds@example.com",
}
DEMO_ACT = "demo script: not authenticated by Airflow"


def play(days: int) -> list[str]:
    from mrm import wiring
    from mrm.demo import data
    from mrm.inventory import load_inventory
    from mrm.inventory.intake import entry_from, propose
    from mrm.inventory.load import load_answers, load_policy
    from mrm.ticketing import register
    from mrm.ticketing.desk import Actor

    home = settings.home()
    folder = home / "review-inventory"  # written by mrm.demo.review, with the demo's role map
    answers = home / "intake" / "card_limit.intake.yaml"
    answers.parent.mkdir(parents=True, exist_ok=True)
    answers.write_text(yaml.safe_dump(ANSWERS, sort_keys=False))
    (folder / "card_limit.yaml").unlink(missing_ok=True)
    answered = load_answers(answers)
    proposal = propose(answered, load_policy(folder))
    entry = entry_from(answered, proposal, "card_limit", validator=load_policy(folder).model_risk_team)
    (folder / "card_limit.yaml").write_text(yaml.safe_dump(entry, sort_keys=False, allow_unicode=True))
    flags = ", ".join(f.flag for f in proposal.flags) or "none"
    lines = [
        f"  intake card_limit ({ANSWERS['name']}): proposed tier {proposal.tier}, status proposed",
        f"    flags: {flags}",
        *(f"    - {line}" for line in proposal.rationale),
    ]
    inventory, _ = load_inventory(folder)
    store, reviewer, last = wiring.get_store(), Actor("risk.reviewer", DEMO_ACT), data.day(days)
    findings = [
        ("VAL-2026-001", "high", last - timedelta(days=10), "override decisions are not monitored"),
        ("VAL-2026-002", "medium", last + timedelta(days=60), "the NL segment is not in the reference"),
    ]
    for finding_id, severity, due, text in findings:
        if finding_id in _known(store):
            continue
        register.add(store, inventory, reviewer, finding_id, "card_fraud", {
            "severity": severity, "description": text, "owner": "fraud-models@example.com",
            "due_date": due, "plan": None, "evidence": [],
        })  # fmt: skip
        late = " (past due)" if due < last else ""
        lines.append(f"  finding {finding_id} card_fraud {severity}, due {due}{late}: {text}")
    return lines


def _known(store) -> set[str]:
    from mrm.store import findings as store_findings

    with store.engine.connect() as conn:
        return store_findings.known_ids(conn)
