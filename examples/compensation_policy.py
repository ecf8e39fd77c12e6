"""Load a compensation policy from TOML, decide two incidents, grant one, replay history.

The policy is `late_parcels.toml` next to this file: 5 % of the goods, 5 to 30 yuan, for a late
parcel that was the shop's or the carrier's fault, with a 30-day customer cap and two authority
tiers. The carrier's late parcel earns a coupon the agent may grant alone; the customer's own
delay earns nothing, and the trace says which condition failed.
"""

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from csdesk.policies.compensation import (
    Agent,
    MemoryBudgetStore,
    compensation_policy,
    decide,
    grant,
    parse_incident,
    simulate,
)
from csdesk.policies.compensation.samples import sample_incidents
from csdesk.replies import explain

policy = compensation_policy(Path(__file__).with_name("late_parcels.toml"))
agent = Agent(id="agent-7", role="agent")
now = datetime(2026, 3, 5, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
store = MemoryBudgetStore()


def late_parcel(incident_id: str, items: str, fault: str) -> dict[str, object]:
    return {
        "kind": "late_delivery",
        "id": incident_id,
        "days_late": 2,
        "fault": fault,
        "occurred_at": "2026-03-05T09:00:00+08:00",
        "order": {
            "id": f"SO-{incident_id}",
            "paid_total": {"amount": items, "currency": "CNY"},
            "item_paid": {"amount": items, "currency": "CNY"},
            "shipping_paid": {"amount": "0", "currency": "CNY"},
        },
        "customer": {
            "id": "C-1",
            "received": {"30": {"amount": {"amount": "0", "currency": "CNY"}}},
        },
    }


for incident_id, items, fault in (("1", "128.50", "carrier"), ("2", "80.00", "customer")):
    incident = parse_incident(late_parcel(incident_id, items, fault))
    decision = decide(incident, policy=policy, agent=agent, budget=store, now=now)
    print(explain(decision))
    print()
    if decision.offers:
        assert grant(decision, store, policy)

print(f"agent-7 granted today: {store.usage('agent:agent-7', '2026-03-05').amount} CNY")
report = simulate(policy, sample_incidents(2000, seed=4))
print(
    f"replaying 2000 synthetic incidents: {report.granted.count} granted, "
    f"{report.money(report.granted.amount)} in all, {report.capped} capped"
)
