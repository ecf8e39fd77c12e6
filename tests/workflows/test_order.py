from datetime import timedelta

import pytest

from csdesk import (
    Actor,
    InvalidInputError,
    InvalidTransitionError,
    LineDraft,
    Payment,
    Shipment,
    TransitionRejectedError,
)
from csdesk.policies import timer_preset
from csdesk.workflows import OrderWorkflow, fire
from tests.factories import (
    CUSTOMER,
    PLACED,
    SIGNED,
    STAFF,
    SYSTEM,
    cny,
    delivered_order,
    new_order,
    paid_order,
    shipped_order,
)

CN = timer_preset("cn_platform")


class TestPay:
    def test_payment_must_cover_the_total(self) -> None:
        order = new_order()
        short = Payment(
            id="P-1", method="card", captured=order.total - cny("0.01"), captured_at=PLACED
        )
        with pytest.raises(TransitionRejectedError, match="do not cover"):
            fire(OrderWorkflow, order, "pay", actor=CUSTOMER, now=PLACED, payments=[short])
        assert (order.state, order.version, order.payments) == ("pending_payment", 0, ())

    def test_split_tender(self) -> None:
        order = new_order()
        half = order.total / 2
        tenders = [
            Payment(
                id="P-1",
                method="store_credit",
                captured=half.quantize("ROUND_DOWN"),
                captured_at=PLACED,
            ),
            Payment(
                id="P-2",
                method="wechat_pay",
                captured=order.total - half.quantize("ROUND_DOWN"),
                captured_at=PLACED,
            ),
        ]
        fire(OrderWorkflow, order, "pay", actor=CUSTOMER, now=PLACED, payments=tenders)
        assert order.captured == order.total
        assert order.paid_at == PLACED

    def test_wrong_currency(self) -> None:
        from csdesk import Money

        order = new_order()
        usd = Payment(id="P", method="card", captured=Money("999", "USD"), captured_at=PLACED)
        with pytest.raises(TransitionRejectedError, match="USD"):
            fire(OrderWorkflow, order, "pay", actor=CUSTOMER, now=PLACED, payments=[usd])


class TestExpire:
    def test_only_after_pay_by(self) -> None:
        order = new_order()
        with pytest.raises(TransitionRejectedError, match="not overdue"):
            fire(
                OrderWorkflow,
                order,
                "expire",
                actor=SYSTEM,
                now=PLACED + timedelta(hours=23),
                timers=CN,
            )
        fire(
            OrderWorkflow,
            order,
            "expire",
            actor=SYSTEM,
            now=PLACED + timedelta(hours=24),
            timers=CN,
        )
        assert order.state == "canceled"
        assert order.cancel_reason == "payment_timeout"

    def test_needs_a_deadline(self) -> None:
        with pytest.raises(TransitionRejectedError, match="timer preset"):
            fire(OrderWorkflow, new_order(), "expire", actor=SYSTEM, now=PLACED)


