"""The due-event sweep: which timers have expired, as events the workflows accept now.

Deadlines are computed in `csdesk.workflows.timers` (pure, from what happened); this module asks
the workflows which of the expired ones can still fire, so the timers never import the workflows.
"""

from __future__ import annotations

from datetime import datetime

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.calendars import WorkingDayCalendar
from csdesk.models import AfterSaleCase, Order
from csdesk.policies.timers import TimerPreset
from csdesk.workflows._engine import allowed_events
from csdesk.workflows.aftersale import AfterSaleWorkflow
from csdesk.workflows.order import OrderWorkflow
from csdesk.workflows.timers import Deadline, deadlines

__all__ = ["due_events"]


@checked
def due_events(
    entity: Order | AfterSaleCase,
    now: datetime,
    preset: TimerPreset,
    calendar: WorkingDayCalendar | None = None,
) -> list[Deadline]:
    """The deadlines that have passed at ``now`` and whose expiry is an event valid now.

    The host's scheduler fires each one's ``on_expiry`` with `csdesk.workflows.fire`, as the
    system actor and with ``timers=preset``; ``notify`` and ``mark_overdue`` deadlines are
    returned too (they move nothing: tell a person, flag the case).

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
