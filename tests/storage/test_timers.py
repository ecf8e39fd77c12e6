"""Stored timers: each order's and case's next due timer in an indexed column, and `sweep_due`
firing them once however many sweeps run at the same time."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from typing import Any

import pytest

from csdesk import AfterSaleCase, CaseState, InvalidInputError, Order, OrderState
from csdesk.policies import timer_preset
from csdesk.storage import SqlStore
from csdesk.workflows import CompleteOrder
from tests.factories import PLACED, SIGNED, SYSTEM, delivered_order, new_case, new_order
from tests.storage.conftest import processes

CN = timer_preset("cn_platform")
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pymysql")


def test_an_unpaid_order_expires_once(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True, timers=CN) as store:
        store.insert(new_order())
        assert store.sweep_due(now=PLACED + timedelta(hours=23)) == []
        late = PLACED + timedelta(hours=24)
        (outcome,) = store.sweep_due(now=late)
        assert (outcome.kind, outcome.entity_id, outcome.event, outcome.outcome) == (
            "order", "SO-1", "expire", "fired",
        )  # fmt: skip
        assert store.load(Order, "SO-1").state == OrderState.CANCELED
        assert store.sweep_due(now=late + timedelta(days=400)) == []
        assert [e.type for e in store.outbox()] == ["order.expired"]


def test_a_refused_timer_is_reported_and_not_retried_until_the_entity_changes(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True, timers=CN) as store:
        order = delivered_order()
        store.insert(order)
        store.run("SO-1", CompleteOrder(), actor=SYSTEM, now=SIGNED)
        store.insert(new_case(order))  # still open
        after_sale = SIGNED + timedelta(days=16)
        outcomes = {o.entity_id: o for o in store.sweep_due(now=after_sale)}
        assert outcomes["SO-1"].outcome == "refused"
        assert "still open" in outcomes["SO-1"].reason
        assert outcomes["AS-1"].event == "auto_approve"  # the case's own timer fired
        assert "SO-1" not in {o.entity_id for o in store.sweep_due(now=after_sale)}


def test_a_store_without_timers_has_none_to_sweep() -> None:
    store = SqlStore.memory()
    with pytest.raises(InvalidInputError, match="timer preset"):
        store.sweep_due(now=PLACED)


def _sweeper(url: str, barrier: Any, results: Any) -> None:
    store = SqlStore(url, timers=CN)
    barrier.wait()
    fired: list[tuple[str, str]] = []
    for _ in range(10):
        fired += [(o.entity_id, o.event) for o in store.sweep_due(now=_LATE, limit=3)]
    results.put(fired)
    store.close()


_LATE = PLACED + timedelta(days=30)


def test_four_sweeps_at_once_fire_each_timer_once(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True, timers=CN) as store:
        for number in range(16):
            store.insert(new_order(f"SO-{number}"))
        for number in range(4):
            case = new_case(new_order(f"SO-{number}")).model_copy(update={"id": f"AS-{number}"})
            store.insert(case)
    context = multiprocessing.get_context("spawn")
    count = processes(db_url)
    barrier, results = context.Barrier(count), context.Queue()
    sweeps = [
        context.Process(target=_sweeper, args=(db_url, barrier, results)) for _ in range(count)
    ]
    for sweep in sweeps:
        sweep.start()
    fired = [item for _ in sweeps for item in results.get(timeout=120)]
    for sweep in sweeps:
        sweep.join(60)
        assert sweep.exitcode == 0
    assert sorted(fired) == sorted(
        [(f"SO-{n}", "expire") for n in range(16)] + [(f"AS-{n}", "auto_approve") for n in range(4)]
    )
    with SqlStore(db_url, timers=CN) as store:
        assert all(store.load(Order, f"SO-{n}").version == 1 for n in range(16))
        assert all(
            store.load(AfterSaleCase, f"AS-{n}").state == CaseState.AWAITING_RETURN
            for n in range(4)
        )
        assert len(store.outbox()) == 20
