"""The scenario ``csdesk demo`` plays, as data: built here, printed by `csdesk.scripts.main`.

Each capability adds its step. So far: a Double 11 order with a line promotion, a store coupon,
shipping and included VAT, placed and split per line; then a partial return of one line refunded in
three goes, each share computed with cumulative rounding, which add up to exactly what was paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

from csdesk.models import Customer, LineDraft, Order, PaidSplit
from csdesk.money import Money, sum_money

__all__ = ["DemoResult", "RefundStep", "run_demo"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class RefundStep:
    """One partial refund of the demo's returned line."""

    units: int
    already: int
    split: PaidSplit


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo computed, for printing or for a test to check."""

    order: Order
    refund_line_id: str
    refunds: tuple[RefundStep, ...]

    @property
    def refunded(self) -> Money:
        """The sum of the partial refunds."""
        return sum_money((step.split.paid for step in self.refunds), self.order.currency)


def _cny(amount: str) -> Money:
    return Money(amount, "CNY")


COUPON = _cny("300.00")  # 满减: 300 off over 2,000
SHIPPING = _cny("12.00")
# 13% VAT included in the prices: the host's tax engine computes it on what is paid.
VAT = ((_cny("799.00") + _cny("1749.95") + _cny("59.70") - COUPON + SHIPPING) * 13 / 113).quantize()


def run_demo() -> DemoResult:
    """Place the demo order and refund its thermos line in three goes (2, then 1, then 2 units)."""
    customer = Customer(
        id="C-88001",
        tier="gold",
        name="张三丰",
        phone="+86 138-1234-5678",
        address="浙江省杭州市西湖区文三路90号",
    )
    order = Order.place(
        id="SO-20261111-0042",
        customer=customer,
        placed_at=datetime(2026, 11, 11, 20, 15, tzinfo=SHANGHAI),
        lines=[
            LineDraft(
                sku="DJ-900",
                name="羽绒服 Down jacket",
                quantity=1,
                unit_price=_cny("899.00"),
                line_discount=_cny("100.00"),
            ),
            LineDraft(sku="TC-500", name="保温杯 Thermos", quantity=5, unit_price=_cny("349.99")),
            LineDraft(sku="SK-003", name="袜子 Socks", quantity=3, unit_price=_cny("19.90")),
        ],
        order_discount=COUPON,
        shipping_fee=SHIPPING,
        tax=VAT,
        tax_included=True,
    )
    line = order.line("2")
    refunds: list[RefundStep] = []
    already = 0
    for units in (2, 1, 2):
        refunds.append(RefundStep(units, already, line.refund_split(units=units, already=already)))
        already += units
    return DemoResult(order=order, refund_line_id=line.id, refunds=tuple(refunds))
