"""`SqlBudgetStore`: compensation counters in the shop's database, safe with many workers.

It implements `csdesk.policies.compensation.BudgetStore` on a `csdesk.storage.SqlStore`. A commit
runs in one transaction: it checks the idempotency key (the same charges replay as ``False``, other
charges are an `csdesk.errors.IdempotencyConflictError`), locks every counter it moves (``FOR
UPDATE`` on PostgreSQL and MariaDB, in one order so two grants cannot deadlock; SQLite has one
writer), checks every limit, and writes all of them or none: two workers spending the last of a
budget at once are serialised, and the second is refused with
`csdesk.errors.BudgetExceededError`. Amounts are integer minor units.

Examples:
    >>> from decimal import Decimal
    >>> from csdesk.policies.compensation import Charge
    >>> from csdesk.storage import SqlStore
    >>> budgets = SqlBudgetStore(SqlStore.memory(), currency="CNY")
    >>> charge = Charge("budget:goodwill", "2026-11", Decimal("10.00"), limit_amount=Decimal("15"))
    >>> budgets.commit("k1", [charge]), budgets.commit("k1", [charge])
    (True, False)
    >>> budgets.usage("budget:goodwill", "2026-11")
    Usage(amount=Decimal('10.00'), count=1)
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from csdesk._checks import checked
from csdesk.money import Money, currency_digits
from csdesk.policies.compensation.budget import Charge, Usage, conflict, same_charges
from csdesk.storage.schema import budget_grants, budget_usage
from csdesk.storage.sql import SqlStore

__all__ = ["SqlBudgetStore"]


class SqlBudgetStore:
    """Budget pools, daily caps and authority counters on a `SqlStore`.

    Args:
        store: Where the counters live (its engine, or the host's connection and transaction).
        currency: The policy's currency; amounts are kept in its minor units.
    """

    @checked
    def __init__(self, store: SqlStore, *, currency: str) -> None:
        currency_digits(currency)  # raises UnknownCurrencyError early
        self.store = store
        self.currency = currency

    def _minor(self, amount: Decimal) -> int:
        return Money(amount, self.currency).minor_units

    def _amount(self, minor: int) -> Decimal:
        return Money.from_minor(minor, self.currency).amount

    @checked
    def usage(self, pool: str, period: str) -> Usage:
        """What ``pool`` has used in ``period`` (zero when nothing was spent)."""
        with self.store.transaction("budget usage") as connection:
            row = connection.execute(
                select(budget_usage.c.minor, budget_usage.c.count).where(
                    budget_usage.c.pool == pool, budget_usage.c.period == period
                )
            ).one_or_none()
        return Usage(self._amount(row[0]), int(row[1])) if row else Usage()

    @checked
    def commit(self, key: str, charges: Sequence[Charge]) -> bool:
        """Apply every charge or none, once per ``key``.

        Raises:
            IdempotencyConflictError: ``key`` was committed before with other charges.
            BudgetExceededError: a charge would pass its limit; nothing was written.
        """
        pairs = sorted({(c.pool, c.period) for c in charges})
        if not self.store.in_host_transaction:
            # Missing counters are created first, each in a short transaction of its own, so the
            # commit below only locks rows that exist (no gap locks, no insert races).
            for pool, period in pairs:
                with self.store.transaction("budget counters") as connection:
                    self._create(connection, pool, period)
        with self.store.transaction("budget commit") as connection:
            committed = self._committed(connection, key)
            if committed is not None:
                if not same_charges(committed, charges):
                    raise conflict(key, committed)
                return False
            counters = {}
            for pool, period in pairs:  # always in this order: two commits cannot deadlock
                counters[(pool, period)] = self._locked(connection, pool, period)
            for charge in charges:
                minor, count = counters[(charge.pool, charge.period)]
                charge.check(Usage(self._amount(minor), count))
                counters[(charge.pool, charge.period)] = (
                    minor + self._minor(charge.amount),
                    count + charge.count,
                )
            for (pool, period), (minor, count) in counters.items():
                connection.execute(
                    update(budget_usage)
                    .where(budget_usage.c.pool == pool, budget_usage.c.period == period)
                    .values(minor=minor, count=count)
                )
            body = [[c.pool, c.period, str(c.amount), c.count] for c in charges]
            connection.execute(
                insert(budget_grants).values(key=key, charges=json.dumps(body, ensure_ascii=False))
            )
        return True

    @checked
    def release(self, key: str) -> bool:
        """Undo the charges committed under ``key`` (a voided coupon); ``False`` if none were."""
        with self.store.transaction("budget release") as connection:
            committed = self._committed(connection, key)
            if committed is None:
                return False
            for charge in committed:
                minor, count = self._locked(connection, charge.pool, charge.period)
                connection.execute(
                    update(budget_usage)
                    .where(
                        budget_usage.c.pool == charge.pool,
                        budget_usage.c.period == charge.period,
                    )
                    .values(
                        minor=max(0, minor - self._minor(charge.amount)),
                        count=max(0, count - charge.count),
                    )
                )
            connection.execute(delete(budget_grants).where(budget_grants.c.key == key))
        return True

    def _committed(self, connection: Connection, key: str) -> list[Charge] | None:
        body = connection.execute(
            select(budget_grants.c.charges).where(budget_grants.c.key == key)
        ).scalar_one_or_none()
        if body is None:
            return None
        return [
            Charge(pool, period, Decimal(amount), count)
            for pool, period, amount, count in json.loads(body)
        ]

    def _create(self, connection: Connection, pool: str, period: str) -> None:
        """Create the counter at zero unless it exists (another worker's creation wins)."""
        where = (budget_usage.c.pool == pool, budget_usage.c.period == period)
        if connection.execute(select(budget_usage.c.pool).where(*where)).first() is not None:
            return
        with contextlib.suppress(IntegrityError), connection.begin_nested():
            connection.execute(
                insert(budget_usage).values(pool=pool, period=period, minor=0, count=0)
            )

    def _locked(self, connection: Connection, pool: str, period: str) -> tuple[int, int]:
        """The counter's row (created at zero if missing), locked for this transaction."""
        self._create(connection, pool, period)
        query = select(budget_usage.c.minor, budget_usage.c.count).where(
            budget_usage.c.pool == pool, budget_usage.c.period == period
        )
        if self.store.dialect != "sqlite":
            query = query.with_for_update()
        row = connection.execute(query).one()
        return int(row[0]), int(row[1])  # (minor, count)
