"""Team calendars, group SLAs and escalations in business time (issue 19 item 4).

SLA business hours were per shop; Zendesk, Freshdesk and Zammad apply schedules per group and
offer group SLAs; shops outside China had no holiday source.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from csdesk import Actor
from csdesk.calendars import country_calendar
from csdesk.errors import CalendarCoverageError, InvalidInputError
from csdesk.sla import SlaPolicy, china_calendar, sla_report
from csdesk.workflows import open_ticket

BERLIN = ZoneInfo("Europe/Berlin")
SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = {d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")}


def test_a_calendar_on_a_countrys_public_holidays() -> None:
    berlin = country_calendar(tz="Europe/Berlin", weekly=OFFICE, country="DE", subdivision="BE",
                              years=(2026, 2026))  # fmt: skip
    # 2026-03-08 (International Women's Day) is a Sunday; Good Friday 04-03 is closed in Berlin.
    start = datetime(2026, 4, 2, 17, tzinfo=BERLIN)  # Thursday before Easter, 1 hour left
    assert berlin.add(start, timedelta(hours=2)) == datetime(2026, 4, 7, 10, tzinfo=BERLIN)
    paris = country_calendar(tz="Europe/Paris", weekly=OFFICE, country="FR", years=(2026, 2026))
    quatorze = datetime(2026, 7, 13, 17, tzinfo=ZoneInfo("Europe/Paris"))
    assert paris.add(quatorze, timedelta(hours=2)) == datetime(
        2026, 7, 15, 10, tzinfo=ZoneInfo("Europe/Paris")
    )  # 14 July is closed
    with pytest.raises(CalendarCoverageError):
        paris.add(datetime(2027, 1, 4, 10, tzinfo=ZoneInfo("Europe/Paris")), timedelta(hours=1))
    with pytest.raises(InvalidInputError, match="no public holidays"):
        country_calendar(tz="Europe/Paris", weekly=OFFICE, country="XX", years=(2026, 2026))
    assert date(2026, 7, 14) in paris.holidays


def _policy(**changes: object) -> SlaPolicy:
    data: dict[str, object] = {
        "id": "standard", "version": "1", "as_of": "2026-03-01", "source": "test",
        "targets": {"p2": [{"metric": "first_reply", "minutes": 60}]},
    }  # fmt: skip
    return SlaPolicy.from_data(data | changes)


def test_group_slas_and_team_calendars() -> None:
    logistics = _policy(id="logistics", conditions={"group": ["logistics"]},
                        targets={"p2": [{"metric": "first_reply", "minutes": 240}]})  # fmt: skip
    everyone = _policy()
    shanghai = china_calendar(weekly=OFFICE)
    berlin = country_calendar(tz="Europe/Berlin", weekly=OFFICE, country="DE",
                              subdivision="BE", years=(2026, 2026))  # fmt: skip
    opened = datetime(2026, 4, 2, 16, 30, tzinfo=BERLIN)  # 22:30 in Shanghai
    customer = Actor(kind="customer", id="C-1")
    for group, policy_id, due in (
        ("logistics", "logistics", datetime(2026, 4, 7, 11, 30, tzinfo=BERLIN)),
        ("eu_desk", "standard", datetime(2026, 4, 2, 17, 30, tzinfo=BERLIN)),
    ):
        ticket, events = open_ticket(id=f"T-{group}", category="order_problem", priority="p2",
                                     customer_id="C-1", actor=customer, now=opened,
                                     group=group)  # fmt: skip
        report = sla_report(ticket, events, policies=[logistics, everyone],
                            calendar={"logistics": berlin, "eu_desk": berlin, "*": shanghai},
                            now=opened)  # fmt: skip
        assert report.policy_id == policy_id
        assert report.statuses[0].deadline == due, group
    lost, events = open_ticket(id="T-x", category="order_problem", priority="p2", customer_id="C-1",
                               actor=customer, now=opened, group="nowhere")  # fmt: skip
    with pytest.raises(InvalidInputError, match="no business calendar"):
        sla_report(lost, events, policies=[everyone], calendar={"logistics": berlin}, now=opened)


def test_an_escalation_in_business_time_waits_for_the_team() -> None:
    calendar = china_calendar(weekly=OFFICE)
    opened = datetime(2026, 3, 2, 16, 30, tzinfo=SHANGHAI)  # Monday; first reply due 17:30
    ticket, events = open_ticket(id="T-1", category="order_problem", priority="p2",
                                 customer_id="C-1", actor=Actor(kind="customer", id="C-1"),
                                 now=opened)  # fmt: skip
    late = datetime(2026, 3, 2, 18, 45, tzinfo=SHANGHAI)  # 75 wall minutes past the deadline
    escalations = [{"level": 1, "after_minutes": 60, "notify": "lead"},
                   {"level": 2, "after_minutes": 60, "notify": "supervisor",
                    "business_hours": True}]  # fmt: skip
    status = sla_report(ticket, events, policies=[_policy(escalations=escalations)],
                        calendar=calendar, now=late).statuses[0]  # fmt: skip
    assert status.breached
    assert status.escalation_level == 1  # wall clock: 18:30 passed; business: 09:30 tomorrow
    next_morning = datetime(2026, 3, 3, 9, 31, tzinfo=SHANGHAI)
    status = sla_report(ticket, events, policies=[_policy(escalations=escalations)],
                        calendar=calendar, now=next_morning).statuses[0]  # fmt: skip
    assert status.escalation_level == 2
