"""Tiering against json-logic, and the crisis detector over a million events.

The peer is the same severity / urgency / matrix / repeat rules written in json-logic
(json-logic-qubit), the rules engine a shop would otherwise reach for, evaluated on the same
complaints (flattened to the dict json-logic reads). csdesk's `assess` also returns its reasons,
route, response level and SLA priority; json-logic returns the priority only. Both agree on the
priority of every complaint (asserted).
"""

from __future__ import annotations

import random
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from typing import Any

from json_logic import jsonLogic

from benchmarks._runner import Case, Result, measure, report
from csdesk import Customer, Money
from csdesk.policies.crisis import CrisisDetector, CrisisPolicy
from csdesk.policies.tiering import Complaint, assess, normalise, tiering_policy

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
POLICY = tiering_policy("seeds")


def _any_word(words: tuple[str, ...]) -> dict[str, Any]:
    return {"or": [{"in": [word, {"var": "text"}]} for word in words]}


def _level(rules: list[tuple[dict[str, Any], int]], default: int) -> dict[str, Any]:
    """The most severe (smallest) level among the rules that fire, as a json-logic min."""
    return {"min": [default, *[{"if": [cond, level, default]} for cond, level in rules]]}


def json_logic_rules() -> dict[str, Any]:
    sev_rules: list[tuple[dict[str, Any], int]] = [
        ({"var": "safety_risk"}, 1),
        (
            {
                "in": [
                    {"var": "public_channel"},
                    ["12315", "consumer_association", "platform_arbitration"],
                ]
            },
            1,
        ),
        ({"in": [{"var": "public_channel"}, ["media", "social_post"]]}, 2),
        ({">=": [{"var": "money"}, 500]}, 2),
        ({"or": [{"var": "fraud_suspected"}, {"var": "chargeback"}]}, 2),
        (
            {
                "or": [
                    {">": [{"var": "days_late"}, 0]},
                    {"var": "wrong_item"},
                    {"var": "damaged"},
                    {">": [{"var": "refund_overdue_days"}, 0]},
                ]
            },
            3,
        ),
    ]
    urg_rules: list[tuple[dict[str, Any], int]] = [
        ({"var": "perishable"}, 1),
        ({"var": "customer_blocked"}, 1),
        ({"<=": [{"var": "sentiment"}, -0.6]}, 2),
    ]
    for rule in POLICY.keywords:
        if rule.severity:
            sev_rules.append((_any_word(rule.words), int(rule.severity[1])))
        if rule.urgency:
            urg_rules.append((_any_word(rule.words), int(rule.urgency[1])))
    base = {"if": [{"==": [{"var": "category"}, "product_inquiry"]}, 4, 3]}
    severity = {
        "max": [
            1,
            {"-": [{"min": [base, *[{"if": [c, lv, 4]} for c, lv in sev_rules]]}, {"var": "vip"}]},
        ]
    }
    urgency = _level(urg_rules, 3)
    table: dict[str, dict[str, str]] = {}
    for severity_key, row in POLICY.matrix.items():
        table[severity_key] = {}
        for urgency_key, level in row.items():
            table[severity_key][urgency_key] = level
    matrix = {s: {u: int(table[f"S{s}"][f"U{u}"][1]) for u in (1, 2, 3)} for s in (1, 2, 3, 4)}
    lookup: list[Any] = []
    for s in (1, 2, 3, 4):
        for u in (1, 2, 3):
            lookup += [{"and": [{"==": [severity, s]}, {"==": [urgency, u]}]}, matrix[s][u]]
    priority = {"if": [*lookup, 5]}
    return {"max": [1, {"-": [priority, {"if": [{">": [{"var": "repeats"}, 0]}, 1, 0]}]}]}


def complaints(count: int = 200) -> list[tuple[Complaint, Customer]]:
    rnd = random.Random(11)
    texts = [
        "",
        "我要投诉",
        "快递太慢了",
        "你们就是骗子",
        "我要去曝光",
        "my lawyer",
        "urgent please",
        "孩子过敏了",
        "What's the warranty?",
        "马上退款",
    ]
    made = []
    for index in range(count):
        fields: dict[str, Any] = {
            "text": rnd.choice(texts),
            "days_late": rnd.choice([0, 0, 1, 3]),
            "wrong_item": rnd.random() < 0.1,
            "perishable": rnd.random() < 0.1,
            "sentiment": rnd.choice([None, -0.9, -0.2, 0.5]),
            "public_channel": rnd.choice([None] * 8 + ["12315", "social_post"]),
            "money_at_stake": rnd.choice([None, Money("100.00", "CNY"), Money("900.00", "CNY")]),
            "category": rnd.choice(["product_inquiry", "order_problem", "complaint_suggestion"]),
        }
        tier = rnd.choice(["regular", "silver", "gold", "diamond"])
        made.append(
            (Complaint(id=f"CP-{index}", received_at=NOW, **fields), Customer(id="C", tier=tier))
        )
    return made


