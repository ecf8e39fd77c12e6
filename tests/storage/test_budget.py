"""`SqlBudgetStore`: compensation counters on every database, atomic and idempotent under races."""

from __future__ import annotations

import multiprocessing
from decimal import Decimal
from typing import Any

import pytest

from csdesk.errors import BudgetExceededError, IdempotencyConflictError
from csdesk.policies.compensation import BudgetStore, Charge, Usage
from csdesk.storage import SqlBudgetStore, SqlStore
from tests.storage.conftest import processes

POOL = "budget:goodwill"
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pymysql")


def charge(amount: str, limit: str = "100") -> Charge:
    return Charge(POOL, "2026-03", Decimal(amount), limit_amount=Decimal(limit))


def test_commit_replay_conflict_release(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        budgets = SqlBudgetStore(store, currency="CNY")
        assert isinstance(budgets, BudgetStore)
        assert budgets.commit("a", [charge("60.00")]) is True
        assert budgets.commit("a", [charge("60.00")]) is False
        with pytest.raises(IdempotencyConflictError):
            budgets.commit("a", [charge("61.00")])
        daily = Charge("cap:daily", "2026-03-05", Decimal("50"), limit_amount=Decimal("500"))
        with pytest.raises(BudgetExceededError):
            budgets.commit("b", [daily, charge("50.00")])
        assert budgets.usage("cap:daily", "2026-03-05") == Usage()  # all or nothing
        assert budgets.usage(POOL, "2026-03") == Usage(Decimal("60.00"), 1)
        assert budgets.release("a") is True
        assert budgets.release("a") is False
        assert budgets.usage(POOL, "2026-03") == Usage(Decimal("0.00"), 0)


def _spend(url: str, key: str, barrier: Any, results: Any) -> None:
    store = SqlStore(url)
    barrier.wait()
    try:
        SqlBudgetStore(store, currency="CNY").commit(key, [charge("10.00", limit="50")])
        results.put("spent")
    except BudgetExceededError:
        results.put("refused")
    finally:
        store.close()


def test_workers_spending_one_budget_at_once_never_pass_it(db_url: str) -> None:
    SqlStore(db_url, upgrade=True).close()
    count = processes(db_url) + 2  # more workers than the budget has room for
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(count), context.Queue()
    workers = [
        context.Process(target=_spend, args=(db_url, f"k{n}", barrier, results))
        for n in range(count)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert outcomes.count("spent") == 5
    with SqlStore(db_url) as store:
        assert SqlBudgetStore(store, currency="CNY").usage(POOL, "2026-03") == Usage(
            Decimal("50.00"), 5
        )
