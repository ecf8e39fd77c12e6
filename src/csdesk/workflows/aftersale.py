"""After-sale cases (售后): return and refund, refund only, exchange, replacement.

`open_case` files a case after checking the return window and the quantities; `AfterSaleWorkflow`
moves it with one command per event, through `csdesk.workflows.run`:

| command (event) | from → to | needs |
|---|---|---|
| `ApproveCase` (``approve``) | requested, escalated → awaiting_return (goods come back) or approved | |
| `AutoApproveCase` (``auto_approve``) | requested → awaiting_return or approved | ``timers`` that approve on expiry |
| `RejectCase` (``reject``) | requested, escalated → rejected | ``reason``; for a statutory no-reason return also ``finding`` or ``exclusion`` |
| `ReviseCase` (``revise``) | rejected → requested | |
| `EscalateCase` (``escalate``) | requested, rejected → escalated | |
| `MarkReturnShipped` (``mark_shipped``) | awaiting_return → return_in_transit | ``tracking_number`` |
| `ShipBackTimeout` (``ship_back_timeout``) | awaiting_return → canceled | ``timers`` that cancel on expiry |
| `ReceiveReturn` (``receive``) | awaiting_return, return_in_transit → received | ``received`` units per line, ``condition`` |
| `AutoReceiveReturn` (``auto_receive``) | return_in_transit → received | ``timers`` that receive on expiry |
| `ResolveCase` (``resolve``) | received, approved → resolving | |
| `CompleteCase` (``complete``) | resolving → resolved | |
| `CancelCase` (``cancel``) | any state before resolving → canceled | ``reason`` |
| `PayExchangeDifference` (``pay_difference``) | requested … received → same | ``payment`` of exactly the case's ``difference`` |
| `ShipReplacement` (``ship_replacement``) | resolving → resolving | ``shipment`` of the new goods |
| `ConvertToRefund` (``convert_to_refund``) | resolving → resolving | ``choice``: the customer chose a refund (out of stock) |

``resolve`` hands the quantities to the refund step in an ``aftersale.refund_requested`` event
(received units for returns, requested units otherwise); a case cannot be canceled once it is
resolving, because a refund may be processing. An express refund (极速退款, `ApproveCase` with
an express approval) is requested by ``mark_shipped`` instead, for the units on their way back;
``resolve`` then reports any units that did not arrive in ``aftersale.express_shortfall``, and the
case cannot be canceled once the money went back.
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import Field
from statemachine import State

from csdesk._checks import checked, parse_enum
from csdesk._model import require_aware
from csdesk.decision import step
from csdesk.errors import InvalidInputError, QuantityError, TransitionRejectedError
from csdesk.events import Actor, DomainEvent
from csdesk.models import (
    AfterSaleCase,
    CaseLine,
    CaseState,
    CaseType,
    Condition,
    ExchangeItem,
    Order,
    Payment,
    Shipment,
    StatutoryBasis,
)
from csdesk.money import Money
from csdesk.policies.approval import ApprovalDecision, ApprovalOutcome
from csdesk.policies.exchanges import quote_exchange
from csdesk.policies.returns import ReturnPolicy, return_window
from csdesk.policies.timers import TimerPreset
from csdesk.workflows._engine import Command, Workflow, creation_event
from csdesk.workflows.timers import case_deadlines

__all__ = [
    "AfterSaleWorkflow",
    "ApproveCase",
    "AutoApproveCase",
    "AutoReceiveReturn",
    "CancelCase",
    "CompleteCase",
    "ConvertToRefund",
    "EscalateCase",
    "MarkReturnShipped",
    "PayExchangeDifference",
    "ReceiveReturn",
    "RejectCase",
    "ResolveCase",
    "ReviseCase",
    "ShipBackTimeout",
    "ShipReplacement",
    "open_case",
]

_OPEN_STATES = frozenset(set(CaseState) - {CaseState.CANCELED})

Reason = Annotated[str, Field(min_length=1, max_length=500)]
"""Why: required, not blank (surrounding whitespace is dropped)."""

Found = Condition | str | dict[str, Condition | str]
"""The condition found: one for every line, or one per line id (a `Condition` or its value)."""


class ApproveCase(Command[AfterSaleCase]):
    """Approve the case: a return waits for the goods, a refund-only case goes on at once.

    ``approval``: the approval policy's decision (`csdesk.policies.decide_approval`), when a rule
    approved it: ``refund_only`` lets the customer keep the goods (仅退款: the case goes on at
    once, without a return), and an express approval (极速退款) requests the refund when the
    return ships. ``express=True`` grants express refund by hand (a return and refund only).
    """

    event = "approve"
    approval: ApprovalDecision | None = None
    express: bool = False


class AutoApproveCase(Command[AfterSaleCase]):
    """Approve for the seller when the preset's answer period (respond_by) has run out."""

    event = "auto_approve"
    timers: TimerPreset