class TestCancel:
    def test_reason_required(self) -> None:
        order = new_order()
        with pytest.raises(InvalidInputError, match="reason"):
            fire(OrderWorkflow, order, "cancel", actor=CUSTOMER, now=PLACED, reason=" ")
        with pytest.raises(InvalidInputError, match="reason"):
            fire(OrderWorkflow, order, "cancel", actor=CUSTOMER, now=PLACED)
        assert order.state == "pending_payment"
        assert order.version == 0

    def test_unpaid_cancel_owes_nothing(self) -> None:
        order = new_order()
        events = fire(
            OrderWorkflow, order, "cancel", actor=CUSTOMER, now=PLACED, reason="changed my mind"
        )
        assert [e.type for e in events] == ["order.canceled"]
        assert order.refunds_due == ()

    def test_paid_cancel_emits_the_refunds_it_needs(self) -> None:
        order = new_order()
        tenders = [
            Payment(id="P-1", method="store_credit", captured=cny("100.00"), captured_at=PLACED),
            Payment(
                id="P-2", method="alipay", captured=order.total - cny("100.00"), captured_at=PLACED
            ),
        ]
        fire(OrderWorkflow, order, "pay", actor=CUSTOMER, now=PLACED, payments=tenders)
        events = fire(
            OrderWorkflow, order, "cancel", actor=STAFF, now=PLACED, reason="out of stock"
        )
        assert [e.type for e in events] == [
            "order.canceled",
            "order.refund_required",
            "order.refund_required",
        ]
        assert [r.amount for r in order.refunds_due] == [cny("100.00"), order.total - cny("100")]
        assert events[1].causation_id == events[0].id
        # a canceled order closes only once its refunds are settled
        with pytest.raises(InvalidTransitionError) as caught:
            fire(OrderWorkflow, order, "close", actor=SYSTEM, now=PLACED)
        assert caught.value.reason == "guard_failed"
        for refund in order.refunds_due:
            fire(
                OrderWorkflow, order, "settle_refund", actor=SYSTEM, now=PLACED, refund_id=refund.id
            )
        fire(OrderWorkflow, order, "close", actor=SYSTEM, now=PLACED)
        assert order.state == "closed"

    def test_cannot_cancel_after_shipment(self) -> None:
        with pytest.raises(InvalidTransitionError):
            fire(OrderWorkflow, shipped_order(), "cancel", actor=CUSTOMER, now=PLACED, reason="x")


class TestCancelLines:
    def test_partial_cancel_blocks_completion_until_settled(self) -> None:
        order = paid_order()
        events = fire(
            OrderWorkflow,
            order,
            "cancel_lines",
            actor=STAFF,
            now=PLACED,
            lines={"2": 1},
            reason="out of stock",
        )
        refund = order.refunds_due[0]
        assert refund.amount == order.line("2").refund_split(units=1).paid
        assert refund.lines == {"2": 1}
        assert events[1].payload["amount"] == refund.amount.to_dict()
        assert order.canceled_units == {"2": 1}
        parcel = Shipment(id="S", carrier="SF", tracking_number="SF1")
        fire(OrderWorkflow, order, "ship", actor=STAFF, now=PLACED, shipment=parcel)
        fire(OrderWorkflow, order, "deliver", actor=SYSTEM, now=SIGNED, signed_at=SIGNED)
        with pytest.raises(InvalidTransitionError) as caught:
            fire(OrderWorkflow, order, "complete", actor=SYSTEM, now=SIGNED)
        assert caught.value.reason == "guard_failed"
        assert caught.value.allowed == ("settle_refund",)
        fire(OrderWorkflow, order, "settle_refund", actor=SYSTEM, now=SIGNED, refund_id=refund.id)
        fire(OrderWorkflow, order, "complete", actor=SYSTEM, now=SIGNED)
        assert order.state == "completed"

    @pytest.mark.parametrize(
        ("lines", "message"),
        [
            ({"2": 4}, "left to cancel"),
            ({"9": 1}, "no line"),
            ({"1": 5, "2": 3, "3": 1}, "cancel the order instead"),
        ],
    )
    def test_bad_quantities(self, lines: dict[str, int], message: str) -> None:
        order = paid_order()
        with pytest.raises(TransitionRejectedError, match=message):
            fire(
                OrderWorkflow,
                order,
                "cancel_lines",
                actor=STAFF,
                now=PLACED,
                lines=lines,
                reason="oos",
            )
        assert order.canceled_units == {}


class TestModify:
    def test_address_is_recorded_masked(self) -> None:
        order = paid_order()
        events = fire(
            OrderWorkflow,
            order,
            "modify",
            actor=CUSTOMER,
            now=PLACED,
            address="上海市浦东新区世纪大道100号",
        )
        assert order.shipping_address == "上海市浦东新区世纪大道100号"
        assert events[0].payload["address"] == "上海市浦东新*********"
        assert "世纪大道" not in repr(order)

    def test_lines_only_before_payment(self) -> None:
        drafts = [LineDraft(sku="TC-500", name="thermos", quantity=2, unit_price=cny("349.99"))]
        with pytest.raises(TransitionRejectedError, match="before payment"):
            fire(OrderWorkflow, paid_order(), "modify", actor=CUSTOMER, now=PLACED, lines=drafts)
        order = new_order()
        events = fire(OrderWorkflow, order, "modify", actor=CUSTOMER, now=PLACED, lines=drafts)
        assert order.total == cny("699.98") - cny("300.00") + cny("12.00")
        assert events[0].payload["total_after"] == order.total.to_dict()


