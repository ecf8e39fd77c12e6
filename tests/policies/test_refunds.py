from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csdesk import (
    Customer,
    LineDraft,
    Money,
    Order,
    OverRefundError,
    Payment,
    PaymentLedger,
    PolicyError,
    QuantityError,
)
from csdesk.policies.refunds import Refunded, RefundPolicy, quote_refund, refund_policy
from tests import strategies as cs

AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CN = refund_policy("cn_default")


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def paid(order: Order, *captures: tuple[str, str, Money]) -> Order:
    tenders = captures or (("P-1", "alipay", order.total),)
    order.payments = tuple(
        Payment(id=pid, method=method, captured=amount, captured_at=AT)
        for pid, method, amount in tenders
    )
    return order


def thermos_order() -> Order:
    order = Order.place(
        id="SO-1",
        customer=Customer(id="C-1"),
        placed_at=AT,
        lines=[LineDraft(sku="TC", name="thermos", quantity=5, unit_price=cny("349.99"))],
        order_discount=cny("524.98"),
    )
    return paid(order)


def test_the_acceptance_line() -> None:
    order = thermos_order()
    done: dict[str, int] = {}
    totals = []
    for units in (2, 1, 2):
        quote = quote_refund(
            order,
            lines={"1": units},
            reason="no_reason",
            policy=CN,
            now=AT,
            refunded=Refunded(units=done),
        )
        totals.append(quote.total)
        done["1"] = done.get("1", 0) + units
    assert totals == [cny("489.99"), cny("244.99"), cny("489.99")]
    with pytest.raises(QuantityError, match="0 unit"):
        quote_refund(
            order,
            lines={"1": 1},
            reason="no_reason",
            policy=CN,
            now=AT,
            refunded=Refunded(units=done),
        )


def test_breakdown_and_trace() -> None:
    quote = quote_refund(
        thermos_order(),
        lines={"1": 2},
        reason="no_reason",
        policy=CN,
        now=AT,
        refunded=Refunded.of(thermos_order()),
    )
    (line,) = quote.lines
    assert (line.list_price, line.coupon_share, line.amount) == (
        cny("699.98"),
        cny("209.99"),
        cny("489.99"),
    )
    assert quote.coupon_retained == cny("209.99")
    assert [s.code for s in quote.trace] == [
        "refund.lines",
        "refund.shipping",
        "refund.total",
        "refund.tenders",
    ]
    assert quote.trace[-1].params["split"] == "proportional"
    assert quote.policy is not None
    assert quote.policy.id == "cn_default"
    assert quote.maximum_refundable == cny("1224.97")


@pytest.mark.parametrize(("currency", "price"), [("JPY", "3499"), ("BHD", "3.499")])
def test_no_fractional_minor_units(currency: str, price: str) -> None:
    order = Order.place(
        id="SO-1",
        customer=Customer(id="C"),
        placed_at=AT,
        lines=[
            LineDraft(sku="A", name="a", quantity=3, unit_price=Money(price, currency)),
            LineDraft(sku="B", name="b", quantity=7, unit_price=Money(price, currency)),
        ],
        order_discount=Money("1" if currency == "JPY" else "0.001", currency) * 100,
        shipping_fee=Money(price, currency),
    )
    half = order.total / 3
    order = paid(
        order,
        ("P-1", "alipay", half.quantize("ROUND_DOWN")),
        ("P-2", "card", order.total - half.quantize("ROUND_DOWN")),
    )
    quote = quote_refund(
        order,
        lines={"1": 1, "2": 2},
        reason="faulty",
        policy=CN,
        now=AT,
        refunded=Refunded.of(order),
    )
    for amount in [
        quote.total,
        quote.shipping,
        *(t.amount for t in quote.tenders),
        *(line.amount for line in quote.lines),
    ]:
        assert amount.is_quantized
        assert amount.currency == currency
    assert sum((t.amount for t in quote.tenders), Money.zero(currency)) == quote.total


