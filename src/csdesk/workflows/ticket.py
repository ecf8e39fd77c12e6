"""Tickets (工单): new, open, pending (waiting for the customer), on hold (a third party), solved.

`open_ticket` creates a ticket with the customer's first message; `TicketWorkflow` moves it with
one command per event through `csdesk.workflows.run`. Public replies, customer messages, internal notes and field changes are
events too, each with its author's kind, so the SLA clocks (`csdesk.sla.clocks`) can be computed
from the ticket's event log alone.

| command (event) | from → to |
|---|---|
| `PostReply` (``reply``; public, by an agent) | new, open → open; pending, on_hold → same |
| `CustomerMessage` (``customer_message``) | new → new; open → open; pending → open; on_hold → on_hold; solved → open |
| `AddNote` (``note``; internal) | any but closed → same |
| `WaitForCustomer` (``wait_for_customer``) | new, open → pending |
| `HoldTicket` (``hold``; waiting for a third party) | new, open, pending → on_hold |
| `ResumeTicket` (``resume``) | pending, on_hold → open |
| `SolveTicket` (``solve``) | new, open, pending, on_hold → solved |
| `ReopenTicket` (``reopen``) | solved → open |
| `CloseTicket` (``close``) | solved → closed |
| `ChangeTicket` (``change``: priority, category, tags, channel, assignee) | any but closed → same |
| `RecordOutage` (``outage``: the desk could not answer from ``start`` to ``end``) | any but closed → same |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, ClassVar

from pydantic import Field
from statemachine import State

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.errors import CsdeskError
from csdesk.events import Actor, ActorKind, DomainEvent
from csdesk.models import (
    Channel,
    Duty,
    Satisfaction,
    Ticket,
    TicketCategory,
    TicketPriority,
    TicketState,
    Transfer,
)
from csdesk.sla.clocks import SlaPolicy, SlaReport
from csdesk.workflows._engine import Command, Workflow, creation_event

__all__ = [
    "AddNote",
    "ChangeTicket",
    "CloseTicket",
    "CustomerMessage",
    "EscalateTicket",
    "FollowUp",
    "HoldTicket",
    "PostReply",
    "RateTicket",
    "RecordOutage",
    "ReopenTicket",
    "ResumeTicket",
    "SolveTicket",
    "TicketWorkflow",
    "TransferTicket",
    "WaitForCustomer",
    "escalation_commands",
    "follow_ups_due",
    "open_ticket",
]


class PostReply(Command[Ticket]):
    """A public reply by an agent (staff or bot)."""

    event = "reply"
    body: str | None = None


class CustomerMessage(Command[Ticket]):
    """A message from the customer; it reopens a solved ticket."""

    event = "customer_message"
    body: str | None = None


class AddNote(Command[Ticket]):
    """An internal note, never shown to the customer."""

    event = "note"
    body: str | None = None


class WaitForCustomer(Command[Ticket]):
    """Wait for the customer's answer (pending: the SLA clock pauses)."""

    event = "wait_for_customer"


class HoldTicket(Command[Ticket]):
    """Wait for a third party (a carrier, a supplier): on hold."""

    event = "hold"


class ResumeTicket(Command[Ticket]):
    """Work on a pending or held ticket again."""

    event = "resume"


class SolveTicket(Command[Ticket]):
    """The ticket is solved (the customer may still write back and reopen it).

    ``follow_up_in`` schedules a follow-up (回访) that long after the solve: the ticket's
    ``follow_up_at``, which `follow_ups_due` finds.
    """

    event = "solve"
    follow_up_in: timedelta | None = None


class EscalateTicket(Command[Ticket]):
    """Escalate the ticket to a level (1 to 4) and a person or team, with why.

    From an SLA breach (`escalation_commands` makes these from an SLA report) or a tiering
    decision; the event records who escalated, to whom, why and the clock that triggered it.
    """

    event = "escalate"
    level: int = Field(ge=1, le=4)
    to: str = Field(min_length=1, max_length=120)
    reason: str = Field(min_length=1, max_length=500)
    metric: str | None = None
    deadline: datetime | None = None


