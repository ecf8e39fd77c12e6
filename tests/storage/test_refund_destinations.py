"""Refunds to store credit, a gift card or another method, only with the customer's consent.

Issue 18 item 2: money could go back only to the tender it came from. It may now go elsewhere,
but only with the customer's recorded consent (CRD art. 13(1): "the same means of payment ...
unless the consumer has expressly agreed otherwise"; CN 原路退回 by default); the refund and the
tender's ledger record the destination and the evidence, store credit arrives at once, and the
refund breakdown says where the money goes. On SQLite, PostgreSQL and MariaDB (`db_url`).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from csdesk import (
    Consent,
    IdempotencyConflictError,
    InvalidInputError,
    NotFoundError,
    Refund,
    RefundDestination,
    TransitionRejectedError,
)
from csdesk.policies import estimate_arrival
from csdesk.policies.refunds import RefundQuote
from csdesk.refund_desk import RefundDesk
from csdesk.replies import builtin_templates, render
from tests.storage.test_refund_desk import AT, CN, STAFF, cny, store_with_order

CUSTOMER = "C-1"


def consent(**changes: object) -> Consent:
    data: dict[str, object] = {
        "customer_id": CUSTOMER,
        "destination": "store_credit",
        "given_at": AT - timedelta(minutes=5),
        "channel": "chat",
        "evidence": "chat message 88412: 可以，退到余额吧",
    }
    return Consent.model_validate(data | changes)


def ask(desk: RefundDesk, key: str, **options: Any) -> tuple[RefundQuote, list[Refund]]:
    return desk.request("SO-1", idempotency_key=key, lines={"1": 1}, reason="no_reason",
                        policy=CN, actor=STAFF, now=AT, **options)  # fmt: skip


def test_store_credit_needs_the_customers_recorded_consent(db_url: str) -> None:
    desk = RefundDesk(store_with_order(db_url))
    with pytest.raises(TransitionRejectedError, match=r"needs the customer's recorded consent.*"
                       r"CRD art\. 13\(1\)"):  # fmt: skip
        ask(desk, "k1", destination="store_credit")
    wrong = [
        (consent(customer_id="C-2"), "not the order's customer"),
        (consent(given_at=AT + timedelta(minutes=1)), "after"),
        (consent(destination="gift_card"), "not store_credit"),
    ]
    for given, why in wrong:
        with pytest.raises(TransitionRejectedError, match=why):
            ask(desk, "k1", destination="store_credit", consent=given)
    with pytest.raises(TransitionRejectedError, match="needs no consent"):
        ask(desk, "k1", consent=consent())
    assert desk.refunds("SO-1") == []  # nothing was written by the refusals
    with pytest.raises(NotFoundError):
        desk.ledger("SO-1", "P-1")  # not even the tender's ledger


def test_a_consented_refund_records_where_the_money_goes(db_url: str) -> None:
    desk = RefundDesk(store_with_order(db_url))
    agreed = consent()
    quote, (refund,) = ask(desk, "k1", destination="store_credit", consent=agreed)
    assert refund.destination is RefundDestination.STORE_CREDIT
    assert refund.consent == agreed
    stored = desk.refunds("SO-1")[0]
    assert (stored.destination, stored.consent) == (RefundDestination.STORE_CREDIT, agreed)
    entry = desk.ledger("SO-1", "P-1").entries[-1]
    assert (entry.kind.value, entry.destination, entry.consent) == (
        "refund_requested",
        "store_credit",
        agreed.evidence,
    )
    # The same key with another destination is another request.
    with pytest.raises(IdempotencyConflictError):
        ask(desk, "k1")
    again, _ = ask(desk, "k1", destination="store_credit", consent=agreed)
    assert again == quote
    # Store credit is the shop's own balance: it is there when the refund succeeds.
    arrives = estimate_arrival(refund.arrival_method("alipay"), AT, zone="Asia/Shanghai")
    assert arrives.earliest == arrives.latest == date(2026, 3, 1)
    plain = estimate_arrival("alipay", AT, zone="Asia/Shanghai")
    assert plain.latest > date(2026, 3, 1)


def test_another_method_names_it() -> None:
    with pytest.raises(InvalidInputError, match="method"):
        consent(destination="other_method")
    with pytest.raises(InvalidInputError, match="no consent is needed"):
        consent(destination="original")
    bank = consent(destination="other_method", method="bank_transfer")
    assert bank.method == "bank_transfer"


@pytest.mark.parametrize(
    ("locale", "words"),
    [("zh-CN", "经您同意退至店铺余额，即时到账"), ("zh-TW", "經您同意退至店鋪餘額，即時到帳"),
     ("en", "as store credit, as you agreed: available at once")],
)  # fmt: skip
def test_the_refund_breakdown_says_where_the_money_goes(locale: str, words: str) -> None:
    template = builtin_templates()["refund_breakdown"]
    context = {"order_id": "SO-1", "item": cny("100.00"), "discount": cny("0.00"),
               "shipping": cny("0.00"), "coupon": cny("0.00"), "total": cny("100.00"),
               "tenders": ["¥100.00"], "arrives_by": date(2026, 3, 1)}  # fmt: skip
    now = datetime(2026, 3, 1, tzinfo=UTC)
    agreed = render(template, context | {"destination": "store_credit"}, locale=locale, now=now)
    assert words in agreed.text
    assert words not in render(template, context, locale=locale, now=now).text
