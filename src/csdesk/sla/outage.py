"""The outage backlog: who wrote while the desk could not answer, and the apologies to send.

`outage_backlog` finds every ticket with a customer message received during an outage window
that no agent has answered since; `apology_batch` words the built-in ``outage_apology`` for each,
in the customer's locale, with when they will hear back (the agent's slot, filled for all).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.errors import InvalidInputError
from csdesk.events import ActorKind, DomainEvent
from csdesk.models import Ticket, TicketState

__all__ = ["BacklogItem", "apology_batch", "outage_backlog"]

_CUSTOMER_EVENTS = {"ticket.created", "ticket.customer_message"}


@dataclass(frozen=True)
class BacklogItem:
    """A ticket the outage left unanswered.

    Attributes:
        ticket_id: The ticket.
        customer_id: Its customer.
        waiting_since: The first customer message received during the outage and not answered.
        messages: How many customer messages are waiting.
    """

    ticket_id: str
    customer_id: str
    waiting_since: datetime
    messages: int


@checked
def outage_backlog(
    tickets: Iterable[Ticket],
    events: Mapping[str, Sequence[DomainEvent]],
    *,
    start: datetime,
    end: datetime,
) -> list[BacklogItem]:
    """The tickets with a customer message in ``[start, end)`` that no agent answered since.

    Solved and closed tickets are left out. The result is the longest-waiting first.

    Raises:
        InvalidInputError: ``end`` is not after ``start``.
    """
    require_aware(start, "start")
    require_aware(end, "end")
    if end <= start:
        raise InvalidInputError(f"the outage ends ({end.isoformat()}) before it starts")
    found = []
    for ticket in tickets:
        if TicketState(ticket.state) in {TicketState.SOLVED, TicketState.CLOSED}:
            continue
        log = sorted(events.get(ticket.id, ()), key=lambda e: e.occurred_at)
        waiting: list[datetime] = []
        for event in log:
            if event.type == "ticket.replied":
                waiting = []  # answered: nothing before this reply is waiting
            elif event.type in _CUSTOMER_EVENTS and event.actor.kind is ActorKind.CUSTOMER:
                waiting.append(event.occurred_at)
        during = [at for at in waiting if start <= at < end]
        if during:
            found.append(BacklogItem(ticket.id, ticket.customer_id, min(during), len(waiting)))
    return sorted(found, key=lambda item: (item.waiting_since, item.ticket_id))


@checked
def apology_batch(
    backlog: Sequence[BacklogItem],
    *,
    next_update: str | Mapping[str, str],
    now: datetime,
    locales: Mapping[str, str] | None = None,
    default_locale: str = "zh-CN",
) -> list[tuple[str, Any]]:
    """``(ticket id, reply)`` for each backlog item: the ``outage_apology`` in its locale.

    Args:
        backlog: From `outage_backlog`.
        next_update: When the customers will hear back, as the agent writes it ("今天 18:00 前",
            "by 6 pm today"), or one per locale (``{"zh-Hans": …, "en": …}``).
        now: The instant the replies are for.
        locales: Each customer's locale, by customer id (default: ``default_locale``).
        default_locale: The locale of customers not in ``locales``.

    Raises:
        InvalidInputError: no ``next_update`` text for a locale.
    """
    from csdesk.replies import builtin_templates, render
    from csdesk.replies.locales import locale_chain

    template = builtin_templates()["outage_apology"]
    known = locales or {}
    replies = []
    for item in backlog:
        locale = known.get(item.customer_id, default_locale)
        if isinstance(next_update, str):
            when = next_update
        else:
            written = {key.replace("_", "-"): key for key in next_update}
            chosen = locale_chain(locale, available=list(next_update)).text_locale
            key = written.get((chosen or "").replace("_", "-"))
            if key is None:
                raise InvalidInputError(f"no next_update text for {locale}; give one per locale")
            when = next_update[key]
        reply = render(template, {}, locale=locale, now=now, slots={"next_update": when})
        replies.append((item.ticket_id, reply))
    return replies
