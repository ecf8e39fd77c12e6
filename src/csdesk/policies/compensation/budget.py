"""Counters that outlive one decision: budget pools, per-kind daily caps, agents' daily authority.

A decision reads the counters (`BudgetStore.usage`) and fits its offers under them; `grant` then
spends them with `BudgetStore.commit`, all or nothing and at most once per idempotency key, and
re-checks every limit at that moment, so two grants racing for the last of a budget cannot both
succeed. `MemoryBudgetStore` is for tests and simulations; `csdesk.storage.SqlBudgetStore`
keeps the counters in the shop's database (SQLite, PostgreSQL, MariaDB/MySQL) for many workers.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol, runtime_checkable

from csdesk._checks import checked
from csdesk.errors import BudgetExceededError, IdempotencyConflictError

__all__ = ["BudgetStore", "Charge", "MemoryBudgetStore", "Usage", "conflict", "same_charges"]


@dataclass(frozen=True, slots=True)
class Usage:
    """What one counter has used in one period: an amount (in the policy's currency) and a count."""

    amount: Decimal = Decimal(0)
    count: int = 0


@dataclass(frozen=True, slots=True)
class Charge:
    """One counter a grant moves, with the limits it must stay within.

    Attributes:
        pool: The counter, e.g. ``"budget:goodwill"``, ``"kind:late_delivery"``, ``"agent:a-7"``.
        period: Its period, e.g. ``"2026-11"`` or ``"2026-11-23"``.
        amount: What the grant adds (in the policy's currency, in major units).
        count: How many it adds (one per decision).
        limit_amount: The most the counter may reach, or ``None``.
        limit_count: The most compensations it may count, or ``None``.
    """

    pool: str
    period: str
    amount: Decimal
    count: int = 1
    limit_amount: Decimal | None = None
    limit_count: int | None = None

    def check(self, used: Usage) -> None:
        """Raise `BudgetExceededError` if adding this charge to ``used`` passes a limit."""
        if self.limit_amount is not None and used.amount + self.amount > self.limit_amount:
            raise BudgetExceededError(
                self.pool,
                self.period,
                limit=self.limit_amount,
                used=used.amount,
                requested=self.amount,
            )
        if self.limit_count is not None and used.count + self.count > self.limit_count:
            raise BudgetExceededError(
                self.pool,
                self.period,
                limit=f"{self.limit_count} compensations",
                used=used.count,
                requested=self.count,
            )


def same_charges(first: Sequence[Charge], second: Sequence[Charge]) -> bool:
    """Whether two grants move the same counters by the same amounts (limits aside)."""

    def shape(charges: Sequence[Charge]) -> list[tuple[str, str, Decimal, int]]:
        return sorted((c.pool, c.period, c.amount, c.count) for c in charges)

    return shape(first) == shape(second)


def conflict(key: str, committed: Sequence[Charge]) -> IdempotencyConflictError:
    """The error for a key committed before with other charges (it lists the first's pools)."""
    return IdempotencyConflictError(key, [f"{c.pool}@{c.period}" for c in committed])


@runtime_checkable
class BudgetStore(Protocol):
    """Where counters live. Implementations must make `commit` atomic and idempotent."""

    def usage(self, pool: str, period: str) -> Usage:
        """What ``pool`` has used in ``period`` (zero when nothing was spent)."""
        ...

    def commit(self, key: str, charges: Sequence[Charge]) -> bool:
        """Apply every charge, or none; ``False`` (and no change) if ``key`` was committed before.

        The same key with other charges is an `IdempotencyConflictError` (use `same_charges`),
        never a silent replay.

        Raises:
            BudgetExceededError: a charge would pass its limit; nothing was applied.
        """
        ...

    def release(self, key: str) -> bool:
        """Undo the charges committed under ``key`` (a voided coupon); ``False`` if none were."""
        ...


class MemoryBudgetStore:
    """Counters in a dict, safe across threads of one process.

    Examples:
        >>> store = MemoryBudgetStore()
        >>> ten = Charge("budget:goodwill", "2026-11", Decimal("10"), limit_amount=Decimal("15"))
        >>> store.commit("k1", [ten]), store.commit("k1", [ten])
        (True, False)
        >>> store.usage("budget:goodwill", "2026-11")
        Usage(amount=Decimal('10'), count=1)
    """

    def __init__(self) -> None:
        self._used: dict[tuple[str, str], Usage] = {}
        self._grants: dict[str, tuple[Charge, ...]] = {}
        self._lock = threading.Lock()

    @checked
    def usage(self, pool: str, period: str) -> Usage:
        """What ``pool`` has used in ``period``."""
        return self._used.get((pool, period), _ZERO)

    @checked
    def commit(self, key: str, charges: Sequence[Charge]) -> bool:
        """Apply every charge or none; ``False`` if ``key`` was committed before.

        Raises:
            IdempotencyConflictError: ``key`` was committed before with other charges.
            BudgetExceededError: a charge would pass its limit; nothing was applied.
        """
        with self._lock:
            if key in self._grants:
                if not same_charges(self._grants[key], charges):
                    raise conflict(key, self._grants[key])
                return False
            for charge in charges:
                charge.check(self._used.get((charge.pool, charge.period), _ZERO))
            for charge in charges:
                self._add(charge, 1)
            self._grants[key] = tuple(charges)
            return True

    @checked
    def release(self, key: str) -> bool:
        """Undo the charges committed under ``key``."""
        with self._lock:
            charges = self._grants.pop(key, None)
            if charges is None:
                return False
            for charge in charges:
                self._add(charge, -1)
            return True

    def _add(self, charge: Charge, sign: int) -> None:
        slot = (charge.pool, charge.period)
        used = self._used.get(slot, _ZERO)
        self._used[slot] = Usage(
            used.amount + sign * charge.amount, used.count + sign * charge.count
        )


_ZERO = Usage()
