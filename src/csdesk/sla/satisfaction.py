"""Satisfaction and repeat contacts: how the desk's customers feel, and who had to come back.

`csat` groups the ratings of solved tickets (`csdesk.workflows.RateTicket`) by team, agent,
category or month: responses, satisfied (top two boxes: 4 or 5 of 5) and their share.
`repeat_contacts` counts the solved tickets whose customer opened another within ``within`` of
the solve (二次投诉: 22 % of complaints in the seeds' data).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from csdesk._checks import checked
from csdesk._zones import get_zone
from csdesk.errors import InvalidInputError
from csdesk.models import Ticket

__all__ = ["Csat", "RepeatContacts", "TransferStats", "csat", "repeat_contacts", "transfer_stats"]


def _tickets(items: Iterable[Ticket]) -> list[Ticket]:
    listed = list(items)
    for item in listed:
        if not isinstance(item, Ticket):
            raise InvalidInputError(f"expected tickets, got a {type(item).__name__}")
    return listed


def _share(part: int, whole: int) -> Decimal | None:
    if not whole:
        return None
    return (Decimal(part) * 100 / whole).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Csat:
    """The ratings of one group of tickets.

    Attributes:
        responses: Tickets rated.
        satisfied: Of those, rated in the top two boxes (4 or 5 of 5, 8 to 10 of 10…).
    """

    responses: int
    satisfied: int

    @property
    def percent(self) -> Decimal | None:
        """Satisfied responses as a percentage (one decimal), or None without responses."""
        return _share(self.satisfied, self.responses)


@checked
def csat(
    tickets: Iterable[Ticket],
    *,
    by: Literal["group", "assignee", "category", "month"],
    zone: str = "Asia/Shanghai",
) -> dict[str, Csat]:
    """CSAT per team, agent, category or month (of the rating, in ``zone``), sorted by key.

    Tickets without a rating are not counted; a ticket without a team or agent counts under
    ``"(none)"``.

    Raises:
        InvalidInputError: ``by`` is not one of the four.
    """
    if by not in ("group", "assignee", "category", "month"):
        raise InvalidInputError(f"by is group, assignee, category or month, got {by!r}")
    tz = get_zone(zone)
    counts: dict[str, list[int]] = {}
    for ticket in _tickets(tickets):
        rating = ticket.satisfaction
        if rating is None:
            continue
        if by == "month":
            key = rating.at.astimezone(tz).strftime("%Y-%m")
        else:
            value = getattr(ticket, by)
            key = str(value) if value is not None else "(none)"
        tally = counts.setdefault(key, [0, 0])
        tally[0] += 1
        tally[1] += int(rating.satisfied)
    return {key: Csat(*counts[key]) for key in sorted(counts)}


@dataclass(frozen=True)
class RepeatContacts:
    """Solved tickets whose customer came back within the window.

    Attributes:
        solved: Tickets solved.
        repeated: Of those, followed by another ticket of the same customer within the window.
        ticket_ids: The repeated ones.
    """

    solved: int
    repeated: int
    ticket_ids: tuple[str, ...]

    @property
    def percent(self) -> Decimal | None:
        """The repeated share as a percentage (one decimal), or None when nothing was solved."""
        return _share(self.repeated, self.solved)


@checked
def repeat_contacts(tickets: Iterable[Ticket], *, within: timedelta) -> RepeatContacts:
    """How many solved tickets were followed by the same customer's next ticket within ``within``.

    Raises:
        InvalidInputError: ``within`` is not positive.
    """
    if within <= timedelta(0):
        raise InvalidInputError(f"within must be a positive duration, got {within}")
    listed = _tickets(tickets)
    opened: dict[str, list[Ticket]] = {}
    for ticket in listed:
        opened.setdefault(ticket.customer_id, []).append(ticket)
    repeated = []
    solved = [t for t in listed if t.solved_at is not None]
    for ticket in solved:
        assert ticket.solved_at is not None
        end = ticket.solved_at + within
        if any(
            other.id != ticket.id and ticket.solved_at < other.created_at <= end
            for other in opened[ticket.customer_id]
        ):
            repeated.append(ticket.id)
    return RepeatContacts(len(solved), len(repeated), tuple(sorted(repeated)))


@dataclass(frozen=True)
class TransferStats:
    """How often tickets changed hands.

    Attributes:
        tickets: Tickets counted.
        transferred: Of those, transferred at least once.
        transfers: Transfers in all.
        ping_pong: Transfers that sent a ticket back to a team it had just left (escalated).
        most: The highest number of transfers of one ticket.
    """

    tickets: int
    transferred: int
    transfers: int
    ping_pong: int
    most: int

    @property
    def per_ticket(self) -> Decimal | None:
        """Transfers per ticket (two decimals), or None without tickets."""
        if not self.tickets:
            return None
        return (Decimal(self.transfers) / self.tickets).quantize(Decimal("0.01"), ROUND_HALF_UP)


@checked
def transfer_stats(tickets: Iterable[Ticket]) -> TransferStats:
    """Transfers per ticket, ping-pong included (a count the seeds ask to keep low)."""
    listed = _tickets(tickets)
    counted = [len(ticket.transfers) for ticket in listed]
    bounced = sum(1 for ticket in listed for transfer in ticket.transfers if transfer.ping_pong)
    return TransferStats(
        tickets=len(counted),
        transferred=sum(1 for n in counted if n),
        transfers=sum(counted),
        ping_pong=bounced,
        most=max(counted, default=0),
    )
