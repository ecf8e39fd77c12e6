"""Migrations of csdesk's tables with Alembic, shipped in the package.

`upgrade` brings a database to this csdesk's schema and `current` says where it is. Both take an
engine, a connection or a URL. On a connection they run inside the caller's transaction (commit
it yourself); on an engine or a URL they commit. The version lives in ``csdesk_alembic_version``,
so csdesk's history never mixes with the shop's own Alembic history.

From the shop's own Alembic ``env.py``, call ``upgrade(connection)`` before or after
``context.run_migrations()`` in the same transaction, and leave csdesk's tables out of
autogenerate with ``include_name`` (their names start with ``csdesk_``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import SQLAlchemyError

from csdesk._checks import checked
from csdesk.errors import InvalidInputError
from csdesk.storage._errors import storage_error
from csdesk.storage.schema import PREFIX

__all__ = ["HEAD", "current", "upgrade"]

_VERSION_TABLE = f"{PREFIX}alembic_version"


def _config() -> Config:
    config = Config()
    location = resources.files("csdesk.storage") / "migrations"
    config.set_main_option("script_location", str(location))
    return config


HEAD: str = ScriptDirectory.from_config(_config()).get_current_head() or ""
"""The newest schema revision this csdesk ships."""


@contextmanager
def _connected(bind: Engine | Connection | str) -> Iterator[Connection]:
    if isinstance(bind, Connection):
        yield bind
        return
    engine = create_engine(bind) if isinstance(bind, str) else bind
    try:
        with engine.begin() as connection:
            yield connection
    finally:
        if isinstance(bind, str):
            engine.dispose()


@checked
def upgrade(bind: Engine | Connection | str, revision: str = "head") -> str:
    """Bring csdesk's tables to ``revision`` (the newest by default); return the revision reached.

    Raises:
        StorageError: the database refused (unreachable, no rights to create tables, ...).
        InvalidInputError: ``revision`` is not one of csdesk's revisions.
    """
    try:
        with _connected(bind) as connection:
            config = _config()
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            return _current(connection)
    except CommandError as error:
        raise InvalidInputError(f"upgrade to {revision!r}: {error}") from None
    except SQLAlchemyError as error:
        raise storage_error(error, dialect=_dialect(bind), operation="upgrade") from None


@checked
def current(bind: Engine | Connection | str) -> str | None:
    """The revision csdesk's tables are at, or None where they were never created.

    Raises:
        StorageError: the database cannot be reached.
    """
    try:
        with _connected(bind) as connection:
            return _current(connection) or None
    except SQLAlchemyError as error:
        raise storage_error(error, dialect=_dialect(bind), operation="current") from None


def _current(connection: Connection) -> str:
    context = MigrationContext.configure(connection, opts={"version_table": _VERSION_TABLE})
    return context.get_current_revision() or ""


def _dialect(bind: Engine | Connection | str) -> str:
    if isinstance(bind, str):
        return bind.split(":", 1)[0].split("+", 1)[0]
    return bind.dialect.name
