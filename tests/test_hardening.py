"""Regression tests for inputs that were silently accepted, half-applied or non-finite.

Each case here was accepted (or half-applied) before the hardening round and is refused now with a
csdesk error that says what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from csdesk import (
    CsdeskError,
    Customer,
    InvalidAmountError,
    InvalidInputError,
    LedgerError,
    LineDraft,
    Money,
    Order,
    OrderState,
    OverRefundError,
    PaymentLedger,
    PolicyError,
    Ticket,
)
from csdesk.money import MAX_AMOUNT
from csdesk.policies import CrisisPolicy, Refunded, ReturnPolicy, quote_refund, refund_policy
from csdesk.sla import BusinessCalendar, SlaTarget
from tests.factories import delivered_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 1, 9, 0, tzinfo=SHANGHAI)
WEEKLY = {"mon": [("09:00", "18:00")]}


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def _order(**extra: Any) -> Order:
    line = LineDraft(sku="A", name="a", quantity=1, unit_price=cny("10.00"))
    return Order.place(id="O-1", customer=Customer(id="C-1"), placed_at=AT, lines=[line], **extra)


def _calendar(**extra: Any) -> BusinessCalendar:
    return BusinessCalendar(weekly=WEEKLY, tz="UTC", **extra)


def _quote(**extra: Any) -> Any:
    return quote_refund(
        delivered_order(),
        lines=extra.pop("lines", {}),
        reason=extra.pop("reason", "goodwill"),
        policy=refund_policy("cn_default"),
        now=AT,
        **extra,
        refunded=Refunded.of(delivered_order()),
    )


# -- 5. silently accepted ------------------------------------------------------------------------

SILENTLY_ACCEPTED: dict[str, Callable[[], object]] = {
    "quantity=True": lambda: LineDraft(sku="A", name="a", quantity=True, unit_price=cny("1")),
    "quantity=2.0": lambda: LineDraft(sku="A", name="a", quantity=2.0, unit_price=cny("1")),
    "quantity='2'": lambda: LineDraft(sku="A", name="a", quantity="2", unit_price=cny("1")),
    "negative unit price": lambda: LineDraft(sku="A", name="a", quantity=1, unit_price=cny("-1")),
    "pay_by before placed_at": lambda: _order(pay_by=AT - timedelta(hours=1)),
    "negative capture": lambda: PaymentLedger.open("P-1", cny("-5.00"), at=AT),
    "zero capture": lambda: PaymentLedger.open("P-1", cny("0.00"), at=AT),
    "chargeback beyond the capture": lambda: PaymentLedger.open(
        "P-1", cny("5.00"), at=AT
    ).chargeback(cny("50.00"), at=AT),
    "negative goodwill": lambda: _quote(goodwill=cny("-50.00")),
    "zero goodwill": lambda: _quote(goodwill=cny("0.00")),
    "unknown refund reason": lambda: _quote(reason="customer_remorse", goodwill=cny("5.00")),
    "unknown statutory basis": lambda: _quote(basis="whim", goodwill=cny("5.00")),
    "zero units": lambda: _quote(lines={"1": 0}, reason="faulty"),
    "negative units": lambda: _quote(lines={"1": -1}, reason="faulty"),
    "bool units": lambda: _quote(lines={"1": True}, reason="faulty"),
    "holidays as strings": lambda: _calendar(holidays=["2026-10-01"]),
    "holidays as one string": lambda: _calendar(holidays="2026-10-01"),
    "holidays as datetimes": lambda: _calendar(holidays=[AT]),
    "make-up days as strings": lambda: _calendar(makeup_workdays={"2026-10-10": "mon"}),
    "a day both holiday and make-up": lambda: _calendar(
        holidays=[date(2026, 10, 10)], makeup_workdays={date(2026, 10, 10): "mon"}
    ),
    "a leave that ends before it starts": lambda: BusinessCalendar(
        weekly=WEEKLY, tz="UTC", leaves=[(AT, AT - timedelta(days=1))]
    ),
    "coverage backwards": lambda: BusinessCalendar(weekly=WEEKLY, tz="UTC", coverage=(2026, 2018)),
    "amount with an exponent": lambda: Money("1e1", "CNY"),
    "amount with underscores": lambda: Money("12_000", "CNY"),
    "amount in Arabic-Indic digits": lambda: Money("١٢", "CNY"),
    "amount with a thousands comma": lambda: Money("1,200.00", "CNY"),
    "crisis window of zero minutes": lambda: CrisisPolicy(window_minutes=0),
    "empty return policy": lambda: ReturnPolicy.model_validate({}),
    "SLA target with a negative time": lambda: SlaTarget(metric="first_reply", minutes=-5),
    "unknown time zone for a calendar": lambda: BusinessCalendar(weekly=WEEKLY, tz="Mars/Base"),
}


@pytest.mark.parametrize("case", sorted(SILENTLY_ACCEPTED))
def test_silently_accepted_input_is_refused(case: str) -> None:
    with pytest.raises(CsdeskError) as caught:
        SILENTLY_ACCEPTED[case]()
    assert caught.value.code
    assert str(caught.value)


def test_config_models_raise_policy_errors_that_name_the_key() -> None:
    with pytest.raises(PolicyError) as caught:
        CrisisPolicy(window_minutes=0)
    assert caught.value.errors[0].loc == "window_minutes"


# -- 6. a rejected assignment keeps nothing -------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("shipping_fee", Money("5.00", "CNY")),
        ("currency", "JPY"),
        ("tax", Money("3.00", "CNY")),
        ("order_discount", Money("1.00", "CNY")),
        ("shipping_fee", Money("5.00", "USD")),
        ("lines", ()),
    ],
)
def test_rejected_assignment_leaves_the_order_as_it_was(field: str, value: object) -> None:
    order = _order()
    before = order.model_dump()
    with pytest.raises(CsdeskError):
        setattr(order, field, value)
    assert order.model_dump() == before
    assert Order.model_validate_json(order.model_dump_json()) == order


# -- 7. money at the edges -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "build",
    [
        lambda: Money("1e26", "CNY"),
        lambda: Money(10**18, "CNY"),
        lambda: Money(Decimal("1E+18"), "CNY"),
        lambda: Money("-1000000000000000000", "CNY"),
        lambda: Money("999999999999999999", "CNY") + Money("1", "CNY"),
        lambda: Money("900000000000000000", "CNY") * 2,
        lambda: Money("1", "CNY") * Decimal("NaN"),
        lambda: Money("1", "CNY") * Decimal("Infinity"),
        lambda: Money("1", "CNY") / Decimal("-Infinity"),
        lambda: Money("1", "CNY") / 0,
        lambda: Money("1", "CNY").ratio(Money("0", "CNY")),
        lambda: Money("100000000000000000", "CNY") + Money("0.000000000001", "CNY"),
        lambda: Money("1.2345678901234567890123456789", "CNY") + Money("1", "CNY"),
        lambda: Money("1", "CNY").quantize("ROUND_NEAREST"),  # type: ignore[arg-type]
    ],
)
def test_money_beyond_its_range_or_precision_is_refused(build: Callable[[], object]) -> None:
    with pytest.raises(CsdeskError):
        build()


def test_the_largest_amount_still_works_everywhere() -> None:
    largest = Money(MAX_AMOUNT - Decimal("0.01"), "CNY")
    assert largest.quantize() == largest
    assert largest.format("zh-CN").startswith("¥999,999,999,999,999,999.99")
    assert (largest - largest).is_zero
    assert -largest < largest


def test_money_errors_are_money_errors() -> None:
    with pytest.raises(InvalidAmountError, match="10\\*\\*18"):
        Money(Decimal("1e30"), "CNY")
    with pytest.raises(InvalidInputError, match="rounding"):
        Money("1", "CNY").quantize("ROUND_NEAREST")  # type: ignore[arg-type]
    with pytest.raises(InvalidAmountError, match="28 significant digits"):
        Money("100000000000000000", "CNY") + Money("0.000000000001", "CNY")


def test_chargeback_within_the_capture_is_recorded() -> None:
    ledger = PaymentLedger.open("P-1", cny("50.00"), at=AT).chargeback(cny("50.00"), at=AT)
    assert ledger.refundable == cny("0.00")
    with pytest.raises(OverRefundError):
        ledger.chargeback(cny("0.01"), at=AT)
    with pytest.raises(LedgerError):
        PaymentLedger.open("P-1", cny("-1.00"), at=AT)


def test_lookups_of_unknown_names_are_csdesk_errors() -> None:
    from csdesk.errors import NotFoundError
    from csdesk.sla import SlaPolicy, sla_report
    from csdesk.workflows import OrderWorkflow, allowed_events

    with pytest.raises(NotFoundError, match="its states are"):
        allowed_events(OrderWorkflow, "nope")
    ticket = Ticket(id="T-1", category="order_problem", customer_id="C-1", created_at=AT)
    policy = SlaPolicy.from_data(
        {
            "id": "s",
            "version": "1",
            "source": "t",
            "as_of": "2026-01-01",
            "targets": {"p3": [{"metric": "first_reply", "minutes": 30}]},
        }
    )
    report = sla_report(ticket, [], policies=[policy], calendar=_calendar(), now=AT)
    with pytest.raises(NotFoundError, match="first_reply #1"):
        report.status("x")


def test_frozen_models_stay_frozen_and_state_writes_are_plain() -> None:
    ledger = PaymentLedger.open("P-1", cny("5.00"), at=AT)
    with pytest.raises(CsdeskError):
        ledger.version = 3  # type: ignore[misc]
    with pytest.raises(CsdeskError):
        ledger.state = "closed"  # type: ignore[misc]
    order = _order()
    order.state = OrderState.PROCESSING
    order.version = 4
    assert (order.state, order.version) == ("processing", 4)
    with pytest.raises(CsdeskError):
        order.version = -1
    with pytest.raises(CsdeskError):
        order.state = 5  # type: ignore[assignment]
    assert (order.state, order.version) == ("processing", 4)