class TestShipping:
    def order(self) -> Order:
        order = Order.place(
            id="SO-1",
            customer=Customer(id="C"),
            placed_at=AT,
            lines=[LineDraft(sku="A", name="a", quantity=2, unit_price=cny("100"))],
            shipping_fee=cny("10.00"),
        )
        return paid(order)

    def test_none_keeps_it(self) -> None:
        quote = quote_refund(
            self.order(),
            lines={"1": 2},
            reason="no_reason",
            policy=CN,
            now=AT,
            refunded=Refunded.of(self.order()),
        )
        assert (quote.shipping, quote.total) == (cny("0"), cny("200"))

    def test_full_with_the_last_item(self) -> None:
        eu = refund_policy("eu_default")
        first = quote_refund(
            self.order(),
            lines={"1": 1},
            reason="no_reason",
            policy=eu,
            now=AT,
            refunded=Refunded.of(self.order()),
        )
        last = quote_refund(
            self.order(),
            lines={"1": 1},
            reason="no_reason",
            policy=eu,
            now=AT,
            refunded=Refunded(units={"1": 1}),
        )
        assert (first.shipping, last.shipping) == (cny("0"), cny("10.00"))

    def test_refunded_at_most_once(self) -> None:
        eu = refund_policy("eu_default")
        last = quote_refund(
            self.order(),
            lines={"1": 1},
            reason="no_reason",
            policy=eu,
            now=AT,
            refunded=Refunded(units={"1": 1}, shipping=cny("10.00")),
        )
        assert last.shipping == cny("0")

    def test_seller_fault_refunds_shipping(self) -> None:
        quote = quote_refund(
            self.order(),
            lines={"1": 1},
            reason="faulty",
            policy=CN,
            now=AT,
            refunded=Refunded.of(self.order()),
        )
        assert quote.shipping == cny("5.00")


class TestFeesAndCoupons:
    policy = RefundPolicy.from_data(
        {
            "id": "shop",
            "version": "1",
            "source": "terms",
            "as_of": "2026-01-01",
            "shipping": "none",
            "restocking_fee_percent": "15",
            "return_label_fee": {"amount": "8.00", "currency": "CNY"},
        }
    )

    def test_fees_on_a_commercial_return(self) -> None:
        quote = quote_refund(
            thermos_order(),
            lines={"1": 2},
            reason="no_reason",
            policy=self.policy,
            now=AT,
            refunded=Refunded.of(thermos_order()),
        )
        assert quote.restocking_fee == cny("73.50")  # 15% of 489.99, half up
        assert quote.label_fee == cny("8.00")
        assert quote.total == cny("489.99") - cny("73.50") - cny("8.00")

    @pytest.mark.parametrize("basis", ["cn_7day", "eu_withdrawal", "uk_cancellation"])
    def test_never_on_a_statutory_return(self, basis: str) -> None:
        quote = quote_refund(
            thermos_order(),
            lines={"1": 2},
            reason="no_reason",
            policy=self.policy,
            now=AT,
            basis=basis,
            refunded=Refunded.of(thermos_order()),
        )
        assert quote.restocking_fee.is_zero
        assert quote.label_fee.is_zero
        assert any(s.code == "refund.fees_waived_statutory" for s in quote.trace)

    def test_never_when_the_shop_is_at_fault(self) -> None:
        quote = quote_refund(
            thermos_order(),
            lines={"1": 2},
            reason="wrong_item",
            policy=self.policy,
            now=AT,
            refunded=Refunded.of(thermos_order()),
        )
        assert quote.total == cny("489.99")

    def test_coupon_restored_on_a_full_return_when_valid(self) -> None:
        full = quote_refund(
            thermos_order(),
            lines={"1": 5},
            reason="no_reason",
            policy=CN,
            now=AT,
            refunded=Refunded.of(thermos_order()),
        )
        assert (full.total, full.coupon_restored) == (cny("1224.97"), cny("524.98"))
        expired = quote_refund(
            thermos_order(),
            lines={"1": 5},
            reason="no_reason",
            policy=CN,
            now=AT,
            coupon_valid=False,
            refunded=Refunded.of(thermos_order()),
        )
        assert expired.coupon_restored.is_zero

    def test_floats_refused_in_policies(self) -> None:
        with pytest.raises(PolicyError, match="float"):
            RefundPolicy.from_data(
                {
                    "id": "x",
                    "version": "1",
                    "source": "s",
                    "as_of": "2026-01-01",
                    "shipping": "none",
                    "restocking_fee_percent": 1.5,
                }
            )


