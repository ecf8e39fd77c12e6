"""The SQLite budget store: atomic, idempotent, never below zero, across processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from csdesk.errors import BudgetExceededError, IdempotencyConflictError, UnknownCurrencyError
from csdesk.integrations import SqliteBudgetStore
from csdesk.policies.compensation import (
    BudgetStore,
    Charge,
    MemoryBudgetStore,
    Status,
    compensation_policy,
    decide,
    grant,
)
from tests.policies.compensation_helpers import AT, SUPERVISOR, incident

POOL = "budget:goodwill"


def charge(amount: str, limit: str = "100") -> Charge:
    return Charge(POOL, "2026-03", Decimal(amount), limit_amount=Decimal(limit))


@pytest.fixture(params=["memory", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    if request.param == "memory":
        return MemoryBudgetStore()
    return SqliteBudgetStore(tmp_path / "b.db", currency="CNY")


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


def test_sqlite_keeps_minor_units_and_refuses_unknown_currencies(tmp_path: Path) -> None:
    with SqliteBudgetStore(tmp_path / "b.db", currency="CNY") as store:
        store.commit("a", [charge("0.10"), Charge("x", "p", Decimal("0.20"))])
    connection = sqlite3.connect(tmp_path / "b.db")
    assert connection.execute(
        "SELECT minor FROM budget_usage WHERE pool = ?", (POOL,)
    ).fetchone() == (10,)
    connection.close()
    with pytest.raises(UnknownCurrencyError):
        SqliteBudgetStore(tmp_path / "c.db", currency="XYZ")


def _spend(path: str, key: str, barrier: Any, results: Any) -> None:
    store = SqliteBudgetStore(path, currency="CNY")
    policy = compensation_policy("shop_standard")
    late = incident("late_delivery", id=key, days_late=9)  # a 20.00 coupon
    decision = decide(late, policy=policy, agent=SUPERVISOR, budget=store, now=AT)
    barrier.wait()
    try:
        results.put(("ok" if grant(decision, store, policy) else "again", key))
    except BudgetExceededError:
        results.put(("exceeded", key))
    finally:
        store.close()


def test_two_processes_spending_the_last_of_a_budget(tmp_path: Path) -> None:
    path = tmp_path / "b.db"
    policy = compensation_policy("shop_standard")
    with SqliteBudgetStore(path, currency="CNY") as store:
        # Leave 30.00 of the 20 000.00 monthly budget: room for one 20.00 coupon, not two.
        store.commit("earlier", [Charge(POOL, "2026-03", Decimal("19970.00"))])
        decision = decide(
            incident("late_delivery", id="probe", days_late=9),
            policy=policy,
            agent=SUPERVISOR,
            budget=store,
            now=AT,
        )
        assert decision.status is Status.AUTO_APPROVED
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [
        context.Process(target=_spend, args=(str(path), key, barrier, results))
        for key in ("a", "b")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    outcomes = sorted(results.get(timeout=5)[0] for _ in workers)
    assert outcomes == ["exceeded", "ok"]
    with SqliteBudgetStore(path, currency="CNY") as store:
        assert store.usage(POOL, "2026-03").amount == Decimal("19990.00")
        assert Decimal(20000) - store.usage(POOL, "2026-03").amount >= 0
