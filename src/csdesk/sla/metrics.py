"""Service metrics over a batch of tickets: SLA attainment, reply and resolution percentiles.

`service_metrics` reads an iterable of ``(ticket, report)`` pairs once and keeps only counters and
minute histograms, so a month of tickets never has to fit in a list.

Examples:
    >>> summary = service_metrics([])
    >>> summary.tickets, summary.attainment
    (0, ())
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from csdesk._checks import checked
from csdesk._model import CsdeskModel
from csdesk.errors import InvalidInputError
from csdesk.models import Ticket
from csdesk.sla.clocks import SlaReport

__all__ = ["Attainment", "ServiceMetrics", "service_metrics"]


class Attainment(CsdeskModel):
    """How many finished metric instances met their target, for one metric and one group.

    Attributes:
        dimension: ``all``, ``priority``, ``channel`` or ``agent``.
        value: The group (``p1``, ``chat``, ``agent-7``); ``*`` for ``all``.
        rate: ``met / (met + breached)``, to 4 decimals; None when nothing finished.
    """

    metric: str
    dimension: str
    value: str
    met: int
    breached: int
    rate: Decimal | None


class ServiceMetrics(CsdeskModel):
    """The summary of a batch of tickets.

    Attributes:
        first_reply_p50, first_reply_p90: Percentiles of first-reply time (as measured by the
            policy: business or calendar), to the minute; None without data.
        resolution_p50, resolution_p90: The same for resolution time.
        overdue: Ticket ids with a running metric past its deadline now.
    """

    tickets: int
    attainment: tuple[Attainment, ...]
    first_reply_p50: timedelta | None
    first_reply_p90: timedelta | None
    resolution_p50: timedelta | None
    resolution_p90: timedelta | None
    overdue: tuple[str, ...]


def _percentile(histogram: Counter[int], share: Decimal) -> timedelta | None:
    total = sum(histogram.values())
    if not total:
        return None
    rank = max(1, int((Decimal(total) * share).to_integral_value(rounding="ROUND_CEILING")))
    seen = 0
    for minutes in sorted(histogram):
        seen += histogram[minutes]
        if seen >= rank:
            return timedelta(minutes=minutes)
    raise AssertionError("unreachable")  # pragma: no cover


@checked
def service_metrics(batch: Iterable[tuple[Ticket, SlaReport]]) -> ServiceMetrics:
    """Summarise ``(ticket, report)`` pairs (from `csdesk.sla.sla_report`) in one pass."""
    met: Counter[tuple[str, str, str]] = Counter()
    missed: Counter[tuple[str, str, str]] = Counter()
    first_reply: Counter[int] = Counter()
    resolution: Counter[int] = Counter()
    overdue: list[str] = []
    count = 0
    for pair in batch:
        if not (isinstance(pair, tuple) and len(pair) == 2):
            raise InvalidInputError(
                f"service_metrics reads (ticket, report) pairs, got {type(pair).__name__}"
            )
        ticket, report = pair
        count += 1
        groups = [
            ("all", "*"),
            ("priority", str(ticket.priority)),
            ("channel", str(ticket.channel)),
            ("agent", ticket.assignee or "(unassigned)"),
        ]
        late_now = False
        for status in report.statuses:
            if status.fulfilled_at is None:
                late_now = late_now or status.breached
                continue
            bucket = missed if status.breached else met
            for dimension, value in groups:
                bucket[(status.metric, dimension, value)] += 1
            minutes = int(status.elapsed // timedelta(minutes=1))
            if status.metric == "first_reply":
                first_reply[minutes] += 1
            elif status.metric == "resolution":
                resolution[minutes] += 1
        if late_now:
            overdue.append(ticket.id)
    rows = []
    for key in sorted(set(met) | set(missed)):
        ok, late = met[key], missed[key]
        rate = (Decimal(ok) / Decimal(ok + late)).quantize(Decimal("0.0001"), ROUND_HALF_EVEN)
        rows.append(
            Attainment(
                metric=key[0], dimension=key[1], value=key[2], met=ok, breached=late, rate=rate
            )
        )
    return ServiceMetrics(
        tickets=count,
        attainment=tuple(rows),
        first_reply_p50=_percentile(first_reply, Decimal("0.5")),
        first_reply_p90=_percentile(first_reply, Decimal("0.9")),
        resolution_p50=_percentile(resolution, Decimal("0.5")),
        resolution_p90=_percentile(resolution, Decimal("0.9")),
        overdue=tuple(overdue),
    )
