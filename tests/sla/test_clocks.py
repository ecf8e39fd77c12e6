from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from csdesk import Actor, InvalidInputError, TransitionRejectedError
from csdesk.events import DomainEvent
from csdesk.models import Ticket
from csdesk.sla import SlaPolicy, china_calendar, select_policy, sla_report
from csdesk.workflows import TicketWorkflow, fire, open_ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
CAL = china_calendar(weekly={d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")})
CUSTOMER = Actor(kind="customer", id="C-1")
AGENT = Actor(kind="staff", id="agent-7")
EVE = datetime(2026, 9, 30, 17, 0, tzinfo=SHANGHAI)  # the eve of National Day


def policy(**extra: object) -> SlaPolicy:
    data: dict[str, object] = {
        "id": "standard",
        "version": "2026.1",
        "source": "shop service terms",
        "as_of": "2026-09-01",
        "targets": {
            "p3": [
                {"metric": "first_reply", "minutes": 30},
                {"metric": "next_reply", "minutes": 60},
                {"metric": "periodic_update", "minutes": 480},
                {"metric": "resolution", "minutes": 240},
                {"metric": "total_resolution", "minutes": 2880, "business_hours": False},
                {"metric": "requester_wait", "minutes": 240},
                {"metric": "agent_work", "minutes": 240},
            ],
            "p1": [{"metric": "first_reply", "minutes": 10}],
        },
        "escalations": [
            {"level": 1, "after_minutes": 0, "notify": "team lead"},
            {"level": 2, "after_minutes": 120, "notify": "supervisor"},
        ],
    }
    data.update(extra)
    return SlaPolicy.from_data(data)


def ticket() -> tuple[Ticket, list[DomainEvent]]:
    return open_ticket(
        id="T-1", category="order_problem", customer_id="C-1", actor=CUSTOMER, now=EVE
    )


def test_a_ticket_on_national_day_eve_is_due_after_the_holiday() -> None:
    t, events = ticket()
    report = sla_report(t, events, policies=[policy()], calendar=CAL, now=EVE)
    first = report.status("first_reply")
    assert first.deadline == datetime(2026, 9, 30, 17, 30, tzinfo=SHANGHAI)
    resolution = report.status("resolution")
    assert resolution.deadline == datetime(2026, 10, 8, 12, 0, tzinfo=SHANGHAI)  # 4 working hours
    total = report.status("total_resolution")
    assert total.deadline == EVE + timedelta(hours=48)  # calendar time ignores the holiday


def test_first_reply_breach_and_warning() -> None:
    t, events = ticket()
    warned = sla_report(
        t, events, policies=[policy()], calendar=CAL, now=EVE + timedelta(minutes=5)
    )
    assert warned.status("first_reply").warning  # within 30 minutes of the deadline
    events += fire(
        TicketWorkflow, t, "reply", actor=AGENT, now=EVE + timedelta(minutes=45), body="hi"
    )
    report = sla_report(t, events, policies=[policy()], calendar=CAL, now=EVE + timedelta(hours=1))
    first = report.status("first_reply")
    assert first.breached
    assert first.breached_at == datetime(2026, 9, 30, 17, 30, tzinfo=SHANGHAI)
    assert first.fulfilled_at == EVE + timedelta(minutes=45)
    assert first.escalation_level == 0  # answered: no escalation


def test_resolution_pauses_while_pending_and_escalates() -> None:
    t, events = ticket()
    events += fire(
        TicketWorkflow, t, "reply", actor=AGENT, now=EVE + timedelta(minutes=20), body="?"
    )
    events += fire(
        TicketWorkflow, t, "wait_for_customer", actor=AGENT, now=EVE + timedelta(minutes=30)
    )
    back = datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI)
    events += fire(TicketWorkflow, t, "customer_message", actor=CUSTOMER, now=back, body="here")
    now = datetime(2026, 10, 8, 13, 0, tzinfo=SHANGHAI)
    report = sla_report(t, events, policies=[policy()], calendar=CAL, now=now)
    resolution = report.status("resolution")
    assert resolution.elapsed == timedelta(minutes=30) + timedelta(hours=3, minutes=30)
    assert resolution.paused_for == back - (EVE + timedelta(minutes=30))
    assert resolution.deadline == datetime(2026, 10, 8, 9, 30, tzinfo=SHANGHAI) + timedelta(
        hours=3, minutes=30
    )
    assert not resolution.breached
    requester = report.status("requester_wait")
    assert requester.elapsed == resolution.elapsed  # pending pauses it too
    total = report.status("total_resolution")
    assert total.breached
    assert total.escalation_level == 2
    nxt = report.status("next_reply")
    assert (nxt.started_at, nxt.fulfilled_at, nxt.breached) == (back, None, True)


def test_a_paused_metric_has_no_deadline() -> None:
    t, events = ticket()
    events += fire(TicketWorkflow, t, "hold", actor=AGENT, now=EVE + timedelta(minutes=10))
    report = sla_report(t, events, policies=[policy()], calendar=CAL, now=EVE + timedelta(days=1))
    agent_work = report.status("agent_work")
    assert agent_work.paused
    assert agent_work.deadline is None
    assert not agent_work.breached
    # requester wait keeps running on hold (Zendesk's default)
    assert not report.status("requester_wait").paused


def test_solving_fulfils_and_reopening_resumes() -> None:
    t, events = ticket()
    events += fire(
        TicketWorkflow, t, "reply", actor=AGENT, now=EVE + timedelta(minutes=5), body="ok"
    )
    events += fire(TicketWorkflow, t, "solve", actor=AGENT, now=EVE + timedelta(minutes=50))
    solved = sla_report(t, events, policies=[policy()], calendar=CAL, now=EVE + timedelta(days=9))
    assert solved.status("resolution").fulfilled_at == EVE + timedelta(minutes=50)
    assert not solved.status("resolution").breached
    assert solved.status("periodic_update").fulfilled_at == EVE + timedelta(minutes=50)
    later = datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI)
    events += fire(TicketWorkflow, t, "customer_message", actor=CUSTOMER, now=later, body="again")
    reopened = sla_report(t, events, policies=[policy()], calendar=CAL, now=later)
    assert reopened.status("resolution").fulfilled_at is None
    assert reopened.status("resolution").elapsed == timedelta(minutes=50)


