"""Compensation decisions against json-logic, and simulation throughput over 100,000 incidents.

The peer is the ``shop_standard`` preset written in json-logic (json-logic-qubit), the rules engine
a shop would otherwise reach for: per incident kind one expression that computes the amount (the
lookup table, the fixed amounts, the clamped percentage, the review and price-protection rules),
applies the order share, the customer's 30-day amount and count caps, the per-kind daily cap and
the monthly budget, then the agent's per-offer authority and the anti-abuse flags, and returns
``[amount, status]``. It is given flat dicts built beforehand, works in floats and keeps no trace.
csdesk's `decide` does the same from typed incidents, in exact decimals, and returns the offers,
the full trace, the policy hash and the idempotency keys (the input hash is computed when read).
Both agree on the status and, within a cent (json-logic has floats and no rounding), on the amount
of every incident (asserted before timing).
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from json_logic import jsonLogic

from benchmarks._runner import Case, measure, report
from csdesk.policies.compensation import (
    Agent,
    Status,
    compensation_policy,
    decide,
    simulate,
)
from csdesk.policies.compensation.samples import sample_incidents

POLICY = compensation_policy("shop_standard")
AGENT = Agent(id="agent-7", role="agent")
NOW = datetime(2026, 3, 5, 2, 0, tzinfo=UTC)


def _v(name: str) -> dict[str, Any]:
    return {"var": name}


def _clamp(value: Any, low: float, high: float) -> dict[str, Any]:
    return {"max": [low, {"min": [high, value]}]}


def _amounts() -> dict[str, Any]:
    shop_or_carrier = {"in": [_v("fault"), ["shop", "carrier"]]}
    return {
        "late_delivery": {
            "if": [
                shop_or_carrier,
                {
                    "if": [
                        {">=": [_v("days_late"), 7]},
                        20,
                        {">=": [_v("days_late"), 3]},
                        10,
                        {">=": [_v("days_late"), 1]},
                        5,
                        0,
                    ]
                },
                0,
            ]
        },
        "late_shipment": {"if": [{"==": [_v("fault"), "shop"]}, 5, 0]},
        "out_of_stock_cancel": 10,
        "system_fault_cancel": 10,
        "false_shipment": _clamp({"*": [0.1, _v("item_paid")]}, 5, 100),
        "damaged": {"if": [shop_or_carrier, 10, 0]},
        "wrong_item": {"if": [shop_or_carrier, 10, 0]},
        "review": {
            "if": [
                {"!": _v("root_cause_confirmed")},
                0,
                {"<=": [_v("rating"), 2]},
                10,
                {"==": [_v("rating"), 3]},
                5,
                0,
            ]
        },
        "price_drop": {
            "if": [
                {"and": [{"!": _v("caused_by_coupon")}, {"<=": [_v("days_since_purchase"), 30]}]},
                _v("difference"),
                0,
            ]
        },
        "service_failure": {
            "if": [
                {"==": [_v("severity"), "minor"]},
                5,
                {"and": [{"==": [_v("severity"), "major"]}, {"!=": [_v("tier"), "gold"]}]},
                20,
                0,
            ]
        },
    }


def json_logic_rules() -> dict[str, Any]:
    """One expression per incident kind: ``[amount after caps, status]``."""
    rules: dict[str, Any] = {}
    for kind, amount in _amounts().items():
        daily = ["late_delivery", "late_shipment"]
        room = [
            {"-": [{"*": [0.3, _v("paid_total")]}, _v("compensated")]},
            {"-": [50, _v("received_30d")]},
            {"-": [20000, _v("budget_used")]},
        ]
        if kind in daily:
            room.append({"-": [5000, _v("kind_day_used")]})
        capped = {"if": [{">=": [_v("received_30d_count"), 3]}, 0, {"min": [amount, *room]}]}
        status = {
            "if": [
                {"<=": [capped, 0]},
                "rejected",
                {"in": ["professional_claimant", _v("flags")]},
                "needs_evidence",
                {"in": ["serial_complainer", _v("flags")]},
                "needs_approval",
                {">": [capped, 30]},
                "needs_approval",
                {">": [{"+": [_v("agent_today"), capped]}, 300]},
                "needs_approval",
                "auto_approved",
            ]
        }
        rules[kind] = [capped, status]
    return rules


def flatten(incident: Any) -> dict[str, Any]:
    """The facts json-logic reads, as floats (its only number type)."""
    order, customer = incident.order, incident.customer
    facts: dict[str, Any] = {
        "fault": incident.fault.value,
        "paid_total": float(order.paid_total.amount),
        "item_paid": float(order.item_paid.amount),
        "compensated": float(order.already_compensated.amount),
        "received_30d": float(customer.received[30].amount.amount),
        "received_30d_count": customer.received[30].count,
        "flags": sorted(customer.risk_flags),
        "tier": customer.tier.value,
        "budget_used": 0,
        "kind_day_used": 0,
        "agent_today": 0,
    }
    for name in ("days_late", "rating", "root_cause_confirmed", "severity", "caused_by_coupon"):
        if hasattr(incident, name):
            facts[name] = getattr(incident, name)
    if hasattr(incident, "days_since_purchase"):
        facts["days_since_purchase"] = incident.days_since_purchase
        facts["difference"] = float(incident.difference.amount)
    return facts


def _peer(rules: dict[str, Any], kind: str, facts: dict[str, Any]) -> tuple[float, str]:
    expression = rules.get(kind)
    if expression is None:  # statutory claims: routed, nothing computed
        return 0.0, "statutory"
    amount, status = (jsonLogic(part, facts) for part in expression)
    return amount, status


def _agree(batch: list[Any], flat: list[tuple[str, dict[str, Any]]], rules: dict[str, Any]) -> None:
    for incident, (kind, facts) in zip(batch, flat, strict=True):
        ours = decide(incident, policy=POLICY, agent=AGENT, now=NOW)
        amount, status = _peer(rules, kind, facts)
        if ours.status is Status.STATUTORY:
            assert status == "statutory"
            continue
        gold_upgrade = any(o.instrument.value == "membership_upgrade" for o in ours.offers)
        if gold_upgrade:  # an upgrade has no money value; json-logic has no instrument to return
            continue
        # json-logic has floats and no rounding: within a cent of csdesk's exact, rounded amount.
        assert abs(Decimal(repr(max(amount, 0))) - ours.total.amount) < Decimal("0.01"), (
            incident.id,
            amount,
            ours.total,
        )
        assert status == ours.status.value, (
            incident.id,
            status,
            ours.status,
            [s.code for s in ours.trace],
        )


def cases() -> list[Case]:
    batch = [
        i
        for i in sample_incidents(400, seed=5, customers=5000)
        if i.kind.value not in ("fraud_claim",)
    ][:200]
    rules = json_logic_rules()
    flat = [(i.kind.value, flatten(i)) for i in batch]
    _agree(batch, flat, rules)
    return [
        Case(
            "decide 200 incidents",
            lambda: [decide(i, policy=POLICY, agent=AGENT, now=NOW) for i in batch],
            lambda: [_peer(rules, kind, facts) for kind, facts in flat],
            number=5,
        )
    ]


def simulation(count: int = 100_000) -> None:
    incidents = list(sample_incidents(count, seed=1))
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        result = simulate(POLICY, incidents)
        runs.append(time.perf_counter() - started)
    median = statistics.median(runs)
    print(
        f"\nsimulate({count:,} incidents, shop_standard): median {median:.1f} s of 3 runs "
        f"({count / median:,.0f} incidents/s); granted {result.granted.count:,} decisions, "
        f"{result.money(result.granted.amount)}; {result.capped:,} hit a cap"
    )
    tracemalloc.start()
    streamed = simulate(POLICY, sample_incidents(20_000, seed=2))
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(
        f"simulate over a generator of 20,000 incidents: peak traced memory {peak:.1f} MB "
        f"({streamed.incidents:,} incidents)"
    )


def collector_share(run: Any, times: int = 20) -> float:
    """The share of ``run``'s time spent in the garbage collector (its callbacks time each pass).

    A decision keeps its trace, offers and charges: the objects csdesk retains (json-logic
    retains none) make the collector run during the timed rounds; this says how much it costs.
    """
    spent = 0
    started: list[int] = []

    def timed(phase: str, _info: dict[str, Any]) -> None:
        nonlocal spent
        if phase == "start":
            started.append(time.perf_counter_ns())
        elif started:
            spent += time.perf_counter_ns() - started.pop()

    gc.callbacks.append(timed)
    try:
        begin = time.perf_counter_ns()
        for _ in range(times):
            run()
        total = time.perf_counter_ns() - begin
    finally:
        gc.callbacks.remove(timed)
    return spent / total


def main() -> None:
    found = cases()
    results = [measure(case, rounds=11) for case in found]
    report("compensation", "json-logic", results)
    for result in results:
        print(
            f"decisions per second: csdesk {200e9 / result.csdesk_ns:,.0f} (full trace), "
            f"json-logic {200e9 / result.peer_ns:,.0f} (no trace)"
        )
    print(f"csdesk's time in the garbage collector: {collector_share(found[0].csdesk):.0%}")
    simulation()


if __name__ == "__main__":
    main()
