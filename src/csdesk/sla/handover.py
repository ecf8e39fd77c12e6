"""The end-of-shift handover (交班) from the data: what the next shift must pick up.

`handover_report` reads the tickets of a team or an agent at the end of a shift: the open ones
with their SLA state and next deadline (earliest first), the follow-ups due before the next shift
ends, and the tickets waiting on the customer. `HandoverReport.render` words it with the built-in
``handover_note`` template (the agent fills what was promised and what to watch);
`HandoverReport.to_dict` gives it as JSON.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.calendars import BusinessCalendar
from csdesk.errors import InvalidInputError
from csdesk.events import DomainEvent
from csdesk.models import Ticket, TicketState
from csdesk.sla.clocks import SlaPolicy, sla_report

__all__ = ["HandoverLine", "HandoverReport", "handover_report"]

_OPEN = {TicketState.NEW, TicketState.OPEN, TicketState.ON_HOLD}


@dataclass(frozen=True)
class HandoverLine:
    """One ticket the next shift inherits.

    Attributes:
        ticket_id: The ticket.
        priority: Its priority (``P1`` … ``P5``).
        state: Its state.
        next_deadline: The earliest running SLA deadline, if any.
        metric: The metric of that deadline.
        breached: Whether a metric is already past its deadline.
        follow_up_at: For a solved ticket, when its follow-up is due.
    """

    ticket_id: str
    priority: str
    state: str
    next_deadline: datetime | None
    metric: str | None
    breached: bool
    follow_up_at: datetime | None = None

    def line(self) -> str:
        """The ticket in one line, for the note: id, priority, what is due and when."""
        if self.follow_up_at is not None:
            return f"{self.ticket_id} follow-up {self.follow_up_at:%m-%d %H:%M}"
        due = f"{self.metric} {self.next_deadline:%m-%d %H:%M}" if self.next_deadline else "paused"
        late = " LATE" if self.breached else ""
        return f"{self.ticket_id} {self.priority} {due}{late}"


@dataclass(frozen=True)
class HandoverReport:
    """What a shift hands over.

    Attributes:
        shift_end: When the shift ends (the report's instant).
        open: Open tickets (new, open, on hold), the earliest deadline first.
        waiting: Tickets waiting on the customer (pending).
        follow_ups: Solved tickets whose follow-up falls before the next shift ends.
    """

    shift_end: datetime
    open: tuple[HandoverLine, ...]
    waiting: tuple[HandoverLine, ...]
    follow_ups: tuple[HandoverLine, ...]

    @property
    def due_first(self) -> datetime | None:
        """The earliest deadline among the open tickets."""
        times = [line.next_deadline for line in self.open if line.next_deadline is not None]
        return min(times, default=None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""

        def lines(items: Sequence[HandoverLine]) -> list[dict[str, Any]]:
            return [
                {
                    "ticket_id": item.ticket_id,
                    "priority": item.priority,
                    "state": item.state,
                    "next_deadline": item.next_deadline.isoformat() if item.next_deadline else None,
                    "metric": item.metric,
                    "breached": item.breached,
                    "follow_up_at": item.follow_up_at.isoformat() if item.follow_up_at else None,
                }
                for item in items
            ]

        return {
            "shift_end": self.shift_end.isoformat(),
            "due_first": self.due_first.isoformat() if self.due_first else None,
            "open": lines(self.open),
            "waiting": lines(self.waiting),
            "follow_ups": lines(self.follow_ups),
        }

    def render(
        self,
        *,
        locale: str,
        promised: str | None = None,
        watch: str | None = None,
        tz: str | None = None,
    ) -> Any:
        """The ``handover_note`` reply (`csdesk.replies.RenderResult`); unfilled slots block it."""
        from csdesk.replies import builtin_templates, render

        slots = {name: text for name, text in (("promised", promised), ("watch", watch)) if text}
        items = [*self.open, *self.waiting, *self.follow_ups]
        context = {
            "shift_end": self.shift_end,
            "open_cases": [item.line() for item in items] or ["—"],
            "due_first": self.due_first or self.shift_end,
        }
        return render(builtin_templates()["handover_note"], context, locale=locale,
                      now=self.shift_end, tz=tz, slots=slots)  # fmt: skip


@checked
def handover_report(
    tickets: Iterable[Ticket],
    events: Mapping[str, Sequence[DomainEvent]],
    *,
    policies: Sequence[SlaPolicy],
    calendar: BusinessCalendar | Mapping[str, BusinessCalendar],
    shift_end: datetime,
    next_shift: timedelta = timedelta(hours=12),
    group: str | None = None,
    assignee: str | None = None,
) -> HandoverReport:
    """The handover at ``shift_end`` for one team (``group``), one agent, or everyone.

    Args:
        tickets: The tickets to look at.
        events: Each ticket's events, by ticket id (for its SLA clocks).
        policies: The SLA policies, first match wins.
        calendar: The business calendar, or one per team (see `csdesk.sla.sla_report`).
        shift_end: When the shift ends.
        next_shift: How far ahead follow-ups count (the next shift's length).
        group: Only this team's tickets.
        assignee: Only this agent's tickets.

    Raises:
        InvalidInputError: a ticket has no events.
    """
    require_aware(shift_end, "shift_end")
    open_lines: list[HandoverLine] = []
    waiting: list[HandoverLine] = []
    follow_ups: list[HandoverLine] = []
    for ticket in tickets:
        if group is not None and ticket.group != group:
            continue
        if assignee is not None and ticket.assignee != assignee:
            continue
        state = TicketState(ticket.state)
        if state is TicketState.SOLVED:
            due = ticket.follow_up_at
            if due is not None and ticket.followed_up_at is None and due <= shift_end + next_shift:
                follow_ups.append(HandoverLine(ticket.id, str(ticket.priority), state.value,
                                               None, None, False, follow_up_at=due))  # fmt: skip
            continue
        if state not in _OPEN and state is not TicketState.PENDING:
            continue
        if ticket.id not in events:
            raise InvalidInputError(f"no events for ticket {ticket.id}: its SLA clocks need them")
        report = sla_report(ticket, events[ticket.id], policies=policies, calendar=calendar,
                            now=shift_end)  # fmt: skip
        running = [s for s in report.statuses if s.fulfilled_at is None and s.deadline]
        first = min(running, key=lambda s: s.deadline or shift_end, default=None)
        line = HandoverLine(
            ticket_id=ticket.id,
            priority=str(ticket.priority),
            state=state.value,
            next_deadline=first.deadline if first else None,
            metric=first.metric if first else None,
            breached=any(s.breached and s.fulfilled_at is None for s in report.statuses),
        )
        (waiting if state is TicketState.PENDING else open_lines).append(line)

    def key(line: HandoverLine) -> tuple[datetime, str]:
        return (line.next_deadline or line.follow_up_at or shift_end + next_shift, line.ticket_id)

    return HandoverReport(
        shift_end=shift_end,
        open=tuple(sorted(open_lines, key=key)),
        waiting=tuple(sorted(waiting, key=key)),
        follow_ups=tuple(sorted(follow_ups, key=key)),
    )
