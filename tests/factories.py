"""Builders for the entities tests need: orders at each step of their life, and cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from csdesk import (
    Actor,
    AfterSaleCase,
    CaseLine,
    Customer,
    LineDraft,
    Money,
    Order,
    Payment,
    Refund,
    Shipment,
    Ticket,
)
from csdesk.workflows import DeliverOrder, PayOrder, ShipOrder, run

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLACED = datetime(2026, 2, 26, 10, 0, tzinfo=SHANGHAI)
SIGNED = datetime(2026, 3, 1, 15, 0, tzinfo=SHANGHAI)
CUSTOMER = Actor(kind="customer", id="C-1")
STAFF = Actor(kind="staff", id="agent-7")
SYSTEM = Actor.system()


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def new_order(order_id: str = "SO-1") -> Order:
    return Order.place(
        id=order_id,
        customer=Customer(id="C-1", phone="13812345678"),
        placed_at=PLACED,
        lines=[
            LineDraft(sku="TC-500", name="thermos", quantity=5, unit_price=cny("349.99")),
            LineDraft(sku="SK-003", name="socks", quantity=3, unit_price=cny("19.90")),
            LineDraft(
                sku="CK-001", name="cake", quantity=1, unit_price=cny("99.00"), category="fresh"
            ),
        ],
        order_discount=cny("300.00"),
        shipping_fee=cny("12.00"),
        shipping_address="浙江省杭州市西湖区文三路90号",
    )


def payment(order: Order, payment_id: str = "P-1") -> Payment:
    return Payment(id=payment_id, method="alipay", captured=order.total, captured_at=PLACED)


def paid_order(order_id: str = "SO-1") -> Order:
    order = new_order(order_id)
    run(order, PayOrder(payments=[payment(order)]), actor=CUSTOMER, now=PLACED)
    return order


def shipped_order(order_id: str = "SO-1") -> Order:
    order = paid_order(order_id)
    parcel = Shipment(id="S-1", carrier="SF Express", tracking_number="SF100")
    run(order, ShipOrder(shipment=parcel), actor=STAFF, now=PLACED + timedelta(days=1))
    return order


def partially_shipped_order(order_id: str = "SO-1") -> Order:
    """Thermoses shipped in parcel S-1; socks and cake still to ship (拆单)."""
    order = paid_order(order_id)
    parcel = Shipment(id="S-1", carrier="SF Express", tracking_number="SF100", lines={"1": 5})
    run(order, ShipOrder(shipment=parcel), actor=STAFF, now=PLACED + timedelta(days=1))
    return order


def delivered_order(order_id: str = "SO-1") -> Order:
    order = shipped_order(order_id)
    run(order, DeliverOrder(signed_at=SIGNED), actor=SYSTEM, now=SIGNED)
    return order


def new_case(
    order: Order | None = None,
    *,
    type: str = "return_and_refund",
    basis: str = "cn_7day",
    units: int = 2,
) -> AfterSaleCase:
    return AfterSaleCase(
        id="AS-1",
        order_id=(order.id if order else "SO-1"),
        type=type,
        reason="no_reason",
        statutory_basis=basis,
        lines=(CaseLine(line_id="1", requested=units),),
        requested_at=SIGNED + timedelta(days=2),
        version=1,
    )


def new_refund(amount: str = "100.00") -> Refund:
    return Refund(
        id="R-1",
        order_id="SO-1",
        payment_id="P-1",
        amount=cny(amount),
        reason="no_reason",
        idempotency_key="key:P-1",
        request_key="key",
        requested_by="agent-7",
        requested_at=SIGNED,
        version=1,
    )


def new_ticket() -> Ticket:
    return Ticket(
        id="T-1",
        category="order_problem",
        customer_id="C-1",
        created_at=SIGNED,
        version=1,
    )
