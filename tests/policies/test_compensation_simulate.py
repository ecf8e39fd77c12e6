"""Simulation, comparison, review analysis, and the invariants every decision keeps."""

from __future__ import annotations

from collections import defaultdict, deque
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csdesk import Money
from csdesk.errors import InvalidInputError
from csdesk.policies.compensation import (
    MemoryBudgetStore,
    Status,
    compare,
    compensation_policy,
    decide,
    grant,
    review_analysis,
    simulate,
)
from csdesk.policies.compensation.samples import sample_incidents
from tests.policies.compensation_helpers import AGENT, AT, BOT, cny, customer, incident, order

SHOP = compensation_policy("shop_standard")
HISTORY = list(sample_incidents(3000, seed=11))


def test_simulation_totals_agree_across_every_breakdown() -> None:
    report = simulate(SHOP, HISTORY)
    assert report.incidents == len(HISTORY) == sum(report.statuses.values())
    granted = report.granted.amount
    assert granted > 0
    assert sum(b.amount for b in report.by_rule.values()) == granted
    assert sum(b.amount for b in report.by_instrument.values()) == granted
    assert sum(b.amount for b in report.by_kind.values()) == granted
    assert sum(b.amount for b in report.by_month.values()) == granted
    assert sum(report.per_customer.values()) == granted
    assert sum(b.count for b in report.by_kind.values()) == report.incidents
    assert report.statuses["statutory"] == report.statutory.count > 0
    assert sum(report.approvals.values()) + report.evidence > 0
    assert report.capped > 0
    distribution = report.customer_distribution()
    assert distribution["p50"] <= distribution["p90"] <= distribution["max"]  # type: ignore[operator]
    assert report.to_dict()["granted"]["amount"] == str(report.money(granted))


def test_simulated_history_respects_the_customer_cap() -> None:
    """What the simulation granted never puts a customer over 50.00 or 3 grants in 30 days."""
    from csdesk.policies.compensation.simulate import _Run

    granted: dict[str, deque[tuple[Any, Decimal]]] = defaultdict(deque)
    run = _Run(SHOP, BOT)
    for item in HISTORY:
        refused_before = run.report.over_limit_at_grant
        decision = run.feed(item)
        if decision.status in (Status.REJECTED, Status.STATUTORY):
            continue
        if run.report.over_limit_at_grant > refused_before:
            continue
        window = granted[item.customer.id]
        window.append((item.occurred_at, decision.total.amount))
        while window[0][0] <= item.occurred_at - timedelta(days=30):
            window.popleft()
        assert sum(amount for _, amount in window) <= Decimal(50)
        assert len(window) <= 3


def test_comparing_a_policy_with_itself_finds_no_difference() -> None:
    comparison = compare(SHOP, SHOP, HISTORY[:500])
    assert comparison.differing == 0
    assert comparison.a.granted.amount == comparison.b.granted.amount


def test_comparing_two_versions_shows_the_cost_of_a_change() -> None:
    data = SHOP.model_dump(mode="json")
    data["version"] = "2026.2"
    data["caps"] = [cap for cap in data["caps"] if cap["id"] != "customer_30d"]
    looser = compensation_policy(data)
    comparison = compare(SHOP, looser, HISTORY[:1500])
    assert comparison.b.granted.amount > comparison.a.granted.amount
    assert comparison.differing > 0
    assert comparison.examples
    rows = {row[0]: row for row in comparison.rows()}
    assert rows["granted"][3].startswith("+")
    assert rows["incidents decided differently"][2] == str(comparison.differing)


def test_simulation_needs_time_order_and_one_currency() -> None:
    with pytest.raises(InvalidInputError, match="sort the incidents by occurred_at"):
        simulate(SHOP, [HISTORY[5], HISTORY[1]])
    with pytest.raises(InvalidInputError, match="compare policies in one currency"):
        compare(SHOP, compensation_policy("western_appeasement"), [])


def test_simulation_reads_a_generator_once() -> None:
    report = simulate(SHOP, sample_incidents(200, seed=3))
    assert report.incidents == 200


def test_review_analysis_counts_by_cause_product_and_month() -> None:
    analysis = review_analysis(HISTORY)
    reviews = [i for i in HISTORY if i.kind.value == "review"]
    assert analysis.total == len(reviews) == analysis.negative + analysis.neutral
    assert sum(analysis.by_cause.values()) == analysis.total
    assert sum(analysis.by_sku.values()) == analysis.total
    assert sum(analysis.by_month.values()) == analysis.total
    assert analysis.by_cause["unconfirmed"] == analysis.total - analysis.confirmed
    top = analysis.top(3)
    assert len(top) == 3
    assert top[0][2] >= top[1][2] >= top[2][2]
    assert analysis.to_dict()["total"] == analysis.total


