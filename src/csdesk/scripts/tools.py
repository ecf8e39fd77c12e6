"""``csdesk sla due``, ``csdesk replies render`` and ``csdesk outbox relay``."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

import click
from rich import box
from rich.console import Console
from rich.table import Table

from csdesk.errors import CsdeskError
from csdesk.events import DomainEvent
from csdesk.integrations.webhooks import Subscriber, WebhookRelay
from csdesk.models import Ticket
from csdesk.money import Money
from csdesk.replies import builtin_templates, load_template, render
from csdesk.scripts._cli import BadInput
from csdesk.sla import (
    BusinessCalendar,
    SlaPolicy,
    china_calendar,
    china_coverage,
    load_china_year,
    sla_report,
)

__all__ = ["calendar", "outbox", "render_command", "sla"]

SECRETS_ENV = "CSDESK_WEBHOOK_SECRETS"
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def _open(path: str) -> TextIO:
    return sys.stdin if path == "-" else open(path, encoding="utf-8")


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


@click.group()
def sla() -> None:
    """SLA deadlines on business calendars."""


@sla.command("due")
@click.argument("tickets", metavar="TICKETS", type=click.Path(allow_dash=True))
@click.option(
    "--policy",
    "policies",
    multiple=True,
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="An SLA policy file (.toml or .json); repeat it, first match wins.",
)
@click.option(
    "--calendar",
    type=click.Choice(["china", "weekdays"]),
    default="china",
    show_default=True,
    help="china: official holidays and make-up days (2018-2026, and years loaded from "
    "$CSDESK_CHINA_CALENDAR); weekdays: no holidays.",
)
@click.option(
    "--provisional",
    is_flag=True,
    help="With --calendar china: estimate the two years after the official data (marked "
    "provisional in the output) instead of failing.",
)
@click.option(
    "--hours",
    default="mon-fri 09:00-12:00 13:30-18:30",
    show_default=True,
    help="The desk's weekly hours.",
)
@click.option("--tz", default="Asia/Shanghai", show_default=True, help="The hours' time zone.")
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

    Each line is a ticket ({"id": …, "category": …, "created_at": …}) or {"ticket": {…},
    "events": [{…}, …]} with the events the ticket workflow produced (replies, status changes),
    which the clocks need to know what was answered and what is paused.

    Exit codes: 0 done; 2 a policy or a ticket line is invalid (the message names the line).
    """
    try:
        loaded = [SlaPolicy.from_data(_load(path), source=str(path)) for path in policies]
        weekly = _hours(hours)
        cal = (
            china_calendar(weekly=weekly, tz=tz, provisional=provisional)
            if calendar == "china"
            else BusinessCalendar(weekly=weekly, tz=tz)
        )
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
    stream = _open(path)
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


# -- calendar check ------------------------------------------------------------------------------


@click.group()
def calendar() -> None:
    """The China calendar's official data: what it covers, and loading next year's notice."""


@calendar.command("check")
@click.option(
    "--until",
    "until_text",
    required=True,
    metavar="DATE",
    help="The last day deadlines must reach (e.g. today + 90 days), as YYYY-MM-DD.",
)
@click.option(
    "--load",
    "files",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A year's notice as TOML or JSON to validate and load first (repeatable).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def check_command(until_text: str, files: tuple[Path, ...], as_json: bool) -> None:
    """Say whether the China calendar's official data reaches DATE, and validate year files.

    Run it from cron each week with --until a quarter ahead: it fails in time for the State
    Council's notice for next year (published each November) to be loaded, with --load to check
    the file first, then with $CSDESK_CHINA_CALENDAR pointing at it.

    Exit codes: 0 covered; 1 not covered (the message names the missing years); 2 a bad date or
    a year file that does not validate.
    """
    try:
        until = date.fromisoformat(until_text)
    except ValueError:
        raise BadInput(f"--until {until_text!r}: write a date as YYYY-MM-DD") from None
    loaded = [load_china_year(path) for path in files]
    report = china_coverage(until, today=datetime.now(UTC).date())
    if as_json:
        data = {**report.__dict__, "until": report.until.isoformat()}
        data["loaded"] = [year.year for year in loaded]
        click.echo(json.dumps(data, ensure_ascii=False))
    else:
        for year in loaded:
            click.echo(f"loaded {year.year}: {year.notice} ({year.working_days()} working days)")
        click.echo(report.message)
    if not report.ok:
        raise SystemExit(1)


# -- replies render ------------------------------------------------------------------------------


def _typed(value: Any, kind: str) -> Any:
    if kind == "money" and isinstance(value, dict):
        return Money.from_dict(value)
    if kind == "decimal" and isinstance(value, str | int):
        return Decimal(str(value))
    if kind == "date" and isinstance(value, str):
        return date.fromisoformat(value)
    if kind == "datetime" and isinstance(value, str):
        return datetime.fromisoformat(value)
    if kind == "duration" and isinstance(value, int | str):
        return timedelta(minutes=int(value))
    return value


@click.command("render")
@click.argument("template_name", metavar="TEMPLATE")
@click.option(
    "--context",
    "context_path",
    default="-",
    show_default=True,
    help="A JSON file of the template's variables (- for stdin). Money as "
    '{"amount": "10.00", "currency": "CNY"}, dates as ISO 8601, durations in minutes.',
)
@click.option("--locale", default="zh-CN", show_default=True, help="The customer's locale.")
@click.option("--tz", help="The customer's time zone, for dates and times.")
@click.option("--slot", "slots", multiple=True, metavar="NAME=TEXT", help="Fill an agent slot.")
@click.option("--json", "as_json", is_flag=True, help="Print the result with its metadata.")
def render_command(
    template_name: str,
    context_path: str,
    locale: str,
    tz: str | None,
    slots: tuple[str, ...],
    as_json: bool,
) -> None:
    """Render TEMPLATE (a built-in id such as late_delivery_apology, or a .toml file).

    The reply goes to stdout. Exit codes: 0 rendered and sendable; 2 bad template, context or
    locale; 3 rendered, but agent slots are still empty (not sendable).
    """
    try:
        if template_name.endswith(".toml"):
            template = load_template(Path(template_name))
        else:
            catalogue = builtin_templates()
            if template_name not in catalogue:
                known = ", ".join(sorted(catalogue))
                raise BadInput(f"no built-in template {template_name!r}; they are {known}")
            template = catalogue[template_name]
        if context_path == "-" and sys.stdin.isatty():
            raise BadInput("give the template's variables with --context FILE, or pipe JSON in")
        with _open(context_path) as stream:
            raw = json.load(stream)
        if not isinstance(raw, dict):
            raise BadInput(f"{context_path}: the context is a JSON object of variables")
        kinds = {v.name: v.type for v in template.variables}
        context = {k: _typed(v, kinds.get(k, "str")) for k, v in raw.items()}
        filled = dict(slot.split("=", 1) for slot in slots)
        result = render(template, context, locale=locale, tz=tz, slots=filled)
    except (CsdeskError, ValueError, OSError, RecursionError) as error:
        raise BadInput(str(error)) from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "text": result.text,
                    "subject": result.subject,
                    "text_locale": result.text_locale,
                    "format_locale": result.format_locale,
                    "template": result.template_id,
                    "version": result.template_version,
                    "unfilled_slots": list(result.unfilled_slots),
                },
                ensure_ascii=False,
                indent=2,
            )
        )
    else:
        click.echo(result.text)
    if result.unfilled_slots:
        click.echo(f"unfilled slots: {', '.join(result.unfilled_slots)}", err=True)
        raise SystemExit(3)


