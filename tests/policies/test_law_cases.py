"""Dated statutory cases: each row is a delivery, the law's last day, and the rule that says so.

Issue 17: the EU last day never rolled over (Regulation 1182/71 art. 3(4)); the CN roll-over
followed whatever calendar the caller passed (none, a weekday one, the shop's opening hours)
instead of China's statutory rest days. The table is the law's answer, worked by hand from the
rule and the official holiday notices; the properties below check every day from 2018 to 2026.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csdesk import Customer, LineDraft, Money, Payment
from csdesk.calendars.statutory import RestDays, china_rest_days, public_holidays
from csdesk.models import Order
from csdesk.policies import return_policy, return_window
from csdesk.policies.refunds import Refunded, RefundQuote, quote_refund, refund_policy
from csdesk.policies.returns import window_end
from tests.factories import new_order

CN_203 = "Civil Code art. 203; State Council holiday notice 2026"
EU_1182 = "Regulation 1182/71 arts. 3(1), 3(4); CRD art. 9(2)(b)"
UK_30 = "Consumer Contracts Regulations 2013 reg. 30 (no roll-over)"
PLATFORM = "Taobao 168 hours from 00:00 after sign-off (no roll-over)"

# (preset, zone, country, subdivision, delivered on, the law's last day, why, rule)
CASES = [
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-03-03",
        "2026-03-10",
        "a Tuesday",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-03-01",
        "2026-03-09",
        "Sunday 03-08",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-03-07",
        "2026-03-16",
        "Saturday 03-14",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-09-24",
        "2026-10-08",
        "National Day",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-09-18",
        "2026-09-28",
        "Mid-Autumn 09-25..27",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-09-13",
        "2026-09-20",
        "make-up Sunday: worked",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-10-03",
        "2026-10-10",
        "make-up Saturday: worked",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-04-24",
        "2026-05-06",
        "Labour Day 05-01..05",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-05-02",
        "2026-05-09",
        "make-up Saturday 05-09",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-02-07",
        "2026-02-14",
        "make-up Saturday 02-14",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-02-08",
        "2026-02-24",
        "Spring Festival 02-15..23",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-03-28",
        "2026-04-07",
        "Qingming 04-04..06",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2026-06-12",
        "2026-06-22",
        "Dragon Boat 06-19..21",
        CN_203,
    ),
    (
        "cn_consumer_law",
        "Asia/Shanghai",
        None,
        None,
        "2025-12-25",
        "2026-01-04",
        "New Year 01-01..03; make-up Sun 01-04",
        CN_203,
    ),
    ("cn_platform", "Asia/Shanghai", None, None, "2026-09-24", "2026-10-01", "168 hours", PLATFORM),
    ("eu_crd", "Europe/Berlin", "DE", "BE", "2026-03-07", "2026-03-23", "Saturday 03-21", EU_1182),
    (
        "eu_crd",
        "Europe/Berlin",
        "DE",
        "BE",
        "2026-03-20",
        "2026-04-07",
        "Good Friday, Easter",
        EU_1182,
    ),
    ("eu_crd", "Europe/Berlin", "DE", "BE", "2026-03-02", "2026-03-16", "a Monday", EU_1182),
    ("eu_crd", "Europe/Berlin", "DE", "BE", "2026-04-30", "2026-05-15", "Ascension 05-14", EU_1182),
    (
        "eu_crd",
        "Europe/Berlin",
        "DE",
        "BE",
        "2026-05-11",
        "2026-05-26",
        "Whit Monday 05-25",
        EU_1182,
    ),
    (
        "eu_crd",
        "Europe/Berlin",
        "DE",
        "BE",
        "2026-05-21",
        "2026-06-04",
        "Corpus Christi: not in Berlin",
        EU_1182,
    ),
    (
        "eu_crd",
        "Europe/Berlin",
        "DE",
        "BY",
        "2026-05-21",
        "2026-06-05",
        "Corpus Christi in Bavaria",
        EU_1182,
    ),
    (
        "eu_crd",
        "Europe/Berlin",
        "DE",
        "BE",
        "2026-09-19",
        "2026-10-05",
        "Unity Day Sat 10-03",
        EU_1182,
    ),
    (
        "eu_crd",
        "Europe/Berlin",
        "DE",
        "BE",
        "2026-12-11",
        "2026-12-28",
        "Christmas 12-25, 26, Sunday",
        EU_1182,
    ),
    ("eu_crd", "Europe/Paris", "FR", None, "2026-04-30", "2026-05-15", "Ascension 05-14", EU_1182),
    (
        "eu_crd",
        "Europe/Paris",
        "FR",
        None,
        "2026-04-24",
        "2026-05-11",
        "Victoire 1945, Fri 05-08",
        EU_1182,
    ),
    (
        "eu_crd",
        "Europe/Paris",
        "FR",
        None,
        "2026-06-30",
        "2026-07-15",
        "Bastille Day 07-14",
        EU_1182,
    ),
    ("eu_crd", "Europe/Paris", "FR", None, "2026-10-28", "2026-11-12", "Armistice 11-11", EU_1182),
    (
        "eu_crd",
        "Europe/Paris",
        "FR",
        None,
        "2026-08-01",
        "2026-08-17",
        "Assumption Sat 08-15",
        EU_1182,
    ),
    ("eu_crd", "Europe/Paris", "FR", None, "2026-03-02", "2026-03-16", "a Monday", EU_1182),
    (
        "uk_ccr",
        "Europe/London",
        None,
        None,
        "2026-03-07",
        "2026-03-21",
        "a Saturday: no roll",
        UK_30,
    ),
    (
        "uk_ccr",
        "Europe/London",
        None,
        None,
        "2026-03-20",
        "2026-04-03",
        "Good Friday: no roll",
        UK_30,
    ),
]


@pytest.mark.parametrize(
    ("preset", "zone", "country", "subdivision", "delivered", "last_day", "why", "rule"),
    CASES,
    ids=[f"{c[0]}-{c[2] or ''}{c[3] or ''}-{c[4]}" for c in CASES],
)
def test_the_last_day_the_law_gives(
    preset: str,
    zone: str,
    country: str | None,
    subdivision: str | None,
    delivered: str,
    last_day: str,
    why: str,
    rule: str,
) -> None:
    tz = ZoneInfo(zone)
    order = new_order()
    order.signed_at = datetime.combine(date.fromisoformat(delivered), datetime.min.time(), tz) + (
        timedelta(hours=16)
    )
    window = return_window(order, "1", policy=return_policy(preset), now=order.signed_at,
                           zone=zone, country=country, subdivision=subdivision)  # fmt: skip
    assert window.last_day == date.fromisoformat(last_day), f"{why} ({rule})"
    assert window.ends_at == datetime.combine(window.last_day + timedelta(days=1),
                                              datetime.min.time(), tz)  # fmt: skip
    plain = date.fromisoformat(delivered) + timedelta(days=return_policy(preset).days)
    if window.last_day != plain:
        assert window.rolled_over is not None
        assert str(plain) in window.rolled_over
        assert any(s.code == "returns.rolled_over" for s in window.trace)
    else:
        assert window.rolled_over is None


DAYS = st.dates(min_value=date(2018, 1, 1), max_value=date(2026, 12, 10))


@settings(max_examples=300, deadline=None)
@given(delivered=DAYS)
def test_a_cn_last_day_is_never_a_statutory_rest_day(delivered: date) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    signed = datetime.combine(delivered, datetime.min.time(), shanghai) + timedelta(hours=12)
    end = window_end(signed, return_policy("cn_consumer_law"), zone=shanghai)
    last = end.date() - timedelta(days=1)
    assert not china_rest_days().is_rest_day(last)
    assert last >= delivered + timedelta(days=7)


@settings(max_examples=300, deadline=None)
@given(delivered=DAYS, where=st.sampled_from([("DE", "BE"), ("DE", "BY"), ("FR", None)]))
def test_an_eu_last_day_is_never_a_weekend_or_public_holiday(
    delivered: date, where: tuple[str, str | None]
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    signed = datetime.combine(delivered, datetime.min.time(), berlin) + timedelta(hours=12)
    end = window_end(signed, return_policy("eu_crd"), zone=berlin, country=where[0],
                     subdivision=where[1])  # fmt: skip
    last = end.date() - timedelta(days=1)
    assert last.weekday() < 5
    assert not public_holidays(*where).is_rest_day(last)
    assert last >= delivered + timedelta(days=14)


@settings(max_examples=300, deadline=None)
@given(delivered=DAYS, extra=DAYS)
def test_a_new_holiday_never_shrinks_a_window(delivered: date, extra: date) -> None:
    shanghai = ZoneInfo("Asia/Shanghai")
    base = china_rest_days()
    declared = RestDays(
        name="China, with one more holiday",
        source="a holiday declared at short notice",
        _reason=lambda day: "declared holiday" if day == extra else base.rest_reason(day),
    )
    signed = datetime.combine(delivered, datetime.min.time(), shanghai) + timedelta(hours=12)
    policy = return_policy("cn_consumer_law")
    before = window_end(signed, policy, zone=shanghai)
    after = window_end(signed, policy, zone=shanghai, rest_calendar=declared)
    assert after >= before


# -- statutory timers: which event starts them, and the end of the N-th day ----------------------

BRUSSELS, LONDON, SHANGHAI = (ZoneInfo(z) for z in ("Europe/Brussels", "Europe/London",
                                                    "Asia/Shanghai"))  # fmt: skip

# (preset, timer, events on the case, due at, rule)
SHANGHAI = ZoneInfo("Asia/Shanghai")
TAOBAO_RECENT = "Taobao recent rules (chinashoppingguide.com, read 2026-08-21)"

TIMER_CASES = [
    (
        "cn_platform", "respond_by",
        {"type": "refund_only", "shipped_before": False,
         "requested_at": datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)},
        datetime(2026, 3, 3, 10, tzinfo=SHANGHAI),
        f"{TAOBAO_RECENT}: a refund before shipment is answered within 24 hours",
    ),
    (
        "cn_platform", "respond_by",
        {"type": "refund_only", "shipped_before": True,
         "requested_at": datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)},
        datetime(2026, 3, 3, 22, tzinfo=SHANGHAI),
        f"{TAOBAO_RECENT}: a refund only after shipment, 36 hours",
    ),
    (
        "cn_platform", "respond_by",
        {"type": "return_and_refund", "shipped_before": True,
         "requested_at": datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)},
        datetime(2026, 3, 7, 10, tzinfo=SHANGHAI),
        f"{TAOBAO_RECENT}: a return and refund, 5 days",
    ),
    (
        "cn_platform", "ship_back_by",
        {"requested_at": datetime(2026, 3, 2, 10, tzinfo=SHANGHAI), "state": "awaiting_return",
         "approved_at": datetime(2026, 3, 3, 9, tzinfo=SHANGHAI)},
        datetime(2026, 3, 10, 9, tzinfo=SHANGHAI),
        "Taobao (izhixiu.com, read 2026-08-21): the buyer ships back within 7 days of approval",
    ),
    (
        "cn_platform", "receive_by",
        {"requested_at": datetime(2026, 3, 2, 10, tzinfo=SHANGHAI), "state": "return_in_transit",
         "approved_at": datetime(2026, 3, 3, 9, tzinfo=SHANGHAI),
         "return_shipped_at": datetime(2026, 3, 4, 18, tzinfo=SHANGHAI)},
        datetime(2026, 3, 14, 18, tzinfo=SHANGHAI),
        "Taobao (izhixiu.com, read 2026-08-21): the seller confirms an express return in 10 days",
    ),
    (
        "eu_crd", "refund_by",
        {"requested_at": datetime(2026, 3, 2, 10, tzinfo=BRUSSELS),
         "return_shipped_at": datetime(2026, 3, 4, 9, tzinfo=BRUSSELS), "state": "received",
         "received_at": datetime(2026, 3, 6, 9, tzinfo=BRUSSELS)},
        datetime(2026, 3, 17, tzinfo=BRUSSELS),
        "CRD art. 13(1): 14 days from the notice (03-02), not from the proof (03-04)",
    ),
    (
        "eu_crd", "refund_by",
        {"requested_at": datetime(2026, 3, 2, 10, tzinfo=BRUSSELS), "state": "received",
         "received_at": datetime(2026, 3, 20, 11, tzinfo=BRUSSELS)},
        datetime(2026, 3, 20, 11, tzinfo=BRUSSELS),
        "CRD art. 13(3): withheld until the goods came back, after day 14",
    ),
    (
        "eu_crd", "refund_by",
        {"requested_at": datetime(2026, 3, 20, 10, tzinfo=BRUSSELS), "state": "received",
         "received_at": datetime(2026, 3, 24, 9, tzinfo=BRUSSELS)},
        datetime(2026, 4, 4, tzinfo=BRUSSELS),
        "end of the 14th day across the DST change of 03-29 (not 14 x 24 h)",
    ),
    (
        "eu_crd", "ship_back_by",
        {"requested_at": datetime(2026, 3, 2, 16, tzinfo=BRUSSELS), "state": "awaiting_return",
         "approved_at": datetime(2026, 3, 6, 16, tzinfo=BRUSSELS)},
        datetime(2026, 3, 17, tzinfo=BRUSSELS),
        "CRD art. 14(1): 14 days from the notice, not from the shop's approval (03-06)",
    ),
    (
        "uk_ccr", "ship_back_by",
        {"requested_at": datetime(2026, 3, 2, 16, tzinfo=LONDON), "state": "awaiting_return",
         "approved_at": datetime(2026, 3, 6, 16, tzinfo=LONDON)},
        datetime(2026, 3, 17, tzinfo=LONDON),
        "CCR reg. 35(4): 14 days after the day the consumer informs the trader",
    ),
    (
        "uk_ccr", "refund_by",
        {"requested_at": datetime(2026, 3, 2, 16, tzinfo=LONDON), "state": "received",
         "return_shipped_at": datetime(2026, 3, 4, 9, tzinfo=LONDON),
         "received_at": datetime(2026, 3, 6, 9, tzinfo=LONDON)},
        datetime(2026, 3, 19, tzinfo=LONDON),
        "CCR reg. 34(6): 14 days after the evidence of sending (03-04), the earlier event",
    ),
    (
        "cn_platform", "refund_by",
        {"requested_at": datetime(2026, 3, 2, 16, tzinfo=SHANGHAI), "state": "received",
         "return_shipped_at": datetime(2026, 3, 3, 9, tzinfo=SHANGHAI),
         "received_at": datetime(2026, 3, 5, 15, tzinfo=SHANGHAI)},
        datetime(2026, 3, 13, tzinfo=SHANGHAI),
        "CPL art. 25: 7 days from receipt of the returned goods (03-05), not their shipment",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("preset", "kind", "events", "due", "rule"),
    TIMER_CASES,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(TIMER_CASES)],
)
def test_statutory_timers_start_on_the_right_event(
    preset: str, kind: str, events: dict[str, object], due: datetime, rule: str
) -> None:
    from csdesk.policies import timer_preset
    from csdesk.workflows.timers import deadlines
    from tests.factories import new_case

    case = new_case().model_copy(update=events)
    (deadline,) = [d for d in deadlines(case, timer_preset(preset)) if d.kind == kind]
    assert deadline.active
    assert deadline.due_at == due, rule


def test_the_uk_short_term_right_to_reject() -> None:
    """CRA 2015 s.22(3): 30 days; s.20: a full refund, the delivery costs included, no fees."""
    from csdesk.policies import Refunded, RefundPolicy, quote_refund
    from tests.factories import paid_order

    london = ZoneInfo("Europe/London")
    order = paid_order()
    order.signed_at = datetime(2026, 3, 2, 16, tzinfo=london)
    window = return_window(order, "1", policy=return_policy("uk_cra_reject"),
                           now=datetime(2026, 4, 1, 23, 59, tzinfo=london))  # fmt: skip
    assert (window.last_day, window.is_open) == (date(2026, 4, 1), True)
    assert window.basis == "uk_short_term_reject"
    shop = RefundPolicy.from_data(
        {"id": "shop", "version": "1", "source": "terms", "as_of": "2026-01-01",
         "shipping": "none", "restocking_fee_percent": 15}
    )  # fmt: skip
    every = {line.id: line.quantity for line in order.lines}
    quote = quote_refund(order, lines=every, reason="no_reason", policy=shop, now=window.decided_at,
                         basis="uk_short_term_reject", refunded=Refunded.of(order))  # fmt: skip
    assert quote.restocking_fee.is_zero
    assert quote.shipping == order.shipping_fee  # the shop's "no shipping back" does not apply
    assert quote.goods + quote.shipping == order.captured


def test_a_premium_delivery_refunds_only_the_standard_one() -> None:
    """CRD art. 13(2): 109.90 paid with a premium delivery; the cheapest standard was 4.90."""
    from csdesk import Customer, LineDraft, Money, Payment
    from csdesk.models import Order
    from csdesk.policies import Refunded, quote_refund, refund_policy

    berlin = ZoneInfo("Europe/Berlin")
    at = datetime(2026, 3, 2, 10, tzinfo=berlin)
    order = Order.place(
        id="SO-EU", customer=Customer(id="C-1"), placed_at=at,
        lines=[LineDraft(sku="K", name="kettle", quantity=1, unit_price=Money("99.90", "EUR"))],
        shipping_fee=Money("10.00", "EUR"), standard_shipping_fee=Money("5.00", "EUR"),
    )  # fmt: skip
    order.payments = (Payment(id="P-1", method="card", captured=order.total, captured_at=at),)
    assert order.total == Money("109.90", "EUR")
    eu = refund_policy("eu_default")
    withdrawal = quote_refund(order, lines={"1": 1}, reason="no_reason", basis="eu_withdrawal",
                              policy=eu, now=at, refunded=Refunded.of(order))  # fmt: skip
    assert withdrawal.total == Money("104.90", "EUR")
    assert any(s.code == "refund.premium_delivery" for s in withdrawal.trace)
    faulty = quote_refund(order, lines={"1": 1}, reason="faulty", policy=eu, now=at,
                          refunded=Refunded.of(order))  # fmt: skip
    assert faulty.total == Money("109.90", "EUR")  # the shop's fault: every cost comes back


# -- refund arithmetic (issue 17 items 5 and 6) -----------------------------------------------


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def usd(amount: str) -> Money:
    return Money(amount, "USD")


def _paid(order: Order) -> Order:
    order.payments = (
        Payment(id="P-1", method="card", captured=order.total, captured_at=order.placed_at),
    )
    return order


def _placed(currency: str, lines: list[tuple[str, int]], **options: Any) -> Order:
    """A paid order of ``lines`` (unit price, quantity), one card payment of its total."""
    at = datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    drafts = [
        LineDraft(sku=f"K{i}", name=f"item {i}", quantity=qty, unit_price=Money(price, currency))
        for i, (price, qty) in enumerate(lines, start=1)
    ]
    return _paid(
        Order.place(id="SO-T", customer=Customer(id="C-1"), placed_at=at, lines=drafts, **options)
    )


def _quote(
    order: Order,
    lines: dict[str, int],
    policy: str,
    done: Refunded | None = None,
    *,
    reason: str,
    basis: str = "none",
) -> RefundQuote:
    return quote_refund(
        order,
        lines=lines,
        reason=reason,
        basis=basis,
        policy=refund_policy(policy),
        now=datetime(2026, 3, 9, 10, tzinfo=ZoneInfo("UTC")),
        refunded=done if done is not None else Refunded.of(order),
    )


def test_tax_on_shipping_stays_with_shipping() -> None:
    """Tax-exclusive lines 100 + 100, shipping 10, 8 % tax (16.80): the tax follows what it is on.

    Line A back without its shipping: 100 + 8 % = 108.00 (the shipping's 0.80 tax stays with the
    shipping the shop keeps; csdesk said 108.40). A full return that keeps the shipping keeps its
    tax: 216.00, not 216.80. Refunded with the shipping (the shop's fault), every cent: 226.80.
    """
    order = _placed("USD", [("100.00", 1), ("100.00", 1)], shipping_fee=usd("10.00"),
                    tax=usd("16.80"), tax_included=False, tax_percent="8")  # fmt: skip
    assert order.total == usd("226.80")
    assert order.shipping_tax == usd("0.80")
    one = _quote(order, {"1": 1}, "generic", reason="no_reason")
    assert one.total == usd("108.00")
    both = _quote(order, {"1": 1, "2": 1}, "cn_default", reason="no_reason")
    assert (both.shipping, both.total) == (usd("0.00"), usd("216.00"))
    fault = _quote(order, {"1": 1, "2": 1}, "cn_default", reason="faulty")
    assert (fault.shipping, fault.shipping_tax) == (usd("10.00"), usd("0.80"))
    assert fault.total == order.total


def test_tax_inclusive_refunds_report_the_vat_they_contain_per_rate() -> None:
    """EU, prices with 19 % VAT: 2 × 59.50 and shipping 4.90; one unit back without shipping
    reports 59.50 × 19/119 = 9.50 VAT (csdesk reported 9.89: the line's tax held the
    shipping's). Lines at 19 % and 7 % report one tax line per rate (a credit note's)."""
    order = _placed("EUR", [("59.50", 2)], shipping_fee=eur("4.90"), tax_percent="19")
    assert order.tax == eur("19.78")  # 19.00 + 0.78
    one = _quote(order, {"1": 1}, "eu_default", reason="no_reason", basis="eu_withdrawal")
    assert one.total == eur("59.50")
    assert [(t.percent, t.net, t.tax) for t in one.taxes] == [
        (Decimal("19"), eur("50.00"), eur("9.50"))
    ]
    mixed = Order.place(
        id="SO-M", customer=Customer(id="C-1"),
        placed_at=datetime(2026, 3, 2, 10, tzinfo=ZoneInfo("Europe/Berlin")),
        lines=[LineDraft(sku="B", name="book", quantity=1, unit_price=eur("21.40"),
                         tax_percent=Decimal("7")),
               LineDraft(sku="L", name="lamp", quantity=1, unit_price=eur("119.00"))],
        tax_percent="19", shipping_fee=eur("5.95"),
    )  # fmt: skip
    assert mixed.tax == eur("1.40") + eur("19.00") + eur("0.95")
    _paid(mixed)
    everything = _quote(mixed, {"1": 1, "2": 1}, "eu_default", reason="no_reason",
                        basis="eu_withdrawal")  # fmt: skip
    assert [(t.percent, t.net, t.tax) for t in everything.taxes] == [
        (Decimal("7"), eur("20.00"), eur("1.40")),
        (Decimal("19"), eur("105.00"), eur("19.95")),  # the lamp and the shipping
    ]


def test_a_return_below_a_full_reduction_threshold_settles_the_rest_at_its_price() -> None:
    """CN Interim Measures art. 17(2): "300 off 50" on 200 + 150 (paid 300). The 150 item back
    leaves 200, below 300: the kept item is settled at 200, so 100.00 comes back (csdesk gave
    the 150 item's discounted 128.57). The kept item back later: 200.00; 300.00 in all."""
    order = _placed("CNY", [("200.00", 1), ("150.00", 1)], order_discount=cny("50.00"),
                    discount_threshold=cny("300.00"))  # fmt: skip
    first = _quote(order, {"2": 1}, "cn_default", reason="no_reason", basis="cn_7day")
    assert first.total == cny("100.00")
    assert first.discount_lost == cny("28.57")
    assert any(s.code == "refund.discount_lost" for s in first.trace)
    after = Refunded.of(order).after(first)
    second = _quote(order, {"1": 1}, "cn_default", after, reason="no_reason", basis="cn_7day")
    assert second.total == cny("200.00")
    assert first.total + second.total == order.total
    kept = _quote(order, {"2": 1}, "generic", reason="no_reason")  # a shop that keeps it
    assert kept.total == cny("128.57")


def test_a_return_below_a_free_shipping_threshold_may_deduct_the_waived_shipping() -> None:
    """Art. 18(2): free shipping from 99 (it would have cost 10); 60 + 50 paid, the 50 item back
    leaves 60: 10.00 deducted once (40.00 back). Not when the shop is at fault."""
    order = _placed("CNY", [("60.00", 1), ("50.00", 1)], free_shipping_threshold=cny("99.00"),
                    waived_shipping=cny("10.00"))  # fmt: skip
    first = _quote(order, {"2": 1}, "cn_default", reason="no_reason", basis="cn_7day")
    assert (first.waived_shipping, first.total) == (cny("10.00"), cny("40.00"))
    after = Refunded.of(order).after(first)
    second = _quote(order, {"1": 1}, "cn_default", after, reason="no_reason", basis="cn_7day")
    assert (second.waived_shipping, second.total) == (cny("0.00"), cny("60.00"))
    fault = _quote(order, {"2": 1}, "cn_default", reason="faulty", basis="cn_nonconforming")
    assert fault.total == cny("50.00")


def test_canceled_units_are_counted_once() -> None:
    """A line of 3 with 1 canceled before shipping: the other 2 can be refunded (csdesk counted
    the cancellation twice and refused the second unit)."""
    from tests.factories import paid_order

    order = paid_order("SO-C").model_copy(update={"canceled_units": {"2": 1}})
    both = _quote(order, {"2": 2}, "cn_default", reason="no_reason", basis="cn_7day")
    assert both.units == {"2": 2}


def test_a_platform_may_count_168_hours_from_the_sign_off_itself() -> None:
    """Taobao counts 168 hours from 00:00 on the day after sign-off (the preset's choice, with
    its source); ``counts_from = "anchor"`` is the other reading: 168 hours from the sign-off's
    own instant. Signed Tue 2026-03-03 15:00 in Shanghai: 03-11 00:00 against 03-10 15:00."""
    from csdesk.errors import PolicyError
    from csdesk.policies.returns import ReturnPolicy

    policy = return_policy("cn_platform")
    assert policy.counts_from == "next_day"
    signed = datetime(2026, 3, 3, 15, tzinfo=SHANGHAI)
    assert window_end(signed, policy, zone=SHANGHAI) == datetime(2026, 3, 11, tzinfo=SHANGHAI)
    hours = policy.model_copy(update={"counts_from": "anchor"})
    assert window_end(signed, hours, zone=SHANGHAI) == datetime(2026, 3, 10, 15, tzinfo=SHANGHAI)
    order = new_order().model_copy(update={"signed_at": signed})
    window = return_window(order, "1", policy=hours, now=signed + timedelta(hours=167))
    assert (window.status.value, window.starts_at, window.last_day) == (
        "open",
        signed,
        date(2026, 3, 10),
    )
    data = policy.model_dump(mode="json") | {"counts_from": "anchor", "roll_over": "cn_statutory"}
    with pytest.raises(PolicyError, match="counts_from"):
        ReturnPolicy.from_data(data, source="test")