class RejectCase(Command[AfterSaleCase]):
    """Refuse the case; a statutory no-reason return needs a ``finding`` or an ``exclusion``."""

    event = "reject"
    reason: Reason
    finding: str | None = None
    exclusion: str | None = None


class ReviseCase(Command[AfterSaleCase]):
    """The customer revises a rejected request: it is requested again."""

    event = "revise"


class EscalateCase(Command[AfterSaleCase]):
    """Hand the case to the platform or a supervisor."""

    event = "escalate"


class MarkReturnShipped(Command[AfterSaleCase]):
    """The customer has sent the goods back, with the parcel's tracking number."""

    event = "mark_shipped"
    tracking_number: str = Field(min_length=1)


class ShipBackTimeout(Command[AfterSaleCase]):
    """Close the case when the customer did not send the goods back in time (where that lapses)."""

    event = "ship_back_timeout"
    timers: TimerPreset


class ReceiveReturn(Command[AfterSaleCase]):
    """The shop received the goods: units per line id and the condition found."""

    event = "receive"
    received: dict[str, int] = Field(min_length=1)
    condition: Found


class AutoReceiveReturn(Command[AfterSaleCase]):
    """Take the return as received when the preset's receipt period has run out."""

    event = "auto_receive"
    timers: TimerPreset


class ResolveCase(Command[AfterSaleCase]):
    """Hand the case to the refund or replacement step (an ``*_requested`` event)."""

    event = "resolve"


class PayExchangeDifference(Command[AfterSaleCase]):
    """The customer pays what the new goods cost more than the units they send back."""

    event = "pay_difference"
    payment: Payment


class ShipReplacement(Command[AfterSaleCase]):
    """The new goods of an exchange (or a replacement) leave, with their own tracking."""

    event = "ship_replacement"
    shipment: Shipment


class ConvertToRefund(Command[AfterSaleCase]):
    """The new goods cannot be sent (out of stock): the customer chose a refund instead.

    ``choice`` records their choice (channel and words). The received units are refunded, and a
    difference they paid goes back with them.
    """

    event = "convert_to_refund"
    choice: str = Field(min_length=1, max_length=500)


class CompleteCase(Command[AfterSaleCase]):
    """The refund or replacement is done: the case is resolved."""

    event = "complete"


class CancelCase(Command[AfterSaleCase]):
    """Withdraw the case before it resolves."""

    event = "cancel"
    reason: Reason


_APPROVING = {ApprovalOutcome.APPROVE, ApprovalOutcome.REFUND_ONLY}


def _due(case: AfterSaleCase, kind: str, timers: TimerPreset | None) -> tuple[datetime, str] | None:
    if timers is None:
        return None
    found = [d for d in case_deadlines(case, timers) if d.kind == kind]
    return (found[0].due_at, found[0].on_expiry) if found else None