# -- outbox relay --------------------------------------------------------------------------------


@click.group()
def outbox() -> None:
    """The outbox of a csdesk SQLite store: deliver its events as signed webhooks."""


@outbox.command("relay")
@click.option(
    "--db",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The csdesk SQLite store whose outbox holds the events.",
)
@click.option(
    "--subscriber",
    "subscribers",
    multiple=True,
    required=True,
    metavar="NAME=URL",
    help="Where to deliver; repeat for several.",
)
@click.option("--once", is_flag=True, help="One pass, then exit (for cron).")
@click.option(
    "--interval", type=float, default=5.0, show_default=True, help="Seconds between passes."
)
@click.option(
    "--max-attempts",
    type=click.IntRange(1, 100),
    default=None,
    help="Attempts before a delivery is dead-lettered [default: 10, about three days].",
)
@click.option(
    "--standard-headers",
    is_flag=True,
    help="Also send webhook-id, webhook-timestamp and webhook-signature (Standard Webhooks).",
)
@click.option("--json", "as_json", is_flag=True, help="Print each pass's report as JSON.")
def relay_command(
    db: Path,
    subscribers: tuple[str, ...],
    once: bool,
    interval: float,
    max_attempts: int | None,
    standard_headers: bool,
    as_json: bool,
) -> None:
    """Deliver the outbox's events to subscribers, signed, at least once, in order per aggregate.

    The signing secrets come from $CSDESK_WEBHOOK_SECRETS (comma-separated, newest first; give
    two while rotating). Receivers verify with csdesk.integrations.webhooks.verify_webhook.

    Exit codes: 0 done (with --once: nothing dead-lettered); 1 some deliveries are dead-lettered;
    2 bad usage (no secrets, bad subscriber).
    """
    secrets = [s.strip() for s in os.environ.get(SECRETS_ENV, "").split(",") if s.strip()]
    if not secrets:
        raise click.UsageError(f"set ${SECRETS_ENV} to the signing secret(s)")
    parsed = []
    for item in subscribers:
        name, sep, url = item.partition("=")
        if not sep or not url.startswith(("http://", "https://")):
            raise click.UsageError(f"--subscriber {item!r}: write NAME=https://…")
        parsed.append(Subscriber(name, url))
    try:
        relay = WebhookRelay(
            db, parsed, secrets, max_attempts=max_attempts, standard_headers=standard_headers
        )
    except CsdeskError as error:
        raise click.UsageError(str(error)) from None
    with relay:
        while True:
            report = relay.run_once(now=datetime.now(UTC))
            if as_json:
                click.echo(json.dumps(report.__dict__))
            else:
                click.echo(
                    f"delivered {report.delivered}, failed {report.failed}, dead-lettered "
                    f"{report.dead}, deferred {report.deferred}, waiting {report.waiting}"
                    + (f"; disabled (410 Gone): {', '.join(report.disabled)}" if report.disabled
                       else "")
                )  # fmt: skip
            if once:
                break
            time.sleep(interval)
        if relay.dead_letters():
            raise SystemExit(1)
