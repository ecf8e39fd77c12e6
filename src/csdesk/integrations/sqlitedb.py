"""The two SQLite moves every csdesk store makes: open in WAL mode, and write in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from csdesk.errors import InvalidInputError

__all__ = ["connect", "setup", "transaction"]


def connect(
    path: str | Path,
    *,
    timeout: float = 10.0,
    synchronous: Literal["NORMAL", "FULL"] | None = None,
    check_same_thread: bool = True,
) -> sqlite3.Connection:
    """An autocommit connection in WAL mode (readers never block the writer).

    ``synchronous="NORMAL"`` keeps commits across a process crash but not a power cut; the
    default (``FULL``) keeps them across both.
    """
    try:
        connection = sqlite3.connect(
            str(path), timeout=timeout, isolation_level=None, check_same_thread=check_same_thread
        )
    except (sqlite3.Error, ValueError, OSError) as error:
        raise InvalidInputError(f"cannot open {_shown(path)} as SQLite: {error}") from None
    try:
        connection.execute("PRAGMA journal_mode=WAL")
        if synchronous is not None:
            connection.execute(f"PRAGMA synchronous={synchronous}")
    except sqlite3.DatabaseError as error:
        connection.close()
        raise InvalidInputError(
            f"{_shown(path)} is not a SQLite database ({error}); give a csdesk file or a new path"
        ) from None
    return connection


def setup(connection: sqlite3.Connection, schema: str, path: str | Path) -> None:
    """Create ``schema``'s tables if missing; a file of another application is refused."""
    try:
        connection.executescript(schema)
    except sqlite3.DatabaseError as error:
        connection.close()
        raise InvalidInputError(
            f"{_shown(path)} is a SQLite database of another kind ({error}); give a csdesk file "
            "or a new path"
        ) from None


def _shown(path: str | Path) -> str:
    text = str(path)
    return repr(text if len(text) <= 120 else text[:120] + "…")


@contextmanager
def transaction(
    connection: sqlite3.Connection, *, immediate: bool = True
) -> Iterator[sqlite3.Connection]:
    """``BEGIN IMMEDIATE`` (the write lock up front) … ``COMMIT``, or ``ROLLBACK`` on any error."""
    connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
    try:
        yield connection
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    connection.execute("COMMIT")
