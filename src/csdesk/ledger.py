"""The payment ledger: an append-only list of money events per tender, and what follows from it.

Captured, refunded, pending and refundable amounts are never stored; they are derived from the
entries, the way Saleor derives them from its transaction events. A requested refund reserves its
amount until it succeeds, fails or is canceled, so two refunds can never both spend the same money.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk import Money
    >>> at = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    >>> ledger = PaymentLedger.open("P-1", Money("1224.97", "CNY"), at=at)
    >>> ledger = ledger.reserve("R-1", Money("489.99", "CNY"), at=at)
    >>> ledger.refundable, ledger.pending
    (Money('734.98', 'CNY'), Money('489.99', 'CNY'))
    >>> ledger = ledger.settle("R-1", succeeded=True, at=at)
    >>> ledger.refunded, ledger.refundable
    (Money('489.99', 'CNY'), Money('734.98', 'CNY'))
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, Field, Strict

from csdesk._checks import checked
from csdesk._model import CsdeskModel
from csdesk.errors import CurrencyMismatchError, LedgerError, OverRefundError
from csdesk.money import Money

__all__ = ["LedgerEntry", "LedgerEntryKind", "PaymentLedger"]


class LedgerEntryKind(StrEnum):
    """What happened to the money of one tender."""

    CAPTURE = "capture"
    REFUND_REQUESTED = "refund_requested"
    REFUND_SUCCEEDED = "refund_succeeded"
    REFUND_FAILED = "refund_failed"
    REFUND_CANCELED = "refund_canceled"
    REFUND_REVERSED = "refund_reversed"
    CHARGEBACK = "chargeback"


_RELEASES = {
    LedgerEntryKind.REFUND_SUCCEEDED,
    LedgerEntryKind.REFUND_FAILED,
    LedgerEntryKind.REFUND_CANCELED,
}


class LedgerEntry(CsdeskModel):
    """One money event; amounts are positive, the kind gives the direction.

    Attributes:
        destination: On a requested refund, where its money goes when not back to this tender
            (``store_credit``, ``gift_card``, ``other_method:<method>``).
        consent: The evidence of the customer's consent to that destination.
    """

    kind: LedgerEntryKind
    amount: Money
    at: AwareDatetime
    refund_id: str | None = None
    reference: str | None = None
    destination: str | None = None
    consent: str | None = None


class PaymentLedger(CsdeskModel):
    """The money history of one tender. Immutable: every change returns a new ledger.

    Attributes:
        payment_id: The tender (`csdesk.models.Payment.id`).
        order_id: The order the tender paid for, when the ledger is kept per order.
        currency: The tender's currency; every entry is in it.
        entries: The money events, oldest first.
        version: One more per appended entry batch, for compare-and-swap persistence.
    """

    id: str = Field(min_length=1)
    payment_id: str = Field(min_length=1)
    order_id: str | None = None
    currency: str
    entries: tuple[LedgerEntry, ...] = ()
    version: Annotated[int, Strict(), Field(ge=0)] = 0
    state: str = "open"

    @classmethod
    @checked
    def open(
        cls,
        payment_id: str,
        captured: Money,
        *,
        at: datetime,
        reference: str | None = None,
        order_id: str | None = None,
    ) -> PaymentLedger:
        """A ledger for a tender that captured ``captured``.

        With ``order_id`` the ledger is the one of that order's tender (its id
        ``<order_id>/<payment_id>``): two orders whose payments share an id never share money.

        Raises:
            LedgerError: ``captured`` is not a positive whole number of minor units.
        """
        if not captured.is_quantized or captured <= Money.zero(captured.currency):
            raise LedgerError(
                f"a capture is a positive whole number of minor units, got {captured}"
            )
        capture = LedgerEntry(
            kind=LedgerEntryKind.CAPTURE, amount=captured, at=at, reference=reference
        )
        return cls(
            id=f"{order_id}/{payment_id}" if order_id else payment_id,
            payment_id=payment_id,
            order_id=order_id,
            currency=captured.currency,
            entries=(capture,),
        )

    def _sum(self, *kinds: LedgerEntryKind) -> Money:
        total = Money.zero(self.currency)
        for entry in self.entries:
            if entry.kind in kinds:
                total = total + entry.amount
        return total

    @property
    def captured(self) -> Money:
        """Everything captured on this tender."""
        return self._sum(LedgerEntryKind.CAPTURE)

    @property
    def refunded(self) -> Money:
        """Refunds that succeeded, less those the provider reversed."""
        return self._sum(LedgerEntryKind.REFUND_SUCCEEDED) - self._sum(
            LedgerEntryKind.REFUND_REVERSED
        )

    @property
    def charged_back(self) -> Money:
        """Money the customer took back through a chargeback."""
        return self._sum(LedgerEntryKind.CHARGEBACK)

    @property
    def pending(self) -> Money:
        """Money reserved by refunds requested and not yet succeeded, failed or canceled."""
        return self._sum(LedgerEntryKind.REFUND_REQUESTED) - self._sum(*_RELEASES)

    @property
    def refundable(self) -> Money:
        """What can still be refunded: captured − refunded − pending − charged back."""
        return self.captured - self.refunded - self.pending - self.charged_back

    @checked
    def open_amount(self, refund_id: str) -> Money:
        """The amount a refund currently reserves (zero when none)."""
        total = Money.zero(self.currency)
        for entry in self.entries:
            if entry.refund_id == refund_id:
                if entry.kind is LedgerEntryKind.REFUND_REQUESTED:
                    total = total + entry.amount
                elif entry.kind in _RELEASES:
                    total = total - entry.amount
        return total

    @checked
    def refunded_by(self, refund_id: str) -> Money:
        """What one refund has paid out and not had reversed."""
        total = Money.zero(self.currency)
        for entry in self.entries:
            if entry.refund_id == refund_id and entry.kind is LedgerEntryKind.REFUND_SUCCEEDED:
                total = total + entry.amount
            elif entry.refund_id == refund_id and entry.kind is LedgerEntryKind.REFUND_REVERSED:
                total = total - entry.amount
        return total

    def _append(self, entry: LedgerEntry) -> PaymentLedger:
        if entry.amount.currency != self.currency:
            raise CurrencyMismatchError(self.currency, entry.amount.currency, operation="record")
        if entry.amount <= Money.zero(self.currency) or not entry.amount.is_quantized:
            raise LedgerError(f"ledger amounts are positive whole minor units, got {entry.amount}")
        return self.model_copy(update={"entries": (*self.entries, entry)})

    @checked
    def reserve(
        self,
        refund_id: str,
        amount: Money,
        *,
        at: datetime,
        allow_over_refund: bool = False,
        destination: str | None = None,
        consent: str | None = None,
    ) -> PaymentLedger:
        """Reserve ``amount`` for a refund (requested or retried).

        ``destination`` and ``consent`` record where the money goes when not back to this tender,
        and the customer's agreement to it.

        A refund id reserves again only after a failure or a cancellation, for the same amount;
        one that already paid never reserves again.

        Raises:
            OverRefundError: more than is refundable, unless ``allow_over_refund``.
            LedgerError: the id already reserves, already paid, or asked for another amount.
        """
        if self.open_amount(refund_id).amount:
            raise LedgerError(f"refund {refund_id} already reserves {self.open_amount(refund_id)}")
        if self.refunded_by(refund_id).amount:
            raise LedgerError(
                f"refund {refund_id} already paid {self.refunded_by(refund_id)}; a refund id pays "
                "once (a new refund needs a new id)"
            )
        first = next(
            (
                e.amount
                for e in self.entries
                if e.refund_id == refund_id and e.kind is LedgerEntryKind.REFUND_REQUESTED
            ),
            None,
        )
        if first is not None and amount != first:
            raise LedgerError(
                f"refund {refund_id} was requested for {first}; a retry reserves the same amount, "
                f"not {amount}"
            )
        if amount > self.refundable and not allow_over_refund:
            raise OverRefundError(
                f"payment {self.payment_id}", requested=amount, refundable=self.refundable
            )
        return self._append(
            LedgerEntry(
                kind=LedgerEntryKind.REFUND_REQUESTED,
                amount=amount,
                at=at,
                refund_id=refund_id,
                destination=destination,
                consent=consent,
            )
        )

    @checked
    def settle(
        self, refund_id: str, *, succeeded: bool, at: datetime, reference: str | None = None
    ) -> PaymentLedger:
        """The provider answered: the reservation becomes a refund, or is released."""
        amount = self.open_amount(refund_id)
        if not amount.amount:
            raise LedgerError(f"refund {refund_id} has nothing reserved to settle")
        kind = LedgerEntryKind.REFUND_SUCCEEDED if succeeded else LedgerEntryKind.REFUND_FAILED
        return self._append(
            LedgerEntry(kind=kind, amount=amount, at=at, refund_id=refund_id, reference=reference)
        )

    @checked
    def release(self, refund_id: str, *, at: datetime) -> PaymentLedger:
        """A canceled refund gives its reservation back (no-op when it holds none)."""
        amount = self.open_amount(refund_id)
        if not amount.amount:
            return self
        return self._append(
            LedgerEntry(
                kind=LedgerEntryKind.REFUND_CANCELED, amount=amount, at=at, refund_id=refund_id
            )
        )

    @checked
    def reverse(
        self, refund_id: str, *, at: datetime, reference: str | None = None
    ) -> PaymentLedger:
        """The provider reversed a succeeded refund: the money is refundable again."""
        amount = self.refunded_by(refund_id)
        if not amount.amount:
            raise LedgerError(f"refund {refund_id} has no succeeded amount to reverse")
        return self._append(
            LedgerEntry(
                kind=LedgerEntryKind.REFUND_REVERSED,
                amount=amount,
                at=at,
                refund_id=refund_id,
                reference=reference,
            )
        )

    @checked
    def chargeback(
        self, amount: Money, *, at: datetime, reference: str | None = None
    ) -> PaymentLedger:
        """A chargeback took ``amount`` back through the card network.

        Raises:
            OverRefundError: more than was captured and not yet refunded or charged back; a
                provider that reports that has a bug or a duplicate notice.
        """
        room = self.captured - self.refunded - self.charged_back
        if amount.currency == self.currency and amount > room:
            raise OverRefundError(
                f"payment {self.payment_id} (chargeback)", requested=amount, refundable=room
            )
        return self._append(
            LedgerEntry(kind=LedgerEntryKind.CHARGEBACK, amount=amount, at=at, reference=reference)
        )
