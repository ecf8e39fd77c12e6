from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal

from csdesk.models import Ticket
from csdesk.sla import SlaReport, service_metrics, sla_report
from csdesk.workflows import TicketWorkflow, fire, open_ticket
from tests.sla.test_clocks import AGENT, CAL, CUSTOMER, EVE, policy


def batch(replies_after: list[int]) -> Iterator[tuple[Ticket, SlaReport]]:
    """One ticket per entry, answered after that many minutes (or never, for -1)."""
    for index, minutes in enumerate(replies_after):
        ticket, events = open_ticket(
            id=f"T-{index}",
            category="order_problem",
            customer_id="C",
            actor=CUSTOMER,
            now=EVE,
            channel="chat" if index % 2 else "app",
        )
        ticket.assignee = "agent-7" if index % 3 else "agent-8"
        if minutes >= 0:
            events += fire(
                TicketWorkflow,
                ticket,
                "reply",
                actor=AGENT,
                now=EVE + timedelta(minutes=minutes),
                body="hi",
            )
            events += fire(
                TicketWorkflow,
                ticket,
                "solve",
                actor=AGENT,
                now=EVE + timedelta(minutes=minutes + 10),
            )
        yield (
            ticket,
            sla_report(
                ticket, events, policies=[policy()], calendar=CAL, now=EVE + timedelta(minutes=59)
            ),
        )


def test_attainment_percentiles_and_overdue_in_one_pass() -> None:
    summary = service_metrics(batch([5, 10, 20, 25, 40, 50, -1]))
    assert summary.tickets == 7
    first = next(
        a for a in summary.attainment if a.metric == "first_reply" and a.dimension == "all"
    )
    assert (first.met, first.breached, first.rate) == (4, 2, Decimal("0.6667"))
    by_channel = {
        a.value: a
        for a in summary.attainment
        if a.metric == "first_reply" and a.dimension == "channel"
    }
    assert set(by_channel) == {"chat", "app"}
    assert summary.first_reply_p50 == timedelta(minutes=20)
    assert summary.first_reply_p90 == timedelta(minutes=50)
    assert summary.resolution_p50 == timedelta(minutes=30)
    assert summary.overdue == ("T-6",)


def test_empty_batch() -> None:
    summary = service_metrics(iter(()))
    assert (summary.tickets, summary.first_reply_p50, summary.overdue) == (0, None, ())
