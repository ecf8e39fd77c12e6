"""``csdesk db``: csdesk's tables in a database (migrations with Alembic)."""

from __future__ import annotations

import click

from csdesk.storage import HEAD, current, upgrade

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