def flatten(complaint: Complaint, customer: Customer) -> dict[str, Any]:
    return {
        "text": normalise(complaint.text),
        "category": str(complaint.category),
        "safety_risk": complaint.safety_risk,
        "public_channel": complaint.public_channel or "",
        "money": float(complaint.money_at_stake.amount) if complaint.money_at_stake else 0,
        "fraud_suspected": complaint.fraud_suspected,
        "chargeback": complaint.chargeback,
        "days_late": complaint.days_late,
        "wrong_item": complaint.wrong_item,
        "damaged": complaint.damaged,
        "refund_overdue_days": complaint.refund_overdue_days,
        "perishable": complaint.perishable,
        "customer_blocked": complaint.customer_blocked,
        "sentiment": complaint.sentiment if complaint.sentiment is not None else 1,
        "vip": POLICY.vip_impact.get(customer.tier, 0),
        "repeats": 0,
    }


def cases() -> list[Case]:
    batch = complaints()
    rules = json_logic_rules()
    flat = [flatten(c, k) for c, k in batch]
    for (complaint, customer), data in zip(batch, flat, strict=True):
        ours = assess(complaint, policy=POLICY, now=NOW, customer=customer).priority
        theirs = f"P{jsonLogic(rules, data)}"
        assert ours == theirs, (complaint, ours, theirs)
    return [
        Case(
            "assess 200 complaints",
            lambda: [assess(c, policy=POLICY, now=NOW, customer=k) for c, k in batch],
            lambda: [jsonLogic(rules, d) for d in flat],
            number=5,
        )
    ]


def crisis(events: int = 1_000_000) -> None:
    detector = CrisisDetector(CrisisPolicy(window_minutes=60, min_count=10, multiplier=4))
    rnd = random.Random(7)
    spikes = {events // 5 * k: f"SKU-{k}" for k in range(1, 5)}
    at = datetime(2026, 1, 1, tzinfo=UTC)
    raised: list[str] = []
    tracemalloc.start()
    samples = []
    started = time.perf_counter()
    for index in range(events):
        at += timedelta(seconds=rnd.expovariate(1 / 20))
        sku = f"SKU-{rnd.randrange(500)}"
        for change in detector.observe(f"C{index}", at, sku=sku):
            raised.append(change.incident.value) if change.kind == "raised" else None
        if index in spikes:
            for burst in range(20):
                for change in detector.observe(
                    f"S{burst}", at + timedelta(seconds=30 * burst), sku=spikes[index]
                ):
                    raised.append(change.incident.value) if change.kind == "raised" else None
        if index % (events // 10) == 0:
            samples.append(tracemalloc.get_traced_memory()[0] / 1e6)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] / 1e6
    tracemalloc.stop()
    print(
        f"\ncrisis detector: {events:,} events in {elapsed:.1f} s under tracemalloc "
        f"({events / elapsed:,.0f} events/s); peak traced memory {peak:.1f} MB; "
        f"memory at each tenth: {', '.join(f'{m:.1f}' for m in samples)} MB"
    )
    print(f"incidents raised: {sorted(raised)} (injected: {sorted(spikes.values())})")
    assert sorted(raised) == sorted(spikes.values())
    plain = CrisisDetector(CrisisPolicy(window_minutes=60, min_count=10, multiplier=4))
    rnd = random.Random(7)
    stamps = []
    at = datetime(2026, 1, 1, tzinfo=UTC)
    for _ in range(200_000):
        at += timedelta(seconds=rnd.expovariate(1 / 20))
        stamps.append((at, f"SKU-{rnd.randrange(500)}"))
    started = time.perf_counter()
    for index, (when, sku) in enumerate(stamps):
        plain.observe(f"C{index}", when, sku=sku)
    rate = len(stamps) / (time.perf_counter() - started)
    print(f"crisis detector without tracing: {rate:,.0f} events/s (one key per event)")


def main() -> list[Result]:
    results = [measure(case, rounds=7) for case in cases()]
    report("Tiering", "json-logic", results)
    speed = 1 / results[0].ratio
    print(f"csdesk assess (with reasons) is {speed:.2f}x json-logic's speed (goal >= 1.5)")
    crisis()
    return results


if __name__ == "__main__":
    main()
