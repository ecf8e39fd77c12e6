"""``csdesk desk handover``: the end-of-shift handover (交班) from a csdesk database."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from csdesk.errors import CsdeskError
from csdesk.scripts._cli import BadInput, database_url
from csdesk.scripts.sla_cmd import desk_options, desk_setup

__all__ = ["desk"]


@click.group()
def desk() -> None:
    """The desk's daily work on a csdesk database: the shift handover."""


@desk.command("handover")
@click.option(
    "--db",
    required=True,
    metavar="URL",
    help="The csdesk database with the tickets: a SQLAlchemy URL (postgresql+psycopg://…, "
    "mysql+pymysql://…, sqlite:///desk.db) or a SQLite file.",
)
@desk_options
@click.option("--group", help="Only this team's tickets (after_sales, logistics, …).")
@click.option("--agent", help="Only this agent's tickets.")
@click.option("--shift-end", "shift_end_text", help="When the shift ends (ISO 8601 with an "
              "offset) [default: now].")  # fmt: skip
@click.option(
    "--next-shift",
    default=12,
    show_default=True,
    type=click.IntRange(min=1, max=24 * 7),
    help="Hours of follow-ups ahead (1 to 168).",
)
@click.option("--locale", default="zh-CN", show_default=True, help="The note's language.")
@click.option("--promised", help="What was promised to customers (the note's slot).")
@click.option("--watch", help="What the next shift should watch (the note's slot).")
@click.option("--json", "as_json", is_flag=True, help="The report as JSON instead of the note.")
def handover_command(
    db: str,
    policies: tuple[Path, ...],
    group: str | None,
    agent: str | None,
    calendar: str,
    hours: str,
    tz: str,
    provisional: bool,
    shift_end_text: str | None,
    next_shift: int,
    locale: str,
    promised: str | None,
    watch: str | None,
    as_json: bool,
) -> None:
    """Print the handover note of a team or an agent at the end of a shift.

    Reads the open, pending and solved tickets and their events from the database (the outbox
    keeps them; purge ticket events only past what reports look back on), computes each
    ticket's SLA state and next deadline, and prints the built-in handover_note: open tickets
    earliest deadline first, tickets waiting on the customer, follow-ups due before the next
    shift ends. Without --promised and --watch the note says what to fill before it is sent.

    Exit codes: 0 printed; 2 bad options, policy or database.
    """
    from csdesk.models import Ticket, TicketState
    from csdesk.sla import handover_report
    from csdesk.storage import SqlStore

    try:
        loaded, cal = desk_setup(policies, calendar, hours, tz, provisional)
        shift_end = datetime.fromisoformat(shift_end_text) if shift_end_text else datetime.now(UTC)
        if shift_end.tzinfo is None:
            raise click.BadParameter("--shift-end needs an offset, e.g. 2026-09-30T18:00:00+08:00")
        live = [TicketState.NEW, TicketState.OPEN, TicketState.PENDING, TicketState.ON_HOLD,
                TicketState.SOLVED]  # fmt: skip
        with SqlStore(database_url("--db", db)) as store:
            tickets = store.entities(Ticket, states=live)
            events = store.history(Ticket, [ticket.id for ticket in tickets])
        report = handover_report(tickets, events, policies=loaded, calendar=cal,
                                 shift_end=shift_end, next_shift=timedelta(hours=next_shift),
                                 group=group, assignee=agent)  # fmt: skip
        if as_json:
            click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
            return
        note = report.render(locale=locale, promised=promised, watch=watch, tz=tz)
    except (CsdeskError, OSError, ValueError) as error:
        raise BadInput(str(error)) from None
    click.echo(note.text)
    if note.unfilled_slots:
        names = ", ".join(note.unfilled_slots)
        click.echo(f"(fill {names} before sending: --promised, --watch)", err=True)
