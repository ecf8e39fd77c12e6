"""SLA policies and clocks, computed from a ticket's event log.

Policies are ordered: the first whose conditions match the ticket applies, and it is chosen again
whenever the ticket changes (priority, category, channel, tags), with the change recorded. Each
policy has targets per priority, in business or calendar time, for these metrics (the help desks'
semantics, research §1.1):

* ``first_reply``: from the ticket's creation to the first public agent reply.
* ``next_reply``: one instance per customer message that arrives after an agent reply, until the
  next public agent reply.
* ``periodic_update``: after each public agent reply, the next one is due while the ticket is open.
* ``resolution``: creation to solved, paused while the ticket is pending or on hold (configurable).
* ``total_resolution``: creation to solved, never paused.
* ``requester_wait``: time the customer waits: paused while pending.
* ``agent_work``: time the ticket needs an agent: paused while pending or on hold.

Breach rule: a metric is breached when it is fulfilled (or still running) after its deadline, and
the deadline is the earliest instant the target runs out (a reply in the lunch break after the
target ran out is late). `SlaStatus` also carries the business time elapsed, so a host preferring
"elapsed > target" can read it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field

from csdesk._checks import checked
from csdesk._model import ConfigModel, CsdeskModel, require_aware
from csdesk._telemetry import count
from csdesk.calendars.business import BusinessCalendar
from csdesk.decision import Decided, Policy, step
from csdesk.errors import InvalidInputError, NotFoundError
from csdesk.events import DomainEvent
from csdesk.models import Ticket, TicketPriority

__all__ = [
    "Escalation",
    "Metric",
    "SlaPolicy",
    "SlaReport",
    "SlaStatus",
    "SlaTarget",
    "select_policy",
    "sla_report",
]

Metric = Literal[
    "first_reply",
    "next_reply",
    "periodic_update",
    "resolution",
    "total_resolution",
    "requester_wait",
    "agent_work",
]
_DONE = frozenset({"solved", "closed"})
_ZENDESK_PAUSES: dict[str, list[str]] = {
    "resolution": ["pending", "on_hold"],
    "requester_wait": ["pending"],
    "agent_work": ["pending", "on_hold"],
    "total_resolution": [],
}


class SlaTarget(ConfigModel):
    """One metric's target: minutes, in business hours or calendar time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    metric: Metric
    minutes: int = Field(gt=0)
    business_hours: bool = True


