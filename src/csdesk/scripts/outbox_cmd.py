"""``csdesk outbox relay``: deliver a store's outbox as signed webhooks."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

import click

from csdesk.errors import CsdeskError
from csdesk.integrations.webhooks import Subscriber, WebhookRelay
from csdesk.scripts._cli import database_url

__all__ = ["SECRETS_ENV", "outbox"]

SECRETS_ENV = "CSDESK_WEBHOOK_SECRETS"


@click.group()
def outbox() -> None:
    """The outbox of a csdesk database: deliver its events as signed webhooks."""


@outbox.command("relay")
@click.option(
    "--db",
    required=True,
    metavar="URL",
    help="The csdesk database whose outbox holds the events: a SQLAlchemy URL "
    "(postgresql+psycopg://…, mysql+pymysql://…, sqlite:///desk.db) or a SQLite file.",
)
@click.option("--name", default=None, help="This relay's name in its claims [default: host:pid].")
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
    db: str,
    name: str | None,
    subscribers: tuple[str, ...],
    once: bool,
    interval: float,
    max_attempts: int | None,
    standard_headers: bool,
    as_json: bool,
) -> None:
    """Deliver the outbox's events to subscribers, signed, at least once, in order per aggregate.

    Run as many relays as you like, on any machines: each claims deliveries with a lease.

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
    url = database_url("--db", db)
    try:
        relay = WebhookRelay(
            url,
            parsed,
            secrets,
            name=name,
            max_attempts=max_attempts,
            standard_headers=standard_headers,
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
