"""``csdesk sla due``: deadlines and overdue metrics of tickets."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click
from rich import box
from rich.console import Console
from rich.table import Table

from csdesk.errors import CsdeskError
from csdesk.events import DomainEvent
from csdesk.models import Ticket
from csdesk.scripts._cli import BadInput, open_input
from csdesk.sla import (
    BusinessCalendar,
    SlaPolicy,
    china_calendar,
    sla_report,
)

__all__ = ["desk_options", "desk_setup", "sla"]

F = TypeVar("F", bound=Callable[..., Any])

_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _hours(spec: str) -> dict[str, list[tuple[str, str]]]:
    """``"mon-fri 09:00-12:00 13:30-18:30; sat 10:00-16:00"`` → weekly hours."""
    weekly: dict[str, list[tuple[str, str]]] = {}
    for part in filter(None, (p.strip() for p in spec.split(";"))):
        days, *spans = part.split()
        first, _, last = days.partition("-")
        if first not in _DAYS or (last and last not in _DAYS) or not spans:
            raise click.BadParameter(
                f"{part!r}: write e.g. 'mon-fri 09:00-18:00'", param_hint="--hours"
            )
        chosen = _DAYS[_DAYS.index(first) : _DAYS.index(last or first) + 1]
        for span in spans:
            start, _, end = span.partition("-")
            for day in chosen:
                weekly.setdefault(day, []).append((start, end))
    return weekly


_DESK_OPTIONS = (
    click.option(
        "--policy",
        "policies",
        multiple=True,
        required=True,
        type=click.Path(exists=True, dir_okay=False, path_type=Path),
        help="An SLA policy file (.toml or .json); repeat it, first match wins.",
    ),
    click.option(
        "--calendar",
        type=click.Choice(["china", "weekdays"]),
        default="china",
        show_default=True,
        help="china: official holidays and make-up days (2018-2026, and years loaded from "
        "$CSDESK_CHINA_CALENDAR); weekdays: no holidays.",
    ),
    click.option(
        "--provisional",
        is_flag=True,
        help="With --calendar china: estimate the two years after the official data (marked "
        "provisional in the output) instead of failing.",
    ),
    click.option(
        "--hours",
        default="mon-fri 09:00-12:00 13:30-18:30",
        show_default=True,
        help="The desk's weekly hours.",
    ),
    click.option("--tz", default="Asia/Shanghai", show_default=True, help="The hours' time zone."),
)


def desk_options(command: F) -> F:
    """The SLA policies and the desk's calendar, as the commands that compute clocks take them."""
    for option in reversed(_DESK_OPTIONS):
        command = option(command)
    return command


def desk_setup(
    policies: tuple[Path, ...], calendar: str, hours: str, tz: str, provisional: bool
) -> tuple[list[SlaPolicy], BusinessCalendar]:
    """The policies read from their files and the calendar the options describe.

    Raises:
        CsdeskError, OSError, ValueError: a policy or an option is invalid.
    """
    loaded = [SlaPolicy.from_data(_load(path), source=str(path)) for path in policies]
    weekly = _hours(hours)
    if calendar == "china":
        return loaded, china_calendar(weekly=weekly, tz=tz, provisional=provisional)
    return loaded, BusinessCalendar(weekly=weekly, tz=tz)


@click.group()
def sla() -> None:
    """SLA deadlines on business calendars."""


@sla.command("due")
@click.argument("tickets", metavar="TICKETS", type=click.Path(allow_dash=True))
@desk_options
@click.option("--now", "now_text", help="The time to report at (ISO 8601 with an offset).")
@click.option("--overdue", is_flag=True, help="Only metrics that are breached or warning.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per ticket (JSONL).")
def due_command(
    tickets: str,
    policies: tuple[Path, ...],
    calendar: str,
    hours: str,
    tz: str,
    now_text: str | None,
    overdue: bool,
    as_json: bool,
    provisional: bool,
) -> None:
    """Deadlines and overdue metrics of TICKETS (JSONL; - for stdin).

    Each line is a ticket (required: {"id": …, "customer_id": …, "category": …, "created_at":
    "2026-03-02T09:00:00+08:00"}) or {"ticket": {…}, "events": [{…}, …]} with the events the
    ticket workflow produced (replies, status changes), which the clocks need to know what was
    answered and what is paused.

    Exit codes: 0 done; 2 a policy or a ticket line is invalid (the message names the line).
    """
    try:
        loaded, cal = desk_setup(policies, calendar, hours, tz, provisional)
        now = datetime.fromisoformat(now_text) if now_text else datetime.now(UTC)
        if now.tzinfo is None:
            raise click.BadParameter("--now needs an offset, e.g. 2026-09-30T17:00:00+08:00")
    except (CsdeskError, OSError, ValueError) as error:
        raise BadInput(str(error)) from None
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for name in ("Ticket", "Metric", "Deadline", "Left", "State"):
        table.add_column(name, no_wrap=True)
    for number, (ticket, events) in _tickets(tickets):
        try:
            report = sla_report(ticket, events, policies=loaded, calendar=cal, now=now)
        except CsdeskError as error:
            raise BadInput(f"{tickets}, line {number}: {error}") from None
        rows = []
        for status in report.statuses:
            state = _state(status)
            if overdue and state not in ("BREACHED", "warning"):
                continue
            rows.append((status, state))
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "ticket": ticket.id,
                        "policy": report.policy_id,
                        "metrics": [
                            {
                                "metric": s.metric,
                                "instance": s.instance,
                                "deadline": s.deadline.isoformat() if s.deadline else None,
                                "remaining_minutes": int(s.remaining.total_seconds() // 60),
                                "state": state.lower(),
                                "escalation_level": s.escalation_level,
                                "provisional": s.provisional,
                            }
                            for s, state in rows
                        ],
                    },
                    ensure_ascii=False,
                )
            )
            continue
        for status, state in rows:
            deadline = (
                status.deadline.astimezone(cal.zone).strftime("%m-%d %H:%M")
                if status.deadline
                else "paused"
            )
            left = int(status.remaining.total_seconds() // 60)
            if status.provisional:
                deadline += " (provisional)"
            table.add_row(ticket.id, status.metric, deadline, f"{left} min", state)
    if not as_json:
        Console().print(table)


def _state(status: Any) -> str:
    if status.fulfilled_at is not None:
        return "met" if not status.breached else "met late"
    if status.paused:
        return "paused"
    if status.breached:
        return "BREACHED"
    return "warning" if status.warning else "running"


def _load(path: Path) -> Any:
    import tomllib

    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)


def _tickets(path: str) -> Iterator[tuple[int, tuple[Ticket, list[DomainEvent]]]]:
    stream = open_input(path)
    try:
        for number, line in enumerate(stream, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if "ticket" in data:
                    ticket = Ticket.model_validate(data["ticket"])
                    events = [DomainEvent.model_validate(e) for e in data.get("events", [])]
                else:
                    ticket, events = Ticket.model_validate(data), []
            except (ValueError, CsdeskError, RecursionError, AttributeError, TypeError) as error:
                why = "nested too deeply" if isinstance(error, RecursionError) else error
                if isinstance(error, AttributeError | TypeError):
                    why = "each line is a JSON object: a ticket, or {ticket, events}"
                raise BadInput(f"{path}, line {number}: {why}") from None
            yield number, (ticket, events)
    finally:
        if stream is not sys.stdin:
            stream.close()
