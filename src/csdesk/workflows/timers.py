"""Deadlines: every timer an order or after-sale case runs on, computed from what happened.

csdesk runs no threads and no in-process timers (they would not survive a restart). An entity
records when things happened (placed, paid, shipped, completed, requested, approved, …); a
`TimerPreset` says how long each step may take and what happens when it does not; `deadlines`
turns the two into absolute `Deadline`s, and `csdesk.workflows.sweep.due_events` tells the host's
scheduler which events to fire now. The scheduler then calls `csdesk.workflows.fire` with them,
like any other command, and the workflow's validators check the deadline again.

Presets (`timer_preset`, from `csdesk.policies.timers`): ``generic``, ``cn_platform``, ``eu_crd``
and ``uk_ccr``, each timer with its own ``source``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime

from csdesk._checks import checked
from csdesk.calendars import WeekdayCalendar, WorkingDayCalendar, provisional
from csdesk.decision import Decided, PolicyRef, inputs_hash, step
from csdesk.errors import InvalidInputError
from csdesk.models import AfterSaleCase, CaseState, CaseType, Order, OrderState
from csdesk.policies.timers import TimerPreset, TimerSpec, timer_preset

__all__ = [
    "Deadline",
    "DeadlineKind",
    "TimerPreset",
    "TimerSpec",
    "case_deadlines",
    "deadlines",
    "order_deadlines",
    "timer_preset",
]

DeadlineKind = Literal[
    "pay_by",
    "ship_by",
    "auto_confirm_at",
    "after_sale_until",
    "respond_by",
    "revise_by",
    "ship_back_by",
    "receive_by",
    "refund_by",
]


class Deadline(Decided):
    """One absolute deadline of one entity, in the decision envelope.

    ``policy`` is the timer preset (for a ``pay_by`` set on the order itself, a reference to
    the order) and ``decided_at`` the instant the timer started.

    Attributes:
        kind: Which timer (``pay_by``, ``auto_confirm_at``, ``respond_by``, …).
        due_at: When it expires (the answer).
        on_expiry: The event to fire then (see `TimerSpec.on_expiry`).
        active: Whether it still matters in the entity's current state.
        source: Where the timer's length comes from.
        provisional: Counted on estimated holidays (a provisional calendar); it may move.
    """

    answer_field: ClassVar[str] = "due_at"

    kind: str
    due_at: AwareDatetime
    on_expiry: str
    active: bool
    source: str
    provisional: bool = False


def _deadline(
    kind: str,
    spec: TimerSpec | None,
    start: datetime | None,
    *,
    active: bool,
    preset: TimerPreset,
    calendar: WorkingDayCalendar,
) -> Deadline | None:
    if spec is None or start is None:
        return None
    due_at = spec.due(start, zone=ZoneInfo(preset.time_zone), calendar=calendar)
    estimated = provisional(calendar, start.date(), due_at.date())
    trace = [
        step(
            "timer",
            "deadline.timer",
            kind=kind,
            start=start,
            working_days=spec.working_days,
            length=timedelta(days=spec.days, hours=spec.hours, minutes=spec.minutes),
            due=due_at,
        )
    ]
    if estimated:
        trace.append(step("timer", "deadline.provisional"))
    return Deadline.made(
        kind=kind,
        due_at=due_at,
        provisional=estimated,
        on_expiry=spec.on_expiry,
        active=active,
        source=spec.source,
        policy=preset.ref,
        trace=trace,
        decided_at=start,
        inputs=(kind, start, active),
    )


_Row = tuple[str, "TimerSpec | None", "datetime | None", bool]
_SETTLED = frozenset(
    {CaseState.RESOLVING, CaseState.RESOLVED, CaseState.CANCELED, CaseState.REJECTED}
)


def _deadlines(
    rows: list[_Row], *, preset: TimerPreset, calendar: WorkingDayCalendar
) -> list[Deadline]:
    """The deadlines of ``rows`` (kind, timer, start, active) that have both a timer and a start."""
    found = (
        _deadline(kind, spec, start, active=active, preset=preset, calendar=calendar)
        for kind, spec, start, active in rows
    )
    return [deadline for deadline in found if deadline is not None]


@checked
def order_deadlines(
    order: Order, preset: TimerPreset, calendar: WorkingDayCalendar | None = None
) -> list[Deadline]:
    """Every deadline an order has under ``preset``; ``pay_by`` set on the order wins."""
    cal = calendar or WeekdayCalendar()
    # Auto-confirmation counts from the parcel that completed the shipment (the last one).
    shipped = max((s.shipped_at for s in order.shipments if s.shipped_at), default=None)
    pay_by = (
        Deadline.made(
            kind="pay_by",
            due_at=order.pay_by,
            on_expiry="expire",
            active=order.state == OrderState.PENDING_PAYMENT,
            source="set on the order at placement",
            policy=PolicyRef(
                id="order_pay_by",
                version=str(order.version),
                hash=inputs_hash(order.id, order.pay_by),
                source=f"order {order.id}: pay_by set at placement",
            ),
            trace=[step("timer", "deadline.set_on_order", kind="pay_by", due=order.pay_by)],
            decided_at=order.placed_at,
            inputs=("pay_by", order.id, order.pay_by),
        )
        if order.pay_by is not None
        else None
    )
    rows: list[_Row] = [
        (
            "ship_by",
            preset.ship_by,
            order.paid_at,
            order.state in {OrderState.PROCESSING, OrderState.PARTIALLY_SHIPPED},
        ),
        (
            "auto_confirm_at",
            preset.auto_confirm,
            shipped,
            order.state in {OrderState.SHIPPED, OrderState.DELIVERED},
        ),
        (
            "after_sale_until",
            preset.after_sale,
            order.completed_at,
            order.state == OrderState.COMPLETED,
        ),
    ]
    if pay_by is None:
        rows.insert(
            0, ("pay_by", preset.pay_by, order.placed_at, order.state == OrderState.PENDING_PAYMENT)
        )
    found = _deadlines(rows, preset=preset, calendar=cal)
    return found if pay_by is None else [pay_by, *found]


@checked
def case_deadlines(
    case: AfterSaleCase, preset: TimerPreset, calendar: WorkingDayCalendar | None = None
) -> list[Deadline]:
    """Every deadline an after-sale case has under ``preset``."""
    cal = calendar or WeekdayCalendar()
    respond = preset.respond_by
    if case.type in {CaseType.RETURN_AND_REFUND, CaseType.EXCHANGE} and preset.respond_by_return:
        respond = preset.respond_by_return
    elif (
        case.type == CaseType.REFUND_ONLY
        and case.shipped_before is False
        and preset.respond_by_unshipped is not None
    ):
        respond = preset.respond_by_unshipped
    received_or_proof = min(
        (t for t in (case.received_at, case.return_shipped_at) if t is not None), default=None
    )
    moments = {
        "requested": case.requested_at,
        "approved": case.approved_at,
        "return_shipped": case.return_shipped_at,
        "received": case.received_at,
        "received_or_proof": received_or_proof,
    }

    def start(spec: TimerSpec | None, default: datetime | None) -> datetime | None:
        return moments[spec.starts] if spec is not None and spec.starts else default

    owed = (
        case.difference is not None
        and case.difference.amount > 0
        and case.difference_payment is None
    )

    rows: list[_Row] = [
        ("respond_by", respond, start(respond, case.requested_at),
         case.state == CaseState.REQUESTED),
        ("revise_by", preset.revise_by, start(preset.revise_by, case.rejected_at),
         case.state == CaseState.REJECTED),
        ("ship_back_by", preset.ship_back_by, start(preset.ship_back_by, case.approved_at),
         case.state == CaseState.AWAITING_RETURN),
        ("receive_by", preset.receive_by, start(preset.receive_by, case.return_shipped_at),
         case.state == CaseState.RETURN_IN_TRANSIT),
        ("refund_by", preset.refund_by, start(preset.refund_by, received_or_proof),
         case.state in {CaseState.RECEIVED, CaseState.RESOLVING}),
    ]  # fmt: skip
    if case.difference is not None and case.difference.amount > 0:
        rows.append(
            (
                "pay_difference_by",
                preset.pay_difference_by,
                start(preset.pay_difference_by, case.requested_at),
                owed and case.state not in _SETTLED,
            )
        )
    found = _deadlines(rows, preset=preset, calendar=cal)
    return [_withheld(d, preset, moments) for d in found]


def _withheld(
    deadline: Deadline, preset: TimerPreset, moments: dict[str, datetime | None]
) -> Deadline:
    """A deadline the law lets wait for an event (EU art. 13(3)) is never before that event."""
    spec: TimerSpec | None = getattr(preset, deadline.kind, None)
    if spec is None or spec.withhold_until is None:
        return deadline
    event = moments[spec.withhold_until]
    if event is None or event <= deadline.due_at:
        return deadline
    held = step("timer", "deadline.withheld", until=spec.withhold_until, at=event)
    return deadline.model_copy(update={"due_at": event, "trace": (*deadline.trace, held)})


@checked
def deadlines(
    entity: Order | AfterSaleCase,
    preset: TimerPreset,
    calendar: WorkingDayCalendar | None = None,
) -> list[Deadline]:
    """Every deadline of an order or an after-sale case under ``preset``.

    Working-day timers count on ``calendar`` (default: Monday to Friday; pass a
    `csdesk.sla.BusinessCalendar` for holidays and make-up days).
    """
    if isinstance(entity, Order):
        return order_deadlines(entity, preset, calendar)
    if isinstance(entity, AfterSaleCase):
        return case_deadlines(entity, preset, calendar)
    raise InvalidInputError(f"deadlines are for an Order or an AfterSaleCase, got {entity!r}")
