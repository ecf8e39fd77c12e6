"""Exchanges (换货) with a price difference both ways: issue 18 item 1."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csdesk import (
    CaseState,
    Customer,
    ExchangeItem,
    LineDraft,
    Money,
    Order,
    OrderState,
    Payment,
    Shipment,
    TransitionRejectedError,
)
from csdesk.policies import return_policy
from csdesk.workflows import (
    ApproveCase,
    CompleteCase,
    ConvertToRefund,
    MarkReturnShipped,
    PayExchangeDifference,
    ReceiveReturn,
    ResolveCase,
    ShipReplacement,
    open_case,
    run,
)
from tests.factories import CUSTOMER, SIGNED, STAFF, cny, delivered_order

CN = return_policy("cn_consumer_law")
NOW = SIGNED + timedelta(days=2)


def exchange(price: str, units: int = 1, sku: str = "TC-500-BLUE", **options: Any) -> Any:
    order = options.pop("order", None) or delivered_order()
    case, events = open_case(
        order, id="AS-9", type="exchange", lines={"1": units}, reason="wrong_colour",
        actor=CUSTOMER, now=NOW, policy=CN,
        exchange=[ExchangeItem(line_id="1", units=units, sku=sku, name="保温杯 蓝色",
                               unit_price=cny(price))],
        **options,
    )  # fmt: skip
    return order, case, events


def back_in(case: Any, units: int = 1) -> None:
    run(case, ApproveCase(), actor=STAFF, now=NOW)
    run(case, MarkReturnShipped(tracking_number="YT1"), actor=CUSTOMER, now=NOW)
    run(case, ReceiveReturn(received={"1": units}, condition="resellable"), actor=STAFF,
        now=NOW + timedelta(days=2))  # fmt: skip


def parcel(parcel_id: str = "X-1") -> Shipment:
    return Shipment(id=parcel_id, carrier="SF", tracking_number=f"SF-{parcel_id}")


def test_a_dearer_exchange_is_paid_before_the_new_goods_ship() -> None:
    order, case, events = exchange("399.00")
    paid_share = order.line("1").refund_split(units=1).paid
    assert case.difference == cny("399.00") - paid_share
    assert events[0].payload["difference"] == case.difference.to_dict()
    back_in(case)
    with pytest.raises(TransitionRejectedError, match="pays the difference"):
        run(case, ResolveCase(), actor=STAFF, now=NOW + timedelta(days=2))
    wrong = Payment(id="P-x", method="alipay", captured=cny("1.00"), captured_at=NOW)
    with pytest.raises(TransitionRejectedError, match="the difference is"):
        run(case, PayExchangeDifference(payment=wrong), actor=CUSTOMER, now=NOW)
    right = wrong.model_copy(update={"captured": case.difference})
    run(case, PayExchangeDifference(payment=right), actor=CUSTOMER, now=NOW + timedelta(days=2))
    resolved = run(case, ResolveCase(), actor=STAFF, now=NOW + timedelta(days=2))
    out = next(e for e in resolved if e.type == "aftersale.replacement_requested")
    items: Any = out.payload["exchange"]
    assert items[0]["sku"] == "TC-500-BLUE"
    assert not any(e.type == "aftersale.refund_requested" for e in resolved)
    with pytest.raises(TransitionRejectedError, match="have not shipped"):
        run(case, CompleteCase(), actor=STAFF, now=NOW + timedelta(days=3))
    run(case, ShipReplacement(shipment=parcel()), actor=STAFF, now=NOW + timedelta(days=3))
    run(case, CompleteCase(), actor=STAFF, now=NOW + timedelta(days=4))
    assert case.state is CaseState.RESOLVED
    assert case.replacement_shipment is not None


def test_a_cheaper_exchange_refunds_the_difference_when_the_goods_ship() -> None:
    order, case, _ = exchange("259.00")
    paid_share = order.line("1").refund_split(units=1).paid
    assert case.difference == cny("259.00") - paid_share
    assert case.difference.amount < 0
    back_in(case)
    resolved = run(case, ResolveCase(), actor=STAFF, now=NOW + timedelta(days=2))
    assert not any(e.type == "aftersale.refund_requested" for e in resolved)
    shipped = run(case, ShipReplacement(shipment=parcel()), actor=STAFF,
                  now=NOW + timedelta(days=3))  # fmt: skip
    refund = next(e for e in shipped if e.type == "aftersale.refund_requested")
    assert refund.payload["amount"] == (paid_share - cny("259.00")).to_dict()
    assert refund.payload["lines"] == {}
    assert refund.payload["reason"] == "price_adjustment"


def test_out_of_stock_converts_to_a_refund_with_the_customers_choice() -> None:
    _, case, _ = exchange("399.00")
    back_in(case)
    pay = Payment(id="P-d", method="wechat_pay", captured=case.difference, captured_at=NOW)
    run(case, PayExchangeDifference(payment=pay), actor=CUSTOMER, now=NOW + timedelta(days=2))
    run(case, ResolveCase(), actor=STAFF, now=NOW + timedelta(days=2))
    events = run(case, ConvertToRefund(choice="chat 5521: 没货就退款吧"), actor=STAFF,
                 now=NOW + timedelta(days=3))  # fmt: skip
    types = [e.type for e in events]
    assert "aftersale.refund_requested" in types
    goods = next(e for e in events if e.type == "aftersale.refund_requested")
    assert goods.payload["lines"] == {"1": 1}
    back = next(e for e in events if e.type == "aftersale.difference_refund_requested")
    assert back.payload["payment_id"] == "P-d"
    with pytest.raises(TransitionRejectedError, match="became a refund"):
        run(case, ShipReplacement(shipment=parcel()), actor=STAFF, now=NOW + timedelta(days=3))
    run(case, CompleteCase(), actor=STAFF, now=NOW + timedelta(days=4))


def test_an_exchange_must_price_what_it_takes_back() -> None:
    order = delivered_order()
    one = [ExchangeItem(line_id="1", units=1, sku="X", unit_price=cny("1"))]
    with pytest.raises(TransitionRejectedError, match="cover"):
        open_case(order, id="AS-9", type="exchange", lines={"1": 2}, reason="size",
                  actor=CUSTOMER, now=NOW, policy=CN, exchange=one)  # fmt: skip
    with pytest.raises(TransitionRejectedError, match="priced in USD"):
        open_case(
            order, id="AS-9", type="exchange", lines={"1": 1}, reason="size", actor=CUSTOMER,
            now=NOW, policy=CN,
            exchange=[ExchangeItem(line_id="1", units=1, sku="X", unit_price=Money("1", "USD"))],
        )  # fmt: skip
    with pytest.raises(TransitionRejectedError, match="exchange case"):
        open_case(order, id="AS-9", type="return_and_refund", lines={"1": 1}, reason="size",
                  actor=CUSTOMER, now=NOW, policy=CN, exchange=one)  # fmt: skip


def order_in(currency: str) -> Order:
    """A delivered order of three units at a price with a line discount and a coupon."""
    order = Order.place(
        id="SO-X", customer=Customer(id="C-1"), placed_at=NOW - timedelta(days=4),
        lines=[LineDraft(sku="A", name="a", quantity=3, unit_price=Money(1999, currency),
                         line_discount=Money(101, currency)),
               LineDraft(sku="B", name="b", quantity=1, unit_price=Money(500, currency))],
        order_discount=Money(77, currency), shipping_fee=Money(13, currency),
    )  # fmt: skip
    order.payments = (Payment(id="P-1", method="alipay", captured=order.total,
                              captured_at=NOW - timedelta(days=4)),)  # fmt: skip
    order.signed_at = NOW - timedelta(days=1)
    order.state = OrderState.DELIVERED
    return order


@given(
    currency=st.sampled_from(["CNY", "JPY", "BHD"]),
    prices=st.lists(st.integers(1, 5_000), min_size=1, max_size=3),
)
def test_money_is_conserved_across_exchanges_both_ways(currency: str, prices: list[int]) -> None:
    order = order_in(currency)
    zero = Money.zero(currency)
    collected = refunded = zero
    existing: list[Any] = []
    for number, whole in enumerate(prices[: order.line("1").quantity]):
        price = Money(whole, currency)
        case, _ = open_case(
            order, id=f"AS-{number}", type="exchange", lines={"1": 1}, reason="size",
            actor=CUSTOMER, now=NOW, policy=CN, existing=existing,
            exchange=[ExchangeItem(line_id="1", units=1, sku="NEW", unit_price=price)],
        )  # fmt: skip
        back_in(case)
        assert case.difference is not None
        if case.difference.amount > 0:
            pay = Payment(id=f"P-{number}", method="alipay", captured=case.difference,
                          captured_at=NOW)  # fmt: skip
            run(case, PayExchangeDifference(payment=pay), actor=CUSTOMER, now=NOW)
            collected += case.difference
        run(case, ResolveCase(), actor=STAFF, now=NOW + timedelta(days=2))
        events = run(case, ShipReplacement(shipment=parcel(f"X-{number}")), actor=STAFF,
                     now=NOW + timedelta(days=3))  # fmt: skip
        for event in events:
            if event.type == "aftersale.refund_requested":
                amount: Any = event.payload["amount"]
                refunded += Money.from_dict(amount)
        existing.append(case)
        # what the customer ends up paying for the new goods is exactly their price
        paid_share = order.line("1").refund_split(units=1, already=number).paid
        assert paid_share + case.difference == price
    assert collected - refunded == sum(
        (c.difference for c in existing if c.difference is not None), zero
    )
    # and over the three units, what came back is exactly what the line paid
    if len(existing) == 3:
        assert collected - refunded == sum((Money(p, currency) for p in prices[:3]), zero) - (
            order.line("1").paid
        )


def test_the_sanbao_preset_exchanges_for_15_days_and_returns_for_7() -> None:
    from csdesk.policies import return_policy as preset
    from tests.factories import PLACED, paid_order

    sanbao = preset("cn_sanbao")
    order = paid_order()  # paid (sold) at PLACED

    def file(kind: str, days: int) -> Any:
        extra: dict[str, Any] = {}
        if kind == "exchange":
            extra["exchange"] = [ExchangeItem(line_id="1", units=1, sku="TC-500",
                                              unit_price=cny("349.99"))]  # fmt: skip
        return open_case(order, id=f"AS-{kind}-{days}", type=kind, lines={"1": 1},
                         reason="performance_fault", actor=CUSTOMER,
                         now=PLACED + timedelta(days=days), policy=sanbao, **extra)  # fmt: skip

    assert file("exchange", 10)[0].statutory_basis == "warranty"
    assert file("return_and_refund", 6)[0].type == "return_and_refund"
    with pytest.raises(TransitionRejectedError, match="closed"):
        file("return_and_refund", 10)
    with pytest.raises(TransitionRejectedError, match="closed"):
        file("exchange", 16)


def test_the_difference_has_a_deadline_until_paid() -> None:
    from csdesk.policies import timer_preset
    from csdesk.workflows import case_deadlines

    _, case, _ = exchange("399.00")
    generic = timer_preset("generic")
    due = next(d for d in case_deadlines(case, generic) if d.kind == "pay_difference_by")
    assert due.active
    assert due.due_at == NOW + timedelta(days=3)
    assert due.on_expiry == "notify"
    pay = Payment(id="P-d", method="alipay", captured=case.difference, captured_at=NOW)
    run(case, PayExchangeDifference(payment=pay), actor=CUSTOMER, now=NOW)
    paid = next(d for d in case_deadlines(case, generic) if d.kind == "pay_difference_by")
    assert not paid.active
    _, cheaper, _ = exchange("1.00")
    assert all(d.kind != "pay_difference_by" for d in case_deadlines(cheaper, generic))


def test_the_difference_goes_back_through_the_refund_desk() -> None:
    # The one refund path: the event the new goods' shipment emits is what RefundDesk takes.
    from csdesk.policies import refund_policy
    from csdesk.refund_desk import RefundDesk
    from csdesk.storage import SqlStore

    order, case, opened = exchange("259.00")
    store = SqlStore.memory()
    store.insert(order)
    store.insert(case, opened)
    events: list[Any] = []
    for command in (
        ApproveCase(),
        MarkReturnShipped(tracking_number="YT1"),
        ReceiveReturn(received={"1": 1}, condition="resellable"),
        ResolveCase(),
        ShipReplacement(shipment=parcel()),
    ):
        events += store.run("AS-9", command, actor=STAFF, now=NOW)
    asked = next(e for e in events if e.type == "aftersale.refund_requested")
    amount: Any = asked.payload["amount"]
    reason: Any = asked.payload["reason"]
    desk = RefundDesk(store)
    arguments: dict[str, Any] = {
        "idempotency_key": "AS-9:difference",
        "lines": {},
        "reason": reason,
        "goodwill": Money.from_dict(amount),
        "case_id": "AS-9",
        "policy": refund_policy("cn_default"),
        "actor": STAFF,
        "now": NOW,
    }
    quote, refunds = desk.request(order.id, **arguments)
    assert case.difference is not None
    assert quote.total == -case.difference
    again, twice = desk.request(order.id, **arguments)  # a retry refunds once
    assert [r.id for r in twice] == [r.id for r in refunds]
    assert again.total == quote.total
    store.close()
