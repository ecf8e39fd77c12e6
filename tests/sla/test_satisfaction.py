"""Follow-up and satisfaction (回访, 满意度): issue 20 item 3."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from csdesk import Actor, InvalidInputError, InvalidTransitionError, Ticket, TransitionRejectedError
from csdesk.sla import csat, repeat_contacts
from csdesk.workflows import (
    FollowUp,
    PostReply,
    RateTicket,
    ReopenTicket,
    SolveTicket,
    follow_ups_due,
    open_ticket,
    run,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)
AGENT = Actor(kind="staff", id="agent-07")
CUSTOMER = Actor(kind="customer", id="C-1")


def solved(ticket_id: str, *, customer: str = "C-1", group: str | None = "after_sales",
           at: datetime = AT, follow_up: timedelta | None = None) -> Ticket:  # fmt: skip
    ticket, _ = open_ticket(id=ticket_id, category="order_problem", customer_id=customer,
                            actor=Actor(kind="customer", id=customer), now=at, group=group,
                            assignee="agent-07")  # fmt: skip
    run(ticket, PostReply(body="查到了"), actor=AGENT, now=at + timedelta(minutes=5))
    run(ticket, SolveTicket(follow_up_in=follow_up), actor=AGENT, now=at + timedelta(hours=1))
    return ticket


def test_a_solve_schedules_a_follow_up_the_sweep_finds() -> None:
    ticket = solved("T-1", follow_up=timedelta(days=3))
    due_at = AT + timedelta(hours=1, days=3)
    assert ticket.follow_up_at == due_at
    others = [solved("T-2"), solved("T-3", follow_up=timedelta(days=5))]
    assert follow_ups_due([ticket, *others], due_at - timedelta(seconds=1)) == []
    assert [t.id for t in follow_ups_due([*others, ticket], due_at)] == ["T-1"]
    events = run(
        ticket, FollowUp(note="客户表示已解决"), actor=AGENT, now=due_at + timedelta(hours=2)
    )
    assert events[0].type == "ticket.followed_up"
    assert events[0].payload["late"] is True
    assert follow_ups_due([ticket], due_at + timedelta(days=1)) == []
    with pytest.raises(TransitionRejectedError, match="was done at"):
        run(ticket, FollowUp(), actor=AGENT, now=due_at + timedelta(days=1))
    with pytest.raises(TransitionRejectedError, match="no follow-up is scheduled"):
        run(others[0], FollowUp(), actor=AGENT, now=due_at)
    reopened = solved("T-4", follow_up=timedelta(days=1))
    run(reopened, ReopenTicket(), actor=AGENT, now=AT + timedelta(hours=2))
    assert follow_ups_due([reopened], AT + timedelta(days=3)) == []  # open again: no follow-up


def test_satisfaction_is_recorded_on_the_shops_scale() -> None:
    ticket = solved("T-1")
    events = run(ticket, RateTicket(score=4, comment="客服很耐心 13812345678", channel="app"),
                 actor=CUSTOMER, now=AT + timedelta(hours=3))  # fmt: skip
    assert events[0].payload["satisfied"] is True
    assert ticket.satisfaction is not None
    assert ticket.satisfaction.score == 4
    assert "13812345678" not in repr(ticket.satisfaction)
    before = ticket.model_copy(deep=True)
    with pytest.raises(TransitionRejectedError, match="above the scale's top"):
        run(ticket, RateTicket(score=6), actor=CUSTOMER, now=AT + timedelta(hours=4))
    assert ticket == before  # a refused command changes nothing
    fresh, _ = open_ticket(id="T-9", category="order_problem", customer_id="C-1",
                           actor=CUSTOMER, now=AT)  # fmt: skip
    with pytest.raises(InvalidTransitionError):
        run(fresh, RateTicket(score=5), actor=CUSTOMER, now=AT)


def test_csat_by_group_agent_category_and_month_and_repeat_contacts() -> None:
    tickets = []
    for index, (score, scale, group) in enumerate(
        [(5, 5, "after_sales"), (4, 5, "after_sales"), (2, 5, "after_sales"),
         (9, 10, "pre_sales"), (6, 10, "pre_sales")]
    ):  # fmt: skip
        ticket = solved(f"T-{index}", customer=f"C-{index}", group=group)
        run(ticket, RateTicket(score=score, scale=scale), actor=CUSTOMER,
            now=AT + timedelta(days=30 * (index % 2), hours=2))  # fmt: skip
        tickets.append(ticket)
    tickets.append(solved("T-unrated", customer="C-9"))
    by_group = csat(tickets, by="group")
    assert {k: (v.responses, v.satisfied, v.percent) for k, v in by_group.items()} == {
        "after_sales": (3, 2, Decimal("66.7")), "pre_sales": (2, 1, Decimal("50.0"))}  # fmt: skip
    assert csat(tickets, by="assignee")["agent-07"].responses == 5
    assert list(csat(tickets, by="month")) == ["2026-03", "2026-04"]
    assert csat(tickets, by="category")["order_problem"].satisfied == 3
    again = [solved("R-1", customer="C-1"), solved("R-2", customer="C-2")]
    back, _ = open_ticket(id="R-3", category="order_problem", customer_id="C-1",
                          actor=CUSTOMER, now=AT + timedelta(days=3))  # fmt: skip
    later, _ = open_ticket(id="R-4", category="order_problem", customer_id="C-2",
                           actor=CUSTOMER, now=AT + timedelta(days=30))  # fmt: skip
    found = repeat_contacts([*again, back, later], within=timedelta(days=7))
    assert (found.solved, found.repeated, found.ticket_ids) == (2, 1, ("R-1",))
    assert found.percent == Decimal("50.0")


def test_sla_escalations_become_ticket_events() -> None:
    # Issue 20 item 2: the log shows who escalated what, when and why.
    from csdesk.sla import SlaPolicy, china_calendar, sla_report
    from csdesk.workflows import EscalateTicket, escalation_commands

    policy = SlaPolicy.from_data({
        "id": "standard", "version": "1", "as_of": "2026-03-01", "source": "test",
        "targets": {"p2": [{"metric": "first_reply", "minutes": 30, "business_hours": False}]},
        "escalations": [{"level": 1, "after_minutes": 0, "notify": "after-sales lead"},
                        {"level": 2, "after_minutes": 60, "notify": "supervisor"}],
    })  # fmt: skip
    calendar = china_calendar(weekly={"mon": [("09:00", "18:00")]})
    ticket, events = open_ticket(id="T-E", category="order_problem", priority="p2",
                                 customer_id="C-1", actor=CUSTOMER, now=AT)  # fmt: skip
    late = AT + timedelta(minutes=45)
    report = sla_report(ticket, events, policies=[policy], calendar=calendar, now=late)
    commands = escalation_commands(ticket, report, [policy])
    assert [(c.level, c.to, c.metric) for c in commands] == [(1, "after-sales lead", "first_reply")]
    system = Actor(kind="system", id="sla-sweep")
    for command in commands:
        events += run(ticket, command, actor=system, now=late)
    escalated = events[-1]
    assert escalated.type == "ticket.escalated"
    assert escalated.payload["escalated_to"] == "after-sales lead"
    assert "first_reply breached" in str(escalated.payload["reason"])
    assert escalated.actor.id == "sla-sweep"
    assert escalation_commands(ticket, report, [policy]) == []  # nothing new
    much_later = AT + timedelta(minutes=95)
    report = sla_report(ticket, events, policies=[policy], calendar=calendar, now=much_later)
    assert [c.level for c in escalation_commands(ticket, report, [policy])] == [2]
    with pytest.raises(TransitionRejectedError, match="not higher"):
        run(ticket, EscalateTicket(level=1, to="lead", reason="again"), actor=system, now=late)
    assert ticket.escalation_level == 1


def test_transfers_record_who_has_it_and_ping_pong_escalates() -> None:
    # Issue 20 item 1: a transfer records from, to and why; sending a ticket back to a team it
    # left within the window escalates it to a supervisor instead.
    from csdesk.workflows import TransferTicket

    ticket, _ = open_ticket(id="T-P", category="order_problem", customer_id="C-1",
                            actor=CUSTOMER, now=AT, group="pre_sales")  # fmt: skip
    events = run(ticket, TransferTicket(to_group="after_sales", reason="a return question",
                                        assignee="agent-12"),
                 actor=AGENT, now=AT + timedelta(minutes=10))  # fmt: skip
    assert events[0].type == "ticket.transferred"
    assert (ticket.group, ticket.assignee, len(ticket.transfers)) == ("after_sales", "agent-12", 1)
    assert events[0].payload["from_group"] == "pre_sales"
    back = run(ticket, TransferTicket(to_group="pre_sales", reason="not ours"),
               actor=AGENT, now=AT + timedelta(hours=2))  # fmt: skip
    assert back[0].payload["ping_pong"] is True
    assert (ticket.group, ticket.escalation_level) == ("supervisor", 1)
    assert ticket.transfers[-1].ping_pong
    with pytest.raises(TransitionRejectedError, match="with supervisor already"):
        run(ticket, TransferTicket(to_group="supervisor", reason="x"), actor=AGENT, now=AT)
    later, _ = open_ticket(id="T-Q", category="order_problem", customer_id="C-2",
                           actor=CUSTOMER, now=AT, group="pre_sales")  # fmt: skip
    run(later, TransferTicket(to_group="logistics", reason="carrier"), actor=AGENT, now=AT)
    run(later, TransferTicket(to_group="pre_sales", reason="done"), actor=AGENT,
        now=AT + timedelta(days=2))  # fmt: skip
    assert (later.group, later.transfers[-1].ping_pong) == ("pre_sales", False)  # past the window


def test_the_first_team_follows_the_route_and_the_vip_lane_and_transfers_are_counted() -> None:
    from csdesk import Customer
    from csdesk.policies import Complaint, assess, first_group, tiering_policy
    from csdesk.sla import transfer_stats
    from csdesk.workflows import TransferTicket

    seeds = tiering_policy("seeds")
    calm = assess(Complaint(id="CP-1", received_at=AT, text="快递还没到"), policy=seeds, now=AT)
    angry = assess(Complaint(id="CP-2", received_at=AT, text="再不处理我就打12315投诉！",
                             days_late=3), policy=seeds, now=AT)  # fmt: skip
    gold = Customer(id="C-1", tier="gold")
    assert first_group(calm) == "after_sales"
    assert first_group(calm, gold, vip_group="vip") == "vip"
    assert first_group(angry, gold, vip_group="vip") == "supervisor"  # the route wins
    tickets = []
    for index in range(3):
        ticket, _ = open_ticket(id=f"T-{index}", category="order_problem", customer_id="C-1",
                                actor=CUSTOMER, now=AT, group=first_group(calm))  # fmt: skip
        tickets.append(ticket)
    run(tickets[0], TransferTicket(to_group="logistics", reason="carrier"), actor=AGENT, now=AT)
    run(tickets[0], TransferTicket(to_group="after_sales", reason="back"), actor=AGENT, now=AT)
    run(tickets[1], TransferTicket(to_group="logistics", reason="carrier"), actor=AGENT, now=AT)
    stats = transfer_stats(iter(tickets))
    assert (stats.tickets, stats.transferred, stats.transfers, stats.ping_pong, stats.most) == (
        3, 2, 3, 1, 2)  # fmt: skip
    assert stats.per_ticket == Decimal("1.00")


def test_the_shift_handover_from_the_data() -> None:
    # Issue 20 item 7: open tickets with their SLA state and next deadline, follow-ups due,
    # tickets waiting on the customer; words from the handover template, and JSON.
    from csdesk.sla import SlaPolicy, china_calendar, handover_report
    from csdesk.workflows import WaitForCustomer

    policy = SlaPolicy.from_data({
        "id": "standard", "version": "1", "as_of": "2026-03-01", "source": "test",
        "targets": {"p2": [{"metric": "first_reply", "minutes": 30, "business_hours": False},
                           {"metric": "resolution", "minutes": 480, "business_hours": False}]},
    })  # fmt: skip
    calendar = china_calendar(weekly={"mon": [("09:00", "18:00")]})
    events: dict[str, list[Any]] = {}
    tickets = []
    for index, minutes in enumerate((0, 20, 40)):
        ticket, log = open_ticket(id=f"T-{index}", category="order_problem", priority="p2",
                                  customer_id=f"C-{index}", actor=CUSTOMER, group="after_sales",
                                  now=AT + timedelta(minutes=minutes))  # fmt: skip
        tickets.append(ticket)
        events[ticket.id] = log
    events["T-1"] += run(tickets[1], PostReply(body="查询中"), actor=AGENT,
                         now=AT + timedelta(minutes=25))  # fmt: skip
    events["T-2"] += run(tickets[2], WaitForCustomer(), actor=AGENT, now=AT + timedelta(minutes=45))
    follow = solved("T-F", follow_up=timedelta(hours=10))  # due within the next shift
    other_team, log = open_ticket(id="T-X", category="order_problem", customer_id="C-9",
                                  actor=CUSTOMER, now=AT, group="logistics")  # fmt: skip
    events["T-X"] = log
    shift_end = AT + timedelta(hours=8)
    report = handover_report([*tickets, follow, other_team], events, policies=[policy],
                             calendar=calendar, shift_end=shift_end,
                             group="after_sales")  # fmt: skip
    assert [line.ticket_id for line in report.open] == ["T-0", "T-1"]
    assert report.open[0].breached  # T-0 never got a first reply
    assert report.open[1].metric == "resolution"
    assert [line.ticket_id for line in report.waiting] == ["T-2"]
    assert [line.ticket_id for line in report.follow_ups] == ["T-F"]
    assert report.to_dict()["open"][0]["ticket_id"] == "T-0"
    note = report.render(locale="zh-CN", promised="T-1 明早给答复", watch="无")
    assert note.sendable
    assert "T-0 P2" in note.text
    assert "LATE" in note.text
    assert not report.render(locale="en").sendable  # the agent still has to say what was promised


def test_the_outage_backlog_and_its_apologies() -> None:
    # Issue 20 item 6: every conversation with customer messages received during the outage and
    # not answered, and the apology batch in each customer's locale.
    from csdesk.sla import apology_batch, outage_backlog
    from csdesk.workflows import CustomerMessage

    start, end = AT + timedelta(hours=1), AT + timedelta(hours=3)
    events: dict[str, list[Any]] = {}
    tickets = {}
    for ticket_id, customer, opened in (
        ("T-before", "C-1", AT),
        ("T-during", "C-2", start),
        ("T-after", "C-3", end),
        ("T-answered", "C-4", start),
    ):
        ticket, log = open_ticket(
            id=ticket_id,
            category="order_problem",
            customer_id=customer,
            actor=Actor(kind="customer", id=customer),
            now=opened,
        )
        tickets[ticket_id] = ticket
        events[ticket_id] = log  # fmt: skip
    events["T-before"] += run(tickets["T-before"], CustomerMessage(body="还在吗"),
                              actor=Actor(kind="customer", id="C-1"),
                              now=start + timedelta(minutes=30))  # fmt: skip
    events["T-answered"] += run(tickets["T-answered"], PostReply(body="在的"), actor=AGENT,
                                now=start + timedelta(minutes=10))  # fmt: skip
    backlog = outage_backlog(tickets.values(), events, start=start, end=end)
    assert [(i.ticket_id, i.messages) for i in backlog] == [("T-during", 1), ("T-before", 2)]
    assert backlog[1].waiting_since == start + timedelta(minutes=30)
    when = {"zh-Hans": "今天 18:00 前", "en": "by 6 pm today"}
    replies = apology_batch(backlog, now=end, locales={"C-2": "en"}, next_update=when)
    texts = {ticket_id: reply.text for ticket_id, reply in replies}
    assert texts["T-during"].endswith("we will get back to you by 6 pm today.")
    assert "今天 18:00 前" in texts["T-before"]
    assert all(reply.sendable for _, reply in replies)
    with pytest.raises(InvalidInputError, match="before it starts"):
        outage_backlog(tickets.values(), events, start=end, end=start)


def test_a_transfer_says_who_owns_each_duty_and_carries_the_case() -> None:
    # 首问负责: pre-sales keeps answering the customer while after-sales handles the return.
    from csdesk import Duty
    from csdesk.workflows import TransferTicket

    ticket, _ = open_ticket(id="T-9", category="order_problem", customer_id="C-1",
                            actor=CUSTOMER, now=AT, group="pre_sales")  # fmt: skip
    assert ticket.owners == dict.fromkeys(Duty, "pre_sales")
    events = run(ticket, TransferTicket(to_group="after_sales", reason="a return question",
                                        keep=("answer", "record"), case_id="AS-1"),
                 actor=AGENT, now=AT + timedelta(minutes=10))  # fmt: skip
    transfer = ticket.transfers[-1]
    assert transfer.case_id == "AS-1"
    assert transfer.owners[Duty.ANSWER] == "pre_sales"
    assert transfer.owners[Duty.HANDLE] == "after_sales"
    assert ticket.owner_of("answer") == "pre_sales"
    assert ticket.owner_of(Duty.FOLLOW_UP) == "after_sales"
    assert events[0].payload["kept"] == {"answer": "pre_sales", "record": "pre_sales"}
    # on to logistics, after-sales keeping the follow-up: what pre-sales kept stays with it
    run(ticket, TransferTicket(to_group="logistics", reason="parcel lost", keep=("follow_up",)),
        actor=AGENT, now=AT + timedelta(minutes=20))  # fmt: skip
    assert ticket.owner_of("answer") == "pre_sales"
    assert ticket.owner_of("record") == "pre_sales"
    assert ticket.owner_of("follow_up") == "after_sales"
    assert ticket.owner_of("handle") == "logistics"
    assert ticket.transfers[-1].owners == {
        Duty.ACCEPT: "logistics",
        Duty.HANDLE: "logistics",
        Duty.ANSWER: "pre_sales",
        Duty.FOLLOW_UP: "after_sales",
        Duty.RECORD: "pre_sales",
    }
    # back to pre-sales (not within the ping-pong window's reach: pre-sales left 20 minutes ago,
    # so it IS ping-pong) goes to the supervisor; pre-sales' own duties stay with it
    run(ticket, TransferTicket(to_group="pre_sales", reason="back?"), actor=AGENT,
        now=AT + timedelta(minutes=25))  # fmt: skip
    assert ticket.group == "supervisor"
    assert ticket.owner_of("answer") == "pre_sales"
    before = ticket.model_dump()
    with pytest.raises(TransitionRejectedError, match="the duties are"):
        run(ticket, TransferTicket(to_group="after_sales", reason="x", keep=("sleep",)),
            actor=AGENT, now=AT + timedelta(minutes=30))  # fmt: skip
    assert ticket.model_dump() == before