class Escalation(ConfigModel):
    """Freshdesk-style escalation: ``after_minutes`` past the breach, tell ``notify``.

    ``business_hours``: the minutes are counted on the team's business calendar (an escalation
    due at 17:50 with 30 minutes to go reaches the supervisor at 09:20 the next working day, not
    at 18:20 when nobody is there); else on the wall clock.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    level: int = Field(ge=1, le=4)
    after_minutes: int = Field(ge=0)
    notify: str = Field(min_length=1)
    business_hours: bool = False


class SlaPolicy(Policy):
    """An SLA policy: which tickets it covers and its targets per priority.

    Attributes:
        conditions: Field → accepted values; all must hold (``tags``: any tag in the list).
            Fields: ``priority``, ``category``, ``channel``, ``customer_tier``, ``tags`` and
            ``group`` (the team handling the ticket: a group SLA).
        targets: Per priority, the targets of the metrics the policy measures.
        pauses: Per status-based metric, the ticket states that pause it (Zendesk's defaults).
        warn_before_minutes: A running metric warns this long before its deadline.
        escalations: Up to four levels after a breach.
        outage: What an outage recorded on a ticket (`csdesk.workflows.RecordOutage`) does to
            its clocks: ``pause`` (the window's time does not count), ``excuse`` (a metric
            instance that ran during the window and was breached is reported ``excused``, not
            breached) or ``count`` (nothing).
    """

    conditions: dict[str, list[str]] = Field(default_factory=dict)
    targets: dict[TicketPriority, list[SlaTarget]]
    pauses: dict[str, list[str]] = Field(default_factory=lambda: dict(_ZENDESK_PAUSES))
    warn_before_minutes: int = Field(default=30, ge=0)
    escalations: list[Escalation] = Field(default_factory=list, max_length=4)
    outage: Literal["pause", "excuse", "count"] = "pause"

    def matches(self, ticket: Ticket) -> bool:
        """Whether every condition holds for ``ticket``."""
        for name, accepted in self.conditions.items():
            if name == "tags":
                if not set(ticket.tags) & set(accepted):
                    return False
            elif str(getattr(ticket, name, "")) not in accepted:
                return False
        return True


@checked
def select_policy(ticket: Ticket, policies: Sequence[SlaPolicy]) -> SlaPolicy | None:
    """The first policy whose conditions match the ticket, or None."""
    return _select_policy(ticket, policies)


def _select_policy(ticket: Ticket, policies: Sequence[SlaPolicy]) -> SlaPolicy | None:
    return next((policy for policy in policies if policy.matches(ticket)), None)


class SlaStatus(Decided):
    """One metric instance of one ticket, at ``now``, in the decision envelope.

    Attributes:
        instance: 1 for single metrics; 1, 2, … for next reply and periodic update.
        deadline: When the target runs out; None while the metric is paused.
        elapsed: Time counted so far (business or calendar, as the target says).
        remaining: Target less elapsed, never negative.
        paused_for: Calendar time the metric spent paused.
        breached_at: The deadline, when it was missed.
        warning: Running and within the policy's warning window of the deadline.
        escalation_level: 0, or the highest escalation level reached after a breach.
        provisional: The business time crossed days whose holidays are estimates, not official
            data (a calendar with ``provisional=True``); the deadline may move when the
            notice is published.
        excused: Breached, but it ran during an outage the policy excuses (``outage =
            "excuse"``); ``breached`` is then false.
    """

    answer_field: ClassVar[str] = "deadline"

    metric: Metric
    instance: int
    target: timedelta
    business_hours: bool
    started_at: AwareDatetime
    fulfilled_at: AwareDatetime | None
    deadline: AwareDatetime | None
    elapsed: timedelta
    remaining: timedelta
    paused: bool
    paused_for: timedelta
    breached: bool
    breached_at: AwareDatetime | None
    warning: bool
    escalation_level: int
    provisional: bool = False
    excused: bool = False


class SlaReport(CsdeskModel):
    """Every metric instance of a ticket, and when its policy changed."""

    ticket_id: str
    policy_id: str | None
    statuses: tuple[SlaStatus, ...]
    policy_changes: tuple[tuple[AwareDatetime, str | None], ...]

    @checked
    def status(self, metric: str, instance: int = 1) -> SlaStatus:
        """One metric instance.

        Raises:
            NotFoundError: the ticket has no such instance (a `LookupError` too).
        """
        for status in self.statuses:
            if status.metric == metric and status.instance == instance:
                return status
        measured = ", ".join(f"{s.metric} #{s.instance}" for s in self.statuses) or "nothing"
        raise NotFoundError(
            f"ticket {self.ticket_id} has no {metric} #{instance}; its policy measures {measured}"
        )


@dataclass
class _History:
    states: list[tuple[datetime, str]] = field(default_factory=list)
    agent_replies: list[datetime] = field(default_factory=list)
    customer_messages: list[datetime] = field(default_factory=list)
    solved_at: datetime | None = None
    outages: list[tuple[datetime, datetime]] = field(default_factory=list)


def _history(ticket: Ticket, events: Iterable[DomainEvent]) -> _History:
    history = _History()
    for event in sorted(events, key=lambda e: (e.occurred_at, e.aggregate.version)):
        if event.aggregate.id != ticket.id:
            continue
        at = event.occurred_at
        target = event.payload.get("to")
        if isinstance(target, str) and (not history.states or history.states[-1][1] != target):
            history.states.append((at, target))
        if event.type == "ticket.replied":
            history.agent_replies.append(at)
        elif event.type == "ticket.customer_message":
            history.customer_messages.append(at)
        elif event.type == "ticket.outage":
            history.outages.append(
                (_instant(event.payload["start"]), _instant(event.payload["end"]))
            )
        if target in _DONE and history.solved_at is None:
            history.solved_at = at
        elif isinstance(target, str) and target not in _DONE:
            history.solved_at = None
    if not history.states:
        history.states.append((ticket.created_at, "new"))
    return history


def _instant(value: object) -> datetime:
    """A payload's instant: a datetime, or its ISO text when the event was read back from JSON."""
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _without_outages(
    segments: Sequence[tuple[datetime, datetime, bool]],
    outages: Sequence[tuple[datetime, datetime]],
) -> list[tuple[datetime, datetime, bool]]:
    """``segments`` with the outage windows cut out of them as paused pieces."""
    cut = list(segments)
    for start, end in outages:
        pieces: list[tuple[datetime, datetime, bool]] = []
        for s, e, running in cut:
            if not running or e <= start or s >= end:
                pieces.append((s, e, running))
                continue
            if s < start:
                pieces.append((s, start, True))
            pieces.append((max(s, start), min(e, end), False))
            if e > end:
                pieces.append((end, e, True))
        cut = pieces
    return cut


class _Clock:
    def __init__(self, calendar: BusinessCalendar, business: bool) -> None:
        self.calendar, self.business = calendar, business
        # The report checked its arguments once; the calendar's own per-call argument checks
        # (`checked`) are skipped for the many calls one report makes.
        self._between = _unchecked(calendar, "between")
        self._add = _unchecked(calendar, "add")

    def measure(self, start: datetime, end: datetime) -> timedelta:
        if end <= start:
            return timedelta(0)
        return self._between(start, end) if self.business else end - start

    def add(self, start: datetime, duration: timedelta) -> datetime:
        return self._add(start, duration) if self.business else start + duration


def _unchecked(calendar: BusinessCalendar, name: str) -> Callable[..., Any]:
    method = getattr(type(calendar), name)
    plain = getattr(method, "__wrapped__", None)
    return partial(plain, calendar) if plain is not None else getattr(calendar, name)


def _status(
    *,
    metric: Metric,
    instance: int,
    policy: SlaPolicy,
    target: SlaTarget,
    started: datetime,
    fulfilled: datetime | None,
    segments: Sequence[tuple[datetime, datetime, bool]],
    clock: _Clock,
    now: datetime,
    business: _Clock,
    outages: Sequence[tuple[datetime, datetime]] = (),
) -> SlaStatus:
    """``segments``: (start, end, running) pieces from ``started`` to ``fulfilled`` or ``now``.

    ``outages``: the ticket's recorded outage windows; the policy says what they do.
    """
    if policy.outage == "pause" and outages:
        segments = _without_outages(segments, outages)
    goal = timedelta(minutes=target.minutes)
    elapsed = paused_for = timedelta(0)
    deadline: datetime | None = None
    left = goal
    for s, e, running in segments:  # one measure per running piece: the calendar's work
        if not running:
            paused_for += e - s
            continue
        piece = clock.measure(s, e)
        elapsed += piece
        if deadline is None:
            if piece >= left:
                deadline = clock.add(s, left)
            else:
                left -= piece
    paused = bool(segments) and not segments[-1][2] and fulfilled is None
    if deadline is None and not paused:
        # Not run out yet: project the rest from where the clock stands.
        deadline = clock.add(segments[-1][1], left) if segments else clock.add(started, goal)
    end = fulfilled or now
    breached = deadline is not None and end > deadline
    excused = (
        breached
        and policy.outage == "excuse"
        and any(start < until and end > started for start, until in outages)
    )
    breached = breached and not excused
    escalation = 0
    if breached and fulfilled is None and deadline is not None:
        for level in policy.escalations:
            wait = timedelta(minutes=level.after_minutes)
            due = business.add(deadline, wait) if level.business_hours else deadline + wait
            if now >= due:
                escalation = max(escalation, level.level)
    warning = (
        not breached
        and fulfilled is None
        and deadline is not None
        and now >= deadline - timedelta(minutes=policy.warn_before_minutes)
    )
    if excused:
        outcome = step("result", "sla.excused", deadline=deadline, at=fulfilled)
    elif fulfilled is not None:
        outcome = step(
            "result", "sla.fulfilled", at=fulfilled, deadline=deadline, breached=breached
        )
    elif paused:
        outcome = step("result", "sla.paused", elapsed=elapsed, paused_for=paused_for)
    elif breached:
        outcome = step("result", "sla.breached", deadline=deadline, escalation=escalation)
    else:
        outcome = step("result", "sla.running", deadline=deadline, remaining=goal - elapsed)
    trace = (
        step(
            "target",
            "sla.target",
            metric=metric,
            instance=instance,
            target=goal,
            business_hours=target.business_hours,
            started=started,
        ),
        outcome,
    )
    return SlaStatus.made(  # built from checked values: no second validation
        policy=policy.ref,
        trace=trace,
        decided_at=now,
        inputs=(metric, instance, started, fulfilled, segments, outages),
        metric=metric,
        instance=instance,
        target=goal,
        business_hours=target.business_hours,
        started_at=started,
        fulfilled_at=fulfilled,
        deadline=deadline,
        elapsed=elapsed,
        remaining=max(goal - elapsed, timedelta(0)),
        paused=paused,
        paused_for=paused_for,
        breached=breached,
        breached_at=deadline if breached else None,
        warning=warning,
        provisional=clock.business
        and bool(clock.calendar.provisional_years)
        and clock.calendar.is_provisional(started.date(), (deadline or end).date()),
        escalation_level=escalation,
        excused=excused,
    )


def _state_segments(
    history: _History, start: datetime, end: datetime, paused_in: set[str]
) -> list[tuple[datetime, datetime, bool]]:
    segments = []
    changes = history.states
    for index, (at, state) in enumerate(changes):
        until = changes[index + 1][0] if index + 1 < len(changes) else end
        s, e = max(at, start), min(until, end)
        if e > s and state not in _DONE:
            segments.append((s, e, state not in paused_in))
    return segments


def _reply_instances(
    history: _History, metric: str, created: datetime
) -> list[tuple[datetime, datetime | None]]:
    replies = history.agent_replies
    if metric == "first_reply":
        return [(created, replies[0] if replies else None)]
    if metric == "periodic_update":
        following: list[datetime | None] = [*replies[1:], None]
        return list(zip(replies, following, strict=False))  # no reply yet: no instance
    # next_reply: a customer message after an agent reply starts an instance, unless one is
    # already waiting; the next agent reply fulfils it.
    timeline = sorted(
        [(at, "agent") for at in replies] + [(at, "customer") for at in history.customer_messages]
    )
    found: list[tuple[datetime, datetime | None]] = []
    waiting: datetime | None = None
    answered_once = False
    for at, who in timeline:
        if who == "agent":
            if waiting is not None:
                found.append((waiting, at))
                waiting = None
            answered_once = True
        elif answered_once and waiting is None:
            waiting = at
    if waiting is not None:
        found.append((waiting, None))
    return found


def _policy_changes(
    ticket: Ticket, log: Sequence[DomainEvent], policies: Sequence[SlaPolicy]
) -> list[tuple[datetime, str | None]]:
    """Replay the ticket's fields over its events and record each change of policy."""
    fields = ("category", "priority", "channel", "customer_tier", "tags")
    current = ticket  # model_copy(update=...) below makes new tickets; this one is never changed
    changes: list[tuple[datetime, str | None]] = []
    for event in log:
        if event.type not in {"ticket.created", "ticket.changed"}:
            continue
        update: dict[str, object] = {
            name: event.payload[name] for name in fields if name in event.payload
        }
        if isinstance(update.get("tags"), list):
            update["tags"] = tuple(update["tags"])  # type: ignore[arg-type]
        current = current.model_copy(update=update)
        chosen = _select_policy(current, policies)
        chosen_id = chosen.id if chosen else None
        if not changes or changes[-1][1] != chosen_id:
            changes.append((event.occurred_at, chosen_id))
    return changes


def _team_calendar(
    ticket: Ticket, calendar: BusinessCalendar | Mapping[str, BusinessCalendar]
) -> BusinessCalendar:
    if isinstance(calendar, BusinessCalendar):
        return calendar
    found = calendar.get(ticket.group or "*") or calendar.get("*")
    if not isinstance(found, BusinessCalendar):
        known = ", ".join(sorted(calendar))
        raise InvalidInputError(
            f"no business calendar for ticket {ticket.id}'s group {ticket.group!r}: the "
            f"calendars are for {known}; add one for it or a '*' default"
        )
    return found


@checked
def sla_report(
    ticket: Ticket,
    events: Iterable[DomainEvent],
    *,
    policies: Sequence[SlaPolicy],
    calendar: BusinessCalendar | Mapping[str, BusinessCalendar],
    now: datetime,
) -> SlaReport:
    """Every SLA metric instance of ``ticket`` at ``now``, from its events.

    Args:
        ticket: The ticket as it is now (its fields choose the policy; ``group`` chooses a
            group SLA and the team's calendar).
        events: The ticket's events (``open_ticket`` and every `fire` on it), in any order.
        policies: Ordered policies; the first that matches applies.
        calendar: The business calendar for business-hours targets and escalations: one for
            the shop, or one per team (``{"after_sales": …, "logistics": …, "*": …}``; ``"*"``
            serves a group that has none).
        now: The current time, timezone-aware.

    Raises:
        InvalidInputError: calendars per team without one for the ticket's group or a ``"*"``.
    """
    require_aware(now, "now")
    log = sorted(
        (e for e in events if e.aggregate.id == ticket.id),
        key=lambda e: (e.occurred_at, e.aggregate.version),
    )
    history = _history(ticket, log)
    calendar = _team_calendar(ticket, calendar)
    policy = _select_policy(ticket, policies)
    changes = _policy_changes(ticket, log, policies)
    if policy is None:
        return SlaReport(
            ticket_id=ticket.id, policy_id=None, statuses=(), policy_changes=tuple(changes)
        )
    statuses: list[SlaStatus] = []
    end = history.solved_at if ticket.state in _DONE and history.solved_at else now
    clocks = {True: _Clock(calendar, True), False: _Clock(calendar, False)}
    for target in policy.targets.get(TicketPriority(ticket.priority), []):
        clock = clocks[target.business_hours]
        if target.metric in {"first_reply", "next_reply", "periodic_update"}:
            instances = _reply_instances(history, target.metric, ticket.created_at)
            if target.metric == "periodic_update" and ticket.state in _DONE:
                instances = [(s, f or end) for s, f in instances]  # solving ends the last one
            for number, (start, answered) in enumerate(instances, start=1):
                stop = answered or now
                segments = [(start, stop, True)] if stop > start else []
                statuses.append(
                    _status(
                        metric=target.metric,
                        instance=number,
                        policy=policy,
                        target=target,
                        started=start,
                        fulfilled=answered,
                        segments=segments,
                        clock=clock,
                        now=now,
                        business=clocks[True],
                        outages=history.outages,
                    )
                )
            continue
        paused_in = set(policy.pauses.get(target.metric, _ZENDESK_PAUSES.get(target.metric, [])))
        fulfilled = history.solved_at if ticket.state in _DONE else None
        segments = _state_segments(history, ticket.created_at, fulfilled or now, paused_in)
        statuses.append(
            _status(
                metric=target.metric,
                instance=1,
                policy=policy,
                target=target,
                started=ticket.created_at,
                fulfilled=fulfilled,
                segments=segments,
                clock=clock,
                now=now,
                business=clocks[True],
                outages=history.outages,
            )
        )
    for status in statuses:
        if status.breached:
            count("csdesk.sla.breaches", 1, {"csdesk.metric": status.metric,
                                             "csdesk.category": str(ticket.category)})  # fmt: skip
    return SlaReport.model_construct(
        ticket_id=ticket.id,
        policy_id=policy.id,
        statuses=tuple(statuses),
        policy_changes=tuple(changes),
    )
