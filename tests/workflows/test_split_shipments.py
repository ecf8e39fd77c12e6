"""Split shipments (拆单): parcels, per-parcel sign-off, windows per line or from the last parcel.

Issue 18 item 3.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from csdesk import Order, OrderState, Shipment, TransitionRejectedError
from csdesk.policies import return_policy, return_window, timer_preset
from csdesk.workflows import (
    CancelLines,
    DeliverParcel,
    ShipOrder,
    order_deadlines,
    run,
)
from tests.factories import PLACED, SIGNED, STAFF, SYSTEM, paid_order, partially_shipped_order

CN = return_policy("cn_consumer_law")
EU = return_policy("eu_crd")


def state_of(order: Order) -> OrderState:
    """The order's state, typed wide (each command moves it)."""
    return order.state


def parcel(parcel_id: str, lines: dict[str, int] | None = None, **extra: object) -> Shipment:
    return Shipment(id=parcel_id, carrier="SF", tracking_number=f"SF-{parcel_id}",
                    lines=lines or {}, **extra)  # fmt: skip


def test_an_order_in_two_parcels() -> None:
    order = partially_shipped_order()
    assert state_of(order) == OrderState.PARTIALLY_SHIPPED
    assert order.unshipped_units() == {"2": 3, "3": 1}
    events = run(order, ShipOrder(shipment=parcel("S-2")), actor=STAFF,
                 now=PLACED + timedelta(days=2))  # fmt: skip
    assert state_of(order) == OrderState.SHIPPED
    assert order.shipments[-1].lines == {"2": 3, "3": 1}  # "the rest", named
    assert events[0].payload["left"] == {}
    run(order, DeliverParcel(shipment_id="S-1", signed_at=SIGNED), actor=SYSTEM, now=SIGNED)
    assert state_of(order) == OrderState.SHIPPED  # one parcel still travelling
    assert order.delivered_at is None
    # CN: the thermoses' window runs from their parcel's sign-off; the socks' has not started
    now = SIGNED + timedelta(days=1)
    assert return_window(order, "1", policy=CN, now=now).status == "open"
    assert return_window(order, "2", policy=CN, now=now).status == "not_started"
    # EU/UK: from the last parcel (CRD art. 9(2)(b)): not started for any line
    assert (
        return_window(order, "1", policy=EU, now=now, zone="Europe/Berlin", country="DE").status
        == "not_started"
    )
    last = SIGNED + timedelta(days=3)
    run(order, DeliverParcel(shipment_id="S-2", signed_at=last), actor=SYSTEM, now=last)
    assert state_of(order) == OrderState.DELIVERED
    assert order.signed_at == last
    cn_1 = return_window(order, "1", policy=CN, now=last)
    cn_2 = return_window(order, "2", policy=CN, now=last)
    eu_1 = return_window(order, "1", policy=EU, now=last, zone="Europe/Berlin", country="DE")
    assert cn_1.ends_at is not None
    assert cn_2.ends_at is not None
    assert eu_1.ends_at is not None
    anchors = [
        next(step.params["at"] for step in window.trace if step.code == "returns.anchor")
        for window in (cn_1, cn_2, eu_1)
    ]
    assert anchors[0] == SIGNED  # each CN line from its own parcel's sign-off
    assert anchors[1] == anchors[2] == last  # the socks' parcel; EU: the last parcel
    assert cn_2.ends_at > cn_1.ends_at
    assert eu_1.ends_at > cn_2.ends_at  # EU: 14 days from the last parcel


def test_cancelling_the_rest_that_never_ships() -> None:
    order = partially_shipped_order()
    events = run(order, CancelLines(lines={"2": 3, "3": 1}, reason="out of stock"), actor=STAFF,
                 now=PLACED + timedelta(days=2))  # fmt: skip
    assert state_of(order) == OrderState.SHIPPED  # everything left has shipped
    assert order.canceled_units == {"2": 3, "3": 1}
    assert order.refunds_due  # the unshipped units are refunded
    assert any(e.type == "order.refund_required" for e in events)
    run(order, DeliverParcel(shipment_id="S-1", signed_at=SIGNED), actor=SYSTEM, now=SIGNED)
    assert state_of(order) == OrderState.DELIVERED


def test_cancelling_part_of_the_rest_keeps_it_partially_shipped() -> None:
    order = partially_shipped_order()
    run(order, CancelLines(lines={"2": 1}, reason="out of stock"), actor=STAFF,
        now=PLACED + timedelta(days=2))  # fmt: skip
    assert state_of(order) == OrderState.PARTIALLY_SHIPPED
    assert order.unshipped_units() == {"2": 2, "3": 1}


@pytest.mark.parametrize(
    ("command", "why"),
    [
        (ShipOrder(shipment=parcel("S-2", {"1": 1})), "0 unit"),  # all thermoses shipped
        (ShipOrder(shipment=parcel("S-2", {"9": 1})), "no line"),
        (ShipOrder(shipment=parcel("S-1", {"2": 1})), "shipped already"),
        (CancelLines(lines={"1": 1}, reason="x"), "left to cancel"),
        (DeliverParcel(shipment_id="S-9", signed_at=SIGNED), "no parcel"),
        (DeliverParcel(shipment_id="S-1", signed_at=SIGNED + timedelta(days=9)), "future"),
    ],
)
def test_what_a_parcel_cannot_do(command: object, why: str) -> None:
    order = partially_shipped_order()
    before = order.model_dump()
    with pytest.raises(TransitionRejectedError, match=why):
        run(order, command, actor=STAFF, now=SIGNED)  # type: ignore[arg-type]
    assert order.model_dump() == before


def test_a_parcel_signs_once() -> None:
    order = partially_shipped_order()
    run(order, DeliverParcel(shipment_id="S-1", signed_at=SIGNED), actor=SYSTEM, now=SIGNED)
    with pytest.raises(TransitionRejectedError, match="was signed for"):
        run(order, DeliverParcel(shipment_id="S-1", signed_at=SIGNED), actor=SYSTEM, now=SIGNED)


def test_late_parcels_one_incident_each() -> None:
    order = paid_order()
    promised = PLACED + timedelta(days=3)
    run(order, ShipOrder(shipment=parcel("S-1", {"1": 5}, promised_delivery=promised)),
        actor=STAFF, now=PLACED + timedelta(days=1))  # fmt: skip
    run(order, ShipOrder(shipment=parcel("S-2", promised_delivery=promised + timedelta(days=5))),
        actor=STAFF, now=PLACED + timedelta(days=2))  # fmt: skip
    late = order.late_parcels(now=promised + timedelta(days=2))
    assert [(p.id, d) for p, d in late] == [("S-1", timedelta(days=2))]


def test_timers_ship_by_until_the_last_parcel_and_confirm_from_it() -> None:
    order = partially_shipped_order()
    preset = timer_preset("cn_platform")
    ship_by = next(d for d in order_deadlines(order, preset) if d.kind == "ship_by")
    assert ship_by.active  # units are still to ship
    run(order, ShipOrder(shipment=parcel("S-2")), actor=STAFF, now=PLACED + timedelta(days=2))
    confirm = next(d for d in order_deadlines(order, preset) if d.kind == "auto_confirm_at")
    assert confirm.active
    later = next(
        d for d in order_deadlines(paid_after_one_day(), preset) if d.kind == "auto_confirm_at"
    )
    assert confirm.due_at - later.due_at == timedelta(days=1)  # from the last parcel


def paid_after_one_day() -> Order:
    order = paid_order()
    run(order, ShipOrder(shipment=parcel("S-1")), actor=STAFF, now=PLACED + timedelta(days=1))
    return order