# -- invariants over random incidents -------------------------------------------------------------

amounts = st.integers(min_value=100, max_value=200_000)


@st.composite
def incidents(draw: st.DrawFn) -> Any:
    items = draw(amounts)
    shipping = draw(st.sampled_from([0, 600, 1200]))
    paid = items + shipping
    compensated = draw(st.integers(min_value=0, max_value=paid // 2))
    received = draw(st.integers(min_value=0, max_value=8000))
    count = draw(st.integers(min_value=0, max_value=4))
    flags = draw(
        st.lists(
            st.sampled_from(["serial_complainer", "professional_claimant", "other"]), max_size=2
        )
    )
    kind = draw(
        st.sampled_from(
            [
                "late_delivery",
                "late_shipment",
                "out_of_stock_cancel",
                "damaged",
                "review",
                "service_failure",
                "price_drop",
                "false_shipment",
                "wrong_item",
            ]
        )
    )

    def money(minor: int) -> dict[str, str]:
        return cny(f"{minor / 100:.2f}")

    table: dict[str, dict[str, Any]] = {
        "late_delivery": {"days_late": draw(st.integers(1, 30))},
        "late_shipment": {"days_late": draw(st.integers(1, 30))},
        "out_of_stock_cancel": {"amount_canceled": money(items)},
        "damaged": {"affected": money(items)},
        "wrong_item": {"affected": money(items)},
        "review": {
            "rating": draw(st.integers(1, 3)),
            "root_cause": "damaged",
            "root_cause_confirmed": draw(st.booleans()),
        },
        "service_failure": {"severity": draw(st.sampled_from(["minor", "major"]))},
        "price_drop": {
            "difference": money(draw(st.integers(1, items))),
            "days_since_purchase": draw(st.integers(0, 60)),
        },
        "false_shipment": {},
    }
    fields = table[kind]
    fields["fault"] = draw(st.sampled_from(["shop", "carrier", "customer"]))
    return incident(
        kind,
        order=order(
            f"{paid / 100:.2f}",
            f"{items / 100:.2f}",
            f"{shipping / 100:.2f}",
            compensated=money(compensated),
        ),
        customer=customer(
            f"{received / 100:.2f}",
            count,
            risk_flags=flags,
            tier=draw(st.sampled_from(["regular", "gold"])),
        ),
        **fields,
    )


@given(
    incidents(), st.sampled_from(["shop_standard", "taobao_late_shipment", "tmall_late_shipment"])
)
def test_offers_stay_within_every_cap_and_are_exact(item: Any, name: str) -> None:
    policy = compensation_policy(name)
    if name == "tmall_late_shipment":
        item = item.model_copy(
            update={
                "customer": item.customer.model_copy(
                    update={"received": {1: item.customer.received[30]}}
                )
            }
        )
    decision = decide(item, policy=policy, agent=AGENT, now=AT)
    total = decision.total
    for offer in decision.offers:
        assert offer.value.is_quantized
        assert offer.value >= Money.zero("CNY")
    for cap in policy.caps:
        if cap.scope == "order" and decision.offers:
            limit = Money(item.order.paid_total.amount * cap.max_share, "CNY").quantize(
                "ROUND_DOWN"
            )
            assert item.order.already_compensated + total <= max(
                limit, item.order.already_compensated
            )
        if cap.scope == "customer" and decision.offers:
            window = item.customer.received[cap.window_days]
            if cap.max_amount is not None:
                assert window.amount + total <= max(Money(cap.max_amount, "CNY"), window.amount)
            if cap.max_count is not None:
                assert window.count < cap.max_count
    if decision.status is Status.REJECTED:
        assert decision.offers == ()
        assert decision.trace[-1].code in {"result.rejected", "triage.review_unconfirmed"}
    else:
        assert decision.offers
    if decision.status is Status.AUTO_APPROVED:
        tier = next(t for t in policy.tiers if t.role is AGENT.role)
        assert all(o.value.amount <= tier.max_per_offer for o in decision.offers)
    again = decide(item, policy=policy, agent=AGENT, now=AT)
    assert again.model_dump() == decision.model_dump()


@given(incidents())
def test_a_granted_decision_is_never_granted_twice(item: Any) -> None:
    store = MemoryBudgetStore()
    decision = decide(item, policy=SHOP, agent=BOT, budget=store, now=AT)
    if decision.status is not Status.AUTO_APPROVED:
        return
    assert grant(decision, store, SHOP)
    spent = store.usage("budget:goodwill", "2026-03")
    assert not grant(decide(item, policy=SHOP, agent=BOT, budget=store, now=AT), store, SHOP)
    assert store.usage("budget:goodwill", "2026-03") == spent