class AfterSaleWorkflow(Workflow[AfterSaleCase]):
    """The after-sale case machine; states are `csdesk.models.CaseState` members."""

    workflow_name = "aftersale"
    event_types: ClassVar[Mapping[str, str]] = {
        "approve": "aftersale.approved",
        "auto_approve": "aftersale.auto_approved",
        "reject": "aftersale.rejected",
        "revise": "aftersale.revised",
        "escalate": "aftersale.escalated",
        "mark_shipped": "aftersale.return_shipped",
        "ship_back_timeout": "aftersale.return_timed_out",
        "receive": "aftersale.received",
        "auto_receive": "aftersale.auto_received",
        "resolve": "aftersale.resolving",
        "complete": "aftersale.resolved",
        "pay_difference": "aftersale.difference_paid",
        "ship_replacement": "aftersale.replacement_shipped",
        "convert_to_refund": "aftersale.converted_to_refund",
        "cancel": "aftersale.canceled",
    }

    commands = (
        ApproveCase,
        AutoApproveCase,
        RejectCase,
        ReviseCase,
        EscalateCase,
        MarkReturnShipped,
        ShipBackTimeout,
        ReceiveReturn,
        AutoReceiveReturn,
        ResolveCase,
        CompleteCase,
        CancelCase,
        PayExchangeDifference,
        ShipReplacement,
        ConvertToRefund,
    )

    requested = State(value=CaseState.REQUESTED, initial=True)
    approved = State(value=CaseState.APPROVED)
    awaiting_return = State(value=CaseState.AWAITING_RETURN)
    return_in_transit = State(value=CaseState.RETURN_IN_TRANSIT)
    received = State(value=CaseState.RECEIVED)
    resolving = State(value=CaseState.RESOLVING)
    resolved = State(value=CaseState.RESOLVED, final=True)
    rejected = State(value=CaseState.REJECTED)
    escalated = State(value=CaseState.ESCALATED)
    canceled = State(value=CaseState.CANCELED, final=True)

    approve = (
        requested.to(awaiting_return, cond="goods_come_back", validators="_check_approval",
                     on="_record_approval")
        | requested.to(approved, unless="goods_come_back", validators="_check_approval",
                       on="_record_approval")
        | escalated.to(awaiting_return, cond="goods_come_back", validators="_check_approval",
                       on="_record_approval")
        | escalated.to(approved, unless="goods_come_back", validators="_check_approval",
                       on="_record_approval")
    )  # fmt: skip
    auto_approve = requested.to(
        awaiting_return,
        cond="goods_come_back",
        validators="_check_auto_approve",
        on="_record_approval",
    ) | requested.to(
        approved, unless="goods_come_back", validators="_check_auto_approve", on="_record_approval"
    )
    reject = requested.to(rejected, validators="_check_reject", on="_record_rejection") | (
        escalated.to(rejected, validators="_check_reject", on="_record_rejection")
    )
    revise = rejected.to(requested, on="_record_revision")
    escalate = requested.to(escalated, on="_record_escalation") | rejected.to(
        escalated, on="_record_escalation"
    )
    mark_shipped = awaiting_return.to(return_in_transit, on="_record_return_shipment")
    ship_back_timeout = awaiting_return.to(
        canceled, validators="_check_ship_back_timeout", on="_record_timeout"
    )
    receive = awaiting_return.to(
        received, validators="_check_receipt", on="_record_receipt"
    ) | return_in_transit.to(received, validators="_check_receipt", on="_record_receipt")
    auto_receive = return_in_transit.to(
        received, validators="_check_auto_receive", on="_record_auto_receipt"
    )
    resolve = received.to(
        resolving, validators="_check_resolution", on="_record_resolution"
    ) | approved.to(resolving, validators="_check_resolution", on="_record_resolution")
    complete = resolving.to(resolved, validators="_check_completion", on="_record_completion")
    pay_difference = (
        requested.to(requested, internal=True, validators="_check_difference",
                     on="_record_difference")
        | awaiting_return.to(awaiting_return, internal=True, validators="_check_difference",
                             on="_record_difference")
        | return_in_transit.to(return_in_transit, internal=True,
                               validators="_check_difference", on="_record_difference")
        | received.to(received, internal=True, validators="_check_difference",
                      on="_record_difference")
    )  # fmt: skip
    ship_replacement = resolving.to(resolving, internal=True, validators="_check_replacement",
                                    on="_record_replacement")  # fmt: skip
    convert_to_refund = resolving.to(resolving, internal=True, validators="_check_conversion",
                                     on="_record_conversion")  # fmt: skip
    cancel = (
        requested.to(canceled, on="_record_cancel")
        | approved.to(canceled, on="_record_cancel")
        | awaiting_return.to(canceled, on="_record_cancel")
        | return_in_transit.to(canceled, validators="_check_no_express", on="_record_cancel")
        | rejected.to(canceled, on="_record_cancel")
        | escalated.to(canceled, on="_record_cancel")
    )

    # guards -----------------------------------------------------------------------------------

    def goods_come_back(self, command: Command[AfterSaleCase]) -> bool:
        """Whether the goods travel back: a return or exchange, unless approved as refund only.

        Refund-only and replacement cases never wait for goods, nor a return the approval policy
        settled as refund only (the customer keeps the goods).
        """
        approval = getattr(command, "approval", None)
        kept = approval is not None and approval.outcome is ApprovalOutcome.REFUND_ONLY
        return self.model.type.needs_return and not kept

    # approve ----------------------------------------------------------------------------------

    def _check_auto_approve(self, command: AutoApproveCase, now: datetime) -> None:
        timers = command.timers
        due = _due(self.model, "respond_by", timers)
        if due is None or due[1] != "auto_approve":
            self.refuse("auto-approval needs a timer preset whose respond_by approves on expiry")
        if now < due[0]:
            self.refuse(f"the seller has until {due[0].isoformat()} to answer")
        self.detail(timers=timers.id, respond_by=due[0])

    def _check_approval(self, command: ApproveCase) -> None:
        case, approval = self.model, command.approval
        if approval is not None and approval.outcome not in _APPROVING:
            self.refuse(
                f"the approval policy said {approval.outcome.value}, not approve: a person "
                "approves this case (ApproveCase without approval=)"
            )
        express = command.express or (approval is not None and approval.express)
        if express and case.type is not CaseType.RETURN_AND_REFUND:
            self.refuse(f"express refund is for a return and refund, not a {case.type.value} case")
        refund_only = approval is not None and approval.outcome is ApprovalOutcome.REFUND_ONLY
        if refund_only and case.type is not CaseType.RETURN_AND_REFUND:
            self.refuse(f"refund only (keep the goods) is for a return, not {case.type.value}")

    def _record_approval(self, command: Command[AfterSaleCase], now: datetime) -> None:
        case = self.model
        case.approved_at = now
        approval = getattr(command, "approval", None)
        express = bool(getattr(command, "express", False)) or (
            approval is not None and approval.express
        )
        case.express_refund = express
        case.keep_goods = approval is not None and approval.outcome is ApprovalOutcome.REFUND_ONLY
        case.approval_rule = approval.rule if approval is not None else None
        if approval is not None or express:
            self.detail(express_refund=express, keep_goods=case.keep_goods,
                        approval_rule=case.approval_rule,
                        approval_policy=approval.policy.id if approval and approval.policy
                        else None)  # fmt: skip

    # reject, revise, escalate -------------------------------------------------------------------

    def _check_reject(self, command: RejectCase) -> None:
        if self.model.statutory_basis.is_no_reason and not (command.finding or command.exclusion):
            self.refuse(
                f"a {self.model.statutory_basis.value} return needs no reason from the customer; "
                "it can be refused only with a condition finding (finding=...) or a recorded "
                "exclusion (exclusion=...)"
            )

    def _record_rejection(self, command: RejectCase, now: datetime) -> None:
        case = self.model
        case.rejected_at = now
        case.rejection = command.reason
        case.finding = command.finding
        case.exclusion = command.exclusion

    def _record_revision(self, now: datetime) -> None:
        self.model.rejected_at = None
        self.model.rejection = None
        self.model.requested_at = now

    def _record_escalation(self, now: datetime) -> None:
        self.model.escalated_at = now

    # the goods coming back ----------------------------------------------------------------------

    def _record_return_shipment(self, command: MarkReturnShipped, now: datetime) -> None:
        case = self.model
        case.return_tracking = command.tracking_number
        case.return_shipped_at = now
        if case.express_refund:
            # 极速退款: the money goes back now, for the units on their way back.
            case.express_refunded_at = now
            self.emit(
                "refund_requested",
                case_id=case.id,
                order_id=case.order_id,
                lines={line.line_id: line.requested for line in case.lines},
                statutory_basis=case.statutory_basis,
                reason=case.reason,
                express=True,
            )

    def _check_no_express(self) -> None:
        if self.model.express_refunded_at is not None:
            self.refuse(
                "an express refund was paid when the return shipped: receive the goods, or "
                "escalate the case if they never arrive (express_overdue finds them)"
            )

    def _check_ship_back_timeout(self, command: ShipBackTimeout, now: datetime) -> None:
        timers = command.timers
        due = _due(self.model, "ship_back_by", timers)
        if due is None:
            self.refuse(f"timer preset {timers.id} has no ship_back_by timer")
        if due[1] != "ship_back_timeout":
            self.refuse(
                f"under preset {timers.id} a late return does not close the "
                f"case ({due[1]}): a statutory withdrawal does not lapse"
            )
        if now < due[0]:
            self.refuse(f"the customer has until {due[0].isoformat()} to ship the return")

    def _record_timeout(self, now: datetime) -> None:
        self.model.canceled_at = now
        self.model.cancel_reason = "return_not_shipped_in_time"

    def _check_receipt(self, command: ReceiveReturn) -> None:
        received, condition = command.received, command.condition
        for line_id, units in received.items():
            line = next((cl for cl in self.model.lines if cl.line_id == line_id), None)
            if line is None:
                self.refuse(f"the case has no line {line_id!r}")
            if units < 0:
                self.refuse(f"received units for line {line_id} must be an int >= 0")
            if units > line.requested:
                self.refuse(
                    f"line {line_id}: received {units} but only {line.requested} were requested"
                )
        try:
            for line_id in received:
                _condition(condition, line_id)
        except ValueError as error:
            self.refuse(str(error))

    def _record_receipt(self, command: ReceiveReturn, now: datetime) -> None:
        case = self.model
        received, condition = command.received, command.condition
        case.lines = tuple(
            line.model_copy(
                update={
                    "received": received.get(line.line_id, 0),
                    "condition": _condition(condition, line.line_id)
                    if line.line_id in received
                    else Condition.MISSING,
                }
            )
            for line in case.lines
        )
        case.received_at = now
        self.detail(
            received={line.line_id: line.received for line in case.lines},
            condition={line.line_id: line.condition for line in case.lines},
        )

    def _check_auto_receive(self, command: AutoReceiveReturn, now: datetime) -> None:
        due = _due(self.model, "receive_by", command.timers)
        if due is None or due[1] != "auto_receive":
            self.refuse("auto-receipt needs a timer preset whose receive_by receives on expiry")
        if now < due[0]:
            self.refuse(f"the shop has until {due[0].isoformat()} to confirm receipt")

    def _record_auto_receipt(self, now: datetime) -> None:
        case = self.model
        case.lines = tuple(
            line.model_copy(update={"received": line.requested, "condition": Condition.UNCHECKED})
            for line in case.lines
        )
        case.received_at = now

    # resolve, complete, cancel ------------------------------------------------------------------

    def _record_resolution(self, now: datetime) -> None:
        case = self.model
        returned = case.type.needs_return and not case.keep_goods
        units = {line.line_id: line.received if returned else line.requested for line in case.lines}
        case.resolved_at = now
        if case.express_refunded_at is not None:
            # Refunded when the return shipped: nothing more to refund; what did not arrive is
            # for a person to recover (a carrier claim, or the customer).
            short = {
                line.line_id: line.requested - line.received
                for line in case.lines
                if line.received < line.requested
            }
            if short:
                self.emit("express_shortfall", case_id=case.id, order_id=case.order_id,
                          lines=short)  # fmt: skip
            return
        if case.type in {CaseType.RETURN_AND_REFUND, CaseType.REFUND_ONLY}:
            self.emit(
                "refund_requested",
                case_id=case.id,
                order_id=case.order_id,
                lines=units,
                statutory_basis=case.statutory_basis,
                reason=case.reason,
            )
        else:
            self.emit(
                "replacement_requested",
                case_id=case.id,
                order_id=case.order_id,
                lines=units,
                type=case.type,
                exchange=[item.model_dump(mode="json") for item in case.exchange],
            )

    def _record_completion(self, now: datetime) -> None:
        self.detail(completed_at=now)

    # exchanges ----------------------------------------------------------------------------------

    def _check_resolution(self) -> None:
        case = self.model
        owed = case.difference is not None and case.difference.amount > 0
        if owed and case.difference_payment is None:
            self.refuse(
                f"the new goods cost {case.difference} more: the customer pays the difference "
                "(PayExchangeDifference) before they ship"
            )
        if case.exchange and any(line.received < line.requested for line in case.lines):
            self.refuse("an exchange sends new goods for the units that came back: not all did")

    def _check_difference(self, command: PayExchangeDifference) -> None:
        case, payment = self.model, command.payment
        if case.difference is None or case.difference.amount <= 0:
            self.refuse("nothing is owed on this case")
        if case.difference_payment is not None:
            self.refuse(f"the difference was paid ({case.difference_payment.id})")
        if payment.captured != case.difference:
            self.refuse(f"the difference is {case.difference}, the payment {payment.captured}")

    def _record_difference(self, command: PayExchangeDifference) -> None:
        self.model.difference_payment = command.payment
        self.detail(payment_id=command.payment.id, amount=command.payment.captured)

    def _check_replacement(self, command: ShipReplacement) -> None:
        case = self.model
        if case.type not in {CaseType.EXCHANGE, CaseType.REPLACEMENT}:
            self.refuse(f"a {case.type.value} case sends nothing out")
        if case.replacement_shipment is not None:
            self.refuse(f"the new goods shipped already ({case.replacement_shipment.id})")
        if case.converted_to_refund is not None:
            self.refuse("the exchange became a refund: nothing ships")
        if not command.shipment.tracking_number.strip():
            self.refuse("a tracking number is required to ship")

    def _record_replacement(self, command: ShipReplacement, now: datetime) -> None:
        case, shipment = self.model, command.shipment
        if shipment.shipped_at is None:
            shipment = shipment.model_copy(update={"shipped_at": now})
        case.replacement_shipment = shipment
        if case.difference is not None and case.difference.amount < 0:
            # The new goods cost less and are on their way: the difference goes back through
            # the refund step (RefundDesk.request with lines={} and this amount).
            self.emit(
                "refund_requested",
                case_id=case.id,
                order_id=case.order_id,
                lines={},
                amount=-case.difference,
                statutory_basis=case.statutory_basis,
                reason="price_adjustment",
                why="exchange_difference",
            )
        self.detail(shipment={"id": shipment.id, "carrier": shipment.carrier,
                              "tracking_number": shipment.tracking_number})  # fmt: skip

    def _check_conversion(self) -> None:
        case = self.model
        if case.type is not CaseType.EXCHANGE:
            self.refuse("only an exchange converts to a refund")
        if case.replacement_shipment is not None:
            self.refuse("the new goods shipped already")
        if case.converted_to_refund is not None:
            self.refuse("the exchange became a refund already")

    def _record_conversion(self, command: ConvertToRefund) -> None:
        case = self.model
        case.converted_to_refund = command.choice
        self.emit(
            "refund_requested",
            case_id=case.id,
            order_id=case.order_id,
            lines={line.line_id: line.received for line in case.lines},
            statutory_basis=case.statutory_basis,
            reason=case.reason,
            converted=True,
        )
        payment = case.difference_payment
        if payment is not None:
            # The difference was paid apart from the order: it goes back to that payment.
            self.emit(
                "difference_refund_requested",
                case_id=case.id,
                order_id=case.order_id,
                payment_id=payment.id,
                method=payment.method,
                amount=payment.captured,
            )
        self.detail(choice=command.choice)

    def _check_completion(self) -> None:
        case = self.model
        if case.exchange and case.replacement_shipment is None and not case.converted_to_refund:
            self.refuse("the new goods have not shipped (ShipReplacement), nor was it converted")

    def _record_cancel(self, command: CancelCase, now: datetime) -> None:
        self.model.canceled_at = now
        self.model.cancel_reason = command.reason


