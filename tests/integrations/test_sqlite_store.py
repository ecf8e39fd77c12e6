import multiprocessing
from datetime import timedelta
from pathlib import Path

import pytest

from csdesk import (
    ConcurrencyConflictError,
    InvalidInputError,
    NotFoundError,
    Order,
    TransitionRejectedError,
)
from csdesk.integrations import SqliteStore
from csdesk.workflows import CancelOrder, ExpireOrder, OrderWorkflow, fire
from tests.factories import CUSTOMER, PLACED, STAFF, new_order, payment


def test_insert_load_save_round_trip(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "desk.db") as store:
        order = new_order()
        store.insert(order)
        loaded = store.load(Order, "SO-1")
        assert loaded == order
        events = fire(
            OrderWorkflow, loaded, "pay", actor=CUSTOMER, now=PLACED, payments=[payment(loaded)]
        )
        store.save(loaded, events, expected_version=0)
        again = store.load(Order, "SO-1")
        assert (again.state, again.version) == ("processing", 1)
        assert [e.id for e in store.outbox()] == [e.id for e in events]


def test_stale_version_writes_nothing(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "desk.db") as store:
        store.insert(new_order())
        first, second = store.load(Order, "SO-1"), store.load(Order, "SO-1")
        events = fire(
            OrderWorkflow, first, "pay", actor=CUSTOMER, now=PLACED, payments=[payment(first)]
        )
        store.save(first, events, expected_version=0)
        late = fire(OrderWorkflow, second, "cancel", actor=STAFF, now=PLACED, reason="dup")
        with pytest.raises(ConcurrencyConflictError) as caught:
            store.save(second, late, expected_version=0)
        assert caught.value.expected_version == 0
        assert store.load(Order, "SO-1").state == "processing"
        assert [e.type for e in store.outbox()] == ["order.paid"]


def test_run_retries_a_conflict_and_decides_again(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "desk.db") as store:
        store.insert(new_order())
        real_save = store.save
        calls: list[int] = []

        def racing_save(entity, events, *, expected_version):  # type: ignore[no-untyped-def]
            if not calls:  # another worker pays first
                calls.append(1)
                other = store.load(Order, "SO-1")
                paid = fire(
                    OrderWorkflow,
                    other,
                    "pay",
                    actor=CUSTOMER,
                    now=PLACED,
                    payments=[payment(other)],
                )
                real_save(other, paid, expected_version=0)
            real_save(entity, events, expected_version=expected_version)

        store.save = racing_save  # type: ignore[method-assign]
        store.run("SO-1", CancelOrder(reason="oos"), actor=STAFF, now=PLACED)
        order = store.load(Order, "SO-1")
        # The retry saw the payment: cancelling a paid order now owes a refund.
        assert (order.state, order.version) == ("canceled", 2)
        assert len(order.refunds_due) == 1


def test_rejections_write_nothing(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "desk.db") as store:
        store.insert(new_order())
        with pytest.raises(TransitionRejectedError):
            store.run("SO-1", ExpireOrder(), actor=STAFF, now=PLACED)
        with pytest.raises(InvalidInputError):
            store.fire(OrderWorkflow, "SO-1", "cancel", actor=STAFF, now=PLACED)
        assert store.load(Order, "SO-1").version == 0
        assert store.outbox() == []


def test_missing_and_duplicate(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "desk.db") as store:
        with pytest.raises(NotFoundError):
            store.load(Order, "nope")
        store.insert(new_order())
        with pytest.raises(InvalidInputError, match="already stored"):
            store.insert(new_order())


def test_outbox_delivery_marks(tmp_path: Path) -> None:
    with SqliteStore(tmp_path / "desk.db") as store:
        store.insert(new_order())
        events = store.fire(OrderWorkflow, "SO-1", "cancel", actor=STAFF, now=PLACED, reason="oos")
        assert len(store.outbox(pending_only=True)) == 1
        store.mark_delivered([events[0].id], at=PLACED + timedelta(seconds=1))
        assert store.outbox(pending_only=True) == []


def _worker(path: str, event: str, barrier, results) -> None:  # type: ignore[no-untyped-def]
    store = SqliteStore(path)
    order = store.load(Order, "SO-1")
    loaded = order.version
    kwargs = {"payments": [payment(order)]} if event == "pay" else {"reason": "customer asked"}
    events = fire(OrderWorkflow, order, event, actor=CUSTOMER, now=PLACED, **kwargs)
    barrier.wait(timeout=30)  # both have decided on the same version before either saves
    try:
        store.save(order, events, expected_version=loaded)
        results.put((event, "committed"))
    except ConcurrencyConflictError:
        results.put((event, "conflict"))
    finally:
        store.close()


def test_two_processes_exactly_one_commits(tmp_path: Path) -> None:
    path = str(tmp_path / "desk.db")
    with SqliteStore(path) as store:
        store.insert(new_order())
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(target=_worker, args=(path, event, barrier, results))
        for event in ("pay", "cancel")
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    outcomes = dict(results.get(timeout=5) for _ in workers)
    assert sorted(outcomes.values()) == ["committed", "conflict"]
    winner = next(event for event, outcome in outcomes.items() if outcome == "committed")
    with SqliteStore(path) as store:
        order = store.load(Order, "SO-1")
        assert order.version == 1
        assert order.state == ("processing" if winner == "pay" else "canceled")
        assert len(store.outbox()) == 1