class TestShipDeliverComplete:
    def test_shipment_required(self) -> None:
        with pytest.raises(InvalidInputError, match="shipment"):
            fire(OrderWorkflow, paid_order(), "ship", actor=STAFF, now=PLACED)

    def test_lines_to_cancel_required(self) -> None:
        order = paid_order()
        with pytest.raises(InvalidInputError, match="lines"):
            fire(
                OrderWorkflow, order, "cancel_lines", actor=STAFF, now=PLACED, lines={}, reason="x"
            )
        assert order.canceled_units == {}

    def test_deliver_records_sign_off(self) -> None:
        order = delivered_order()
        assert order.signed_at == SIGNED
        assert order.shipments[0].delivered_at == SIGNED
        assert order.delivered_at == SIGNED

    def test_sign_off_cannot_be_in_the_future(self) -> None:
        with pytest.raises(TransitionRejectedError, match="future"):
            fire(
                OrderWorkflow,
                shipped_order(),
                "deliver",
                actor=SYSTEM,
                now=SIGNED,
                signed_at=SIGNED + timedelta(hours=1),
            )

    def test_only_the_customer_confirms_receipt(self) -> None:
        order = shipped_order()
        with pytest.raises(TransitionRejectedError, match="only the customer"):
            fire(OrderWorkflow, order, "confirm_receipt", actor=STAFF, now=SIGNED)
        fire(OrderWorkflow, order, "confirm_receipt", actor=CUSTOMER, now=SIGNED)
        assert (order.state, order.completed_at) == ("completed", SIGNED)

    def test_auto_confirm_after_ten_days(self) -> None:
        order = shipped_order()
        shipped_at = order.shipments[0].shipped_at
        assert shipped_at is not None
        with pytest.raises(TransitionRejectedError, match="auto-confirms at"):
            fire(
                OrderWorkflow,
                order,
                "auto_confirm",
                actor=SYSTEM,
                now=shipped_at + timedelta(days=9),
                timers=CN,
            )
        fire(
            OrderWorkflow,
            order,
            "auto_confirm",
            actor=SYSTEM,
            now=shipped_at + timedelta(days=10),
            timers=CN,
        )
        assert order.state == "completed"

    def test_close_after_the_after_sale_period_with_no_open_case(self) -> None:
        order = delivered_order()
        fire(OrderWorkflow, order, "complete", actor=SYSTEM, now=SIGNED)
        late = SIGNED + timedelta(days=15)
        with pytest.raises(TransitionRejectedError, match="open_cases"):
            fire(OrderWorkflow, order, "close", actor=SYSTEM, now=late, timers=CN)
        with pytest.raises(TransitionRejectedError, match="still open"):
            fire(OrderWorkflow, order, "close", actor=SYSTEM, now=late, timers=CN, open_cases=1)
        with pytest.raises(TransitionRejectedError, match="runs until"):
            fire(
                OrderWorkflow,
                order,
                "close",
                actor=SYSTEM,
                now=late - timedelta(minutes=1),
                timers=CN,
                open_cases=0,
            )
        fire(OrderWorkflow, order, "close", actor=SYSTEM, now=late, timers=CN, open_cases=0)
        assert order.state == "closed"


def test_settle_unknown_refund() -> None:
    with pytest.raises(TransitionRejectedError, match="no refund due"):
        fire(
            OrderWorkflow, paid_order(), "settle_refund", actor=SYSTEM, now=PLACED, refund_id="nope"
        )


def test_platform_may_confirm_for_the_customer() -> None:
    order = shipped_order()
    fire(OrderWorkflow, order, "confirm_receipt", actor=Actor(kind="platform"), now=SIGNED)
    assert order.state == "completed"
