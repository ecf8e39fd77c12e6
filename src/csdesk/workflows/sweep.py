"""The due-event sweep: which timers have expired, as events the workflows accept now.

Deadlines are computed in `csdesk.workflows.timers` (pure, from what happened); this module asks
the workflows which of the expired ones can still fire, so the timers never import the workflows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.calendars import WorkingDayCalendar
from csdesk.models import AfterSaleCase, Order
from csdesk.policies.timers import TimerPreset
from csdesk.workflows._engine import Command, allowed_events, command_types
from csdesk.workflows.aftersale import AfterSaleWorkflow
from csdesk.workflows.order import OrderWorkflow
from csdesk.workflows.timers import Deadline, deadlines

__all__ = ["due_commands", "due_events"]


@checked
def due_events(
    entity: Order | AfterSaleCase,
    now: datetime,
    preset: TimerPreset,
    calendar: WorkingDayCalendar | None = None,
) -> list[Deadline]:
    """The deadlines that have passed at ``now`` and whose expiry is an event valid now.

    ``notify`` and ``mark_overdue`` deadlines are returned too (they move nothing: tell a
    person, flag the case); `due_commands` turns the others into the commands to run.

    Examples:
        >>> from datetime import datetime, timezone
        >>> from csdesk import Customer, LineDraft, Money, Order
        >>> from csdesk.policies import timer_preset
        >>> order = Order.place(id="SO-1", customer=Customer(id="C-1"),
        ...     placed_at=datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc),
        ...     lines=[LineDraft(sku="A", name="a", quantity=1, unit_price=Money("9", "CNY"))])
        >>> [d.on_expiry for d in due_events(order, datetime(2026, 3, 2, 12, 0,
        ...     tzinfo=timezone.utc), timer_preset("cn_platform"))]
        ['expire']
    """
    require_aware(now, "now")
    workflow = OrderWorkflow if isinstance(entity, Order) else AfterSaleWorkflow
    allowed = set(allowed_events(workflow, entity.state)) | {"notify", "mark_overdue"}
    return [
        deadline
        for deadline in deadlines(entity, preset, calendar)
        if deadline.active and deadline.due_at <= now and deadline.on_expiry in allowed
    ]


@checked
def due_commands(
    entity: Order | AfterSaleCase,
    now: datetime,
    preset: TimerPreset,
    calendar: WorkingDayCalendar | None = None,
    open_cases: int | None = None,
) -> list[Command[Any]]:
    """The commands the expired deadlines call for at ``now``, ready for `csdesk.workflows.run`.

    One per `due_events` deadline whose expiry is an event (not ``notify`` or
    ``mark_overdue``), in deadline order: ``timers=preset`` where the command takes it, a reason
    naming the deadline where it needs one (``"ship_back_by passed"``), and ``open_cases`` for
    closing an order (the number of its open after-sale cases; without it the close is
    refused). The scheduler runs them as the system actor; one may refuse if an earlier one
    changed the entity.

    Examples:
        >>> from datetime import datetime, timezone
        >>> from csdesk import Customer, LineDraft, Money, Order
        >>> from csdesk.policies import timer_preset
        >>> order = Order.place(id="SO-1", customer=Customer(id="C-1"),
        ...     placed_at=datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc),
        ...     lines=[LineDraft(sku="A", name="a", quantity=1, unit_price=Money("9", "CNY"))])
        >>> [type(c).__name__ for c in due_commands(order,
        ...     datetime(2026, 3, 2, 12, 0, tzinfo=timezone.utc), timer_preset("cn_platform"))]
        ['ExpireOrder']
    """
    workflow = OrderWorkflow if isinstance(entity, Order) else AfterSaleWorkflow
    commands = command_types(workflow)
    made: list[Command[Any]] = []
    for deadline in due_events(entity, now, preset, calendar):
        command = commands.get(deadline.on_expiry)
        if command is None:
            continue
        fields = command.model_fields
        arguments: dict[str, Any] = {}
        if "timers" in fields:
            arguments["timers"] = preset
        if "reason" in fields:
            arguments["reason"] = f"{deadline.kind} passed"
        if "open_cases" in fields:
            arguments["open_cases"] = open_cases
        made.append(command.model_validate(arguments))
    return made
