"""Tickets (工单): new, open, pending (waiting for the customer), on hold (a third party), solved.

`open_ticket` creates a ticket with the customer's first message; `TicketWorkflow` moves it through
`csdesk.workflows.fire`. Public replies, customer messages, internal notes and field changes are
events too, each with its author's kind, so the SLA clocks (`csdesk.sla.clocks`) can be computed
from the ticket's event log alone.

| event | from → to |
|---|---|
| ``reply`` (public, by an agent) | new, open → open; pending, on_hold → same |
| ``customer_message`` | new → new; open → open; pending → open; on_hold → on_hold; solved → open |
| ``note`` (internal) | any but closed → same |
| ``wait_for_customer`` | new, open → pending |
| ``hold`` (waiting for a third party) | new, open, pending → on_hold |
| ``resume`` | pending, on_hold → open |
| ``solve`` | new, open, pending, on_hold → solved |
| ``reopen`` | solved → open |
| ``close`` | solved → closed |
| ``change`` (priority, category, tags, channel, assignee) | any but closed → same |
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, ClassVar

from statemachine import State

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.events import Actor, DomainEvent
from csdesk.models import Channel, Ticket, TicketCategory, TicketPriority
from csdesk.workflows._engine import Workflow, creation_event

__all__ = ["TicketWorkflow", "open_ticket"]


class TicketWorkflow(Workflow[Ticket]):
    """The ticket machine. States are the strings stored in ``Ticket.state``."""

    workflow_name = "ticket"
    event_types: ClassVar[Mapping[str, str]] = {
        "reply": "ticket.replied",
        "customer_message": "ticket.customer_message",
        "note": "ticket.noted",
        "wait_for_customer": "ticket.pending",
        "hold": "ticket.on_hold",
        "resume": "ticket.resumed",
        "solve": "ticket.solved",
        "reopen": "ticket.reopened",
        "close": "ticket.closed",
        "change": "ticket.changed",
    }
    arguments: ClassVar[Mapping[str, Mapping[str, Any]]] = {
        "reply": {"body": str},
        "customer_message": {"body": str},
        "note": {"body": str},
        "change": {
            # Strings are welcome for the enums; the model validates the value on assignment.
            "priority": TicketPriority | str,
            "category": TicketCategory | str,
            "channel": Channel | str,
            "tags": tuple[str, ...] | list[str],
            "assignee": str,
        },
    }

    new = State(initial=True)
    open = State()
    pending = State()
    on_hold = State()
    solved = State()
    closed = State(final=True)

    reply = (
        new.to(open, validators="_check_agent")
        | open.to(open, internal=True, validators="_check_agent")
        | pending.to(pending, internal=True, validators="_check_agent")
        | on_hold.to(on_hold, internal=True, validators="_check_agent")
    )
    customer_message = (
        new.to(new, internal=True)
        | open.to(open, internal=True)
        | pending.to(open)
        | on_hold.to(on_hold, internal=True)
        | solved.to(open, on="_record_reopen")
    )
    note = (
        new.to(new, internal=True)
        | open.to(open, internal=True)
        | pending.to(pending, internal=True)
        | on_hold.to(on_hold, internal=True)
        | solved.to(solved, internal=True)
    )
    wait_for_customer = new.to(pending) | open.to(pending)
    hold = new.to(on_hold) | open.to(on_hold) | pending.to(on_hold)
    resume = pending.to(open) | on_hold.to(open)
    solve = (
        new.to(solved, on="_record_solve")
        | open.to(solved, on="_record_solve")
        | pending.to(solved, on="_record_solve")
        | on_hold.to(solved, on="_record_solve")
    )
    reopen = solved.to(open, on="_record_reopen")
    close = solved.to(closed)
    change = (
        new.to(new, internal=True, validators="_check_change", on="_record_change")
        | open.to(open, internal=True, validators="_check_change", on="_record_change")
        | pending.to(pending, internal=True, validators="_check_change", on="_record_change")
        | on_hold.to(on_hold, internal=True, validators="_check_change", on="_record_change")
        | solved.to(solved, internal=True, validators="_check_change", on="_record_change")
    )

    def _check_agent(self, actor: Actor) -> None:
        if actor.kind.value not in {"staff", "bot"}:
            self.refuse(
                "a public reply comes from an agent (staff or bot); customers send messages"
            )

    def _record_solve(self, now: datetime) -> None:
        self.model.solved_at = now

    def _record_reopen(self) -> None:
        self.model.solved_at = None

    def _check_change(self, **fields: Any) -> None:
        if not any(fields.get(name) is not None for name in self.arguments["change"]):
            self.refuse("change needs at least one of priority, category, channel, tags, assignee")

    def _record_change(
        self,
        priority: TicketPriority | str | None = None,
        category: TicketCategory | str | None = None,
        channel: Channel | str | None = None,
        tags: tuple[str, ...] | list[str] | None = None,
        assignee: str | None = None,
    ) -> None:
        ticket = self.model
        changes = {
            "priority": priority,
            "category": category,
            "channel": channel,
            "tags": tuple(tags) if tags is not None else None,
            "assignee": assignee,
        }
        for name, value in changes.items():
            if value is not None:
                setattr(ticket, name, value)
        self.detail(**{name: value for name, value in changes.items() if value is not None})


@checked
def open_ticket(
    *,
    id: str,
    category: TicketCategory | str,
    customer_id: str,
    actor: Actor,
    now: datetime,
    priority: TicketPriority | str = TicketPriority.P3,
    channel: Channel | str = Channel.CHAT,
    **fields: Any,
) -> tuple[Ticket, list[DomainEvent]]:
    """Create a ticket with the customer's first message; returns it and ``ticket.created``."""
    require_aware(now, "now")
    ticket = Ticket(
        id=id,
        category=category,
        priority=priority,
        channel=channel,
        customer_id=customer_id,
        created_at=now,
        version=1,
        **fields,
    )
    created = creation_event(
        "ticket.created",
        ticket,
        kind=TicketWorkflow.workflow_name,
        actor=actor,
        now=now,
        payload={
            "to": "new",
            "category": ticket.category,
            "priority": ticket.priority,
            "channel": ticket.channel,
            "customer_tier": ticket.customer_tier,
            "tags": list(ticket.tags),
        },
    )
    return ticket, [created]
