"""Budget stores (in memory and SQL): atomic, idempotent, never below zero."""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from csdesk.errors import BudgetExceededError, IdempotencyConflictError, UnknownCurrencyError
from csdesk.policies.compensation import (
    BudgetStore,
    Charge,
    MemoryBudgetStore,
)
from csdesk.storage import SqlBudgetStore, SqlStore

POOL = "budget:goodwill"


def charge(amount: str, limit: str = "100") -> Charge:
    return Charge(POOL, "2026-03", Decimal(amount), limit_amount=Decimal(limit))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return MemoryBudgetStore()
    return SqlBudgetStore(SqlStore(f"sqlite:///{tmp_path / 'b.db'}", upgrade=True), currency="CNY")


def test_both_stores_satisfy_the_protocol(store: Any) -> None:
    assert isinstance(store, BudgetStore)


def test_commit_is_all_or_nothing(store: Any) -> None:
    assert store.commit("a", [charge("60.00")])
    daily = Charge("cap:daily", "2026-03-05", Decimal("50"), limit_amount=Decimal("500"))
    with pytest.raises(BudgetExceededError, match="budget:goodwill \\(2026-03\\)"):
        store.commit("b", [daily, charge("50.00")])
    assert store.usage("cap:daily", "2026-03-05").count == 0
    assert store.usage(POOL, "2026-03").amount == Decimal("60.00")
    assert store.commit("b", [daily, charge("40.00")])
    assert store.usage(POOL, "2026-03").amount == Decimal("100.00")


def test_a_key_replays_the_same_charges_and_refuses_others(store: Any) -> None:
    # Issue 15: commit returned False ("done before") for a key used with other charges.
    assert store.commit("k", [charge("10.00")]) is True
    assert store.commit("k", [charge("10.00")]) is False
    with pytest.raises(IdempotencyConflictError) as caught:
        store.commit("k", [charge("25.00")])
    assert caught.value.existing == ("budget:goodwill@2026-03",)
    assert store.usage(POOL, "2026-03").amount == Decimal("10.00")


def test_count_limits(store: Any) -> None:
    capped = Charge("cap:k", "d", Decimal("1"), limit_count=2)
    assert store.commit("1", [capped])
    assert store.commit("2", [capped])
    with pytest.raises(BudgetExceededError, match="2 compensations"):
        store.commit("3", [capped])


def test_release_gives_the_money_back_once(store: Any) -> None:
    store.commit("a", [charge("30.00")])
    assert store.release("a") is True
    assert store.release("a") is False
    assert store.usage(POOL, "2026-03").amount == Decimal("0")
    assert store.commit("a", [charge("30.00")]) is True


def test_sql_keeps_minor_units_and_refuses_unknown_currencies(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'b.db'}"
    with SqlStore(url, upgrade=True) as sql:
        SqlBudgetStore(sql, currency="CNY").commit(
            "a", [charge("0.10"), Charge("x", "p", Decimal("0.20"))]
        )
        with pytest.raises(UnknownCurrencyError):
            SqlBudgetStore(sql, currency="XYZ")
    connection = sqlite3.connect(tmp_path / "b.db")
    assert connection.execute(
        "SELECT minor FROM csdesk_budget_usage WHERE pool = ?", (POOL,)
    ).fetchone() == (10,)
    connection.close()
