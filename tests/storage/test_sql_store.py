"""`SqlStore` on SQLite, PostgreSQL and MariaDB: migrations, aggregates, outbox, idempotency,
the host's own transaction, and workers racing on one aggregate."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import Column, MetaData, String, Table, create_engine, func, insert, select

from csdesk import (
    ConcurrencyConflictError,
    IdempotencyConflictError,
    InvalidInputError,
    InvalidTransitionError,
    NotFoundError,
    Order,
    OrderState,
    StorageError,
)
from csdesk.storage import HEAD, SqlStore, current, sqlite_transactions, upgrade
from csdesk.workflows import CancelOrder, OrderWorkflow, PayOrder
from tests.factories import CUSTOMER, PLACED, STAFF, new_order, payment

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pymysql")


def test_a_new_database_is_refused_until_upgraded(db_url: str) -> None:
    assert current(db_url) is None
    with pytest.raises(StorageError, match="has no csdesk tables") as caught:
        SqlStore(db_url)
    assert caught.value.code == "storage_error"
    assert upgrade(db_url) == HEAD
    assert upgrade(db_url) == HEAD  # again: nothing to do
    with SqlStore(db_url) as store:
        assert store.dialect in {"sqlite", "postgresql", "mysql", "mariadb"}


def test_insert_load_save_and_the_outbox(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(new_order())
        with pytest.raises(InvalidInputError, match="already stored"):
            store.insert(new_order())
        with pytest.raises(NotFoundError):
            store.load(Order, "nope")
        events = store.run(
            "SO-1", PayOrder(payments=[payment(new_order())]), actor=CUSTOMER, now=PLACED
        )
        order = store.load(Order, "SO-1")
        assert (order.state, order.version) == (OrderState.PROCESSING, 1)
        assert order.payments[0].captured == new_order().total
        assert [e.id for e in store.outbox()] == [e.id for e in events]
        assert store.outbox()[0] == events[0]  # read back equal: instants, money, payload
        store.mark_delivered([events[0].id], at=PLACED + timedelta(seconds=1))
        assert store.outbox(pending_only=True) == []
        assert [o.id for o in store.of_order(Order, "SO-1")] == ["SO-1"]


def test_a_stale_save_writes_nothing(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(new_order())
        first, second = store.load(Order, "SO-1"), store.load(Order, "SO-1")
        from csdesk.workflows import run

        store.save(
            first,
            run(first, CancelOrder(reason="oos"), actor=STAFF, now=PLACED),
            expected_version=0,
        )
        late = run(second, PayOrder(payments=[payment(second)]), actor=CUSTOMER, now=PLACED)
        with pytest.raises(ConcurrencyConflictError):
            store.save(second, late, expected_version=0)
        assert store.load(Order, "SO-1").state == OrderState.CANCELED
        assert [e.type for e in store.outbox()] == ["order.canceled"]


def test_instants_come_back_as_the_same_instant(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        order = new_order()
        eastern = timezone(timedelta(hours=-5))
        at = (PLACED + timedelta(microseconds=123456)).astimezone(eastern)
        store.insert(order)
        events = store.run("SO-1", CancelOrder(reason="x"), actor=STAFF, now=at)
        (stored,) = store.outbox()
        assert stored.occurred_at == at == events[0].occurred_at


def test_csdesk_writes_share_the_hosts_transaction(db_url: str) -> None:
    engine = sqlite_transactions(create_engine(db_url))
    shop = MetaData()
    notes = Table("shop_notes", shop, Column("id", String(20), primary_key=True))
    shop.drop_all(engine)
    shop.create_all(engine)
    upgrade(engine)
    try:

        def crash_before_commit() -> None:
            with engine.connect() as connection, connection.begin():
                SqlStore(connection).insert(new_order())
                connection.execute(insert(notes).values(id="n1"))
                raise RuntimeError("crash before the host commits")

        with pytest.raises(RuntimeError, match="crash"):
            crash_before_commit()
        with engine.connect() as connection, connection.begin():
            store = SqlStore(connection)
            assert store.of_order(Order, "SO-1") == []
            assert connection.execute(select(func.count()).select_from(notes)).scalar() == 0
            store.insert(new_order())
            # A refused command rolls back its own savepoint; the host's transaction goes on.
            with pytest.raises(InvalidTransitionError):
                store.fire(
                    OrderWorkflow, "SO-1", "deliver", actor=STAFF, now=PLACED, signed_at=PLACED
                )
            connection.execute(insert(notes).values(id="n2"))
        with SqlStore(engine) as store:
            assert store.load(Order, "SO-1").version == 0
        with engine.connect() as connection:
            assert connection.execute(select(notes.c.id)).scalars().all() == ["n2"]
    finally:
        shop.drop_all(engine)
        engine.dispose()


def test_idempotency_replays_or_refuses(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        with store.transaction() as connection:
            assert store.recall(connection, "refund", "k1", {"units": 2}) is None
            store.remember(connection, "refund", "k1", {"units": 2}, {"refund": "R-1"}, now=PLACED)
        with store.transaction() as connection:
            assert store.recall(connection, "refund", "k1", {"units": 2}) == {"refund": "R-1"}
            with pytest.raises(IdempotencyConflictError):
                store.recall(connection, "refund", "k1", {"units": 3})
            with pytest.raises(ConcurrencyConflictError):
                store.remember(connection, "refund", "k1", {"units": 2}, {}, now=PLACED)


def test_an_unreachable_server_is_a_storage_error() -> None:
    with pytest.raises(StorageError) as caught:
        SqlStore("postgresql+psycopg://nobody:secret@127.0.0.1:9/nowhere")
    assert caught.value.dialect == "postgresql"
    assert "secret" not in str(caught.value)


def _pay_worker(url: str, barrier: Any, results: Any) -> None:
    store = SqlStore(url)
    order = store.load(Order, "SO-1")
    barrier.wait()
    try:
        store.run("SO-1", PayOrder(payments=[payment(order)]), actor=CUSTOMER, now=PLACED)
        results.put("paid")
    except (InvalidTransitionError, ConcurrencyConflictError) as error:
        results.put(error.code)
    finally:
        store.close()


@pytest.mark.parametrize("workers", [4])
def test_workers_racing_to_pay_one_order_pay_it_once(db_url: str, workers: int) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(new_order())
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    processes = [
        context.Process(target=_pay_worker, args=(db_url, barrier, results)) for _ in range(workers)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    outcomes = sorted(results.get(timeout=5) for _ in range(workers))
    assert outcomes.count("paid") == 1
    with SqlStore(db_url) as store:
        order = store.load(Order, "SO-1")
        assert (order.state, order.version, len(order.payments)) == (OrderState.PROCESSING, 1, 1)
        assert [e.type for e in store.outbox()] == ["order.paid"]


def test_a_sqlite_connection_that_cannot_share_a_transaction_is_refused(tmp_path: Any) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    upgrade(sqlite_transactions(create_engine(f"sqlite:///{tmp_path / 'plain.db'}")))
    with engine.connect() as connection, pytest.raises(StorageError, match="sqlite_transactions"):
        SqlStore(connection)
    engine.dispose()