def _difference(
    order: Order,
    kind: CaseType,
    lines: Mapping[str, int],
    items: tuple[ExchangeItem, ...],
    existing: Iterable[AfterSaleCase],
    refuse: Any,
    policy: ReturnPolicy,
    now: datetime,
) -> Money | None:
    """The exchange quote's difference (new goods − the paid share back); None: no exchange."""
    if not items:
        return None  # nothing priced (an exchange for the very same goods): no difference
    if kind is not CaseType.EXCHANGE:
        raise refuse(f"exchange items are for an exchange case, not {kind.value}")
    covered: dict[str, int] = {}
    for item in items:
        if item.unit_price.currency != order.currency:
            raise refuse(f"the new {item.sku} is priced in {item.unit_price.currency}, the order "
                         f"in {order.currency}")  # fmt: skip
        covered[item.line_id] = covered.get(item.line_id, 0) + item.units
    if covered != dict(lines):
        raise refuse(f"the exchange items cover {covered}; the case returns {dict(lines)}")
    before: dict[str, int] = {}
    for other in existing:
        if other.state is not CaseState.CANCELED:
            for line in other.lines:
                before[line.line_id] = before.get(line.line_id, 0) + line.requested
    return quote_exchange(order, items, policy=policy, now=now, earlier=before).difference