class TransferTicket(Command[Ticket]):
    """Hand the ticket to another team, with why; optionally to an agent of it.

    No ping-pong: sent back to a team it left less than ``ping_pong_window`` ago, the ticket goes
    to ``escalate_to`` (a supervisor team) instead, one escalation level up, and the transfer is
    flagged ``ping_pong``.

    Every duty (`csdesk.models.Duty`: accept, handle, answer, follow up, record) the sending team
    owns moves to the new team unless named in ``keep``: those stay with the team handing over
    (pre-sales keeps answering the customer while after-sales handles the return). A duty another
    team kept earlier stays with that team. ``case_id`` records the
    after-sale case handed over with the ticket.
    """

    event = "transfer"
    to_group: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    assignee: str | None = Field(default=None, min_length=1)
    keep: tuple[Duty | str, ...] = ()
    case_id: str | None = Field(default=None, min_length=1, max_length=128)
    ping_pong_window: timedelta = timedelta(hours=24)
    escalate_to: str = Field(default="supervisor", min_length=1, max_length=64)


class FollowUp(Command[Ticket]):
    """The follow-up is done (回访): the customer was contacted after the solve."""

    event = "follow_up"
    note: str | None = None


class RateTicket(Command[Ticket]):
    """Record the customer's satisfaction with a solved ticket (满意度)."""

    event = "rate"
    score: int
    scale: int = 5
    comment: str | None = None
    channel: Channel | str = Channel.CHAT


class RecordOutage(Command[Ticket]):
    """Record that the desk could not answer from ``start`` to ``end`` (a system fault).

    The ticket's SLA policy says what the window does to its clocks (`csdesk.sla.SlaPolicy`'s
    ``outage``: pause them, excuse a breach, or nothing); the event records the window and why,
    so a report read later says the same.
    """

    event = "outage"
    start: datetime
    end: datetime
    reason: str = Field(min_length=1, max_length=500)


class ReopenTicket(Command[Ticket]):
    """Open a solved ticket again."""

    event = "reopen"


class CloseTicket(Command[Ticket]):
    """Close a solved ticket for good."""

    event = "close"


class ChangeTicket(Command[Ticket]):
    """Change the ticket's fields: at least one of priority, category, channel, tags, assignee.

    Strings are welcome for the enums (``priority="P2"``); the ticket validates the value.
    """

    event = "change"
    priority: TicketPriority | str | None = None
    category: TicketCategory | str | None = None
    channel: Channel | str | None = None
    tags: Sequence[str] | None = None
    assignee: str | None = Field(default=None, min_length=1)


