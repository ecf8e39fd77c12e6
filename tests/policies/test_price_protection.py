"""Price protection (价保): issue 18 item 6."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csdesk import Actor, Customer, LineDraft, Money, Order, OrderState, Payment
from csdesk.errors import CurrencyMismatchError, InvalidInputError, PolicyError
from csdesk.policies import (
    PricePoint,
    PriceProtectionPolicy,
    Refunded,
    claim_price_protection,
    price_protection_policy,
    refund_policy,
)
from csdesk.policies.compensation import compensation_policy, decide
from csdesk.policies.compensation.policy import CompensationPolicy
from csdesk.refund_desk import RefundDesk
from csdesk.replies import explain
from csdesk.storage import SqlStore
from tests.policies.compensation_helpers import AGENT, incident

PAID = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
POLICY = price_protection_policy("jd_style")


def order(quantity: int = 2, currency: str = "CNY", **extra: Any) -> Order:
    made = Order.place(
        id="SO-1",
        customer=Customer(id="C-1"),
        placed_at=PAID,
        lines=[
            LineDraft(sku="KETTLE", name="Kettle", quantity=quantity,
                      unit_price=Money("199.00", currency), line_discount=Money("20.00", currency)),
            LineDraft(sku="MUG", name="Mug", quantity=1, unit_price=Money("30.00", currency)),
        ],
        order_discount=Money("10.00", currency),
        **extra,
    )  # fmt: skip
    made.payments = (Payment(id="P-1", method="alipay", captured=made.total, captured_at=PAID),)
    return made


def price(amount: str, days: float, cause: str = "price_change", sku: str = "KETTLE") -> PricePoint:
    return PricePoint(sku=sku, price=Money(amount, "CNY"), at=PAID + timedelta(days=days),
                      cause=cause)  # fmt: skip


def claim(prices: list[PricePoint], days: float = 12, **options: Any) -> Any:
    return claim_price_protection(
        options.pop("the_order", None) or order(), "1", prices=prices, paid_at=PAID,
        policy=options.pop("policy", POLICY), now=PAID + timedelta(days=days), **options,
    )  # fmt: skip


def codes(result: Any) -> list[str]:
    return [s.code for s in result.trace]


def test_the_difference_per_unit_held_at_the_page_price() -> None:
    # Page price: (2 × 199 − 20) / 2 = 189.00 a unit (the order coupon is not the page price).
    result = claim([price("179.00", 5)])
    assert result.eligible
    assert result.protected_price == Money("189.00", "CNY")
    assert result.amount == Money("20.00", "CNY")  # (189 − 179) × 2
    assert result.units == 2
    assert result.window_ends == PAID + timedelta(days=30)
    assert codes(result)[-1] == "price.difference"
    assert "价保" in explain(result, "zh-CN")
    assert "price protection" in explain(result, "en").lower()
    assert "價保" in explain(result, "zh-TW")


def test_the_current_price_counts_not_a_dip_that_is_over() -> None:
    # 169 for a day, back to 189: the price now is 189, nothing to claim.
    result = claim([price("169.00", 5), price("189.00", 6)])
    assert not result.eligible
    assert codes(result)[-1] == "price.not_lower"


@pytest.mark.parametrize(
    ("prices", "days", "why"),
    [
        ([], 12, "price.no_change"),
        ([price("150.00", -1)], 12, "price.no_change"),  # lower before the purchase
        ([price("150.00", 31)], 32, "price.outside_window"),
        ([price("150.00", 20)], 31, "price.claimed_late"),
        ([price("150.00", 5, cause="coupon")], 12, "price.excluded_cause"),
        ([price("150.00", 5, cause="full_reduction")], 12, "price.excluded_cause"),
        ([price("200.00", 5)], 12, "price.not_lower"),
        ([price("150.00", 5, sku="MUG")], 12, "price.no_change"),  # another SKU
    ],
)
def test_what_is_not_refunded_and_why(prices: list[PricePoint], days: float, why: str) -> None:
    result = claim(prices, days)
    assert not result.eligible
    assert result.amount == Money("0.00", "CNY")
    assert codes(result)[-1] == why
    for locale in ("en", "zh-CN", "zh-TW"):
        assert "price." not in explain(result, locale)


def test_units_refunded_or_canceled_are_not_held() -> None:
    the_order = order(quantity=3)
    refunded = Refunded(units={"1": 2})
    result = claim([price("170.00", 5)], the_order=the_order, refunded=refunded)
    assert result.units == 1
    assert result.amount == Money("22.33", "CNY")  # page (3 × 199 − 20) / 3 = 192.33; − 170
    none_left = claim([price("170.00", 5)], the_order=the_order,
                      refunded=Refunded(units={"1": 3}))  # fmt: skip
    assert codes(none_left)[-1] == "price.no_units"


def test_once_per_price_change_and_a_further_drop_pays_only_the_rest() -> None:
    first = claim([price("179.00", 5)], days=6)
    again = claim([price("179.00", 5)], days=7, earlier=[first])
    assert not again.eligible
    assert codes(again)[-1] in {"price.not_lower", "price.claimed"}
    assert again.key == first.key  # the same change: the same key at the refund desk
    further = claim([price("179.00", 5), price("169.00", 9)], days=10, earlier=[first])
    assert further.protected_price == Money("179.00", "CNY")
    assert further.amount == Money("20.00", "CNY")  # (179 − 169) × 2, not (189 − 169) × 2
    assert further.key != first.key


def test_extended_price_protection_from_a_late_delivery_rule() -> None:
    data = compensation_policy("shop_standard").model_dump(mode="json")
    data["groups"] = [*data["groups"], {"id": "late_extras"}]
    data["rules"] = [
        *data["rules"],
        {
            "id": "late_price_protection",
            "group": "late_extras",
            "kinds": ["late_delivery"],
            "when": [{"field": "incident.days_late", "op": "ge", "value": 3}],
            "offer": {"instrument": "price_protection", "protection_days": 15,
                      "label": "延长保价 15 天"},
            "source": "seeds: 延长保价 as a late-delivery remedy",
            "as_of": "2026-11-29",
        },
    ]  # fmt: skip
    policy = CompensationPolicy.from_data(data)
    late = incident("late_delivery", days_late=4)
    decision = decide(late, policy=policy, agent=AGENT, now=PAID + timedelta(days=5))
    extension = next(o for o in decision.offers if o.instrument == "price_protection")
    assert extension.protection_days == 15
    assert extension.value == Money("0.00", "CNY")
    assert "+15 days" in explain(decision, "en")
    late_claim = claim([price("150.00", 40)], days=41, extensions=[extension])
    assert late_claim.eligible
    assert late_claim.window_ends == PAID + timedelta(days=45)
    assert "price.extended" in codes(late_claim)
    with pytest.raises(InvalidInputError, match="not price_protection"):
        claim([price("150.00", 5)], extensions=[decision.offers[0]])


def test_a_price_protection_offer_is_days_not_money() -> None:
    data = compensation_policy("shop_standard").model_dump(mode="json")
    bad = dict(data["rules"][0])
    bad["offer"] = {"instrument": "price_protection", "amount": {"fixed": "5"}}
    with pytest.raises(PolicyError, match="protection_days"):
        CompensationPolicy.from_data({**data, "rules": [bad]})
    bad["offer"] = {"instrument": "cash_refund", "amount": {"fixed": "5"}, "protection_days": 3}
    with pytest.raises(PolicyError, match="protection_days"):
        CompensationPolicy.from_data({**data, "rules": [bad]})


def test_counting_from_the_sign_off() -> None:
    signed = PriceProtectionPolicy.from_data(
        {**POLICY.model_dump(mode="json"), "id": "signed", "counts_from": "signed"}
    )
    the_order = order()
    with pytest.raises(InvalidInputError, match="sign-off"):
        claim([price("150.00", 5)], the_order=the_order, policy=signed)
    the_order.signed_at = PAID + timedelta(days=4)
    result = claim([price("150.00", 33)], days=33, the_order=the_order, policy=signed)
    assert result.eligible  # 30 days from the sign-off, not from payment
    assert result.window_ends == PAID + timedelta(days=34)


def test_bad_input_is_refused() -> None:
    with pytest.raises(CurrencyMismatchError):
        claim([PricePoint(sku="KETTLE", price=Money("1", "USD"), at=PAID + timedelta(days=1))])
    with pytest.raises(InvalidInputError):
        claim_price_protection(order(), "9", prices=[], paid_at=PAID, policy=POLICY,
                               now=PAID)  # fmt: skip
    with pytest.raises(InvalidInputError):
        claim_price_protection(order(), "1", prices=[], paid_at=PAID, policy=POLICY,
                               now=datetime(2026, 3, 2))  # fmt: skip
    with pytest.raises(InvalidInputError):
        claim([]).refund_arguments()


def test_refunded_once_through_the_refund_desk(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'desk.db'}", upgrade=True)
    the_order = order()
    the_order.state = OrderState.PROCESSING
    store.insert(the_order)
    desk = RefundDesk(store)
    result = claim([price("179.00", 5)], the_order=the_order)
    staff = Actor(kind="staff", id="agent-7")
    arguments = result.refund_arguments()
    quote, refunds = desk.request(**arguments, policy=refund_policy("cn_default"), actor=staff,
                                  now=PAID + timedelta(days=12))  # fmt: skip
    assert quote.total == Money("20.00", "CNY")
    assert [r.amount for r in refunds] == [Money("20.00", "CNY")]
    _, twice = desk.request(**arguments, policy=refund_policy("cn_default"), actor=staff,
                                now=PAID + timedelta(days=13))  # fmt: skip
    assert [r.id for r in twice] == [r.id for r in refunds]  # the same change, refunded once
    store.close()


@given(
    units=st.integers(1, 5),
    unit=st.integers(100, 100_000),
    drops=st.lists(st.integers(1, 5_000), min_size=1, max_size=4),
    currency=st.sampled_from(["CNY", "JPY", "BHD"]),
)
def test_successive_claims_never_refund_more_than_the_whole_drop(
    units: int, unit: int, drops: list[int], currency: str
) -> None:
    price_unit = Money(unit, currency)
    the_order = Order.place(id="SO-1", customer=Customer(id="C-1"), placed_at=PAID,
                            lines=[LineDraft(sku="X", name="X", quantity=units,
                                             unit_price=price_unit)])  # fmt: skip
    current = price_unit
    earlier: list[Any] = []
    total = Money.zero(currency)
    for day, drop in enumerate(drops, start=1):
        lower = current - Money(min(drop, unit // 2), currency)
        lower = max(lower, Money(1, currency))
        point = PricePoint(sku="X", price=lower, at=PAID + timedelta(days=day))
        made = claim_price_protection(the_order, "1", prices=[point], paid_at=PAID,
                                      policy=POLICY, now=PAID + timedelta(days=day, hours=1),
                                      earlier=earlier)  # fmt: skip
        if made.eligible:
            total += made.amount
            earlier.append(made)
            current = lower
    assert total == (price_unit - current) * units
    assert total <= price_unit * units