def test_next_reply_instances() -> None:
    t, events = ticket()
    steps = [
        ("reply", AGENT, 5),
        ("customer_message", CUSTOMER, 10),
        ("customer_message", CUSTOMER, 12),
        ("reply", AGENT, 20),
        ("customer_message", CUSTOMER, 25),
    ]
    for event, actor, minutes in steps:
        events += fire(
            TicketWorkflow, t, event, actor=actor, now=EVE + timedelta(minutes=minutes), body="x"
        )
    report = sla_report(
        t, events, policies=[policy()], calendar=CAL, now=EVE + timedelta(minutes=30)
    )
    first, second = report.status("next_reply", 1), report.status("next_reply", 2)
    assert (first.started_at, first.fulfilled_at) == (
        EVE + timedelta(minutes=10),
        EVE + timedelta(minutes=20),
    )
    assert (second.started_at, second.fulfilled_at) == (EVE + timedelta(minutes=25), None)


def test_policy_selection_follows_changes() -> None:
    vip = policy(
        id="vip",
        conditions={"tags": ["vip"]},
        targets={"p3": [{"metric": "first_reply", "minutes": 5}]},
    )
    t, events = ticket()
    assert select_policy(t, [vip, policy()]) is not None
    assert select_policy(t, [vip, policy()]).id == "standard"  # type: ignore[union-attr]
    events += fire(TicketWorkflow, t, "change", actor=AGENT, now=EVE, tags=["vip"], priority="p1")
    report = sla_report(t, events, policies=[vip, policy()], calendar=CAL, now=EVE)
    assert report.policy_id == "vip"
    assert [p for _, p in report.policy_changes] == ["standard", "vip"]
    assert report.statuses == ()  # vip has no p1 targets
    with pytest.raises(LookupError):
        report.status("first_reply")


def test_ticket_workflow_rules() -> None:
    t, _ = ticket()
    with pytest.raises(TransitionRejectedError, match="agent"):
        fire(TicketWorkflow, t, "reply", actor=CUSTOMER, now=EVE, body="hi")
    with pytest.raises(TransitionRejectedError, match="at least one"):
        fire(TicketWorkflow, t, "change", actor=AGENT, now=EVE)
    with pytest.raises(InvalidInputError):
        fire(TicketWorkflow, t, "change", actor=AGENT, now=EVE, priority="urgent")
    assert (t.state, t.priority) == ("new", "P3")
