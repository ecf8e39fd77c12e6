"""The scenario ``csdesk demo`` plays, as data: built here, printed by `csdesk.scripts.main`.

Each capability adds its step. So far: a Double 11 order with a line promotion, a store coupon,
shipping and included VAT, placed and split per line; then a partial return of one line refunded in
three goes, each share computed with cumulative rounding, which add up to exactly what was paid.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from csdesk.errors import TransitionRejectedError
from csdesk.events import Actor, DomainEvent
from csdesk.integrations.sqlite_store import SqliteStore
from csdesk.models import AfterSaleCase, Customer, LineDraft, Order, PaidSplit, Payment, Shipment
from csdesk.money import Money, sum_money
from csdesk.policies.returns import ReturnWindow, return_policy, return_window
from csdesk.workflows import AfterSaleWorkflow, OrderWorkflow, fire, open_case

__all__ = ["DemoResult", "Lifecycle", "RefundStep", "run_demo"]

SHANGHAI = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class RefundStep:
    """One partial refund of the demo's returned line."""

    units: int
    already: int
    split: PaidSplit


@dataclass(frozen=True)
class Lifecycle:
    """The demo order's life after placement, and the two return requests."""

    events: tuple[DomainEvent, ...]
    order: Order
    window: ReturnWindow
    case: AfterSaleCase
    refused: str


@dataclass(frozen=True)
class DemoResult:
    """Everything the demo computed, for printing or for a test to check."""

    order: Order
    refund_line_id: str
    refunds: tuple[RefundStep, ...]
    lifecycle: Lifecycle

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
    return DemoResult(
        order=order,
        refund_line_id=line.id,
        refunds=tuple(refunds),
        lifecycle=_lifecycle(order.model_copy(deep=True)),
    )


def _lifecycle(order: Order) -> Lifecycle:
    """Pay, ship, deliver through the SQLite store; then one return in time and one too late."""
    customer = Actor(kind="customer", id=order.customer.id)
    agent = Actor(kind="staff", id="agent-07")
    courier = Actor(kind="platform", id="sf-express")
    paid_at = order.placed_at + timedelta(minutes=3)
    signed_at = datetime(2026, 11, 14, 15, 0, tzinfo=SHANGHAI)
    payment = Payment(
        id="PAY-1",
        method="alipay",
        captured=order.total,
        captured_at=paid_at,
        reference="2026111122001",
    )
    parcel = Shipment(id="PCL-1", carrier="SF Express", tracking_number="SF1409876543210")
    events: list[DomainEvent] = []
    with SqliteStore(":memory:") as store:
        store.insert(order)
        steps: list[tuple[str, Actor, datetime, dict[str, Any]]] = [
            ("pay", customer, paid_at, {"payments": [payment]}),
            ("ship", agent, datetime(2026, 11, 12, 9, 30, tzinfo=SHANGHAI), {"shipment": parcel}),
            ("deliver", courier, signed_at, {"signed_at": signed_at}),
        ]
        for event, actor, now, payload in steps:
            events += store.run(
                OrderWorkflow, Order, order.id, event, actor=actor, now=now, **payload
            )
        delivered = store.load(Order, order.id)
    policy = return_policy("cn_consumer_law")
    in_time = datetime(2026, 11, 21, 22, 40, tzinfo=SHANGHAI)
    case, opened = open_case(
        delivered,
        id="AS-7001",
        type="return_and_refund",
        lines={"2": 1},
        reason="no_reason",
        actor=customer,
        now=in_time,
        policy=policy,
    )
    events += opened
    events += fire(
        AfterSaleWorkflow, case, "approve", actor=agent, now=in_time + timedelta(minutes=20)
    )
    too_late = datetime(2026, 11, 22, 0, 5, tzinfo=SHANGHAI)
    try:
        open_case(
            delivered,
            id="AS-7002",
            type="return_and_refund",
            lines={"3": 1},
            reason="no_reason",
            actor=customer,
            now=too_late,
            policy=policy,
            existing=[case],
        )
        refused = "(accepted)"
    except TransitionRejectedError as error:
        refused = error.reason
    window = return_window(delivered, "2", policy=policy, now=in_time)
    return Lifecycle(tuple(events), delivered, window, case, refused)
