"""An outage recorded on a ticket pauses or excuses its SLA, as the policy says: issue 20 item 6."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from csdesk import Actor, DomainEvent, Ticket, TransitionRejectedError
from csdesk.errors import InvalidInputError
from csdesk.replies import explain
from csdesk.sla import BusinessCalendar, SlaPolicy, outage_backlog, sla_report
from csdesk.workflows import CustomerMessage, PostReply, RecordOutage, open_ticket, run

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday
AGENT = Actor(kind="staff", id="agent-07")
CUSTOMER = Actor(kind="customer", id="C-1")
SYSTEM = Actor.system()
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")
OFFICE = BusinessCalendar(tz="Asia/Shanghai", weekly={d: [("09:00", "18:00")] for d in WEEKDAYS})


def policy(outage: str, business_hours: bool = False) -> SlaPolicy:
    return SlaPolicy.from_data(
        {
            "id": f"outage_{outage}",
            "version": "1",
            "source": "test",
            "as_of": "2026-03-01",
            "targets": {
                "P3": [{"metric": "first_reply", "minutes": 30, "business_hours": business_hours}]
            },
            "outage": outage,
        }
    )


def ticket_with_outage(
    start: datetime, end: datetime, reply_at: datetime | None
) -> tuple[Ticket, list[DomainEvent]]:
    ticket, events = open_ticket(
        id="T-1", category="order_problem", customer_id="C-1", actor=CUSTOMER, now=AT
    )
    events += run(
        ticket, RecordOutage(start=start, end=end, reason="IM system down"), actor=SYSTEM, now=end
    )
    if reply_at is not None:
        events += run(ticket, PostReply(body="抱歉久等"), actor=AGENT, now=reply_at)
    return ticket, events


def first_reply(outage: str, reply_minutes: int | None, *, business: bool = False) -> Any:
    reply = AT + timedelta(minutes=reply_minutes) if reply_minutes is not None else None
    ticket, events = ticket_with_outage(
        AT + timedelta(minutes=10), AT + timedelta(minutes=40), reply
    )
    report = sla_report(
        ticket,
        events,
        policies=[policy(outage, business)],
        calendar=OFFICE,
        now=AT + timedelta(hours=2),
    )
    return report.status("first_reply")


def test_pause_the_outage_time_does_not_count() -> None:
    status = first_reply("pause", 50)
    assert status.elapsed == timedelta(minutes=20)  # 50 minutes less the 30-minute outage
    assert status.paused_for == timedelta(minutes=30)
    assert status.deadline == AT + timedelta(minutes=60)
    assert status.breached is False
    assert status.excused is False


def test_count_the_outage_changes_nothing() -> None:
    status = first_reply("count", 50)
    assert status.deadline == AT + timedelta(minutes=30)
    assert status.breached is True


def test_excuse_a_breach_during_the_outage_is_excused_and_said_so() -> None:
    status = first_reply("excuse", 50)
    assert status.deadline == AT + timedelta(minutes=30)
    assert (status.breached, status.excused) == (False, True)
    assert status.escalation_level == 0
    assert status.trace[-1].code == "sla.excused"
    assert "excused (outage)" in explain(status, "en")
    assert "免责" in explain(status, "zh-CN")
    assert "免責" in explain(status, "zh-TW")


def test_excuse_only_covers_instances_that_ran_during_the_outage() -> None:
    ticket, events = open_ticket(
        id="T-1", category="order_problem", customer_id="C-1", actor=CUSTOMER, now=AT
    )
    events += run(ticket, PostReply(body="hi"), actor=AGENT, now=AT + timedelta(minutes=5))
    late = AT + timedelta(hours=3)
    events += run(
        ticket,
        RecordOutage(
            start=AT - timedelta(hours=2), end=AT - timedelta(hours=1), reason="earlier fault"
        ),
        actor=SYSTEM,
        now=late,
    )
    events += run(ticket, CustomerMessage(body="?"), actor=CUSTOMER, now=late)
    report = sla_report(
        ticket, events, policies=[policy("excuse")], calendar=OFFICE, now=late + timedelta(hours=1)
    )
    assert report.status("first_reply").excused is False  # met, and before the fault anyway


def test_a_running_clock_inside_the_outage_shows_paused() -> None:
    ticket, events = open_ticket(
        id="T-1", category="order_problem", customer_id="C-1", actor=CUSTOMER, now=AT
    )
    events += run(
        ticket,
        RecordOutage(start=AT + timedelta(minutes=5), end=AT + timedelta(hours=5), reason="fault"),
        actor=SYSTEM,
        now=AT + timedelta(minutes=6),
    )
    report = sla_report(
        ticket, events, policies=[policy("pause")], calendar=OFFICE, now=AT + timedelta(minutes=20)
    )
    status = report.status("first_reply")
    assert status.paused is True
    assert status.elapsed == timedelta(minutes=5)


def test_pause_in_business_hours_counts_only_open_time_outside_the_outage() -> None:
    # Opened 17:30; outage 17:40-18:00; 30 business minutes: 10 before the outage, then 20 on
    # Tuesday morning from 09:00.
    opened = AT.replace(hour=17, minute=30)
    ticket, events = open_ticket(
        id="T-1", category="order_problem", customer_id="C-1", actor=CUSTOMER, now=opened
    )
    events += run(
        ticket,
        RecordOutage(
            start=opened + timedelta(minutes=10), end=opened + timedelta(minutes=30), reason="fault"
        ),
        actor=SYSTEM,
        now=opened + timedelta(minutes=30),
    )
    report = sla_report(
        ticket,
        events,
        policies=[policy("pause", True)],
        calendar=OFFICE,
        now=opened + timedelta(days=1),
    )
    assert report.status("first_reply").deadline == datetime(2026, 3, 3, 9, 20, tzinfo=SHANGHAI)


def test_events_read_back_from_json_give_the_same_report() -> None:
    ticket, events = ticket_with_outage(
        AT + timedelta(minutes=10), AT + timedelta(minutes=40), AT + timedelta(minutes=50)
    )
    stored = [DomainEvent.model_validate_json(event.model_dump_json()) for event in events]
    report = sla_report(
        ticket, stored, policies=[policy("pause")], calendar=OFFICE, now=AT + timedelta(hours=2)
    )
    assert report.status("first_reply").elapsed == timedelta(minutes=20)


def test_recording_an_outage_checks_its_window() -> None:
    ticket, _ = open_ticket(
        id="T-1", category="order_problem", customer_id="C-1", actor=CUSTOMER, now=AT
    )
    before = ticket.model_dump()
    with pytest.raises(TransitionRejectedError, match="before it starts"):
        run(ticket, RecordOutage(start=AT, end=AT, reason="x"), actor=SYSTEM, now=AT)
    with pytest.raises(TransitionRejectedError, match="not ahead of time"):
        run(
            ticket,
            RecordOutage(start=AT + timedelta(hours=1), end=AT + timedelta(hours=2), reason="x"),
            actor=SYSTEM,
            now=AT,
        )
    with pytest.raises(InvalidInputError):
        run(
            ticket,
            RecordOutage(start=datetime(2026, 3, 2, 9), end=AT, reason="x"),
            actor=SYSTEM,
            now=AT,
        )
    with pytest.raises(InvalidInputError):
        run(
            ticket,
            RecordOutage(start=AT - timedelta(hours=1), end=AT, reason=""),
            actor=SYSTEM,
            now=AT,
        )
    assert ticket.model_dump() == before


def test_the_backlog_then_the_record_then_the_report() -> None:
    # The outage runbook: find the backlog, record the window on each ticket, report.
    start, end = AT + timedelta(minutes=10), AT + timedelta(minutes=40)
    ticket, events = open_ticket(
        id="T-1",
        category="order_problem",
        customer_id="C-1",
        actor=CUSTOMER,
        now=AT + timedelta(minutes=15),
    )
    backlog = outage_backlog([ticket], {"T-1": events}, start=start, end=end)
    assert [item.ticket_id for item in backlog] == ["T-1"]
    for item in backlog:
        events += run(
            ticket, RecordOutage(start=start, end=end, reason="IM down"), actor=SYSTEM, now=end
        )
        assert item.ticket_id == ticket.id
    events += run(ticket, PostReply(body="抱歉"), actor=AGENT, now=end + timedelta(minutes=20))
    report = sla_report(
        ticket, events, policies=[policy("pause")], calendar=OFFICE, now=end + timedelta(hours=1)
    )
    assert report.status("first_reply").elapsed == timedelta(minutes=20)
    assert report.status("first_reply").breached is False


def test_the_window_is_instants_whatever_the_zones() -> None:
    # The outage reported in UTC; customers writing from Shanghai and Berlin; the window's start
    # is in it, its end is not.
    from datetime import UTC

    start = datetime(2026, 3, 2, 7, 10, tzinfo=UTC)  # 15:10 in Shanghai, 08:10 in Berlin
    end = datetime(2026, 3, 2, 7, 50, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    opened = {
        "T-sh-start": datetime(2026, 3, 2, 15, 10, tzinfo=SHANGHAI),  # == start: in
        "T-be-mid": datetime(2026, 3, 2, 8, 30, tzinfo=berlin),  # 07:30 UTC: in
        "T-sh-end": datetime(2026, 3, 2, 15, 50, tzinfo=SHANGHAI),  # == end: out
        "T-be-before": datetime(2026, 3, 2, 8, 9, tzinfo=berlin),  # 07:09 UTC: out
    }
    tickets, events = [], {}
    for ticket_id, at in opened.items():
        ticket, log = open_ticket(id=ticket_id, category="order_problem", customer_id=ticket_id,
                                  actor=Actor(kind="customer", id=ticket_id), now=at)  # fmt: skip
        tickets.append(ticket)
        events[ticket_id] = log
    backlog = outage_backlog(tickets, events, start=start, end=end)
    assert [item.ticket_id for item in backlog] == ["T-sh-start", "T-be-mid"]
    # Recorded in UTC, the window pauses the Berlin ticket's clock in its own office hours.
    ticket = tickets[1]
    log = events["T-be-mid"]
    log += run(
        ticket, RecordOutage(start=start, end=end, reason="chat down"), actor=SYSTEM, now=end
    )
    log += run(ticket, PostReply(body="Sorry"), actor=AGENT, now=end + timedelta(minutes=5))
    office = BusinessCalendar(
        tz="Europe/Berlin", weekly={d: [("08:00", "17:00")] for d in WEEKDAYS}
    )
    status = sla_report(ticket, log, policies=[policy("pause", True)], calendar=office,
                        now=end + timedelta(hours=1)).status("first_reply")  # fmt: skip
    assert status.elapsed == timedelta(minutes=5)