class TestTenders:
    def order(self) -> Order:
        order = thermos_order()
        return paid(order, ("P-1", "store_credit", cny("224.97")), ("P-2", "alipay", cny("1000")))

    def test_proportional_by_largest_remainder(self) -> None:
        quote = quote_refund(
            self.order(),
            lines={"1": 2},
            reason="no_reason",
            policy=CN,
            now=AT,
            refunded=Refunded.of(self.order()),
        )
        assert [(t.payment_id, t.amount) for t in quote.tenders] == [
            ("P-1", cny("89.99")),
            ("P-2", cny("400.00")),
        ]

    def test_priority(self) -> None:
        policy = RefundPolicy.from_data(
            {
                "id": "x",
                "version": "1",
                "source": "s",
                "as_of": "2026-01-01",
                "shipping": "none",
                "tender_split": "priority",
                "tender_priority": ["store_credit"],
            }
        )
        quote = quote_refund(
            self.order(),
            lines={"1": 2},
            reason="no_reason",
            policy=policy,
            now=AT,
            refunded=Refunded.of(self.order()),
        )
        assert [(t.payment_id, t.amount) for t in quote.tenders] == [
            ("P-1", cny("224.97")),
            ("P-2", cny("265.02")),
        ]

    def test_caps_follow_the_ledgers(self) -> None:
        order = self.order()
        spent = PaymentLedger.open("P-1", cny("224.97"), at=AT).reserve("R", cny("224.97"), at=AT)
        quote = quote_refund(
            order,
            lines={"1": 2},
            reason="no_reason",
            policy=CN,
            now=AT,
            ledgers={"P-1": spent},
            refunded=Refunded.of(order),
        )
        assert [(t.payment_id, t.amount) for t in quote.tenders] == [("P-2", cny("489.99"))]
        assert quote.maximum_refundable == cny("1000")


def test_goodwill_and_over_refund() -> None:
    order = thermos_order()
    quote = quote_refund(
        order,
        lines={},
        reason="goodwill",
        policy=CN,
        now=AT,
        goodwill=cny("10.00"),
        refunded=Refunded.of(order),
    )
    assert quote.total == cny("10.00")
    with pytest.raises(OverRefundError, match=r"1224\.97 CNY is refundable"):
        quote_refund(
            order,
            lines={},
            reason="goodwill",
            policy=CN,
            now=AT,
            goodwill=cny("1224.98"),
            refunded=Refunded.of(order),
        )


@st.composite
def orders_with_tenders(draw: st.DrawFn) -> Order:
    currency = draw(st.sampled_from(["JPY", "CNY", "BHD"]))
    drafts = [
        LineDraft(
            sku=f"S{i}",
            name="n",
            quantity=draw(st.integers(1, 6)),
            unit_price=draw(cs.money(currency, min_units=1, max_units=10**6)),
        )
        for i in range(draw(st.integers(1, 4)))
    ]
    goods = sum((d.unit_price * d.quantity for d in drafts), Money.zero(currency))
    order = Order.place(
        id="O",
        customer=Customer(id="C"),
        placed_at=AT,
        lines=drafts,
        order_discount=Money.from_minor(draw(st.integers(0, goods.minor_units - 1)), currency),
        shipping_fee=draw(cs.money(currency, max_units=10**4)),
    )
    count = draw(st.integers(1, 3))
    weights = [draw(st.integers(1, 5)) for _ in range(count)]
    from csdesk import allocate

    captures = allocate(order.total, weights) if not order.total.is_zero else [order.total]
    return paid(order, *((f"P{i}", "card", c) for i, c in enumerate(captures) if not c.is_zero))


