"""Compensation counters in SQLite, shared safely by several processes.

`SqliteBudgetStore` implements `csdesk.policies.compensation.BudgetStore`. A commit runs in one
``BEGIN IMMEDIATE`` transaction: it checks the idempotency key, re-reads every counter it moves,
checks every limit, and writes all of them or none. Two processes spending the last of a budget at
the same moment are serialised by SQLite's write lock: the second sees the first's spending and
is refused with `csdesk.errors.BudgetExceededError`. Amounts are stored as integer minor units
(never floats).

Examples:
    >>> from decimal import Decimal
    >>> from csdesk.policies.compensation import Charge
    >>> store = SqliteBudgetStore(":memory:", currency="CNY")
    >>> charge = Charge("budget:goodwill", "2026-11", Decimal("10.00"), limit_amount=Decimal("15"))
    >>> store.commit("k1", [charge]), store.commit("k1", [charge])
    (True, False)
    >>> store.usage("budget:goodwill", "2026-11")
    Usage(amount=Decimal('10.00'), count=1)
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from contextlib import AbstractContextManager
from decimal import Decimal
from pathlib import Path
from types import TracebackType

from csdesk._checks import checked
from csdesk.integrations.sqlitedb import connect, setup, transaction
from csdesk.money import Money, currency_digits
from csdesk.policies.compensation.budget import Charge, Usage, conflict, same_charges

__all__ = ["SqliteBudgetStore"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS budget_usage (
    pool    TEXT NOT NULL,
    period  TEXT NOT NULL,
    minor   INTEGER NOT NULL CHECK (minor >= 0),
    count   INTEGER NOT NULL CHECK (count >= 0),
    PRIMARY KEY (pool, period)
);
CREATE TABLE IF NOT EXISTS budget_grants (
    key        TEXT PRIMARY KEY,
    charges    TEXT NOT NULL
);
"""


class SqliteBudgetStore:
    """Budget pools, daily caps and authority counters in a SQLite file.

    Args:
        path: The database file (``":memory:"`` for one connection's lifetime).
        currency: The policy's currency; amounts are kept in its minor units.
        timeout: Seconds to wait for another process's write lock.
    """

    @checked
    def __init__(self, path: str | Path, *, currency: str, timeout: float = 10.0) -> None:
        self.path = str(path)
        currency_digits(currency)  # raises UnknownCurrencyError early
        self.currency = currency
        self._connection = connect(self.path, timeout=timeout)
        setup(self._connection, _SCHEMA, path)

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()

    def __enter__(self) -> SqliteBudgetStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return transaction(self._connection)

    def _minor(self, amount: Decimal) -> int:
        return Money(amount, self.currency).minor_units

    def _amount(self, minor: int) -> Decimal:
        return Money.from_minor(minor, self.currency).amount

    def _read(self, connection: sqlite3.Connection, pool: str, period: str) -> tuple[int, int]:
        row = connection.execute(
            "SELECT minor, count FROM budget_usage WHERE pool = ? AND period = ?", (pool, period)
        ).fetchone()
        return (row[0], row[1]) if row else (0, 0)

    @checked
    def usage(self, pool: str, period: str) -> Usage:
        """What ``pool`` has used in ``period``."""
        minor, count = self._read(self._connection, pool, period)
        return Usage(self._amount(minor), count)

    @checked
    def commit(self, key: str, charges: Sequence[Charge]) -> bool:
        """Apply every charge or none, once per ``key``.

        Raises:
            IdempotencyConflictError: ``key`` was committed before with other charges.
            BudgetExceededError: a charge would pass its limit; nothing was written.
        """
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT charges FROM budget_grants WHERE key = ?", (key,)
            ).fetchone()
            if row is not None:
                committed = [
                    Charge(pool, period, Decimal(amount), count)
                    for pool, period, amount, count in json.loads(row[0])
                ]
                if not same_charges(committed, charges):
                    raise conflict(key, committed)
                return False
            for charge in charges:
                minor, count = self._read(connection, charge.pool, charge.period)
                charge.check(Usage(self._amount(minor), count))
            for charge in charges:
                self._add(connection, charge, 1)
            body = json.dumps(
                [[c.pool, c.period, str(c.amount), c.count] for c in charges], ensure_ascii=False
            )
            connection.execute(
                "INSERT INTO budget_grants (key, charges) VALUES (?, ?)", (key, body)
            )
        return True

    @checked
    def release(self, key: str) -> bool:
        """Undo the charges committed under ``key``; ``False`` if there were none."""
        with self._transaction() as connection:
            row = connection.execute(
                "SELECT charges FROM budget_grants WHERE key = ?", (key,)
            ).fetchone()
            if row is None:
                return False
            for pool, period, amount, count in json.loads(row[0]):
                self._add(connection, Charge(pool, period, Decimal(amount), count), -1)
            connection.execute("DELETE FROM budget_grants WHERE key = ?", (key,))
        return True

    def _add(self, connection: sqlite3.Connection, charge: Charge, sign: int) -> None:
        minor = self._minor(charge.amount)
        if sign < 0:
            connection.execute(
                "UPDATE budget_usage SET minor = minor - ?, count = count - ? "
                "WHERE pool = ? AND period = ?",
                (minor, charge.count, charge.pool, charge.period),
            )
            return
        connection.execute(
            "INSERT INTO budget_usage (pool, period, minor, count) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (pool, period) DO UPDATE SET minor = minor + excluded.minor, "
            "count = count + excluded.count",
            (charge.pool, charge.period, minor, charge.count),
        )
