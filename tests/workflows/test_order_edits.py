"""Edits after payment, before shipment: issue 18 item 4."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csdesk import Customer, LineDraft, Money, Order, Payment, Shipment, TransitionRejectedError
from csdesk.workflows import EditOrder, PayBalance, PayOrder, ShipOrder, run
from tests.factories import CUSTOMER, PLACED, STAFF, cny, paid_order


def mug(quantity: int = 1, price: str = "59.00", **extra: Any) -> LineDraft:
    return LineDraft(sku="MUG", name="mug", quantity=quantity, unit_price=cny(price), **extra)


def test_swapping_units_for_a_cheaper_line_refunds_the_difference() -> None:
    order = paid_order()
    paid_before = {line.id: line.paid for line in order.lines}
    events = run(order, EditOrder(reduce={"1": 1}, add=[mug()]), actor=STAFF, now=PLACED)
    payload: dict[str, Any] = dict(events[0].payload)
    assert payload["before"][0] == {"id": "1", "sku": "TC-500", "units": 5}
    assert payload["after"][0] == {"id": "1", "sku": "TC-500", "units": 4}
    assert payload["after"][-1] == {"id": "4", "sku": "MUG", "units": 1}
    # the lines that did not change keep what they paid: nothing settled is split again
    for line_id, paid in paid_before.items():
        assert order.line(line_id).paid == paid
    credit = order.line("1").refund_split(units=1).paid
    assert order.line("4").paid == cny("59.00")
    assert [due.amount for due in order.refunds_due] == [credit - cny("59.00")]
    assert order.balance_due is None
    assert any(e.type == "order.refund_required" for e in events)


def test_adding_more_than_is_taken_off_leaves_a_balance_to_collect() -> None:
    order = paid_order()
    run(order, EditOrder(add=[mug(2, "100.00")]), actor=STAFF, now=PLACED)
    assert order.balance_due == cny("200.00")
    assert order.refunds_due == ()
    with pytest.raises(TransitionRejectedError, match="PayBalance first"):
        run(order, ShipOrder(shipment=Shipment(id="S-1", carrier="SF", tracking_number="SF1")),
            actor=STAFF, now=PLACED)  # fmt: skip
    with pytest.raises(TransitionRejectedError, match="collect the balance"):
        run(order, EditOrder(add=[mug()]), actor=STAFF, now=PLACED)
    wrong = Payment(id="P-2", method="alipay", captured=cny("199.99"), captured_at=PLACED)
    with pytest.raises(TransitionRejectedError, match="balance due is"):
        run(order, PayBalance(payment=wrong), actor=CUSTOMER, now=PLACED)
    right = wrong.model_copy(update={"captured": cny("200.00")})
    run(order, PayBalance(payment=right), actor=CUSTOMER, now=PLACED)
    assert order.balance_due is None
    assert order.captured == order.total  # every unit paid for, once
    run(order, ShipOrder(shipment=Shipment(id="S-1", carrier="SF", tracking_number="SF1")),
        actor=STAFF, now=PLACED + timedelta(hours=1))  # fmt: skip


def test_removing_a_line_refunds_its_paid_share() -> None:
    order = paid_order()
    cake = order.line("3").paid
    run(order, EditOrder(remove=["3"]), actor=STAFF, now=PLACED)
    assert order.canceled_units == {"3": 1}
    assert sum((d.amount for d in order.refunds_due), cny("0")) == cake


@pytest.mark.parametrize(
    ("command", "why"),
    [
        (EditOrder(), "edit needs"),
        (EditOrder(reduce={"9": 1}), "no line"),
        (EditOrder(reduce={"1": 6}), "has 5 unit"),
        (EditOrder(remove=["1", "2", "3"]), "leaves nothing"),
        (EditOrder(reduce={"1": 1}, remove=["1"]), "both reduced and removed"),
        (EditOrder(add=[mug(id="1")]), "is taken"),
        (EditOrder(add=[mug(gift_of="1", price="0", gift_value=cny("5"))]), "gift"),
        (EditOrder(add=[LineDraft(sku="X", name="x", quantity=1,
                                  unit_price=Money("5", "USD"))]), "do not validate"),
    ],
)  # fmt: skip
def test_what_an_edit_refuses_and_changes_nothing(command: EditOrder, why: str) -> None:
    order = paid_order()
    before = order.model_dump()
    with pytest.raises(TransitionRejectedError, match=why):
        run(order, command, actor=STAFF, now=PLACED)
    assert order.model_dump() == before


def test_no_edit_after_shipment() -> None:
    order = paid_order()
    run(order, ShipOrder(shipment=Shipment(id="S-1", carrier="SF", tracking_number="SF1",
                                           lines={"1": 5})), actor=STAFF, now=PLACED)  # fmt: skip
    with pytest.raises(Exception, match=r"edit|shipped"):
        run(order, EditOrder(reduce={"2": 1}), actor=STAFF, now=PLACED)


@given(
    currency=st.sampled_from(["CNY", "JPY", "BHD"]),
    edits=st.lists(
        st.tuples(st.integers(0, 2), st.integers(0, 3), st.integers(1, 500)),
        min_size=1,
        max_size=4,
    ),
)
def test_edits_conserve_money(currency: str, edits: list[tuple[int, int, int]]) -> None:
    def money(amount: int | str) -> Money:
        return Money(amount, currency)

    order = Order.place(
        id="SO-9", customer=Customer(id="C-1"), placed_at=PLACED,
        lines=[LineDraft(sku="A", name="a", quantity=3, unit_price=money(1000)),
               LineDraft(sku="B", name="b", quantity=2, unit_price=money(333))],
        order_discount=money(77), shipping_fee=money(15),
    )  # fmt: skip
    first = Payment(id="P-1", method="alipay", captured=order.total, captured_at=PLACED)
    run(order, PayOrder(payments=[first]), actor=CUSTOMER, now=PLACED)
    collected = money(0)
    for number, (take, add, price) in enumerate(edits):
        left = order.line("1").quantity - order.canceled_units.get("1", 0)
        command = EditOrder(
            reduce={"1": min(take, left)} if min(take, left) else {},
            add=[LineDraft(sku="N", name="n", quantity=add, unit_price=money(price))]
            if add
            else [],
        )
        try:
            run(order, command, actor=STAFF, now=PLACED)
        except TransitionRejectedError:
            continue
        if order.balance_due is not None:
            pay = Payment(id=f"P-b{number}", method="alipay", captured=order.balance_due,
                          captured_at=PLACED)  # fmt: skip
            collected += order.balance_due
            run(order, PayBalance(payment=pay), actor=CUSTOMER, now=PLACED)
    kept = sum(
        (line.refund_split(units=line.quantity - order.canceled_units.get(line.id, 0)).paid
         for line in order.lines if line.quantity > order.canceled_units.get(line.id, 0)),
        money(0),
    )  # fmt: skip
    owed = sum((due.amount for due in order.refunds_due), money(0))
    assert order.captured - owed == kept
    assert (
        order.captured
        == order.total
        - sum(
            (order.line(i).refund_split(units=n).paid for i, n in order.canceled_units.items()),
            money(0),
        )
        + owed
    )
    assert collected <= order.captured
