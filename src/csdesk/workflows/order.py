"""The order lifecycle: pending payment → processing → shipped → delivered → completed → closed.

Send commands with `csdesk.workflows.run`::

    run(order, PayOrder(payments=[payment]), actor=customer, now=now)

| command (event) | from → to | needs |
|---|---|---|
| `PayOrder` (``pay``) | pending_payment → processing | ``payments`` covering the total |
| `ExpireOrder` (``expire``) | pending_payment → canceled | ``timers`` or ``pay_by``; now past it |
| `CancelOrder` (``cancel``) | pending_payment, processing → canceled | ``reason``; nothing shipped |
| `CancelLines` (``cancel_lines``) | processing → processing; partially_shipped → same, or shipped when it cancels the rest | ``lines`` (units per line id not shipped), ``reason`` |
| `ModifyOrder` (``modify``) | pending_payment, processing → same | ``address`` and/or ``lines`` (lines before payment) |
| `EditOrder` (``edit``) | processing → processing | ``add``, ``reduce``, ``remove``; nothing shipped; the difference refunded or left as ``balance_due`` |
| `PayBalance` (``pay_balance``) | processing → processing | ``payment`` of exactly ``balance_due`` |
| `ShipOrder` (``ship``) | processing, partially_shipped → partially_shipped (units left) or shipped | ``shipment`` with a tracking number; ``lines`` for part of the order |
| `DeliverOrder` (``deliver``) | shipped → delivered | ``signed_at`` (every parcel) |
| `DeliverParcel` (``deliver_parcel``) | partially_shipped, shipped → same, or delivered with the last parcel | ``shipment_id``, ``signed_at`` |
| `ConfirmReceipt` (``confirm_receipt``) | shipped, delivered → completed | the customer; refunds settled |
| `AutoConfirmReceipt` (``auto_confirm``) | shipped, delivered → completed | ``timers``; now past auto-confirm |
| `CompleteOrder` (``complete``) | delivered → completed | refunds settled |
| `CloseOrder` (``close``) | completed → closed | ``timers``, ``open_cases=0``; after-sale period over |
| `CloseOrder` (``close``) | canceled → closed | refunds settled |
| `SettleRefundDue` (``settle_refund``) | any but closed → same | ``refund_id`` of a refund due |

Cancelling a paid order (or some of its lines) records the refunds it owes per tender in
``refunds_due`` and emits an ``order.refund_required`` event for each; the order cannot complete
until the refund step settles them (``settle_refund``).
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, Field
from statemachine import State

from csdesk.errors import CsdeskError
from csdesk.events import Actor, ActorKind
from csdesk.models import LineDraft, Order, OrderState, Payment, RefundDue, Shipment
from csdesk.money import Money, allocate
from csdesk.policies.timers import TimerPreset
from csdesk.privacy import mask_address
from csdesk.workflows._engine import Command, Workflow
from csdesk.workflows.timers import order_deadlines

__all__ = [
    "AutoConfirmReceipt",
    "CancelLines",
    "CancelOrder",
    "CloseOrder",
    "CompleteOrder",
    "ConfirmReceipt",
    "DeliverOrder",
    "DeliverParcel",
    "EditOrder",
    "ExpireOrder",
    "ModifyOrder",
    "OrderWorkflow",
    "PayBalance",
    "PayOrder",
    "SettleRefundDue",
    "ShipOrder",
]

Reason = Annotated[str, Field(min_length=1, max_length=500)]
"""Why: required, not blank (surrounding whitespace is dropped)."""


class PayOrder(Command[Order]):
    """Record the payments that cover the order (one `Payment` per tender)."""

    event = "pay"
    payments: Sequence[Payment] = Field(min_length=1)


class ExpireOrder(Command[Order]):
    """Cancel an unpaid order whose payment deadline has passed.

    The deadline is the order's ``pay_by``, or else the ``pay_by`` timer of ``timers``.
    """

    event = "expire"
    timers: TimerPreset | None = None


class CancelOrder(Command[Order]):
    """Cancel an order that has not shipped; a paid one then owes its refunds."""

    event = "cancel"
    reason: Reason


class CancelLines(Command[Order]):
    """Cancel some units of a paid, unshipped order (units per line id); the rest stays."""

    event = "cancel_lines"
    lines: dict[str, int] = Field(min_length=1)
    reason: Reason


class ModifyOrder(Command[Order]):
    """Change the shipping address and/or (before payment) the lines."""

    event = "modify"
    address: str | None = None
    lines: Sequence[LineDraft] | None = Field(default=None, min_length=1)


class EditOrder(Command[Order]):
    """Change a paid order before it ships: add lines, take units off, remove lines.

    The lines that do not change keep what they paid (no settled money is split again). Units
    taken off are worth their paid share; lines added cost their price less their own discount
    (no share of the order's coupon or shipping), with their tax. The difference is refunded to
    the tenders (``refunds_due``, as a cancellation is) or left to collect (``balance_due``, paid
    with `PayBalance` before the order ships). The event records the lines before and after.
    """

    event = "edit"
    add: Sequence[LineDraft] = ()
    reduce: Mapping[str, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)
    remove: Sequence[str] = ()
    reason: str = Field(default="customer_edit", min_length=1, max_length=200)


class PayBalance(Command[Order]):
    """Collect what an edit left to pay (``balance_due``): a payment of exactly that amount."""

    event = "pay_balance"
    payment: Payment


class ShipOrder(Command[Order]):
    """Hand the order, or part of it, to a carrier (拆单: one command per parcel).

    A parcel with ``lines`` (units per line id) ships those units; while units are left to ship
    the order is ``partially_shipped``. A parcel without ``lines`` ships everything left.
    """

    event = "ship"
    shipment: Shipment


class DeliverParcel(Command[Order]):
    """One parcel signed for (签收) at ``signed_at``; the last one delivers the order."""

    event = "deliver_parcel"
    shipment_id: str = Field(min_length=1)
    signed_at: AwareDatetime


class DeliverOrder(Command[Order]):
    """Record the customer's sign-off (签收) at ``signed_at``."""

    event = "deliver"
    signed_at: AwareDatetime


class ConfirmReceipt(Command[Order]):
    """The customer (or the platform for them) confirms receipt (确认收货)."""

    event = "confirm_receipt"


class AutoConfirmReceipt(Command[Order]):
    """Confirm receipt for the customer once the preset's auto-confirm period has run."""

    event = "auto_confirm"
    timers: TimerPreset


class CompleteOrder(Command[Order]):
    """Complete a delivered order (the shop's own completion, refunds settled)."""

    event = "complete"


class CloseOrder(Command[Order]):
    """Close a completed order after its after-sale period, or a canceled one.

    A completed order needs ``timers`` (for the after-sale period) and ``open_cases=0``.
    """

    event = "close"
    timers: TimerPreset | None = None
    open_cases: int | None = Field(default=None, ge=0)


class SettleRefundDue(Command[Order]):
    """Mark a refund the order owes (``Order.refunds_due``) as paid out."""

    event = "settle_refund"
    refund_id: str = Field(min_length=1)


def _due(order: Order, kind: str, timers: TimerPreset | None) -> datetime | None:
    if timers is None:
        return None
    found = [d for d in order_deadlines(order, timers) if d.kind == kind]
    return found[0].due_at if found else None


def _lines_view(order: Order) -> list[dict[str, Any]]:
    """Each line's units still ordered (bought less canceled) and what they paid."""
    view = []
    for line in order.lines:
        units = line.quantity - order.canceled_units.get(line.id, 0)
        if units:
            view.append({"id": line.id, "sku": line.sku, "units": units})
    return view


class OrderWorkflow(Workflow[Order]):
    """The order machine. States are `csdesk.models.OrderState` members, kept in ``Order.state``."""

    workflow_name = "order"
    event_types: ClassVar[Mapping[str, str]] = {
        "pay": "order.paid",
        "expire": "order.expired",
        "cancel": "order.canceled",
        "cancel_lines": "order.lines_canceled",
        "modify": "order.modified",
        "edit": "order.edited",
        "pay_balance": "order.balance_paid",
        "ship": "order.shipped",
        "deliver": "order.delivered",
        "deliver_parcel": "order.parcel_delivered",
        "confirm_receipt": "order.receipt_confirmed",
        "auto_confirm": "order.receipt_auto_confirmed",
        "complete": "order.completed",
        "close": "order.closed",
        "settle_refund": "order.refund_settled",
    }

    commands = (
        PayOrder,
        ExpireOrder,
        CancelOrder,
        CancelLines,
        ModifyOrder,
        EditOrder,
        PayBalance,
        ShipOrder,
        DeliverOrder,
        DeliverParcel,
        ConfirmReceipt,
        AutoConfirmReceipt,
        CompleteOrder,
        CloseOrder,
        SettleRefundDue,
    )

    pending_payment = State(value=OrderState.PENDING_PAYMENT, initial=True)
    processing = State(value=OrderState.PROCESSING)
    partially_shipped = State(value=OrderState.PARTIALLY_SHIPPED)
    shipped = State(value=OrderState.SHIPPED)
    delivered = State(value=OrderState.DELIVERED)
    completed = State(value=OrderState.COMPLETED)
    closed = State(value=OrderState.CLOSED, final=True)
    canceled = State(value=OrderState.CANCELED)

    pay = pending_payment.to(processing, validators="_check_payment", on="_record_payment")
    expire = pending_payment.to(canceled, validators="_check_expired", on="_record_expiry")
    cancel = pending_payment.to(canceled, validators="_check_cancel", on="_record_cancel") | (
        processing.to(canceled, validators="_check_cancel", on="_record_cancel")
    )
    cancel_lines = (
        processing.to(processing, internal=True, validators="_check_cancel_lines",
                      on="_record_cancel_lines")
        | partially_shipped.to(shipped, cond="cancels_the_rest", validators="_check_cancel_lines",
                               on="_record_cancel_lines")
        | partially_shipped.to(partially_shipped, internal=True, unless="cancels_the_rest",
                               validators="_check_cancel_lines", on="_record_cancel_lines")
    )  # fmt: skip
    modify = pending_payment.to(
        pending_payment, internal=True, validators="_check_modify", on="_record_modify"
    ) | processing.to(processing, internal=True, validators="_check_modify", on="_record_modify")
    edit = processing.to(processing, internal=True, validators="_check_edit", on="_record_edit")
    pay_balance = processing.to(processing, internal=True, validators="_check_balance",
                                on="_record_balance")  # fmt: skip
    ship = (
        processing.to(partially_shipped, cond="ships_part", validators="_check_shipment",
                      on="_record_shipment")
        | processing.to(shipped, unless="ships_part", validators="_check_shipment",
                        on="_record_shipment")
        | partially_shipped.to(partially_shipped, internal=True, cond="ships_part",
                               validators="_check_shipment", on="_record_shipment")
        | partially_shipped.to(shipped, unless="ships_part", validators="_check_shipment",
                               on="_record_shipment")
    )  # fmt: skip
    deliver = shipped.to(delivered, validators="_check_delivery", on="_record_delivery")
    deliver_parcel = (
        partially_shipped.to(partially_shipped, internal=True, validators="_check_parcel",
                             on="_record_parcel")
        | shipped.to(delivered, cond="last_parcel", validators="_check_parcel",
                     on="_record_parcel")
        | shipped.to(shipped, internal=True, unless="last_parcel", validators="_check_parcel",
                     on="_record_parcel")
    )  # fmt: skip
    confirm_receipt = shipped.to(
        completed, cond="refunds_are_settled", validators="_check_customer", on="_record_completion"
    ) | delivered.to(
        completed, cond="refunds_are_settled", validators="_check_customer", on="_record_completion"
    )
    auto_confirm = shipped.to(
        completed,
        cond="refunds_are_settled",
        validators="_check_auto_confirm",
        on="_record_completion",
    ) | delivered.to(
        completed,
        cond="refunds_are_settled",
        validators="_check_auto_confirm",
        on="_record_completion",
    )
    complete = delivered.to(completed, cond="refunds_are_settled", on="_record_completion")
    close = completed.to(closed, validators="_check_close") | canceled.to(
        closed, cond="refunds_are_settled"
    )
    settle_refund = (
        processing.to(processing, internal=True, validators="_check_settle", on="_record_settle")
        | partially_shipped.to(
            partially_shipped, internal=True, validators="_check_settle", on="_record_settle"
        )
        | shipped.to(shipped, internal=True, validators="_check_settle", on="_record_settle")
        | delivered.to(delivered, internal=True, validators="_check_settle", on="_record_settle")
        | completed.to(completed, internal=True, validators="_check_settle", on="_record_settle")
        | canceled.to(canceled, internal=True, validators="_check_settle", on="_record_settle")
    )

    # guards -----------------------------------------------------------------------------------

    def refunds_are_settled(self) -> bool:
        """Completion waits for every refund a cancellation owes."""
        return self.model.refunds_settled

    def ships_part(self, command: ShipOrder) -> bool:
        """Units are left to ship after this parcel."""
        left = self.model.unshipped_units()
        for line_id, units in command.shipment.lines.items():
            left[line_id] = left.get(line_id, 0) - units
        return bool(command.shipment.lines) and any(units > 0 for units in left.values())

    def last_parcel(self, command: DeliverParcel) -> bool:
        """Every other parcel has arrived (and every unit has shipped)."""
        order = self.model
        others = [p for p in order.shipments if p.id != command.shipment_id]
        return all(p.delivered_at is not None for p in others) and not order.unshipped_units()

    def cancels_the_rest(self, command: CancelLines) -> bool:
        """The cancellation takes every unit still to ship: the order has shipped in full."""
        left = self.model.unshipped_units()
        return all(command.lines.get(line_id, 0) >= units for line_id, units in left.items())

    # pay --------------------------------------------------------------------------------------

    def _check_payment(self, command: PayOrder) -> None:
        order = self.model
        payments = command.payments
        for payment in payments:
            if payment.captured.currency != order.currency:
                self.refuse(
                    f"payment {payment.id} is in {payment.captured.currency}; the order is in "
                    f"{order.currency}"
                )
        captured = sum((p.captured for p in payments), order.captured)
        if captured < order.total:
            self.refuse(f"payments of {captured} do not cover the order total {order.total}")

    def _record_payment(self, command: PayOrder, now: datetime) -> None:
        payments = command.payments
        self.model.payments = (*self.model.payments, *payments)
        self.model.paid_at = now
        self.detail(
            payments=[{"id": p.id, "method": p.method, "captured": p.captured} for p in payments]
        )

    # expire -----------------------------------------------------------------------------------

    def _check_expired(self, command: ExpireOrder, now: datetime) -> None:
        timers = command.timers
        due = self.model.pay_by or _due(self.model, "pay_by", timers)
        if due is None:
            self.refuse("the order has no pay_by and no timer preset was given (timers=...)")
        if now < due:
            self.refuse(f"payment is not overdue: pay_by is {due.isoformat()}")
        self.detail(pay_by=due, timers=timers.id if timers else None)

    def _record_expiry(self, now: datetime) -> None:
        self.model.canceled_at = now
        self.model.cancel_reason = "payment_timeout"

    # cancel -----------------------------------------------------------------------------------

    def _check_cancel(self) -> None:
        if self.model.shipments:
            self.refuse("the order has shipped; open an after-sale case instead")

    def _record_cancel(self, command: CancelOrder, now: datetime, actor: Actor) -> None:
        order = self.model
        reason = command.reason
        order.canceled_at = now
        order.cancel_reason = reason
        owed = order.captured - sum(
            (r.amount for r in order.refunds_due), Money.zero(order.currency)
        )
        if not owed.is_zero:
            self._owe(owed, reason=reason, now=now, lines={})
        self.detail(reason=reason, by=actor.kind)

    # cancel_lines -----------------------------------------------------------------------------

    def _check_cancel_lines(self, command: CancelLines) -> None:
        order = self.model
        lines = command.lines
        shipped = order.shipped_units()
        if order.shipments and not order.unshipped_units():
            self.refuse("the order has shipped; open an after-sale case instead")
        remaining_units = 0
        for line in order.lines:
            left = line.quantity - order.canceled_units.get(line.id, 0) - shipped.get(line.id, 0)
            units = lines.get(line.id, 0)
            if units < 0 or units > left:
                self.refuse(
                    f"line {line.id} has {left} unit(s) left to cancel (not shipped), not {units!r}"
                )
            remaining_units += left - units + shipped.get(line.id, 0)
        unknown = sorted(set(lines) - {line.id for line in order.lines})
        if unknown:
            self.refuse(f"the order has no line(s) {', '.join(unknown)}")
        if remaining_units == 0:
            self.refuse("that cancels every unit; cancel the order instead")

    def _record_cancel_lines(self, command: CancelLines, now: datetime) -> None:
        order = self.model
        lines, reason = command.lines, command.reason
        refund = Money.zero(order.currency)
        canceled = dict(order.canceled_units)
        for line_id, units in lines.items():
            if units:
                line = order.line(line_id)
                already = canceled.get(line_id, 0)
                refund += line.refund_split(units=units, already=already).paid
                canceled[line_id] = already + units
        order.canceled_units = canceled
        if order.payments and not refund.is_zero:
            self._owe(refund, reason=reason, now=now, lines={k: v for k, v in lines.items() if v})
        self.detail(lines=dict(lines), reason=reason, refund=refund)

    def _owe(self, amount: Money, *, reason: str, now: datetime, lines: dict[str, int]) -> None:
        order = self.model
        shares = allocate(amount, [payment.captured for payment in order.payments])
        owed = list(order.refunds_due)
        for payment, share in zip(order.payments, shares, strict=True):
            if share.is_zero:
                continue
            due = RefundDue(
                id=f"{order.id}-R{len(owed) + 1}",
                payment_id=payment.id,
                amount=share,
                reason=reason,
                lines=lines,
                created_at=now,
            )
            owed.append(due)
            self.emit(
                "refund_required",
                refund_id=due.id,
                payment_id=payment.id,
                method=payment.method,
                amount=share,
                reason=reason,
                lines=lines,
            )
        order.refunds_due = tuple(owed)

    # modify -----------------------------------------------------------------------------------

    def _check_modify(self, command: ModifyOrder) -> None:
        address, lines = command.address, command.lines
        if address is None and lines is None:
            self.refuse("modify needs address=... and/or lines=[LineDraft(...)]")
        if address is not None and not address.strip():
            self.refuse("the new address is empty")
        if lines is not None and self.model.state != OrderState.PENDING_PAYMENT:
            self.refuse("lines can change only before payment; cancel lines instead")

    def _record_modify(self, command: ModifyOrder) -> None:
        order = self.model
        address, lines = command.address, command.lines
        changes: dict[str, Any] = {"address": None, "lines": None}
        if address is not None:
            order.shipping_address = address
            changes["address"] = mask_address(address)
        if lines is not None:
            changes["lines"] = [{"sku": d.sku, "quantity": d.quantity} for d in lines]
            before = order.total
            replaced = Order.place(
                id=order.id,
                customer=order.customer,
                lines=lines,
                placed_at=order.placed_at,
                shipping_fee=order.shipping_fee,
                order_discount=order.order_discount,
                tax=order.tax,
                tax_included=order.tax_included,
                standard_shipping_fee=order.standard_shipping_fee,
                shipping_tax_percent=order.shipping_tax_percent,
                discount_threshold=order.discount_threshold,
                free_shipping_threshold=order.free_shipping_threshold,
                waived_shipping=order.waived_shipping,
            )
            order.lines = replaced.lines
            changes.update(total_before=before, total_after=order.total)
        self.detail(**changes)

    # ship, deliver, complete, close -------------------------------------------------------------

    def _check_edit(self, command: EditOrder) -> None:
        order = self.model
        if not (command.add or command.reduce or command.remove):
            self.refuse("edit needs add=[LineDraft(...)], reduce={line: units} or remove=[line]")
        if order.shipments:
            self.refuse("part of the order has shipped: cancel what has not (cancel_lines)")
        if order.balance_due is not None:
            self.refuse(f"collect the balance of the last edit first ({order.balance_due})")
        ids = {line.id for line in order.lines}
        for line_id in [*command.reduce, *command.remove]:
            if line_id not in ids:
                self.refuse(f"the order has no line {line_id!r}")
        left = {
            line.id: line.quantity - order.canceled_units.get(line.id, 0) for line in order.lines
        }
        for line_id, units in command.reduce.items():
            if line_id in command.remove:
                self.refuse(f"line {line_id} is both reduced and removed")
            if units > left[line_id]:
                self.refuse(f"line {line_id} has {left[line_id]} unit(s), not {units}")
        staying = sum(left.values()) - sum(command.reduce.values())
        staying -= sum(left[line_id] for line_id in set(command.remove))
        if staying + sum(d.quantity for d in command.add) <= 0:
            self.refuse("that leaves nothing in the order: cancel the order instead")
        for draft in command.add:
            if draft.unit_price.currency != order.currency:
                self.refuse(
                    f"the lines to add do not validate: {draft.sku} is priced in "
                    f"{draft.unit_price.currency}, the order in {order.currency}"
                )
            if draft.id is not None and draft.id in ids:
                self.refuse(f"line id {draft.id} is taken; leave id out for a new one")
            if draft.gift_of is not None:
                self.refuse("a gift comes with its line at placement, not in an edit")

    def _record_edit(self, command: EditOrder, now: datetime) -> None:
        order = self.model
        zero = Money.zero(order.currency)
        before = _lines_view(order)
        taken = dict(command.reduce)
        for line_id in command.remove:
            taken[line_id] = order.line(line_id).quantity - order.canceled_units.get(line_id, 0)
        taken = {line_id: units for line_id, units in taken.items() if units}
        credit = zero
        canceled = dict(order.canceled_units)
        for line_id, units in taken.items():
            already = canceled.get(line_id, 0)
            credit += order.line(line_id).refund_split(units=units, already=already).paid
            canceled[line_id] = already + units
        added: tuple[Any, ...] = ()
        cost = zero
        if command.add:
            try:
                priced = Order.place(
                    id=order.id,
                    customer=order.customer,
                    lines=command.add,
                    placed_at=order.placed_at,
                    tax_included=order.tax_included,
                )
            except CsdeskError as error:
                self.refuse(f"the lines to add do not validate: {error}")
            numbers = [int(line.id) for line in order.lines if line.id.isdigit()]
            next_id = max(numbers, default=0) + 1
            fresh = []
            for index, line in enumerate(priced.lines):
                draft_id = command.add[index].id
                fresh.append(line.model_copy(update={"id": draft_id or str(next_id + index)}))
            added = tuple(fresh)
            cost = priced.total
            order.__dict__["tax"] = order.tax + priced.tax  # lines and tax change together
            order.lines = (*order.lines, *added)
        order.canceled_units = canceled
        refund = credit - cost if credit > cost else zero
        due = cost - credit if cost > credit else zero
        if refund > zero and order.payments:
            self._owe(refund, reason=command.reason, now=now, lines=taken)
        order.balance_due = due if due > zero else None
        self.detail(before=before, after=_lines_view(order), taken=taken,
                    added=[line.id for line in added], credit=credit, cost=cost, refund=refund,
                    balance_due=due)  # fmt: skip

    def _check_balance(self, command: PayBalance) -> None:
        order, payment = self.model, command.payment
        if order.balance_due is None:
            self.refuse("no balance is due on this order")
        if payment.captured != order.balance_due:
            self.refuse(f"the balance due is {order.balance_due}, the payment {payment.captured}")
        if any(p.id == payment.id for p in order.payments):
            self.refuse(f"payment {payment.id} is recorded already")

    def _record_balance(self, command: PayBalance) -> None:
        order = self.model
        order.payments = (*order.payments, command.payment)
        order.balance_due = None
        self.detail(payment_id=command.payment.id, amount=command.payment.captured)

    def _check_shipment(self, command: ShipOrder) -> None:
        order, parcel = self.model, command.shipment
        if not parcel.tracking_number.strip():
            self.refuse("a tracking number is required to ship")
        if order.balance_due is not None:
            self.refuse(f"an edit left {order.balance_due} to collect: PayBalance first")
        if any(p.id == parcel.id for p in order.shipments):
            self.refuse(f"parcel {parcel.id} has shipped already")
        left = order.unshipped_units()
        for line_id, units in parcel.lines.items():
            if line_id not in {line.id for line in order.lines}:
                self.refuse(f"the order has no line {line_id!r}")
            if units > left.get(line_id, 0):
                self.refuse(
                    f"line {line_id} has {left.get(line_id, 0)} unit(s) left to ship, not {units}"
                )

    def _record_shipment(self, command: ShipOrder, now: datetime) -> None:
        order, shipment = self.model, command.shipment
        update: dict[str, Any] = {}
        if shipment.shipped_at is None:
            update["shipped_at"] = now
        if not shipment.lines and order.shipments:
            update["lines"] = order.unshipped_units()  # "the rest": name the units it carries
        if update:
            shipment = shipment.model_copy(update=update)
        order.shipments = (*order.shipments, shipment)
        self.detail(
            shipment={
                "id": shipment.id,
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "lines": dict(shipment.lines),
            },
            left=order.unshipped_units(),
        )

    def _check_parcel(self, command: DeliverParcel, now: datetime) -> None:
        parcel = next((p for p in self.model.shipments if p.id == command.shipment_id), None)
        if parcel is None:
            known = ", ".join(p.id for p in self.model.shipments)
            self.refuse(f"the order has no parcel {command.shipment_id!r} (parcels: {known})")
        if parcel.delivered_at is not None:
            self.refuse(f"parcel {parcel.id} was signed for at {parcel.delivered_at.isoformat()}")
        if command.signed_at > now:
            self.refuse(f"signed_at {command.signed_at.isoformat()} is in the future")

    def _record_parcel(self, command: DeliverParcel) -> None:
        order = self.model
        order.shipments = tuple(
            p.model_copy(update={"delivered_at": command.signed_at})
            if p.id == command.shipment_id
            else p
            for p in order.shipments
        )
        done = all(p.delivered_at is not None for p in order.shipments)
        if done and not order.unshipped_units():
            # The last parcel: the order's sign-off (an EU/UK window runs from it).
            order.signed_at = max(p.delivered_at for p in order.shipments if p.delivered_at)
        self.detail(shipment_id=command.shipment_id, signed_at=command.signed_at,
                    last=order.signed_at is not None)  # fmt: skip

    def _check_delivery(self, command: DeliverOrder, now: datetime) -> None:
        if command.signed_at > now:
            self.refuse(f"signed_at {command.signed_at.isoformat()} is in the future")

    def _record_delivery(self, command: DeliverOrder) -> None:
        order = self.model
        signed_at = command.signed_at
        order.signed_at = signed_at
        order.shipments = tuple(
            s if s.delivered_at else s.model_copy(update={"delivered_at": signed_at})
            for s in order.shipments
        )

    def _check_customer(self, actor: Actor) -> None:
        if actor.kind not in {ActorKind.CUSTOMER, ActorKind.PLATFORM}:
            self.refuse("only the customer (or the platform for them) confirms receipt")

    def _check_auto_confirm(self, command: AutoConfirmReceipt, now: datetime) -> None:
        timers = command.timers
        due = _due(self.model, "auto_confirm_at", timers)
        if due is None:
            self.refuse(f"timer preset {timers.id} has no auto_confirm timer")
        if now < due:
            self.refuse(f"receipt auto-confirms at {due.isoformat()}, not before")
        self.detail(timers=timers.id, due_at=due)

    def _record_completion(self, now: datetime) -> None:
        self.model.completed_at = now

    def _check_close(self, command: CloseOrder, now: datetime) -> None:
        timers, open_cases = command.timers, command.open_cases
        if open_cases is None:
            self.refuse("close needs open_cases=<number of open after-sale cases>")
        if open_cases:
            self.refuse(f"{open_cases} after-sale case(s) are still open")
        due = _due(self.model, "after_sale_until", timers)
        if due is None:
            self.refuse("close needs a timer preset with after_sale (timers=...)")
        if now < due:
            self.refuse(f"the after-sale period runs until {due.isoformat()}")
        self.detail(timers=timers.id if timers else None, after_sale_until=due)

    # settle_refund ----------------------------------------------------------------------------

    def _check_settle(self, command: SettleRefundDue) -> None:
        refund_id = command.refund_id
        for refund in self.model.refunds_due:
            if refund.id == refund_id:
                if refund.settled:
                    self.refuse(f"refund {refund_id} is already settled")
                return
        known = ", ".join(r.id for r in self.model.refunds_due) or "none"
        self.refuse(f"no refund due with id {refund_id!r}; refunds due: {known}")

    def _record_settle(self, command: SettleRefundDue) -> None:
        self.model.refunds_due = tuple(
            r.model_copy(update={"settled": True}) if r.id == command.refund_id else r
            for r in self.model.refunds_due
        )
