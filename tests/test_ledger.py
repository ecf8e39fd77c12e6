from datetime import UTC, datetime

import pytest

from csdesk import CurrencyMismatchError, LedgerError, Money, OverRefundError, PaymentLedger

AT = datetime(2026, 3, 1, tzinfo=UTC)


def cny(amount: str) -> Money:
    return Money(amount, "CNY")


def ledger() -> PaymentLedger:
    return PaymentLedger.open("P-1", cny("100.00"), at=AT)


def test_amounts_are_derived_from_entries() -> None:
    book = ledger().reserve("R-1", cny("30.00"), at=AT).reserve("R-2", cny("20.00"), at=AT)
    assert (book.captured, book.pending, book.refundable) == (cny("100"), cny("50"), cny("50"))
    book = book.settle("R-1", succeeded=True, at=AT).settle("R-2", succeeded=False, at=AT)
    assert (book.refunded, book.pending, book.refundable) == (cny("30"), cny("0"), cny("70"))
    assert [e.kind for e in book.entries] == [
        "capture",
        "refund_requested",
        "refund_requested",
        "refund_succeeded",
        "refund_failed",
    ]


def test_reservation_blocks_a_second_refund_of_the_same_money() -> None:
    book = ledger().reserve("R-1", cny("100.00"), at=AT)
    with pytest.raises(OverRefundError) as caught:
        book.reserve("R-2", cny("0.01"), at=AT)
    assert caught.value.refundable == cny("0.00")
    assert "0.00 CNY is refundable" in str(caught.value)


def test_retry_after_failure_and_cancel() -> None:
    book = ledger().reserve("R-1", cny("40"), at=AT).settle("R-1", succeeded=False, at=AT)
    book = book.reserve("R-1", cny("40"), at=AT)
    assert book.open_amount("R-1") == cny("40")
    book = book.release("R-1", at=AT)
    assert book.refundable == cny("100")
    assert book.release("R-1", at=AT) is book


def test_reversal_and_chargeback() -> None:
    book = ledger().reserve("R-1", cny("40"), at=AT).settle("R-1", succeeded=True, at=AT)
    book = book.reverse("R-1", at=AT)
    assert (book.refunded, book.refundable) == (cny("0"), cny("100"))
    book = book.chargeback(cny("25"), at=AT)
    assert book.refundable == cny("75")


def test_rules() -> None:
    with pytest.raises(LedgerError):
        ledger().settle("R-9", succeeded=True, at=AT)
    with pytest.raises(LedgerError):
        ledger().reverse("R-9", at=AT)
    with pytest.raises(LedgerError):
        ledger().reserve("R-1", cny("1"), at=AT).reserve("R-1", cny("1"), at=AT)
    with pytest.raises(LedgerError):
        ledger().reserve("R-1", cny("0"), at=AT)
    with pytest.raises(CurrencyMismatchError):
        ledger().reserve("R-1", Money("1", "USD"), at=AT)
    over = ledger().reserve("R-1", cny("120"), at=AT, allow_over_refund=True)
    assert over.refundable == cny("-20")


def test_a_refund_id_pays_once_and_retries_for_the_same_amount() -> None:
    # Issue 15: a succeeded refund id could reserve and succeed again (60.00 paid twice).
    from csdesk.errors import LedgerError

    at = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    ledger = PaymentLedger.open("P-1", Money("100.00", "CNY"), at=at)
    ledger = ledger.reserve("R-1", Money("60.00", "CNY"), at=at).settle(
        "R-1", succeeded=True, at=at
    )
    with pytest.raises(LedgerError, match="already paid"):
        ledger.reserve("R-1", Money("60.00", "CNY"), at=at)
    failed = PaymentLedger.open("P-2", Money("100.00", "CNY"), at=at)
    failed = failed.reserve("R-2", Money("30.00", "CNY"), at=at).settle(
        "R-2", succeeded=False, at=at
    )
    with pytest.raises(LedgerError, match="same amount"):
        failed.reserve("R-2", Money("40.00", "CNY"), at=at)
    assert failed.reserve("R-2", Money("30.00", "CNY"), at=at).pending == Money("30.00", "CNY")