class TicketWorkflow(Workflow[Ticket]):
    """The ticket machine; states are `csdesk.models.TicketState` members."""

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
        "follow_up": "ticket.followed_up",
        "rate": "ticket.rated",
        "escalate": "ticket.escalated",
        "transfer": "ticket.transferred",
        "outage": "ticket.outage",
    }
    commands = (
        PostReply,
        CustomerMessage,
        AddNote,
        WaitForCustomer,
        HoldTicket,
        ResumeTicket,
        SolveTicket,
        ReopenTicket,
        CloseTicket,
        ChangeTicket,
        FollowUp,
        RateTicket,
        EscalateTicket,
        TransferTicket,
        RecordOutage,
    )

    new = State(value=TicketState.NEW, initial=True)
    open = State(value=TicketState.OPEN)
    pending = State(value=TicketState.PENDING)
    on_hold = State(value=TicketState.ON_HOLD)
    solved = State(value=TicketState.SOLVED)
    closed = State(value=TicketState.CLOSED, final=True)

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
    follow_up = solved.to(solved, internal=True, validators="_check_follow_up",
                          on="_record_follow_up")  # fmt: skip
    rate = solved.to(solved, internal=True, on="_record_rating")
    transfer = (
        new.to(new, internal=True, validators="_check_transfer", on="_record_transfer")
        | open.to(open, internal=True, validators="_check_transfer", on="_record_transfer")
        | pending.to(pending, internal=True, validators="_check_transfer", on="_record_transfer")
        | on_hold.to(on_hold, internal=True, validators="_check_transfer", on="_record_transfer")
    )
    escalate = (
        new.to(new, internal=True, validators="_check_escalation", on="_record_escalation")
        | open.to(open, internal=True, validators="_check_escalation", on="_record_escalation")
        | pending.to(pending, internal=True, validators="_check_escalation",
                     on="_record_escalation")
        | on_hold.to(on_hold, internal=True, validators="_check_escalation",
                     on="_record_escalation")
    )  # fmt: skip
    outage = (
        new.to(new, internal=True, validators="_check_outage", on="_record_outage")
        | open.to(open, internal=True, validators="_check_outage", on="_record_outage")
        | pending.to(pending, internal=True, validators="_check_outage", on="_record_outage")
        | on_hold.to(on_hold, internal=True, validators="_check_outage", on="_record_outage")
        | solved.to(solved, internal=True, validators="_check_outage", on="_record_outage")
    )
    close = solved.to(closed)
    change = (
        new.to(new, internal=True, validators="_check_change", on="_record_change")
        | open.to(open, internal=True, validators="_check_change", on="_record_change")
        | pending.to(pending, internal=True, validators="_check_change", on="_record_change")
        | on_hold.to(on_hold, internal=True, validators="_check_change", on="_record_change")
        | solved.to(solved, internal=True, validators="_check_change", on="_record_change")
    )

    def _check_agent(self, actor: Actor) -> None:
        if actor.kind not in {ActorKind.STAFF, ActorKind.BOT}:
            self.refuse(
                "a public reply comes from an agent (staff or bot); customers send messages"
            )

    def _record_solve(self, command: SolveTicket, now: datetime) -> None:
        self.model.solved_at = now
        if command.follow_up_in is not None:
            if command.follow_up_in <= timedelta(0):
                self.refuse("follow_up_in must be a positive duration")
            self.model.follow_up_at = now + command.follow_up_in
            self.model.followed_up_at = None
            self.detail(follow_up_at=self.model.follow_up_at)

    def _check_transfer(self, command: TransferTicket) -> None:
        if command.to_group == self.model.group:
            self.refuse(f"the ticket is with {command.to_group} already")
        for duty in command.keep:
            if duty not in set(Duty):
                allowed = ", ".join(d.value for d in Duty)
                self.refuse(f"keep names duty {duty!r}; the duties are {allowed}")
        if command.keep and self.model.group is None:
            self.refuse("the ticket has no team yet: there is no one to keep a duty")

    def _record_transfer(self, command: TransferTicket, actor: Actor, now: datetime) -> None:
        ticket = self.model
        left_recently = any(
            t.from_group == command.to_group and now - t.at < command.ping_pong_window
            for t in ticket.transfers
        )
        to = command.escalate_to if left_recently else command.to_group
        kept: dict[Duty, str] = {}
        for duty in command.keep:
            team = ticket.owner_of(duty)
            if team is not None:
                kept[Duty(duty)] = team
        owners = {duty: kept.get(duty, ticket.kept_duties.get(duty, to)) for duty in Duty}
        made = Transfer(from_group=ticket.group, to_group=to, reason=command.reason,
                        by=actor.id, at=now, ping_pong=left_recently, owners=owners,
                        case_id=command.case_id)  # fmt: skip
        ticket.transfers = (*ticket.transfers, made)
        ticket.group = to
        # Duties another team kept earlier stay with it; the sender's own move unless kept.
        held = {duty: team for duty, team in ticket.kept_duties.items() if team != to}
        held.update({duty: team for duty, team in kept.items() if team != to})
        ticket.kept_duties = held
        if command.assignee is not None and not left_recently:
            ticket.assignee = command.assignee
        if left_recently:
            ticket.escalation_level = min(ticket.escalation_level + 1, 4)
        self.detail(from_group=made.from_group, to_group=to, reason=command.reason,
                    ping_pong=left_recently, asked_for=command.to_group,
                    transfers=len(ticket.transfers), case_id=command.case_id,
                    kept={d.value: team for d, team in ticket.kept_duties.items()})  # fmt: skip

    def _check_escalation(self, command: EscalateTicket) -> None:
        if command.level <= self.model.escalation_level:
            self.refuse(
                f"the ticket is at escalation level {self.model.escalation_level} already; "
                f"level {command.level} is not higher"
            )

    def _record_escalation(self, command: EscalateTicket) -> None:
        self.model.escalation_level = command.level
        self.detail(level=command.level, escalated_to=command.to, reason=command.reason,
                    metric=command.metric, deadline=command.deadline)  # fmt: skip

    def _check_outage(self, command: RecordOutage, now: datetime) -> None:
        require_aware(command.start, "start")
        require_aware(command.end, "end")
        if command.end <= command.start:
            self.refuse(f"the outage ends ({command.end.isoformat()}) before it starts")
        if command.start > now:
            self.refuse("an outage is recorded once it has begun, not ahead of time")

    def _record_outage(self, command: RecordOutage) -> None:
        self.detail(start=command.start, end=command.end, reason=command.reason)

    def _check_follow_up(self) -> None:
        if self.model.follow_up_at is None:
            self.refuse("no follow-up is scheduled on this ticket (solve it with follow_up_in)")
        if self.model.followed_up_at is not None:
            self.refuse(f"the follow-up was done at {self.model.followed_up_at.isoformat()}")

    def _record_follow_up(self, now: datetime) -> None:
        self.model.followed_up_at = now
        self.detail(due=self.model.follow_up_at, late=now > (self.model.follow_up_at or now))

    def _record_rating(self, command: RateTicket, now: datetime) -> None:
        try:
            rating = Satisfaction(
                score=command.score,
                scale=command.scale,
                comment=command.comment,
                channel=command.channel,
                at=now,
            )
        except CsdeskError as error:
            self.refuse(f"the rating does not fit its scale: {error}")
        self.model.satisfaction = rating
        self.detail(score=rating.score, scale=rating.scale, satisfied=rating.satisfied,
                    channel=rating.channel)  # fmt: skip

    def _record_reopen(self) -> None:
        self.model.solved_at = None

    def _check_change(self, command: ChangeTicket) -> None:
        if all(value is None for value in command.__dict__.values()):
            self.refuse("change needs at least one of priority, category, channel, tags, assignee")

    def _record_change(self, command: ChangeTicket) -> None:
        ticket = self.model
        changes = dict(command.__dict__)
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


