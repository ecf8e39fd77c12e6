"""A refund quote for a 20-line, 3-tender order against the same arithmetic in bare Decimal.

csdesk's side is `quote_refund`: typed inputs and results (pydantic models, Money), validation,
the policy's rules and a trace of every step. The peer does only the arithmetic on plain Decimals:
the same cumulative rounding of each part of each line's paid split, the shipping rule and the
largest-remainder split over the tenders. The ratio is the price of csdesk's types and trace.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal

from benchmarks._runner import Case, Result, measure, report
from csdesk import Customer, LineDraft, Money, Order, Payment
from csdesk.policies.refunds import Refunded, quote_refund, refund_policy

GOAL = 3.0
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CENT = Decimal("0.01")


def _order() -> Order:
    lines = [
        LineDraft(
            sku=f"SKU-{i}",
            name=f"item {i}",
            quantity=3 + i % 4,
            unit_price=Money(f"{19 + i * 7}.{(i * 37) % 100:02d}", "CNY"),
        )
        for i in range(20)
    ]
    order = Order.place(
        id="SO-B",
        customer=Customer(id="C"),
        placed_at=NOW,
        lines=lines,
        order_discount=Money("300.00", "CNY"),
        shipping_fee=Money("12.00", "CNY"),
        tax=Money("266.98", "CNY"),
    )
    third = (order.total / 3).quantize("ROUND_DOWN")
    order.payments = (
        Payment(id="P-1", method="store_credit", captured=third, captured_at=NOW),
        Payment(id="P-2", method="alipay", captured=third, captured_at=NOW),
        Payment(id="P-3", method="card", captured=order.total - third - third, captured_at=NOW),
    )
    return order


def _round(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


def _share(total: Decimal, quantity: int, already: int, units: int) -> Decimal:
    return _round(total * (already + units) / quantity) - _round(total * already / quantity)


def bare_quote(
    rows: list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]],
    wanted: dict[int, int],
    captured: list[Decimal],
) -> tuple[Decimal, list[Decimal]]:
    """The quote's arithmetic on plain Decimals: the same parts per line, shipping, tenders."""
    goods = Decimal(0)
    shipping = Decimal(0)
    coupons = Decimal(0)
    lines = []
    for index, units in wanted.items():
        quantity, list_price, line_discount, order_discount, ship, tax = rows[index]
        net = _share(list_price - line_discount - order_discount, quantity, 0, units)
        discount = _share(line_discount, quantity, 0, units)
        coupon = _share(order_discount, quantity, 0, units)
        lines.append(
            (net + discount + coupon, discount, coupon, _share(tax, quantity, 0, units), net)
        )
        goods += net
        coupons += coupon
        shipping += _share(ship, quantity, 0, units)
    total = goods + shipping
    units_total = int(total / CENT)
    weights = [int(c / CENT) for c in captured]
    weight_sum = sum(weights)
    parts = [units_total * w // weight_sum for w in weights]
    remainders = [units_total * w % weight_sum for w in weights]
    for i in sorted(range(len(parts)), key=lambda i: (-remainders[i], i))[
        : units_total - sum(parts)
    ]:
        parts[i] += 1
    return total, [Decimal(p) * CENT for p in parts]


def cases() -> list[Case]:
    order = _order()
    policy = refund_policy("eu_default").model_copy(update={"shipping": "proportional"})
    wanted = {line.id: 2 for line in order.lines}
    rows = [
        (
            line.quantity,
            line.split.list_price.amount,
            line.split.line_discount.amount,
            line.split.order_discount.amount,
            line.split.shipping.amount,
            line.split.tax.amount,
        )
        for line in order.lines
    ]
    bare_wanted = dict.fromkeys(range(len(rows)), 2)
    captured = [p.captured.amount for p in order.payments]
    quote = quote_refund(
        order, lines=wanted, reason="no_reason", policy=policy, now=NOW, refunded=Refunded.of(order)
    )
    total, parts = bare_quote(rows, bare_wanted, captured)
    assert quote.total.amount == total, (quote.total, total)
    assert [t.amount.amount for t in quote.tenders] == parts
    return [
        Case(
            "quote: 20 lines, 3 tenders",
            lambda: quote_refund(
                order,
                lines=wanted,
                reason="no_reason",
                policy=policy,
                now=NOW,
                refunded=Refunded.of(order),
            ),
            lambda: bare_quote(rows, bare_wanted, captured),
            number=200,
        )
    ]


def main() -> list[Result]:
    results = [measure(case, rounds=11) for case in cases()]
    report("Refund quote", "bare Decimal", results)
    quote = results[0]
    print(
        f"per quote: csdesk {quote.csdesk_ns / 1000:.0f} µs, bare Decimal "
        f"{quote.peer_ns / 1000:.0f} µs, ratio {quote.ratio:.2f} (goal <= {GOAL}): "
        f"{'met' if quote.ratio <= GOAL else 'NOT met'}"
    )
    return results


if __name__ == "__main__":
    main()