def _condition(
    condition: Condition | str | Mapping[str, Condition | str], line_id: str
) -> Condition:
    value = condition.get(line_id) if isinstance(condition, Mapping) else condition
    if value is None:
        raise InvalidInputError(f"no condition given for line {line_id}")
    return parse_enum(Condition, value, f"condition for line {line_id}")


@checked
def open_case(
    order: Order,
    *,
    id: str,
    type: CaseType | str,
    lines: Mapping[str, int],
    reason: str,
    actor: Actor,
    now: datetime,
    policy: ReturnPolicy,
    statutory_basis: StatutoryBasis | str | None = None,
    existing: Iterable[AfterSaleCase] = (),
    zone: str | None = None,
    informed: bool = True,
    country: str | None = None,
    subdivision: str | None = None,
    override: str | None = None,
    exchange: Iterable[ExchangeItem] = (),
) -> tuple[AfterSaleCase, list[DomainEvent]]:
    """File an after-sale case for some units of some lines, if the policy allows it now.

    Checks, in order: the lines exist and are not cancelled; the units asked for, with those of
    the order's other cases that are not canceled, fit each line's quantity; and, for cases that
    send goods back, each line's return window under ``policy`` is open and the goods are not
    excluded. Staff may pass ``override="why"`` to file outside the window; the override is
    recorded as its own event.

    Args:
        order: The order the case is about.
        id: The new case's id.
        type: ``return_and_refund``, ``refund_only``, ``exchange`` or ``replacement``.
        lines: Units per order line id.
        reason: The customer's reason code.
        actor: Who files it.
        now: The current time, timezone-aware.
        policy: The return policy that decides the window.
        statutory_basis: The legal ground (default: the policy's for returns, else ``none``).
        existing: The order's other cases, for the quantity check.
        zone: The shop's time zone for counting days (default: the policy's).
        informed: Whether the customer was told of the statutory right.
        country: The consumer's country, for a policy that moves a last day off its public
            holidays (``eu_crd``).
        subdivision: The consumer's region, where public holidays differ.
        override: Staff's reason to file outside the window or despite an exclusion.
        exchange: For an exchange (换货): what goes out for each line's units, the same SKU or
            another; the case records the price difference (new price − the units' paid share).

    Returns:
        The case, in state ``requested`` at version 1, and its events.

    Raises:
        TransitionRejectedError: the window is closed, the goods are excluded, or the units do
            not fit; the message says which and why.
        QuantityError: a unit count is not a positive int.
    """
    require_aware(now, "now")
    kind = parse_enum(CaseType, type, "case type")
    basis = (
        parse_enum(StatutoryBasis, statutory_basis, "statutory basis")
        if statutory_basis
        else (policy.basis if kind.needs_return else StatutoryBasis.NONE)
    )

    def refuse(why: str) -> TransitionRejectedError:
        return TransitionRejectedError(
            why,
            workflow=AfterSaleWorkflow.workflow_name,
            entity_id=id,
            event="request",
            state="(new)",
        )

    _check_units(order, lines, existing, refuse)
    trace: list[dict[str, Any]] = []
    # A warranty claim is not bound by a return window, unless the policy is the warranty's own
    # (三包: 7 days to return, 15 to exchange).
    windowed = basis is not StatutoryBasis.WARRANTY or policy.basis is StatutoryBasis.WARRANTY
    if kind.needs_return and windowed:
        for line_id in lines:
            window = return_window(
                order,
                line_id,
                policy=policy,
                now=now,
                zone=zone,
                informed=informed,
                country=country,
                subdivision=subdivision,
                purpose="exchange" if kind is CaseType.EXCHANGE else "return",
            )
            trace.extend(s.model_dump(mode="json") for s in window.trace)
            problem = _window_problem(line_id, window)
            if problem and not override:
                raise refuse(problem)
            if problem:
                overridden = step("window", "returns.overridden", line=line_id, reason=override)
                trace.append(overridden.model_dump(mode="json"))
    items = tuple(exchange)
    difference = _difference(order, kind, lines, items, existing, refuse, policy, now)
    case = AfterSaleCase(
        id=id,
        order_id=order.id,
        type=kind,
        reason=reason,
        statutory_basis=basis,
        lines=tuple(CaseLine(line_id=line_id, requested=units) for line_id, units in lines.items()),
        requested_at=now,
        shipped_before=bool(order.shipments),
        exchange=items,
        difference=difference,
        version=1,
    )
    common: dict[str, Any] = {
        "kind": AfterSaleWorkflow.workflow_name,
        "actor": actor,
        "now": now,
        "policy_version": policy.version,
    }
    requested = creation_event(
        "aftersale.requested",
        case,
        payload={
            "order_id": order.id,
            "type": kind,
            "lines": dict(lines),
            "reason": reason,
            "statutory_basis": basis,
            "policy": policy.id,
            "policy_hash": policy.policy_hash,
            "trace": trace,
            "difference": difference,
        },
        **common,
    )
    events = [requested]
    if override:
        events.append(
            creation_event(
                "aftersale.policy_overridden",
                case,
                payload={"override": override},
                causation_id=requested.id,
                **common,
            )
        )
    return case, events