@given(order=orders_with_tenders(), data=st.data(), reason=st.sampled_from(["no_reason", "faulty"]))
def test_refunding_everything_in_random_steps_returns_exactly_what_was_paid(
    order: Order, data: st.DataObject, reason: str
) -> None:
    policy = data.draw(st.sampled_from([CN, refund_policy("eu_default")]))
    zero = Money.zero(order.currency)
    ledgers = {p.id: PaymentLedger.open(p.id, p.captured, at=AT) for p in order.payments}
    done: dict[str, int] = {}
    shipping = zero
    refunded = zero
    paid_by_line: dict[str, Money] = {}
    step = 0
    while left := [line for line in order.lines if done.get(line.id, 0) < line.quantity]:
        first = data.draw(st.sampled_from(left))
        lines = {
            line.id: data.draw(
                st.integers(1 if line is first else 0, line.quantity - done.get(line.id, 0))
            )
            for line in left
        }
        quote = quote_refund(
            order,
            lines=lines,
            reason=reason,
            policy=policy,
            now=AT,
            ledgers=ledgers,
            refunded=Refunded(units=done, shipping=shipping),
        )
        step += 1
        for share in quote.tenders:
            book = ledgers[share.payment_id].reserve(f"R{step}", share.amount, at=AT)
            assert book.refunded + book.pending <= book.captured
            ledgers[share.payment_id] = book.settle(f"R{step}", succeeded=True, at=AT)
        for line in quote.lines:
            done[line.line_id] = done.get(line.line_id, 0) + line.units
            paid_by_line[line.line_id] = paid_by_line.get(line.line_id, zero) + line.amount
            assert paid_by_line[line.line_id] <= order.line(line.line_id).paid
        shipping += quote.shipping
        refunded += quote.total
    kept = order.shipping_fee - shipping  # outbound shipping the policy lets the shop keep
    assert refunded == order.total - kept
    if policy.shipping == "full_if_last_item" or reason == "faulty":
        # EU/UK withdrawals and the shop's own faults: everything paid comes back, exactly.
        assert kept.is_zero
        assert refunded == order.total
        assert all(ledger.refundable.is_zero for ledger in ledgers.values())
    assert sum((ledger.refunded for ledger in ledgers.values()), zero) == refunded


def test_a_history_that_leaves_out_the_orders_cancellations_is_refused() -> None:
    # Issue 15: a caller that did not pass "already refunded" figures got the shipping again.
    from csdesk.errors import InvalidInputError
    from csdesk.workflows import CancelLines, run
    from tests.factories import CUSTOMER, PLACED, STAFF, new_order, payment

    order = new_order()
    from csdesk.workflows import PayOrder

    run(order, PayOrder(payments=[payment(order)]), actor=CUSTOMER, now=PLACED)
    run(order, CancelLines(lines={"2": 3}, reason="out of stock"), actor=STAFF, now=PLACED)
    with pytest.raises(InvalidInputError, match=r"Refunded\.of"):
        quote_refund(order, lines={"2": 1}, reason="faulty", policy=CN, now=AT, refunded=Refunded())
    with pytest.raises(QuantityError):  # the canceled units are gone
        quote_refund(
            order, lines={"2": 1}, reason="faulty", policy=CN, now=AT, refunded=Refunded.of(order)
        )
    history = Refunded.of(order)
    assert history.units == {"2": 3}
    assert history.shipping is not None
    assert not history.shipping.is_zero
