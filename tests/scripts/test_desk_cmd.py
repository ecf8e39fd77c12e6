"""``csdesk desk handover`` on a store: issue 20 item 7."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from click.testing import CliRunner

from csdesk import Actor, Ticket
from csdesk.scripts.main import cli
from csdesk.storage import SqlStore
from csdesk.workflows import PostReply, SolveTicket, WaitForCustomer, open_ticket

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI)  # a Monday
AGENT = Actor(kind="staff", id="agent-07")
CUSTOMER = Actor(kind="customer", id="C-1")
POLICY = """
id = "desk"
version = "1"
source = "our service terms"
as_of = "2026-03-01"
[targets]
P3 = [{ metric = "first_reply", minutes = 60 }, { metric = "resolution", minutes = 1440 }]
"""


def stored_desk(tmp_path: Path) -> tuple[str, Path]:
    url = f"sqlite:///{tmp_path / 'desk.db'}"
    policy = tmp_path / "sla.toml"
    policy.write_text(POLICY, encoding="utf-8")
    with SqlStore(url, upgrade=True) as store:
        for number, group in enumerate(["after_sales", "after_sales", "logistics", "after_sales"]):
            ticket, events = open_ticket(id=f"T-{number}", category="order_problem",
                                         customer_id="C-1", actor=CUSTOMER,
                                         now=AT + timedelta(minutes=number), group=group,
                                         assignee="agent-07")  # fmt: skip
            store.insert(ticket, events)
        store.run("T-1", PostReply(body="查到了"), actor=AGENT,
                  now=AT + timedelta(minutes=20))  # fmt: skip
        store.run("T-1", WaitForCustomer(), actor=AGENT, now=AT + timedelta(minutes=21))
        store.run("T-3", SolveTicket(follow_up_in=timedelta(hours=16)), actor=AGENT,
                  now=AT + timedelta(hours=1))  # fmt: skip
    return url, policy


def test_the_handover_note_of_a_team_from_the_store(tmp_path: Path) -> None:
    url, policy = stored_desk(tmp_path)
    arguments = ["desk", "handover", "--db", url, "--policy", str(policy), "--group",
                 "after_sales", "--shift-end", "2026-03-02T18:00:00+08:00", "--calendar",
                 "weekdays"]  # fmt: skip
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    assert "T-0" in result.output  # open, its first reply breached
    assert "LATE" in result.output
    assert "T-1" in result.output  # waiting on the customer
    assert "T-3" in result.output  # its follow-up falls in the next shift
    assert "T-2" not in result.output  # logistics' ticket
    assert "fill" in result.output  # the agent has not said what was promised yet
    filled = CliRunner().invoke(cli, [*arguments, "--promised", "T-0 回电 19:00",
                                      "--watch", "T-3 回访"])  # fmt: skip
    assert filled.exit_code == 0, filled.output
    assert "T-0 回电 19:00" in filled.output
    assert "fill" not in filled.output


def test_the_handover_as_json(tmp_path: Path) -> None:
    url, policy = stored_desk(tmp_path)
    result = CliRunner().invoke(cli, ["desk", "handover", "--db", url, "--policy", str(policy),
                                      "--shift-end", "2026-03-02T18:00:00+08:00", "--json",
                                      "--calendar", "weekdays"])  # fmt: skip
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert [line["ticket_id"] for line in report["open"]] == ["T-0", "T-2"]
    assert report["open"][0]["breached"] is True
    assert [line["ticket_id"] for line in report["waiting"]] == ["T-1"]
    assert [line["ticket_id"] for line in report["follow_ups"]] == ["T-3"]


def test_bad_options_exit_2_and_say_why(tmp_path: Path) -> None:
    url, policy = stored_desk(tmp_path)
    naive = CliRunner().invoke(cli, ["desk", "handover", "--db", url, "--policy", str(policy),
                                     "--shift-end", "2026-03-02T18:00:00"])  # fmt: skip
    assert naive.exit_code == 2
    assert "offset" in naive.output
    missing = CliRunner().invoke(cli, ["desk", "handover", "--db", str(tmp_path / "nope.db"),
                                       "--policy", str(policy)])  # fmt: skip
    assert missing.exit_code == 2
    assert "no such file" in missing.output


def test_the_store_lists_entities_and_their_history(tmp_path: Path) -> None:
    url, _ = stored_desk(tmp_path)
    with SqlStore(url) as store:
        waiting = store.entities(Ticket, states=["pending"])
        assert [t.id for t in waiting] == ["T-1"]
        assert len(store.entities(Ticket)) == 4
        history = store.history(Ticket, ["T-1", "T-9"])
        assert [e.type for e in history["T-1"]] == [
            "ticket.created",
            "ticket.replied",
            "ticket.pending",
        ]
        assert history["T-9"] == []