def _window_problem(line_id: str, window: Any) -> str | None:
    if window.status == "excluded":
        return f"line {line_id} cannot be returned without reason: {window.exclusion}"
    if window.status == "closed":
        return f"the return window for line {line_id} closed on {window.last_day.isoformat()}"
    return None


def _check_units(
    order: Order,
    lines: Mapping[str, int],
    existing: Iterable[AfterSaleCase],
    refuse: Any,
) -> None:
    if not lines:
        raise InvalidInputError("a case needs lines={line_id: units}")
    taken: dict[str, int] = {}
    for case in existing:
        if case.order_id != order.id:
            raise InvalidInputError(
                f"case {case.id} belongs to order {case.order_id}, not {order.id}"
            )
        if case.state in _OPEN_STATES:
            for line in case.lines:
                taken[line.line_id] = taken.get(line.line_id, 0) + line.requested
    for line_id, units in lines.items():
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise QuantityError(f"units for line {line_id} must be a positive int, got {units!r}")
        order_line = order.line(line_id)
        available = (
            order_line.quantity - order.canceled_units.get(line_id, 0) - taken.get(line_id, 0)
        )
        if units > available:
            raise refuse(
                f"line {line_id} has {available} unit(s) not already in a case or cancelled; "
                f"cannot ask for {units}"
            )
