"""Free gifts (赠品) and bundles (套装) in refund quotes: issue 18 item 5."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csdesk import Customer, LineDraft, Money, Order, Payment
from csdesk.errors import InvalidInputError, QuantityError
from csdesk.policies import Refunded, RefundPolicy, quote_refund, refund_policy
from csdesk.replies import explain, refund_reply

AT = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
CN = refund_policy("cn_default")


def cn(**changes: Any) -> RefundPolicy:
    return RefundPolicy.from_data({**CN.model_dump(mode="json"), **changes})


def shop_order(currency: str = "CNY", **extra: Any) -> Order:
    def money(amount: str) -> Money:
        return Money(amount, currency)

    order = Order.place(
        id="SO-1",
        customer=Customer(id="C-1"),
        placed_at=AT,
        lines=[
            LineDraft(sku="SHAVER", name="剃须刀", quantity=2, unit_price=money("300.00")),
            LineDraft(sku="POUCH", name="收纳包", quantity=2, unit_price=money("0"),
                      gift_of="1", gift_value=money("25.00")),
            LineDraft(sku="BOWL", name="碗", quantity=4, unit_price=money("20.00"), bundle="SET"),
            LineDraft(sku="PLATE", name="盘", quantity=4, unit_price=money("30.00"),
                      bundle="SET"),
        ],
        order_discount=money("20.00"),
        shipping_fee=money("10.00"),
    )  # fmt: skip
    order.payments = (Payment(id="P-1", method="alipay", captured=order.total, captured_at=AT),)
    return order


def quote(order: Order, lines: dict[str, int], policy: RefundPolicy = CN, **options: Any) -> Any:
    return quote_refund(order, lines=lines, reason=options.pop("reason", "no_reason"),
                        policy=policy, now=AT, refunded=options.pop("refunded", None)
                        or Refunded.of(order), **options)  # fmt: skip


def test_a_gift_not_returned_is_deducted_at_its_marked_value() -> None:
    order = shop_order()
    without = quote(order, {"1": 1})
    with_gift = quote(order, {"1": 1, "2": 1})
    assert without.gift_deduction == Money("25.00", "CNY")
    assert with_gift.gift_deduction is None
    assert without.total == with_gift.total - Money("25.00", "CNY")
    assert "marked value" in explain(without, "en")
    assert "第十五条" in explain(without, "zh-CN")
    assert "贈品" in explain(without, "zh-TW")
    text = refund_reply(without, order, locale="zh-CN", now=AT, arrives_by=AT.date()).text
    assert "25.00" in text  # the customer sees the deduction


def test_a_gift_goes_back_in_proportion_whole_gifts_only() -> None:
    order = Order.place(
        id="SO-2", customer=Customer(id="C-1"), placed_at=AT,
        lines=[LineDraft(sku="A", name="a", quantity=2, unit_price=Money("50.00", "CNY")),
               LineDraft(sku="G", name="g", quantity=1, unit_price=Money("0", "CNY"),
                         gift_of="1", gift_value=Money("9.90", "CNY"))],
    )  # fmt: skip
    order.payments = (Payment(id="P-1", method="alipay", captured=order.total, captured_at=AT),)
    first = quote(order, {"1": 1})
    assert first.gift_deduction is None  # one gift for two units: due with the second
    second = quote(order, {"1": 1}, refunded=Refunded(units={"1": 1}))
    assert second.gift_deduction == Money("9.90", "CNY")


def test_the_policy_may_refuse_until_the_gift_is_in_the_return() -> None:
    order = shop_order()
    strict = cn(id="strict", gifts_not_returned="refuse")
    with pytest.raises(QuantityError, match="free gift with line 1"):
        quote(order, {"1": 2}, policy=strict)
    assert quote(order, {"1": 2, "2": 2}, policy=strict).gift_deduction is None


def test_a_bundle_is_refunded_in_whole_sets_under_as_unit() -> None:
    order = shop_order()
    with pytest.raises(QuantityError, match="bundle SET is refunded as a unit"):
        quote(order, {"3": 1})
    with pytest.raises(QuantityError, match="whole"):
        quote(order, {"3": 2, "4": 1})
    whole = quote(order, {"3": 1, "4": 1})
    assert "refund.bundle_as_unit" in [s.code for s in whole.trace]
    second = quote(order, {"3": 1, "4": 1}, refunded=Refunded(units={"3": 1, "4": 1}))
    assert second.total == whole.total
    loose = cn(id="loose", bundles="by_component")
    assert quote(order, {"3": 1}, policy=loose).units == {"3": 1}


def test_gift_lines_are_checked_when_the_order_is_placed() -> None:
    def place(**gift: Any) -> Order:
        fields: dict[str, Any] = {"sku": "G", "name": "g", "quantity": 1,
                                  "unit_price": Money("0", "CNY"), "gift_of": "1",
                                  "gift_value": Money("5", "CNY")}  # fmt: skip
        fields.update(gift)
        return Order.place(id="SO-3", customer=Customer(id="C-1"), placed_at=AT,
                           lines=[LineDraft(sku="A", name="a", quantity=1,
                                            unit_price=Money("10", "CNY")),
                                  LineDraft(**fields)])  # fmt: skip

    assert place().lines[1].gift_of == "1"
    for bad in (
        {"gift_of": "9"},
        {"gift_of": "2"},
        {"unit_price": Money("1", "CNY")},
        {"gift_value": None},
        {"gift_value": Money("5", "USD")},
    ):
        with pytest.raises(InvalidInputError):
            place(**bad)


@given(
    currency=st.sampled_from(["CNY", "JPY", "BHD"]),
    chunks=st.lists(
        st.tuples(st.integers(0, 2), st.booleans(), st.integers(0, 2)), min_size=1, max_size=6
    ),
)
def test_money_is_conserved_with_gifts_and_bundles(
    currency: str, chunks: list[tuple[int, bool, int]]
) -> None:
    order = shop_order(currency)
    zero = Money.zero(currency)
    done: dict[str, int] = {}
    goods = zero
    deducted = zero
    paid_back = zero
    for mains, with_gifts, sets in chunks:
        lines: dict[str, int] = {}
        left = {line.id: line.quantity - done.get(line.id, 0) for line in order.lines}
        if min(mains, left["1"]):
            lines["1"] = min(mains, left["1"])
            if with_gifts and left["2"]:
                lines["2"] = min(lines["1"], left["2"])
        if min(sets, left["3"], left["4"]):
            lines["3"] = lines["4"] = min(sets, left["3"], left["4"])
        if not lines:
            continue
        made = quote(order, lines, refunded=Refunded(units=dict(done)))
        assert made.total >= zero
        goods += made.goods
        deducted += made.gift_deduction or zero
        paid_back += made.total
        for line_id, units in lines.items():
            done[line_id] = done.get(line_id, 0) + units
        # the deduction is the marked value of the gifts due and not returned, never more
        assert (made.gift_deduction or zero) <= order.line("2").gift_value * 2  # type: ignore[operator]
    refunded_paid = sum(
        (order.line(i).refund_split(units=n).paid - order.line(i).refund_split(units=n).shipping
         for i, n in done.items()),
        zero,
    )  # fmt: skip
    assert goods == refunded_paid
    assert paid_back <= order.total
