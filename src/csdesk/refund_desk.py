"""`RefundDesk`: the one refund path, as an application service over `csdesk.storage.SqlStore`.

Every refund, whatever asked for it (an after-sale case, a goodwill gesture, a batch row), goes
through `RefundDesk.request`, which in one transaction:

1. locks the order's row (``FOR UPDATE`` on PostgreSQL and MariaDB; SQLite has one writer), so two
   requests on one order never decide on the same state;
2. replays the request if its idempotency key was seen with the same parameters, and refuses it if
   the key was used with others (`csdesk.errors.IdempotencyConflictError`);
3. refuses a second refund of one after-sale case whatever its key (the error names the first),
   and a case of another order, or more units than the case covers;
4. quotes it (`csdesk.policies.refunds.quote_refund`) against what earlier refunds took, read from
   the store, and the order's tender ledgers, keyed by order *and* payment, so two orders whose
   payments share an id never share money;
5. writes the refunds, the ledgers (version-checked), the key and the outbox, or nothing.

`RefundDesk.command` then moves one refund (submit, approve, succeed, fail, retry, cancel,
reverse) and mirrors it on its tender's ledger, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from csdesk._checks import checked
from csdesk.errors import (
    InvalidInputError,
    NotFoundError,
    QuantityError,
    TransitionRejectedError,
)
from csdesk.events import Actor, DomainEvent
from csdesk.ledger import PaymentLedger
from csdesk.models import AfterSaleCase, Consent, Order, Refund, RefundDestination, RefundState
from csdesk.money import Money
from csdesk.policies.refunds import Refunded, RefundPolicy, RefundQuote, quote_refund
from csdesk.storage import SqlStore
from csdesk.workflows import Command, command_types, fire, run
from csdesk.workflows.refund import RefundWorkflow, RetryRefund, apply_to_ledger, request_refunds

__all__ = ["RefundDesk"]

_SCOPE = "refund"
_SPENT = {RefundState.CANCELED, RefundState.REVERSED}  # as in `Refunded.of`


class RefundDesk:
    """Refunds with their ledgers and idempotency keys, on a `csdesk.storage.SqlStore`.

    Use a store on an engine (or URL) for a desk of its own transactions, or a store on the
    host's connection for refunds inside the host's transaction.
    """

    @checked
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    @checked
    def ledger(self, order_id: str, payment_id: str) -> PaymentLedger:
        """The ledger of one tender of one order.

        Raises:
            NotFoundError: no refund was ever requested on that tender.
        """
        return self.store.load(PaymentLedger, _ledger_id(order_id, payment_id))

    @checked
    def refunds(self, order_id: str) -> list[Refund]:
        """Every refund of an order, in the order they were requested (an indexed lookup)."""
        found = self.store.of_order(Refund, order_id)
        return sorted(found, key=lambda refund: (refund.requested_at, refund.id))

    # requesting ---------------------------------------------------------------------------------

    @checked
    def request(
        self,
        order_id: str,
        *,
        idempotency_key: str,
        lines: Mapping[str, int],
        reason: str,
        policy: RefundPolicy,
        actor: Actor,
        now: datetime,
        basis: str = "none",
        case_id: str | None = None,
        goodwill: Money | None = None,
        coupon_valid: bool = True,
        over_refund_reason: str | None = None,
        destination: RefundDestination | str = RefundDestination.ORIGINAL,
        consent: Consent | None = None,
    ) -> tuple[RefundQuote, list[Refund]]:
        """Quote a refund and create one refund per tender, reserving each amount.

        The money goes back to the tenders that paid unless ``destination`` names store credit,
        a gift card or another method, with the customer's recorded ``consent``
        (`csdesk.workflows.refund.request_refunds`).

        Raises:
            IdempotencyConflictError: the key was used before with other parameters.
            OverRefundError: more than the order's tenders can still refund.
            QuantityError: more units than are left to refund, or than the case covers.
            TransitionRejectedError: the order or case does not allow a refund now, or the case
                was refunded already (the message names that refund).
            NotFoundError: no such order or case.
        """
        parameters = {
            "order_id": order_id,
            "lines": dict(lines),
            "reason": reason,
            "basis": basis,
            "case_id": case_id,
            "goodwill": goodwill.to_dict() if goodwill else None,
            "coupon_valid": coupon_valid,
            "over_refund_reason": over_refund_reason,
            "policy": policy.policy_hash,
            "destination": str(destination),
            "consent": None if consent is None else consent.model_dump(mode="json"),
        }
        with self.store.transaction("refund request") as connection:
            order = self.store.load_in(connection, Order, order_id, lock=True)
            stored = self.store.recall(
                connection, _SCOPE, idempotency_key, parameters, created="refunds"
            )
            if stored is not None:
                quote = RefundQuote.model_validate(stored["quote"])
                refunds = [self.store.load_in(connection, Refund, r) for r in stored["refunds"]]
                return quote, refunds
            earlier = self.store.of_order_in(connection, Refund, order_id)
            case = self._case(connection, order, case_id, lines, earlier)
            ledgers = self._ledgers(connection, order)
            quote = quote_refund(
                order,
                lines=lines,
                reason=reason,
                policy=policy,
                now=now,
                basis=basis,
                refunded=Refunded.of(order, earlier),
                ledgers=ledgers,
                coupon_valid=coupon_valid,
                goodwill=goodwill,
            )
            made = request_refunds(
                order,
                quote,
                ledgers=ledgers,
                idempotency_key=idempotency_key,
                actor=actor,
                now=now,
                case=case,
                over_refund_reason=over_refund_reason,
                destination=destination,
                consent=consent,
            )
            for refund in made.refunds:
                events = [e for e in made.events if e.aggregate.id == refund.id]
                self.store.insert_in(connection, refund, events)
            for payment_id, ledger in made.ledgers.items():
                if ledger is not ledgers[payment_id]:
                    self.store.save_in(connection, ledger, (), ledgers[payment_id].version)
            result = {
                "quote": quote.model_dump(mode="json"),
                "refunds": [r.id for r in made.refunds],
            }
            self.store.remember(connection, _SCOPE, idempotency_key, parameters, result, now=now)
            return quote, list(made.refunds)

    def _case(
        self,
        connection: Connection,
        order: Order,
        case_id: str | None,
        lines: Mapping[str, int],
        earlier: list[Refund],
    ) -> AfterSaleCase | None:
        if case_id is None:
            return None
        case = self.store.load_in(connection, AfterSaleCase, case_id)
        if case.order_id != order.id:
            raise InvalidInputError(
                f"case {case.id} is for order {case.order_id}, not {order.id}; a refund is "
                "requested on the case's own order"
            )
        first = next((r for r in earlier if r.case_id == case.id and r.state not in _SPENT), None)
        if first is not None:
            raise TransitionRejectedError(
                f"case {case.id} was refunded already by {first.request_key} (refund "
                f"{first.id}); a case is refunded once for its units",
                workflow="refund",
                entity_id=first.id,
                event="request",
                state=str(first.state),
            )
        # A return refunds what came back; others what was asked, and so does a return refunded
        # as the goods ship (an express refund) or without them (refund only: keep the goods).
        returned = case.type.needs_return and not (
            case.express_refunded_at is not None or case.keep_goods
        )
        covered = {
            line.line_id: line.received if returned else line.requested for line in case.lines
        }
        for line_id, units in lines.items():
            if units > covered.get(line_id, 0):
                raise QuantityError(
                    f"case {case.id} covers {covered.get(line_id, 0)} unit(s) of line "
                    f"{line_id}, not {units}"
                )
        return case

    def _ledgers(self, connection: Connection, order: Order) -> dict[str, PaymentLedger]:
        ledgers: dict[str, PaymentLedger] = {}
        for payment in order.payments:
            ledger_id = _ledger_id(order.id, payment.id)
            try:
                ledgers[payment.id] = self.store.load_in(connection, PaymentLedger, ledger_id)
            except NotFoundError:
                ledger = PaymentLedger.open(
                    payment.id,
                    payment.captured,
                    at=payment.captured_at,
                    reference=payment.reference,
                    order_id=order.id,
                )
                self.store.insert_in(connection, ledger, ())
                ledgers[payment.id] = ledger
            ledgers[payment.id] = _mirror_dues(ledgers[payment.id], order)
        return ledgers

    # moving refunds -----------------------------------------------------------------------------

    @checked
    def command(
        self, refund_id: str, command: Command[Refund], *, actor: Actor, now: datetime
    ) -> list[DomainEvent]:
        """Run one command on a refund and mirror it on its tender's ledger, in one transaction.

        A `RetryRefund` without a ledger gets the tender's ledger from the store.
        """
        if not isinstance(command, Command) or getattr(command, "workflow", None) is not (
            RefundWorkflow
        ):
            raise InvalidInputError(
                f"RefundDesk.command takes a refund command (SubmitRefund, ApproveRefund, ...), "
                f"got {type(command).__name__}"
            )
        return self._command(refund_id, lambda _: command, actor, now)

    @checked
    def fire(
        self, refund_id: str, event: str, *, actor: Actor, now: datetime, **arguments: Any
    ) -> list[DomainEvent]:
        """`command` for an event given by name, its arguments as keywords."""
        commands = command_types(RefundWorkflow)
        if event not in commands:
            refund = self.store.load(Refund, refund_id)
            return fire(RefundWorkflow, refund, event, actor=actor, now=now, **arguments)
        kind = commands[event]
        return self._command(
            refund_id,
            lambda ledger: kind.model_validate(
                {**arguments, "ledger": ledger} if kind is RetryRefund else arguments
            ),
            actor,
            now,
        )

    def _command(
        self,
        refund_id: str,
        make: Callable[[PaymentLedger], Command[Refund]],
        actor: Actor,
        now: datetime,
    ) -> list[DomainEvent]:
        with self.store.transaction("refund command") as connection:
            refund = self.store.load_in(connection, Refund, refund_id, lock=True)
            ledger_id = _ledger_id(refund.order_id, refund.payment_id)
            ledger = self.store.load_in(connection, PaymentLedger, ledger_id)
            loaded = refund.version
            command = make(ledger)
            if isinstance(command, RetryRefund) and command.ledger is None:
                command = RetryRefund(ledger=ledger)
            events = run(refund, command, actor=actor, now=now)
            updated = apply_to_ledger(ledger, events)
            self.store.save_in(connection, refund, events, loaded)
            if updated is not ledger:
                self.store.save_in(connection, updated, (), ledger.version)
            return events


def _ledger_id(order_id: str, payment_id: str) -> str:
    return f"{order_id}/{payment_id}"


def _mirror_dues(ledger: PaymentLedger, order: Order) -> PaymentLedger:
    """The refunds the order's cancellations owe this tender, as reservations (paid once settled).

    `csdesk.workflows.CancelOrder` and `CancelLines` record what the order owes in
    ``Order.refunds_due``; the tender's ledger counts it too, so a later refund cannot spend money
    a cancellation already owes back.
    """
    for due in order.refunds_due:
        if due.payment_id != ledger.payment_id:
            continue
        if not any(entry.refund_id == due.id for entry in ledger.entries):
            ledger = ledger.reserve(due.id, due.amount, at=due.created_at, allow_over_refund=True)
        if due.settled and ledger.open_amount(due.id).amount:
            ledger = ledger.settle(due.id, succeeded=True, at=due.created_at)
    return ledger
