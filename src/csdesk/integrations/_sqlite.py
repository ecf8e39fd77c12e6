"""The two SQLite moves every csdesk store makes: open in WAL mode, and write in one transaction."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

__all__ = ["connect", "transaction"]


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
    connection = sqlite3.connect(
        str(path), timeout=timeout, isolation_level=None, check_same_thread=check_same_thread
    )
    connection.execute("PRAGMA journal_mode=WAL")
    if synchronous is not None:
        connection.execute(f"PRAGMA synchronous={synchronous}")
    return connection


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
