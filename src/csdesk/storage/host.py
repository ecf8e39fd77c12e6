"""Borrow the database connection a host framework already holds (Django, …) for csdesk's writes.

A Django view runs inside ``transaction.atomic()`` on Django's own connection. For csdesk's writes
to commit or roll back with the view's, csdesk must write on that same connection, inside that
same transaction. `borrowed_connection` wraps the host's DB-API connection in a SQLAlchemy
`sqlalchemy.Connection` that csdesk may use but never commit, roll back or close: csdesk's
commands run in savepoints inside the host's transaction, and the host's commit (or rollback)
decides for both.

Examples:
    >>> import sqlite3
    >>> from csdesk.storage import SqlStore
    >>> raw = sqlite3.connect(":memory:", isolation_level=None)  # the host's connection
    >>> _ = raw.execute("BEGIN IMMEDIATE")                          # the host's transaction
    >>> with borrowed_connection(raw, "sqlite") as connection:
    ...     store = SqlStore(connection, upgrade=True)
    >>> raw.execute("SELECT COUNT(*) FROM csdesk_alembic_version").fetchone()
    (1,)
    >>> raw.rollback()                                              # the host decides
    >>> raw.execute("SELECT name FROM sqlite_master WHERE name LIKE 'csdesk%'").fetchall()
    []
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.pool import NullPool

from csdesk._checks import checked
from csdesk.errors import InvalidInputError

__all__ = ["borrowed_connection", "django_connection"]

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()
_lending = threading.local()


class _Borrowed:
    """The host's DB-API connection, which csdesk may use but never commit, roll back or close."""

    def __init__(self, raw: Any) -> None:
        self._raw = raw

    def __getattr__(self, name: str) -> Any:
        return getattr(self._raw, name)

    def commit(self) -> None:
        """The host commits."""

    def rollback(self) -> None:
        """The host rolls back (csdesk's own failures roll back to their savepoints)."""

    def close(self) -> None:
        """The host closes its connection."""

    def add_notice_handler(self, handler: Any) -> None:
        """Not on the host's connection (each borrowing would add one more)."""


def _lent() -> _Borrowed:
    raw = getattr(_lending, "raw", None)
    if raw is None:  # pragma: no cover - only reachable by misuse of the private engine
        raise InvalidInputError("no borrowed connection in this thread")
    return _Borrowed(raw)


def _engine(dialect: str) -> Engine:
    with _engines_lock:
        engine = _engines.get(dialect)
        if engine is None:
            try:
                options = {"use_native_hstore": False} if dialect.startswith("postgresql") else {}
                engine = create_engine(
                    f"{dialect}://", creator=_lent, poolclass=NullPool, **options
                )
            except (ArgumentError, NoSuchModuleError) as error:
                raise InvalidInputError(
                    f"unknown SQLAlchemy dialect {dialect!r} ({error}); name it as in a URL: "
                    "'postgresql+psycopg', 'mysql+pymysql', 'sqlite'"
                ) from None
            _engines[dialect] = engine
        return engine


@checked
@contextmanager
def borrowed_connection(dbapi_connection: Any, dialect: str) -> Iterator[Connection]:
    """A SQLAlchemy connection over the host's open DB-API connection, for `SqlStore`.

    Use it inside the host's transaction and build the store on it:
    ``SqlStore(connection)``. csdesk then writes in savepoints on the host's connection and never
    commits, rolls back or closes it; the host's commit or rollback covers csdesk's writes too.

    Args:
        dbapi_connection: The host's driver connection (a psycopg or PyMySQL connection, an
            ``sqlite3.Connection`` that leaves ``BEGIN`` to its caller).
        dialect: The SQLAlchemy dialect and driver, as at the start of a URL:
            ``"postgresql+psycopg"``, ``"mysql+pymysql"``, ``"sqlite"``.

    Raises:
        InvalidInputError: an unknown dialect, or the connection is already lent in this thread.
    """
    if getattr(_lending, "raw", None) is not None:
        raise InvalidInputError("a connection is already lent to csdesk in this thread")
    engine = _engine(dialect)
    _lending.raw = dbapi_connection
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        _lending.raw = None


_DJANGO_DIALECTS = {"postgresql": "postgresql+psycopg", "sqlite": "sqlite", "mysql": "mysql"}


@contextmanager
def django_connection(alias: str = "default") -> Iterator[Connection]:
    """`borrowed_connection` over Django's connection ``alias``, for use inside ``atomic()``.

    Raises:
        InvalidInputError: Django's database is not PostgreSQL (psycopg 3), MySQL/MariaDB or
            SQLite, or it is not inside a transaction (``transaction.atomic()``), where csdesk's
            writes would commit on their own.
    """
    from django.db import connections  # the host's Django; csdesk does not depend on it

    django = connections[alias]
    if not django.in_atomic_block:
        raise InvalidInputError(
            "call csdesk inside transaction.atomic(): outside it Django commits each statement, "
            "and csdesk's writes would not share the view's transaction"
        )
    vendor = django.vendor
    dialect = _DJANGO_DIALECTS.get(vendor)
    if dialect is None:
        raise InvalidInputError(f"csdesk does not run on Django's {vendor!r} backend")
    if vendor == "postgresql" and not type(django.connection).__module__.startswith("psycopg"):
        dialect = "postgresql+psycopg2"
    if vendor == "mysql":
        driver = type(django.connection).__module__.split(".")[0]
        dialect = "mysql+pymysql" if driver == "pymysql" else "mysql+mysqldb"
    django.ensure_connection()
    with borrowed_connection(django.connection, dialect) as connection:
        yield connection
