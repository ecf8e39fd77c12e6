"""Compensation decisions: the acceptance cases, the pipeline's steps, and the legal lines."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from csdesk import Money
from csdesk.errors import (
    ApprovalRequiredError,
    BudgetExceededError,
    IdempotencyConflictError,
    InvalidInputError,
    NaiveDatetimeError,
    PolicyError,
    UnknownPresetError,
)
from csdesk.policies.compensation import (
    Agent,
    CompensationPolicy,
    Instrument,
    MemoryBudgetStore,
    OrderSnapshot,
    Role,
    Status,
    compensation_policy,
    decide,
    grant,
    parse_incident,
)
from csdesk.replies import explain
from tests.policies.compensation_helpers import (
    AGENT,
    AT,
    BOT,
    SUPERVISOR,
    cny,
    customer,
    incident,
    order,
)

SHOP = compensation_policy("shop_standard")


def small_policy(**changes: Any) -> CompensationPolicy:
    """A one-rule policy: a fixed coupon for any late delivery, authority 10 / 30 / 200."""
    data: dict[str, Any] = {
        "id": "small",
        "version": "1",
        "source": "test",
        "as_of": "2026-01-01",
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "groups": [{"id": "delivery", "hit": "max"}],
        "rules": [
            {
                "id": "late",
                "group": "delivery",
                "kinds": ["late_delivery"],
                "offer": {"instrument": "coupon_no_threshold", "amount": {"fixed": "50"}},
                "source": "test",
                "as_of": "2026-01-01",
            }
        ],
        "authority": [
            {"role": "bot", "max_per_offer": "10"},
            {"role": "agent", "max_per_offer": "30", "max_per_day": "300"},
            {"role": "supervisor", "max_per_offer": "200"},
        ],
    }
    data.update(changes)
    return compensation_policy(data)


def rule(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "r",
        "group": "delivery",
        "kinds": ["late_delivery"],
        "offer": {"instrument": "coupon_no_threshold", "amount": {"fixed": "10"}},
        "source": "test",
        "as_of": "2026-01-01",
    }
    base.update(changes)
    return base


def policy_error(**changes: Any) -> str:
    with pytest.raises(PolicyError) as caught:
        small_policy(**changes)
    return str(caught.value)


# -- acceptance: reviews ------------------------------------------------------------------------


def test_negative_review_with_confirmed_damage_gets_the_10_cny_recovery() -> None:
    review = incident("review", rating=1, root_cause="damaged", root_cause_confirmed=True)
    decision = decide(review, policy=SHOP, agent=AGENT, now=AT)
    assert decision.status is Status.AUTO_APPROVED
    assert [(o.rule_id, o.value) for o in decision.offers] == [
        ("review_negative_recovery", Money("10.00", "CNY"))
    ]
    assert "root cause is confirmed (damaged item)" in explain(decision)


def test_neutral_review_with_confirmed_cause_gets_5_cny() -> None:
    review = incident("review", rating=3, root_cause="quality", root_cause_confirmed=True)
    decision = decide(review, policy=SHOP, agent=AGENT, now=AT)
    assert [o.value for o in decision.offers] == [Money("5.00", "CNY")]


def test_the_same_review_without_a_confirmed_cause_gets_nothing() -> None:
    for fields in ({}, {"root_cause": "damaged"}):
        review = incident("review", rating=1, **fields)
        decision = decide(review, policy=SHOP, agent=AGENT, now=AT)
        assert decision.status is Status.REJECTED
        assert decision.offers == ()
        assert [s.code for s in decision.trace] == ["triage.review_unconfirmed"]
        assert "nothing is offered for a review itself" in explain(decision)


def test_a_confirmed_flag_needs_a_cause() -> None:
    with pytest.raises(InvalidInputError, match="no root_cause"):
        incident("review", rating=2, root_cause_confirmed=True)


def test_positive_reviews_are_not_incidents() -> None:
    with pytest.raises(InvalidInputError, match="rating"):
        incident("review", rating=5, root_cause="damaged", root_cause_confirmed=True)


def test_a_review_rule_without_the_confirmed_cause_condition_is_refused() -> None:
    message = policy_error(
        groups=[{"id": "review"}],
        rules=[
            rule(
                group="review",
                kinds=["review"],
                when=[{"field": "incident.rating", "op": "le", "value": 2}],
            )
        ],
    )
    assert "rules[0] (r): a rule for reviews must require" in message
    assert "root_cause_confirmed" in message


@pytest.mark.parametrize(
    "key", ["requires", "condition", "customer_must", "on_review_change", "delete_review"]
)
def test_an_offer_cannot_carry_an_obligation(key: str) -> None:
    offer = {"instrument": "coupon_no_threshold", "amount": {"fixed": "10"}, key: "改好评"}
    message = policy_error(rules=[rule(offer=offer)])
    assert f"offer key {key!r}" in message
    assert "cannot put a condition or obligation on the customer" in message


@pytest.mark.parametrize("label", ["好评返现", "追加好评送券", "Coupon if you change your review"])
def test_an_offer_label_cannot_read_like_a_review_inducement(label: str) -> None:
    offer = {"instrument": "coupon_no_threshold", "amount": {"fixed": "10"}, "label": label}
    message = policy_error(rules=[rule(offer=offer)])
    assert "may not reward or ask for a review" in message


def test_no_rule_may_turn_a_statutory_claim_into_goodwill() -> None:
    message = policy_error(rules=[rule(kinds=["fraud_claim"])])
    assert "fraud_claim are statutory claims" in message


# -- acceptance: statutory claims ---------------------------------------------------------------


def test_food_safety_claim_on_a_50_cny_item_routes_as_statutory_with_the_1000_minimum() -> None:
    claim = incident("food_safety_claim", price_paid=cny("50"))
    decision = decide(claim, policy=SHOP, agent=BOT, now=AT)
    assert decision.status is Status.STATUTORY
    assert decision.offers == ()
    assert decision.required_role is Role.SUPERVISOR
    assert decision.statutory is not None
    assert decision.statutory.computed == Money("500.00", "CNY")
    assert decision.statutory.minimum == Money("1000.00", "CNY")
    assert decision.statutory.amount == Money("1000.00", "CNY")
    assert decision.statutory.formula == "10 × 50.00 = 500.00; minimum 1000.00 → 1000.00"
    assert "食品安全法 art. 148" in decision.statutory.law
    assert "CN¥1,000.00" in explain(decision)
    assert "¥1,000.00" in explain(decision, "zh-CN")


def test_food_safety_claim_uses_three_times_the_loss_when_larger() -> None:
    claim = incident("food_safety_claim", price_paid=cny("80"), loss=cny("1200"))
    decision = decide(claim, policy=SHOP, agent=BOT, now=AT)
    assert decision.statutory is not None
    assert decision.statutory.amount == Money("3600.00", "CNY")


def test_fraud_claim_on_a_200_cny_item_shows_600_against_the_500_minimum() -> None:
    claim = incident("fraud_claim", price_paid=cny("200"))
    decision = decide(claim, policy=SHOP, agent=AGENT, now=AT)
    assert decision.statutory is not None
    assert decision.statutory.computed == Money("600.00", "CNY")
    assert decision.statutory.minimum == Money("500.00", "CNY")
    assert decision.statutory.amount == Money("600.00", "CNY")
    assert decision.statutory.formula == "3 × 200.00 = 600.00; minimum 500.00 → 600.00"


def test_fraud_claim_below_the_floor_gets_the_500_minimum() -> None:
    claim = incident("fraud_claim", price_paid=cny("99.90"))
    decision = decide(claim, policy=SHOP, agent=AGENT, now=AT)
    assert decision.statutory is not None
    assert decision.statutory.amount == Money("500.00", "CNY")


def test_risk_flags_never_touch_a_statutory_claim() -> None:
    flagged = customer(risk_flags=["professional_claimant", "serial_complainer"])
    claim = incident("fraud_claim", price_paid=cny("200"), customer=flagged)
    decision = decide(claim, policy=SHOP, agent=AGENT, now=AT)
    assert decision.status is Status.STATUTORY
    assert decision.evidence_required == ()
    assert "never deny a statutory right" in explain(decision)


def test_statutory_claims_cannot_be_granted() -> None:
    decision = decide(
        incident("fraud_claim", price_paid=cny("200")), policy=SHOP, agent=AGENT, now=AT
    )
    with pytest.raises(InvalidInputError, match="nothing to grant"):
        grant(decision, MemoryBudgetStore(), SHOP, approved_by=SUPERVISOR)


# -- acceptance: authority and caps --------------------------------------------------------------


def test_an_agent_limited_to_30_needs_a_supervisor_for_50() -> None:
    decision = decide(
        incident("late_delivery", days_late=2), policy=small_policy(), agent=AGENT, now=AT
    )
    assert decision.status is Status.NEEDS_APPROVAL
    assert decision.required_role is Role.SUPERVISOR
    assert decision.offers[0].value == Money("50.00", "CNY")
    assert "over the per-offer limit; needs the supervisor" in explain(decision)


def test_a_senior_agent_tier_is_asked_before_the_supervisor() -> None:
    authority = [
        {"role": "bot", "max_per_offer": "10"},
        {"role": "agent", "max_per_offer": "30"},
        {"role": "senior_agent", "max_per_offer": "60"},
        {"role": "supervisor", "max_per_offer": "200"},
    ]
    decision = decide(
        incident("late_delivery", days_late=2),
        policy=small_policy(authority=authority),
        agent=AGENT,
        now=AT,
    )
    assert decision.required_role is Role.SENIOR_AGENT


def test_the_daily_limit_sends_an_otherwise_small_offer_for_approval() -> None:
    policy = small_policy(
        authority=[
            {"role": "agent", "max_per_offer": "60", "max_per_day": "100"},
            {"role": "supervisor", "max_per_offer": "200"},
        ]
    )
    store = MemoryBudgetStore()
    granted = 0
    for index in range(3):
        late = incident("late_delivery", id=f"inc-{index}", days_late=2)
        decision = decide(late, policy=policy, agent=AGENT, budget=store, now=AT)
        if decision.status is Status.AUTO_APPROVED:
            assert grant(decision, store, policy)
            granted += 1
    assert granted == 2
    assert decision.status is Status.NEEDS_APPROVAL
    assert "over the daily limit" in explain(decision)


def test_a_customer_at_the_30_day_cap_gets_nothing_and_the_trace_names_the_cap() -> None:
    at_cap = customer(received="50.00", count=2)
    late = incident("late_delivery", days_late=3, customer=at_cap)
    decision = decide(late, policy=SHOP, agent=BOT, now=AT)
    assert decision.status is Status.REJECTED
    assert decision.offers == ()
    assert decision.capped
    assert any(
        s.code == "caps.exhausted" and s.params["name"] == "customer_30d" for s in decision.trace
    )
    text = explain(decision)
    assert "customer_30d: customer over 30 days: at most CN¥50.00, CN¥50.00 received" in text


def test_a_customer_near_the_30_day_cap_gets_a_reduced_offer() -> None:
    near = customer(received="44.00", count=1)
    decision = decide(
        incident("late_delivery", days_late=3, customer=near), policy=SHOP, agent=BOT, now=AT
    )
    assert [o.value for o in decision.offers] == [Money("6.00", "CNY")]
    assert any(
        s.code == "caps.reduced" and s.params["after"] == Money("6.00", "CNY")
        for s in decision.trace
    )
    assert "本次 ¥10.00，减为 ¥6.00" in explain(decision, "zh-CN")


def test_the_count_cap_stops_a_fourth_compensation() -> None:
    busy = customer(received="12.00", count=3)
    decision = decide(
        incident("late_delivery", days_late=3, customer=busy), policy=SHOP, agent=BOT, now=AT
    )
    assert decision.status is Status.REJECTED
    assert any(s.code == "caps.count_exhausted" and s.params["used"] == 3 for s in decision.trace)


def test_a_cap_reduced_below_the_rules_minimum_drops_the_offer() -> None:
    policy = compensation_policy("taobao_late_shipment").model_dump(mode="json")
    policy["caps"] = [{"id": "tight", "scope": "customer", "window_days": 30, "max_amount": "8"}]
    loaded = compensation_policy(policy)
    near = customer(received="4.00", count=1)
    decision = decide(
        incident("late_shipment", days_late=1, customer=near), policy=loaded, agent=BOT, now=AT
    )
    assert decision.offers == ()  # 4.00 left is below the rule's 5.00 minimum


def test_the_order_cap_counts_what_the_order_already_received() -> None:
    given = order(compensated=cny("38.00"))
    decision = decide(
        incident("late_delivery", days_late=7, order=given), policy=SHOP, agent=BOT, now=AT
    )
    assert [o.value for o in decision.offers] == [Money("2.95", "CNY")]  # 30 % × 136.50 − 38


def test_a_missing_customer_window_is_an_error_not_a_zero() -> None:
    no_window = {"id": "C-1"}
    with pytest.raises(InvalidInputError, match="no 30-day window; give received\\[30\\]"):
        decide(
            incident("late_delivery", days_late=3, customer=no_window),
            policy=SHOP,
            agent=BOT,
            now=AT,
        )


# -- acceptance: idempotency and budgets -------------------------------------------------------


def test_deciding_twice_gives_the_same_keys() -> None:
    late = incident("late_delivery", days_late=3)
    first = decide(late, policy=SHOP, agent=BOT, now=AT)
    again = decide(late, policy=SHOP, agent=BOT, now=AT + timedelta(hours=1))
    assert first.idempotency_key == again.idempotency_key
    assert [o.key for o in first.offers] == [o.key for o in again.offers]
    assert first.inputs_hash == again.inputs_hash
    other = decide(
        incident("late_delivery", id="inc-2", days_late=3), policy=SHOP, agent=BOT, now=AT
    )
    assert other.idempotency_key != first.idempotency_key


def test_granting_twice_spends_once() -> None:
    store = MemoryBudgetStore()
    decision = decide(
        incident("late_delivery", days_late=3), policy=SHOP, agent=BOT, budget=store, now=AT
    )
    assert grant(decision, store, SHOP) is True
    assert grant(decision, store, SHOP) is False
    assert store.usage("budget:goodwill", "2026-03").amount == Decimal("10.00")
    again = decide(
        incident("late_delivery", days_late=3), policy=SHOP, agent=BOT, budget=store, now=AT
    )
    assert grant(again, store, SHOP) is False
    assert store.usage("budget:goodwill", "2026-03").amount == Decimal("10.00")


def test_the_same_incident_granted_with_other_amounts_is_a_conflict_not_a_replay() -> None:
    # Issue 15: grant was keyed on the incident alone, so a second, different decision for the
    # same incident (more days late, a bigger coupon) was silently "replayed" as granted.
    store = MemoryBudgetStore()
    first = decide(
        incident("late_delivery", days_late=3), policy=SHOP, agent=BOT, budget=store, now=AT
    )
    assert grant(first, store, SHOP) is True
    bigger = decide(
        incident("late_delivery", days_late=8), policy=SHOP, agent=BOT, budget=store, now=AT
    )
    assert bigger.idempotency_key == first.idempotency_key
    with pytest.raises(IdempotencyConflictError) as caught:
        grant(bigger, store, SHOP, approved_by=SUPERVISOR)
    assert "budget:goodwill@2026-03" in caught.value.existing
    assert store.usage("budget:goodwill", "2026-03").amount == Decimal("10.00")


def test_a_decision_needing_approval_needs_an_approver_of_that_role() -> None:
    policy = small_policy()
    store = MemoryBudgetStore()
    decision = decide(incident("late_delivery", days_late=2), policy=policy, agent=AGENT, now=AT)
    with pytest.raises(ApprovalRequiredError, match="needs approval by 'supervisor'"):
        grant(decision, store, policy)
    with pytest.raises(ApprovalRequiredError):
        grant(decision, store, policy, approved_by=Agent(id="a-2", role="agent"))
    assert store.usage("agent:sup-1", "2026-03-05").count == 0
    assert grant(decision, store, policy, approved_by=SUPERVISOR)
    assert store.usage("agent:sup-1", "2026-03-05").amount == Decimal("50.00")


def test_a_grant_against_a_budget_spent_since_the_decision_is_refused_whole() -> None:
    policy = small_policy(budgets=[{"id": "pool", "period": "month", "amount": "60"}])
    store = MemoryBudgetStore()
    first = decide(
        incident("late_delivery", id="a", days_late=2),
        policy=policy,
        agent=SUPERVISOR,
        budget=store,
        now=AT,
    )
    second = decide(
        incident("late_delivery", id="b", days_late=2),
        policy=policy,
        agent=SUPERVISOR,
        budget=store,
        now=AT,
    )
    assert grant(first, store, policy)
    with pytest.raises(BudgetExceededError, match="budget:pool"):
        grant(second, store, policy)
    assert store.usage("budget:pool", "2026-03").amount == Decimal("50.00")
    assert store.usage("agent:sup-1", "2026-03-05").count == 1
    third = decide(
        incident("late_delivery", id="b", days_late=2),
        policy=policy,
        agent=SUPERVISOR,
        budget=store,
        now=AT,
    )
    assert [o.value for o in third.offers] == [Money("10.00", "CNY")]
    assert any(
        s.code == "budget.reduced" and s.params["after"] == Money("10.00", "CNY")
        for s in third.trace
    )


def test_a_grant_is_refused_under_another_policy() -> None:
    decision = decide(incident("late_delivery", days_late=3), policy=SHOP, agent=BOT, now=AT)
    with pytest.raises(InvalidInputError, match="not this one"):
        grant(decision, MemoryBudgetStore(), small_policy())


# -- amounts --------------------------------------------------------------------------------------


def test_a_percentage_is_clamped_then_rounded_once_and_the_trace_shows_each_step() -> None:
    taobao = compensation_policy("taobao_late_shipment")
    decision = decide(incident("late_shipment", days_late=2), policy=taobao, agent=BOT, now=AT)
    assert decision.offers[0].value == Money("6.43", "CNY")
    assert "5% × CN¥128.50 = 6.425 → clamp [5, 30] → CN¥6.43 (ROUND_HALF_UP)" in explain(decision)


@pytest.mark.parametrize(("days", "amount"), [(1, "5.00"), (2, "5.00"), (3, "10.00"), (9, "20.00")])
def test_a_lookup_table_picks_the_last_row_reached(days: int, amount: str) -> None:
    decision = decide(
        incident("late_delivery", days_late=days), policy=SHOP, agent=SUPERVISOR, now=AT
    )
    assert [o.value for o in decision.offers] == [Money(amount, "CNY")]


def test_rounding_to_whole_units() -> None:
    r = rule(
        offer={
            "instrument": "cash_refund",
            "amount": {
                "pct": "7",
                "of": "order.item_paid",
                "round_to": "1",
                "rounding": "ROUND_UP",
            },
        }
    )
    decision = decide(
        incident("late_delivery", days_late=1),
        policy=small_policy(rules=[r]),
        agent=SUPERVISOR,
        now=AT,
    )
    assert decision.offers[0].value == Money("9.00", "CNY")  # 7 % × 128.50 = 8.995 → up to 9


def test_jpy_amounts_stay_whole() -> None:
    r = rule(offer={"instrument": "cash_refund", "amount": {"pct": "5", "of": "order.item_paid"}})
    policy = small_policy(
        currency="JPY", rules=[r], authority=[{"role": "supervisor", "max_per_offer": "10000"}]
    )
    jpy = {"currency": "JPY"}
    yen = {
        "id": "SO-9",
        "paid_total": {"amount": "3333", **jpy},
        "item_paid": {"amount": "3333", **jpy},
        "shipping_paid": {"amount": "0", **jpy},
    }
    decision = decide(
        incident("late_delivery", days_late=1, order=yen), policy=policy, agent=SUPERVISOR, now=AT
    )
    assert decision.offers[0].value == Money("167", "JPY")


def test_points_offers_carry_the_points() -> None:
    minor = incident("service_failure", severity="minor")
    decision = decide(minor, policy=SHOP, agent=BOT, now=AT)
    offer = decision.offers[0]
    assert offer.instrument is Instrument.POINTS
    assert (offer.value, offer.points) == (Money("5.00", "CNY"), 500)
    assert offer.valid_until == AT + timedelta(days=365)


def test_membership_upgrade_wins_its_group_first() -> None:
    gold = customer(tier="gold")
    decision = decide(
        incident("service_failure", severity="major", customer=gold), policy=SHOP, agent=BOT, now=AT
    )
    assert [(o.instrument, o.upgrade_to) for o in decision.offers] == [
        (Instrument.MEMBERSHIP_UPGRADE, "diamond")
    ]


def test_price_protection_refunds_the_difference_but_not_for_coupon_drops() -> None:
    drop = incident("price_drop", difference=cny("23.40"), days_since_purchase=5)
    assert [o.value for o in decide(drop, policy=SHOP, agent=AGENT, now=AT).offers] == [
        Money("23.40", "CNY")
    ]
    coupon = incident(
        "price_drop", difference=cny("23.40"), days_since_purchase=5, caused_by_coupon=True
    )
    assert decide(coupon, policy=SHOP, agent=AGENT, now=AT).offers == ()


def test_not_our_fault_no_offer() -> None:
    decision = decide(
        incident("late_delivery", days_late=3, fault="customer"), policy=SHOP, agent=BOT, now=AT
    )
    assert decision.status is Status.REJECTED
    assert decision.trace[-1].code == "result.rejected"
    assert decision.trace[-1].params["matched"] == 0
    assert "incident.fault in [shop, carrier] (actual customer) ✗" in explain(decision)


# -- stacking ------------------------------------------------------------------------------------


def test_max_hit_takes_the_largest_and_first_hit_the_first() -> None:
    rules = [
        rule(id="small", offer={"instrument": "coupon_no_threshold", "amount": {"fixed": "5"}}),
        rule(id="big", offer={"instrument": "coupon_no_threshold", "amount": {"fixed": "9"}}),
    ]
    by_max = decide(
        incident("late_delivery", days_late=1),
        policy=small_policy(rules=rules),
        agent=SUPERVISOR,
        now=AT,
    )
    assert [o.rule_id for o in by_max.offers] == ["big"]
    first = small_policy(rules=rules, groups=[{"id": "delivery", "hit": "first"}])
    by_first = decide(
        incident("late_delivery", days_late=1), policy=first, agent=SUPERVISOR, now=AT
    )
    assert [o.rule_id for o in by_first.offers] == ["small"]


def test_groups_stack_by_sum_or_by_max() -> None:
    rules = [
        rule(id="coupon"),
        rule(
            id="cash", group="extra", offer={"instrument": "cash_refund", "amount": {"fixed": "3"}}
        ),
    ]
    groups = [{"id": "delivery"}, {"id": "extra"}]
    summed = decide(
        incident("late_delivery", days_late=1),
        policy=small_policy(rules=rules, groups=groups),
        agent=SUPERVISOR,
        now=AT,
    )
    assert summed.total == Money("13.00", "CNY")
    best = small_policy(rules=rules, groups=groups, stacking="max")
    assert decide(
        incident("late_delivery", days_late=1), policy=best, agent=SUPERVISOR, now=AT
    ).total == Money("10.00", "CNY")


# -- anti-abuse ----------------------------------------------------------------------------------


def test_a_professional_claimant_is_asked_for_evidence_not_refused() -> None:
    flagged = customer(risk_flags=["professional_claimant"])
    decision = decide(
        incident("damaged", affected=cny("99"), customer=flagged), policy=SHOP, agent=BOT, now=AT
    )
    assert decision.status is Status.NEEDS_EVIDENCE
    assert decision.evidence_required == ("photo", "order screenshot")
    assert decision.offers  # the offer stands once the evidence comes
    assert decision.required_role is Role.AGENT


def test_a_serial_complainer_goes_to_a_supervisor() -> None:
    flagged = customer(risk_flags=["serial_complainer"])
    decision = decide(
        incident("late_delivery", days_late=3, customer=flagged), policy=SHOP, agent=BOT, now=AT
    )
    assert decision.status is Status.NEEDS_APPROVAL
    assert decision.required_role is Role.SUPERVISOR


def test_a_frequent_recipient_gets_a_coupon_instead_of_cash() -> None:
    frequent = customer(received="10.00", count=2)
    review = incident(
        "review", rating=1, root_cause="damaged", root_cause_confirmed=True, customer=frequent
    )
    decision = decide(review, policy=SHOP, agent=AGENT, now=AT)
    assert [o.instrument for o in decision.offers] == [Instrument.COUPON_NO_THRESHOLD]
    assert decision.status is Status.AUTO_APPROVED


# -- policy loading ------------------------------------------------------------------------------


def test_presets_load_with_sources() -> None:
    for name in (
        "shop_standard",
        "taobao_late_shipment",
        "tmall_late_shipment",
        "western_appeasement",
    ):
        policy = compensation_policy(name)
        assert policy.source
        assert policy.as_of
        assert all(r.source and r.as_of for r in policy.rules)
    assert (
        "verify before use" in compensation_policy("taobao_late_shipment").rules[0].source.lower()
    )
    with pytest.raises(UnknownPresetError, match="shop_standard"):
        compensation_policy("nope")


@pytest.mark.parametrize(
    ("when", "expected"),
    [
        (
            {"field": "incident.days_lat", "op": "ge", "value": 1},
            "'incident.days_lat': not a field of late_delivery",
        ),
        (
            {"field": "incident.days_late", "op": "ge", "value": "x"},
            "incident.days_late ge: 'x': this field is a whole number",
        ),
        ({"field": "incident.fault", "op": "gt", "value": "shop"}, "gt is for numbers and amounts"),
        ({"field": "incident.fault", "op": "eq", "value": "shopp"}, "'shopp' is not one of shop"),
        ({"field": "order.paid_total", "op": "ge", "value": "10.001"}, "more decimals than CNY"),
        ({"field": "customer.risk_flags", "op": "eq", "value": "x"}, "sets take contains"),
        ({"field": "customer.nope", "op": "eq", "value": 1}, "customers have"),
        ({"field": "incident.days_late", "op": "between", "value": [5, 1]}, "low is above high"),
        ({"field": "incident.days_late", "op": "regex", "value": 1}, "op"),
    ],
)
def test_bad_conditions_fail_at_load_naming_the_rule_and_condition(
    when: dict[str, Any], expected: str
) -> None:
    message = policy_error(rules=[rule(when=[when])])
    assert expected in message
    if "regex" not in str(when):
        assert "rules[0] (r).when[0]" in message


def test_floats_are_refused_in_amounts() -> None:
    message = policy_error(
        rules=[rule(offer={"instrument": "cash_refund", "amount": {"fixed": 1.5}})]
    )
    assert "is a float" in message


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"rules": [rule(group="nope")]}, "no group 'nope'"),
        ({"rules": [rule(), rule()]}, "id 'r' is used twice"),
        (
            {"rules": [rule(offer={"instrument": "coupon_threshold", "amount": {"fixed": "10"}})]},
            "threshold is given for",
        ),
        (
            {"rules": [rule(offer={"instrument": "gift", "amount": {"fixed": "10"}})]},
            "needs gift_sku",
        ),
        (
            {
                "rules": [
                    rule(offer={"instrument": "cash_refund", "amount": {"fixed": "10", "pct": "5"}})
                ]
            },
            "exactly one of",
        ),
        (
            {
                "rules": [
                    rule(
                        offer={
                            "instrument": "cash_refund",
                            "amount": {"pct": "5", "of": "incident.days_late"},
                        }
                    )
                ]
            },
            "must be money",
        ),
        (
            {"rules": [rule(offer={"instrument": "cash_refund", "amount": {"fixed": "1.234"}})]},
            "more decimals than CNY",
        ),
        ({"currency": "XYZ"}, "currency"),
        ({"time_zone": "Mars/Base"}, "unknown time zone"),
        ({"statutory_role": "bot"}, "statutory claims go to a person"),
        (
            {"caps": [{"id": "c", "scope": "customer", "max_amount": "5"}]},
            "window_days is given for",
        ),
        (
            {
                "authority": [
                    {"role": "agent", "max_per_offer": "50"},
                    {"role": "supervisor", "max_per_offer": "10"},
                ]
            },
            "supervisor may grant less per offer than agent",
        ),
        (
            {
                "signals": [
                    {
                        "id": "s",
                        "when": [{"field": "incident.days_late", "op": "ge", "value": 1}],
                        "action": "human_review",
                    }
                ]
            },
            "signals read order.*",
        ),
        ({"unknown_key": 1}, "unknown_key"),
    ],
)
def test_bad_policies_fail_at_load_with_the_key_named(
    changes: dict[str, Any], expected: str
) -> None:
    assert expected in policy_error(**changes)


def test_policy_files_load_from_toml(tmp_path: Any) -> None:
    path = tmp_path / "p.toml"
    path.write_text(
        'id = "mine"\nversion = "3"\nsource = "ours"\nas_of = 2026-01-01\ncurrency = "CNY"\n'
        'time_zone = "Asia/Shanghai"\n'
        '[[groups]]\nid = "g"\n[[authority]]\nrole = "agent"\nmax_per_offer = "20"\n'
        '[[rules]]\nid = "r"\ngroup = "g"\nkinds = ["late_delivery"]\nsource = "s"\n'
        "as_of = 2026-01-01\n"
        'offer = { instrument = "coupon_no_threshold", amount = { fixed = 8.5 } }\n',
        encoding="utf-8",
    )
    with pytest.raises(PolicyError, match=r"rules\.0\.offer\.amount\.fixed.*is a float"):
        compensation_policy(path)
    path.write_text(path.read_text(encoding="utf-8").replace("8.5", '"8.50"'), encoding="utf-8")
    assert compensation_policy(path).rules[0].offer.amount is not None


def test_policy_hash_changes_with_content_and_is_on_every_decision() -> None:
    changed = small_policy(version="2")
    assert changed.policy_hash != small_policy().policy_hash
    decision = decide(incident("late_delivery", days_late=3), policy=SHOP, agent=BOT, now=AT)
    assert (decision.policy.id, decision.policy.version, decision.policy.hash) == (
        "shop_standard",
        SHOP.version,
        SHOP.policy_hash,
    )


# -- inputs --------------------------------------------------------------------------------------


def test_currency_mismatch_and_naive_now_are_refused() -> None:
    dollars = {"currency": "USD"}
    usd = {
        "id": "SO-2",
        "paid_total": {"amount": "10", **dollars},
        "item_paid": {"amount": "10", **dollars},
        "shipping_paid": {"amount": "0", **dollars},
    }
    with pytest.raises(InvalidInputError, match="is in USD and policy shop_standard in CNY"):
        decide(incident("late_delivery", days_late=1, order=usd), policy=SHOP, agent=BOT, now=AT)
    with pytest.raises(NaiveDatetimeError):
        decide(
            incident("late_delivery", days_late=1), policy=SHOP, agent=BOT, now=datetime(2026, 3, 5)
        )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"kind": "lost_in_space"}, "kind"),
        ({"days_late": 0}, "days_late"),
        ({"occurred_at": "2026-03-05T10:00:00"}, "occurred_at"),
        ({"order": {**order(), "item_paid": 12.5}}, "float"),
    ],
)
def test_bad_incidents_are_refused(change: dict[str, Any], expected: str) -> None:
    data = {
        "kind": "late_delivery",
        "id": "i",
        "days_late": 2,
        "occurred_at": AT.isoformat(),
        "order": order(),
        "customer": customer(),
    }
    data.update(change)
    with pytest.raises(InvalidInputError, match=expected):
        parse_incident(data)


def test_order_snapshot_from_an_order() -> None:
    from tests.factories import new_order

    snap = OrderSnapshot.from_order(new_order())
    assert snap.paid_total == new_order().total
    assert snap.shipping_paid == Money("12.00", "CNY")
    assert snap.item_paid + snap.shipping_paid == snap.paid_total
    assert snap.skus == ("TC-500", "SK-003", "CK-001")


def test_decisions_serialise_to_json() -> None:
    import json

    decision = decide(incident("late_delivery", days_late=3), policy=SHOP, agent=BOT, now=AT)
    data = json.loads(decision.model_dump_json())
    assert data["status"] == "auto_approved"
    assert data["offers"][0]["value"] == {"amount": "10.00", "currency": "CNY"}
    assert data["policy"]["hash"] == SHOP.policy_hash
    assert data["trace"][0]["stage"] == "eligibility"
