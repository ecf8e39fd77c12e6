"""``csdesk db``: csdesk's tables in a database (migrations with Alembic)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import click

from csdesk.scripts._cli import BadInput
from csdesk.storage import HEAD, SqlStore, current, upgrade

__all__ = ["db"]

_URL = click.option(
    "--url",
    envvar="CSDESK_DATABASE_URL",
    required=True,
    metavar="URL",
    help=(
        "SQLAlchemy database URL, e.g. sqlite:///desk.db, "
        "postgresql+psycopg://user:pass@host/db, mysql+pymysql://user:pass@host/db "
        "(or $CSDESK_DATABASE_URL)."
    ),
)


@click.group()
def db() -> None:
    """Create or upgrade csdesk's tables in your database, and say where they are."""


@db.command("upgrade")
@_URL
def upgrade_command(url: str) -> None:
    """Create csdesk's tables, or bring them to this csdesk's schema; safe to run again.

    The tables' names start with csdesk_ and the migration history lives in
    csdesk_alembic_version, so they sit beside your own tables and your own Alembic history.
    Exit codes: 0 done; 2 the URL or the database refused.
    """
    click.echo(f"csdesk schema at {upgrade(url)} (this csdesk needs {HEAD})")


@db.command("current")
@_URL
def current_command(url: str) -> None:
    """Say which csdesk schema the database is at. Exit 1 when it is not this csdesk's."""
    found = current(url)
    if found is None:
        click.echo(f"no csdesk tables (this csdesk needs {HEAD}): run `csdesk db upgrade`")
        raise SystemExit(1)
    click.echo(f"csdesk schema at {found} (this csdesk needs {HEAD})")
    if found != HEAD:
        raise SystemExit(1)


@db.command("purge")
@_URL
@click.option(
    "--older-than",
    "older_than",
    required=True,
    metavar="AGE",
    help="How old a row must be: a number of days, e.g. 90d.",
)
def purge_command(url: str, older_than: str) -> None:
    """Delete delivered events, finished webhook deliveries and idempotency records older than AGE.

    In small batches; an undelivered event, or one a subscriber still waits for, is never
    deleted. Exit codes: 0 done; 2 a bad AGE, URL or database.
    """
    text = older_than.strip().lower().removesuffix("d")
    if not text.isdigit() or int(text) < 1:
        raise BadInput(f"--older-than {older_than!r}: give a number of days, e.g. 90d")
    before = datetime.now(UTC) - timedelta(days=int(text))
    with SqlStore(url) as store:
        purged = store.purge(before=before)
    click.echo(
        f"deleted {purged.events} delivered events, {purged.deliveries} finished webhook "
        f"deliveries and {purged.keys} idempotency records"
    )
