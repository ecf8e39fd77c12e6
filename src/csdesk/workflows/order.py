"""The order lifecycle: pending payment → processing → shipped → delivered → completed → closed.

Send events with `csdesk.workflows.fire`::

    fire(OrderWorkflow, order, "pay", actor=customer, now=now, payments=[payment])

| event | from → to | needs |
|---|---|---|
| ``pay`` | pending_payment → processing | ``payments`` covering the total |
| ``expire`` | pending_payment → canceled | ``timers``; now past ``pay_by`` |
| ``cancel`` | pending_payment, processing → canceled | ``reason``; nothing shipped |
| ``cancel_lines`` | processing → processing | ``lines`` (units per line id), ``reason`` |
| ``modify`` | pending_payment, processing → same | ``address`` and/or ``lines`` (lines before payment) |
| ``ship`` | processing → shipped | ``shipment`` with a tracking number |
| ``deliver`` | shipped → delivered | ``signed_at`` |
| ``confirm_receipt`` | shipped, delivered → completed | the customer; refunds settled |
| ``auto_confirm`` | shipped, delivered → completed | ``timers``; now past auto-confirm |
| ``complete`` | delivered → completed | refunds settled |
| ``close`` | completed → closed | ``timers``, ``open_cases=0``; after-sale period over |
| ``close`` | canceled → closed | refunds settled |
| ``settle_refund`` | any but closed → same | ``refund_id`` of a refund due |

Cancelling a paid order (or some of its lines) records the refunds it owes per tender in
``refunds_due`` and emits an ``order.refund_required`` event for each; the order cannot complete
until the refund step settles them (``settle_refund``).
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, ClassVar

from statemachine import State

from csdesk.events import Actor, ActorKind
from csdesk.models import LineDraft, Order, Payment, RefundDue, Shipment
from csdesk.money import Money, allocate
from csdesk.policies.timers import TimerPreset
from csdesk.privacy import mask_address
from csdesk.workflows._engine import Workflow
from csdesk.workflows.timers import order_deadlines

__all__ = ["OrderWorkflow"]


def _due(order: Order, kind: str, timers: TimerPreset | None) -> datetime | None:
    if timers is None:
        return None
    found = [d for d in order_deadlines(order, timers) if d.kind == kind]
    return found[0].due_at if found else None


class OrderWorkflow(Workflow[Order]):
    """The order machine. States are the strings the host stores in ``Order.state``."""

    workflow_name = "order"
    event_types: ClassVar[Mapping[str, str]] = {
        "pay": "order.paid",
        "expire": "order.expired",
        "cancel": "order.canceled",
        "cancel_lines": "order.lines_canceled",
        "modify": "order.modified",
        "ship": "order.shipped",
        "deliver": "order.delivered",
        "confirm_receipt": "order.receipt_confirmed",
        "auto_confirm": "order.receipt_auto_confirmed",
        "complete": "order.completed",
        "close": "order.closed",
        "settle_refund": "order.refund_settled",
    }

    common_arguments: ClassVar[Mapping[str, Any]] = {"timers": TimerPreset}
    arguments: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "pay": {"payments": list[Payment] | tuple[Payment, ...]},
        "cancel": {"reason": str},
        "cancel_lines": {"lines": dict[str, int], "reason": str},
        "modify": {"address": str, "lines": list[LineDraft] | tuple[LineDraft, ...]},
        "ship": {"shipment": Shipment},
        "deliver": {"signed_at": datetime},
        "close": {"open_cases": int},
        "settle_refund": {"refund_id": str},
    }

    pending_payment = State(initial=True)
    processing = State()
    shipped = State()
    delivered = State()
    completed = State()
    closed = State(final=True)
    canceled = State()

    pay = pending_payment.to(processing, validators="_check_payment", on="_record_payment")
    expire = pending_payment.to(canceled, validators="_check_expired", on="_record_expiry")
    cancel = pending_payment.to(canceled, validators="_check_cancel", on="_record_cancel") | (
        processing.to(canceled, validators="_check_cancel", on="_record_cancel")
    )
    cancel_lines = processing.to(
        processing, internal=True, validators="_check_cancel_lines", on="_record_cancel_lines"
    )
    modify = pending_payment.to(
        pending_payment, internal=True, validators="_check_modify", on="_record_modify"
    ) | processing.to(processing, internal=True, validators="_check_modify", on="_record_modify")
    ship = processing.to(shipped, validators="_check_shipment", on="_record_shipment")
    deliver = shipped.to(delivered, validators="_check_delivery", on="_record_delivery")
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
        | shipped.to(shipped, internal=True, validators="_check_settle", on="_record_settle")
        | delivered.to(delivered, internal=True, validators="_check_settle", on="_record_settle")
        | completed.to(completed, internal=True, validators="_check_settle", on="_record_settle")
        | canceled.to(canceled, internal=True, validators="_check_settle", on="_record_settle")
    )

    # guards -----------------------------------------------------------------------------------

    def refunds_are_settled(self) -> bool:
        """Completion waits for every refund a cancellation owes."""
        return self.model.refunds_settled

    # pay --------------------------------------------------------------------------------------

    def _check_payment(self, payments: Sequence[Payment] | None = None) -> None:
        order = self.model
        if not payments:
            self.refuse("pay needs payments=[Payment(...)], one per tender")
        for payment in payments:
            if not isinstance(payment, Payment):
                self.refuse(f"payments must be Payment objects, got {payment!r}")
            if payment.captured.currency != order.currency:
                self.refuse(
                    f"payment {payment.id} is in {payment.captured.currency}; the order is in "
                    f"{order.currency}"
                )
        captured = sum((p.captured for p in payments), order.captured)
        if captured < order.total:
            self.refuse(f"payments of {captured} do not cover the order total {order.total}")

    def _record_payment(self, payments: Sequence[Payment], now: datetime) -> None:
        self.model.payments = (*self.model.payments, *payments)
        self.model.paid_at = now
        self.detail(
            payments=[{"id": p.id, "method": p.method, "captured": p.captured} for p in payments]
        )

    # expire -----------------------------------------------------------------------------------

    def _check_expired(self, now: datetime, timers: TimerPreset | None = None) -> None:
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

    def _check_cancel(self, reason: str | None = None) -> None:
        if not reason or not str(reason).strip():
            self.refuse("a reason is required to cancel an order")
        if self.model.shipments:
            self.refuse("the order has shipped; open an after-sale case instead")

    def _record_cancel(self, reason: str, now: datetime, actor: Actor) -> None:
        order = self.model
        order.canceled_at = now
        order.cancel_reason = reason
        owed = order.captured - sum(
            (r.amount for r in order.refunds_due), Money.zero(order.currency)
        )
        if not owed.is_zero:
            self._owe(owed, reason=reason, now=now, lines={})
        self.detail(reason=reason, by=actor.kind)

    # cancel_lines -----------------------------------------------------------------------------

    def _check_cancel_lines(
        self, lines: Mapping[str, int] | None = None, reason: str | None = None
    ) -> None:
        order = self.model
        if not reason or not str(reason).strip():
            self.refuse("a reason is required to cancel lines")
        if order.shipments:
            self.refuse("the order has shipped; open an after-sale case instead")
        if not lines:
            self.refuse("cancel_lines needs lines={line_id: units}")
        remaining_units = 0
        for line in order.lines:
            left = line.quantity - order.canceled_units.get(line.id, 0)
            units = lines.get(line.id, 0)
            if isinstance(units, bool) or not isinstance(units, int) or units < 0 or units > left:
                self.refuse(f"line {line.id} has {left} unit(s) left to cancel, not {units!r}")
            remaining_units += left - units
        unknown = sorted(set(lines) - {line.id for line in order.lines})
        if unknown:
            self.refuse(f"the order has no line(s) {', '.join(unknown)}")
        if remaining_units == 0:
            self.refuse("that cancels every unit; cancel the order instead")

    def _record_cancel_lines(self, lines: Mapping[str, int], reason: str, now: datetime) -> None:
        order = self.model
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

    def _check_modify(
        self, address: str | None = None, lines: Sequence[LineDraft] | None = None
    ) -> None:
        if address is None and lines is None:
            self.refuse("modify needs address=... and/or lines=[LineDraft(...)]")
        if address is not None and not str(address).strip():
            self.refuse("the new address is empty")
        if lines is not None and self.model.state != "pending_payment":
            self.refuse("lines can change only before payment; cancel lines instead")
        if lines is not None and (
            isinstance(lines, str | bytes | Mapping)
            or not lines
            or not all(isinstance(line, LineDraft) for line in lines)
        ):
            self.refuse("lines must be a non-empty list of LineDraft")

    def _record_modify(
        self, address: str | None = None, lines: Sequence[LineDraft] | None = None
    ) -> None:
        order = self.model
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
            )
            order.lines = replaced.lines
            changes.update(total_before=before, total_after=order.total)
        self.detail(**changes)

    # ship, deliver, complete, close -------------------------------------------------------------

    def _check_shipment(self, shipment: Shipment | None = None) -> None:
        if not isinstance(shipment, Shipment):
            self.refuse("ship needs shipment=Shipment(...) with a carrier and a tracking number")
        if not shipment.tracking_number.strip():
            self.refuse("a tracking number is required to ship")

    def _record_shipment(self, shipment: Shipment, now: datetime) -> None:
        if shipment.shipped_at is None:
            shipment = shipment.model_copy(update={"shipped_at": now})
        self.model.shipments = (*self.model.shipments, shipment)
        self.detail(
            shipment={
                "id": shipment.id,
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
            }
        )

    def _check_delivery(self, now: datetime, signed_at: datetime | None = None) -> None:
        if not isinstance(signed_at, datetime) or signed_at.utcoffset() is None:
            self.refuse("deliver needs signed_at, the timezone-aware time of sign-off")
        if signed_at > now:
            self.refuse(f"signed_at {signed_at.isoformat()} is in the future")

    def _record_delivery(self, signed_at: datetime) -> None:
        order = self.model
        order.signed_at = signed_at
        order.shipments = tuple(
            s if s.delivered_at else s.model_copy(update={"delivered_at": signed_at})
            for s in order.shipments
        )

    def _check_customer(self, actor: Actor) -> None:
        if actor.kind not in {ActorKind.CUSTOMER, ActorKind.PLATFORM}:
            self.refuse("only the customer (or the platform for them) confirms receipt")

    def _check_auto_confirm(self, now: datetime, timers: TimerPreset | None = None) -> None:
        due = _due(self.model, "auto_confirm_at", timers)
        if due is None:
            self.refuse("auto-confirm needs a timer preset with auto_confirm (timers=...)")
        if now < due:
            self.refuse(f"receipt auto-confirms at {due.isoformat()}, not before")
        self.detail(timers=timers.id if timers else None, due_at=due)

    def _record_completion(self, now: datetime) -> None:
        self.model.completed_at = now

    def _check_close(
        self, now: datetime, timers: TimerPreset | None = None, open_cases: int | None = None
    ) -> None:
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

    def _check_settle(self, refund_id: str | None = None) -> None:
        for refund in self.model.refunds_due:
            if refund.id == refund_id:
                if refund.settled:
                    self.refuse(f"refund {refund_id} is already settled")
                return
        known = ", ".join(r.id for r in self.model.refunds_due) or "none"
        self.refuse(f"no refund due with id {refund_id!r}; refunds due: {known}")

    def _record_settle(self, refund_id: str) -> None:
        self.model.refunds_due = tuple(
            r.model_copy(update={"settled": True}) if r.id == refund_id else r
            for r in self.model.refunds_due
        )