@checked
def follow_ups_due(tickets: Iterable[Ticket], now: datetime) -> list[Ticket]:
    """The tickets whose follow-up (回访) is due at ``now`` and not done, most overdue first."""
    require_aware(now, "now")
    due = [
        ticket
        for ticket in tickets
        if ticket.follow_up_at is not None
        and ticket.followed_up_at is None
        and ticket.follow_up_at <= now
        and ticket.state == TicketState.SOLVED
    ]
    return sorted(due, key=lambda ticket: (ticket.follow_up_at, ticket.id))


@checked
def escalation_commands(
    ticket: Ticket, report: SlaReport, policies: Sequence[SlaPolicy]
) -> list[EscalateTicket]:
    """The escalations an SLA report calls for that the ticket has not recorded yet.

    One `EscalateTicket` per level reached (`csdesk.sla.SlaStatus.escalation_level`) above the
    ticket's ``escalation_level``, to the policy's ``notify`` for that level, naming the metric
    and the deadline that was missed. Run them (as the system) and the log says who was told,
    when and why; a second sweep finds nothing new.
    """
    policy = next((p for p in policies if p.id == report.policy_id), None)
    if policy is None:
        return []
    reached: dict[int, tuple[str, datetime | None]] = {}
    for status in report.statuses:
        for level in policy.escalations:
            if ticket.escalation_level < level.level <= status.escalation_level:
                reached.setdefault(level.level, (status.metric, status.deadline))
    commands = []
    for level in sorted(policy.escalations, key=lambda item: item.level):
        if level.level in reached:
            metric, deadline = reached[level.level]
            missed = deadline.isoformat() if deadline else "its deadline"
            commands.append(
                EscalateTicket(level=level.level, to=level.notify, metric=metric,
                               deadline=deadline,
                               reason=f"{metric} breached ({missed}) under SLA {policy.id}")
            )  # fmt: skip
    return commands
