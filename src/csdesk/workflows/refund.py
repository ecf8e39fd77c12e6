"""The refund lifecycle, one refund per tender, and its effect on that tender's ledger.

`request_refunds` turns a `csdesk.policies.refunds.RefundQuote` into one `Refund` per tender and
reserves each amount on the tender's `csdesk.ledger.PaymentLedger`. `RefundWorkflow` then moves
each refund through `csdesk.workflows.run`, and `apply_to_ledger` mirrors its events on the ledger:

| command (event) | from → to | ledger |
|---|---|---|
| `SubmitRefund` (``submit``) | requested → processing (within the actor's authority) or pending_approval | |
| `ApproveRefund` (``approve``) | pending_approval → processing | an approver other than the requester |
| `SucceedRefund` (``succeed``) | processing → succeeded | reservation becomes a refund |
| `FailRefund` (``fail``) | processing → failed | reservation released |
| `RetryRefund` (``retry``) | failed → processing | reserved again; same idempotency key |
| `CancelRefund` (``cancel``) | requested, pending_approval, failed → canceled | reservation released |
| `ReverseRefund` (``reverse``) | succeeded → reversed | the provider took it back; refundable again |

Money moves at most once: the gateway call carries the refund's ``idempotency_key`` on every
attempt, and the ledger never lets two refunds reserve the same money.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, ClassVar

from pydantic import Field
from statemachine import State

from csdesk._checks import checked, parse_enum
from csdesk._telemetry import count
from csdesk.errors import TransitionRejectedError
from csdesk.events import Actor, ActorKind, DomainEvent
from csdesk.ledger import PaymentLedger
from csdesk.models import (
    AfterSaleCase,
    CaseState,
    Consent,
    Order,
    OrderState,
    Refund,
    RefundDestination,
    RefundState,
)
from csdesk.money import Money
from csdesk.policies.refunds import RefundQuote, RefundReason
from csdesk.workflows._engine import Command, Workflow, creation_event

__all__ = [
    "ApproveRefund",
    "CancelRefund",
    "FailRefund",
    "RefundWorkflow",
    "RefundsRequested",
    "RetryRefund",
    "ReverseRefund",
    "SubmitRefund",
    "SucceedRefund",
    "apply_to_ledger",
    "request_refunds",
]

_REFUNDABLE_ORDER_STATES = frozenset(
    {
        OrderState.PROCESSING,
        OrderState.SHIPPED,
        OrderState.DELIVERED,
        OrderState.COMPLETED,
        OrderState.CANCELED,
    }
)

Reason = Annotated[str, Field(min_length=1, max_length=500)]
"""Why: required, not blank (surrounding whitespace is dropped)."""


class SubmitRefund(Command[Refund]):
    """Send the refund on: to processing within ``authority`` (the actor's limit), else approval."""

    event = "submit"
    authority: Money | None = None


class ApproveRefund(Command[Refund]):
    """A named staff member other than the requester approves, within their ``authority``."""

    event = "approve"
    authority: Money | None = None


class SucceedRefund(Command[Refund]):
    """The payment provider reports the refund paid, with its ``reference``."""

    event = "succeed"
    reference: str | None = None


class FailRefund(Command[Refund]):
    """The payment provider reports the refund failed, and why."""

    event = "fail"
    failure_reason: Reason


class RetryRefund(Command[Refund]):
    """Try a failed refund again, reserving on its tender's ``ledger`` again.

    `csdesk.integrations.RefundDesk` fills in the ledger from its store.
    """

    event = "retry"
    ledger: PaymentLedger | None = None


class CancelRefund(Command[Refund]):
    """Withdraw a refund that has not been paid."""

    event = "cancel"
    reason: Reason


class ReverseRefund(Command[Refund]):
    """The payment provider took a paid refund back (a platform event)."""

    event = "reverse"
    reference: str | None = None


class RefundWorkflow(Workflow[Refund]):
    """The refund machine; states are `csdesk.models.RefundState` members."""

    workflow_name = "refund"
    event_types: ClassVar[Mapping[str, str]] = {
        "submit": "refund.submitted",
        "approve": "refund.approved",
        "succeed": "refund.succeeded",
        "fail": "refund.failed",
        "retry": "refund.retried",
        "cancel": "refund.canceled",
        "reverse": "refund.reversed",
    }
    commands = (
        SubmitRefund,
        ApproveRefund,
        SucceedRefund,
        FailRefund,
        RetryRefund,
        CancelRefund,
        ReverseRefund,
    )

    requested = State(value=RefundState.REQUESTED, initial=True)
    pending_approval = State(value=RefundState.PENDING_APPROVAL)
    processing = State(value=RefundState.PROCESSING)
    succeeded = State(value=RefundState.SUCCEEDED)
    failed = State(value=RefundState.FAILED)
    canceled = State(value=RefundState.CANCELED, final=True)
    reversed = State(value=RefundState.REVERSED, final=True)

    submit = requested.to(processing, cond="within_authority", on="_record_submit") | (
        requested.to(pending_approval, unless="within_authority")
    )
    approve = pending_approval.to(processing, validators="_check_approver", on="_record_approval")
    succeed = processing.to(succeeded, validators="_check_provider", on="_record_success")
    fail = processing.to(failed, validators="_check_provider", on="_record_failure")
    retry = failed.to(processing, validators="_check_retry", on="_record_submit")
    cancel = (
        requested.to(canceled, on="_record_cancel")
        | pending_approval.to(canceled, on="_record_cancel")
        | failed.to(canceled, on="_record_cancel")
    )
    reverse = succeeded.to(reversed, validators="_check_reversal", on="_record_reversal")

    def within_authority(self, command: SubmitRefund) -> bool:
        """Straight to processing when the actor may refund this much and it is no over-refund."""
        refund = self.model
        authority = command.authority
        if refund.over_refund_reason:
            return False
        return authority is None or refund.amount <= authority

    def _check_approver(self, command: ApproveRefund, actor: Actor) -> None:
        authority = command.authority
        if actor.kind is not ActorKind.STAFF or not actor.id:
            self.refuse("a refund is approved by a named staff member")
        if actor.id == self.model.requested_by:
            self.refuse("the requester cannot approve their own refund")
        if authority is not None and self.model.amount > authority:
            self.refuse(f"{self.model.amount} is above the approver's authority of {authority}")

    def _record_approval(self, actor: Actor, now: datetime) -> None:
        self.model.approved_by = actor.id
        self._record_submit(now)

    def _record_submit(self, now: datetime) -> None:
        self.model.submitted_at = now
        self.model.attempts = self.model.attempts + 1
        self.detail(
            idempotency_key=self.model.idempotency_key,
            amount=self.model.amount,
            payment_id=self.model.payment_id,
        )

    def _check_provider(self, actor: Actor) -> None:
        if actor.kind not in {ActorKind.PLATFORM, ActorKind.SYSTEM}:
            self.refuse("the payment provider (platform or system) reports a refund's outcome")

    def _record_success(self, command: SucceedRefund, now: datetime) -> None:
        self.model.succeeded_at = now
        self.model.provider_reference = command.reference
        self.detail(amount=self.model.amount, payment_id=self.model.payment_id)

    def _record_failure(self, command: FailRefund, now: datetime) -> None:
        self.model.failed_at = now
        self.model.failure_reason = command.failure_reason
        self.detail(amount=self.model.amount, payment_id=self.model.payment_id)

    def _check_retry(self, command: RetryRefund) -> None:
        ledger = command.ledger
        if ledger is None or ledger.payment_id != self.model.payment_id:
            self.refuse(f"retry needs the ledger of payment {self.model.payment_id} (ledger=...)")
        if self.model.amount > ledger.refundable and not self.model.over_refund_reason:
            self.refuse(
                f"{self.model.amount} is no longer refundable on payment {ledger.payment_id}; "
                f"{ledger.refundable} is"
            )

    def _record_cancel(self, command: CancelRefund, now: datetime) -> None:
        self.model.canceled_at = now
        self.detail(
            amount=self.model.amount, payment_id=self.model.payment_id, reason=command.reason
        )

    def _check_reversal(self, actor: Actor) -> None:
        if actor.kind is not ActorKind.PLATFORM:
            self.refuse("only the payment provider reverses a refund (a platform event)")

    def _record_reversal(self, command: ReverseRefund, now: datetime) -> None:
        self.model.reversed_at = now
        self.detail(
            amount=self.model.amount, payment_id=self.model.payment_id, reference=command.reference
        )


@checked
def apply_to_ledger(ledger: PaymentLedger, events: Sequence[DomainEvent]) -> PaymentLedger:
    """Mirror a refund's events on its tender's ledger (the only way refunds touch it)."""
    for event in events:
        if event.aggregate.kind != "refund":
            continue
        refund_id, at = event.aggregate.id, event.occurred_at
        if event.type == "refund.requested":
            amount = Money.from_dict(event.payload["amount"])  # type: ignore[arg-type]
            over = bool(event.payload.get("over_refund_reason"))
            destination = event.payload.get("destination")
            consent = event.payload.get("consent")
            ledger = ledger.reserve(
                refund_id,
                amount,
                at=at,
                allow_over_refund=over,
                destination=str(destination) if destination not in (None, "original") else None,
                consent=str(consent["evidence"]) if isinstance(consent, dict) else None,
            )
        elif event.type == "refund.retried":
            amount = Money.from_dict(event.payload["amount"])  # type: ignore[arg-type]
            ledger = ledger.reserve(refund_id, amount, at=at, allow_over_refund=True)
        elif event.type in {"refund.succeeded", "refund.failed"}:
            ledger = ledger.settle(
                refund_id,
                succeeded=event.type == "refund.succeeded",
                at=at,
                reference=str(event.payload.get("reference") or "") or None,
            )
        elif event.type == "refund.canceled":
            ledger = ledger.release(refund_id, at=at)
        elif event.type == "refund.reversed":
            ledger = ledger.reverse(refund_id, at=at)
    return ledger.model_copy(update={"version": ledger.version + 1}) if events else ledger


def _counted(amount: Money, reason: str, how: str) -> None:
    """The refund metrics: one refund, and its amount in minor units, per currency."""
    labels = {"csdesk.currency": amount.currency, "csdesk.reason": reason, "csdesk.command": how}
    count("csdesk.refunds", 1, labels)
    count("csdesk.refund.amount", amount.minor_units, labels, unit="{minor_unit}")


def _consent_problem(
    order: Order, where: RefundDestination, consent: Consent | None, now: datetime
) -> str | None:
    """Why a refund may not go to ``where`` on ``consent``, if it may not."""
    if where is RefundDestination.ORIGINAL:
        return None if consent is None else "a refund to the tenders that paid needs no consent"
    law = (
        "a refund goes back to the tenders that paid unless the customer expressly agreed "
        "otherwise (CRD art. 13(1); 原路退回)"
    )
    if consent is None:
        return f"a refund to {where.value} needs the customer's recorded consent: {law}"
    if consent.destination is not where:
        return f"the consent is to {consent.destination.value}, not {where.value}"
    if consent.customer_id != order.customer.id:
        return f"the consent is {consent.customer_id}'s, not the order's customer's"
    if consent.given_at > now:
        return f"the consent is dated {consent.given_at.isoformat()}, after {now.isoformat()}"
    return None


@dataclass(frozen=True)
class RefundsRequested:
    """What `request_refunds` produced: the refunds, the tenders' new ledgers, the events."""

    refunds: tuple[Refund, ...]
    ledgers: dict[str, PaymentLedger]
    events: tuple[DomainEvent, ...]


_EXPRESS_STATES = frozenset({CaseState.RETURN_IN_TRANSIT, CaseState.RECEIVED, CaseState.RESOLVING})


@checked
def request_refunds(
    order: Order,
    quote: RefundQuote,
    *,
    ledgers: Mapping[str, PaymentLedger],
    idempotency_key: str,
    actor: Actor,
    now: datetime,
    case: AfterSaleCase | None = None,
    over_refund_reason: str | None = None,
    destination: RefundDestination | str = RefundDestination.ORIGINAL,
    consent: Consent | None = None,
) -> RefundsRequested:
    """Create one refund per tender of ``quote`` and reserve each amount on its ledger.

    The money goes back to the tenders that paid (原路退回), unless ``destination`` says
    otherwise, which takes the customer's recorded ``consent`` to it (CRD art. 13(1): "the same
    means of payment ... unless the consumer has expressly agreed otherwise").

    Raises:
        TransitionRejectedError: the order (or case) is not in a state that allows a refund, the
            quote is for another order, the key is empty, or a destination other than the
            tenders has no consent from the order's customer, given by ``now``.
        OverRefundError: a tender cannot refund its share (unless ``over_refund_reason``, which
            sends the refund to approval).
    """

    def refuse(reason: str) -> TransitionRejectedError:
        return TransitionRejectedError(
            reason,
            workflow="refund",
            entity_id=idempotency_key or "?",
            event="request",
            state="(new)",
        )

    if not idempotency_key.strip():
        raise refuse("every refund request needs an idempotency key")
    if quote.order_id != order.id:
        raise refuse(f"the quote is for order {quote.order_id}, not {order.id}")
    goodwill = quote.reason is RefundReason.GOODWILL
    allowed = _REFUNDABLE_ORDER_STATES | ({OrderState.CLOSED} if goodwill else set())
    if order.state not in allowed:
        raise refuse(
            f"order {order.id} is {order.state}; refunds need one of {', '.join(sorted(allowed))}"
        )
    # A case is refunded once it is resolving; an express refund (极速退款) as the goods travel.
    express = case is not None and case.express_refunded_at is not None
    ready = {CaseState.RESOLVING} | (_EXPRESS_STATES if express else set())
    if case is not None and case.state not in ready:
        raise refuse(f"case {case.id} is {case.state}; a case is refunded once it is resolving")
    where = parse_enum(RefundDestination, destination, "refund destination")
    problem = _consent_problem(order, where, consent, now)
    if problem is not None:
        raise refuse(problem)
    refunds: list[Refund] = []
    updated = dict(ledgers)
    events: list[DomainEvent] = []
    for share in quote.tenders:
        refund = Refund(
            id=f"{idempotency_key}:{share.payment_id}",
            order_id=order.id,
            payment_id=share.payment_id,
            case_id=case.id if case else None,
            amount=share.amount,
            reason=quote.reason.value,
            statutory_basis=quote.basis,
            lines=quote.units,
            shipping=quote.shipping,
            idempotency_key=f"{idempotency_key}:{share.payment_id}",
            request_key=idempotency_key,
            requested_by=actor.id,
            requested_at=now,
            over_refund_reason=over_refund_reason,
            destination=where,
            consent=consent,
            version=1,
        )
        event = creation_event(
            "refund.requested",
            refund,
            kind=RefundWorkflow.workflow_name,
            actor=actor,
            now=now,
            payload={
                "order_id": order.id,
                "payment_id": share.payment_id,
                "amount": share.amount,
                "lines": quote.units,
                "reason": quote.reason,
                "basis": quote.basis,
                "over_refund_reason": over_refund_reason,
                "quote_total": quote.total,
                "destination": where,
                "consent": None if consent is None else consent.model_dump(mode="json"),
            },
            idempotency_key=refund.idempotency_key,
            policy_version=quote.policy.version if quote.policy else None,
        )
        ledger = updated.get(share.payment_id)
        if ledger is None:
            raise refuse(f"no ledger for payment {share.payment_id}")
        updated[share.payment_id] = apply_to_ledger(ledger, [event])
        _counted(refund.amount, quote.reason.value, "request")
        refunds.append(refund)
        events.append(event)
    return RefundsRequested(tuple(refunds), updated, tuple(events))
