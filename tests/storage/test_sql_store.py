"""`SqlStore` on SQLite, PostgreSQL and MariaDB: migrations, aggregates, outbox, idempotency,
the host's own transaction, and workers racing on one aggregate."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    Column,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
)

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
from csdesk.storage import HEAD, Purged, SqlStore, current, sqlite_transactions, upgrade
from csdesk.workflows import CancelOrder, OrderWorkflow, PayOrder
from tests.factories import CUSTOMER, PLACED, STAFF, new_order, payment
from tests.storage.conftest import processes

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


def test_workers_racing_to_pay_one_order_pay_it_once(db_url: str) -> None:
    workers = processes(db_url)
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(new_order())
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(workers), context.Queue()
    payers = [
        context.Process(target=_pay_worker, args=(db_url, barrier, results)) for _ in range(workers)
    ]
    for payer in payers:
        payer.start()
    outcomes = sorted(results.get(timeout=120) for _ in range(workers))
    for payer in payers:
        payer.join(60)
        assert payer.exitcode == 0
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


def test_the_migrations_make_exactly_the_declared_tables(db_url: str) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from csdesk.storage import metadata

    engine = create_engine(db_url)
    upgrade(engine)
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "include_name": lambda name, type_, _: (
                    type_ != "table" or name.startswith("csdesk_")
                )
            },
        )
        differences = [
            d for d in compare_metadata(context, metadata) if "alembic_version" not in str(d)
        ]
    engine.dispose()
    assert differences == []


def _many_events(store: SqlStore, aggregates: int, each: int) -> None:
    from csdesk.workflows import ChangeTicket, open_ticket

    for number in range(aggregates):
        ticket, opened = open_ticket(
            id=f"T-{number}",
            category="order_problem",
            customer_id="C-1",
            actor=CUSTOMER,
            now=PLACED,
        )
        store.insert(ticket, opened)
        for tag in range(each - 1):
            store.run(ticket.id, ChangeTicket(tags=[f"t{tag}"]), actor=STAFF, now=PLACED)


def test_a_relay_claims_with_a_lease_and_in_order_per_aggregate(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        _many_events(store, aggregates=2, each=3)
        first = store.claim_events("a", now=PLACED, limit=10)
        # only the oldest undelivered event of each aggregate
        assert [(e.aggregate.id, e.aggregate.version) for e in first] == [("T-0", 1), ("T-1", 1)]
        assert store.claim_events("b", now=PLACED) == []  # leased, and the rest wait their turn
        assert store.ack_events("a", [first[0].id], at=PLACED) == 1
        second = store.claim_events("b", now=PLACED)
        assert [(e.aggregate.id, e.aggregate.version) for e in second] == [("T-0", 2)]
        # a's lease on T-1 v1 runs out undelivered: someone else may take it (at least once)
        later = PLACED + timedelta(minutes=2)
        again = store.claim_events("c", now=later)
        assert {(e.aggregate.id, e.aggregate.version) for e in again} == {("T-0", 2), ("T-1", 1)}
        assert store.ack_events("a", [first[1].id], at=later) == 0  # no longer a's to mark
        assert store.ack_events("c", [e.id for e in again], at=later) == 2


def _relay_worker(url: str, name: str, barrier: Any, results: Any) -> None:
    store = SqlStore(url)
    barrier.wait()
    delivered: list[tuple[str, int, str]] = []
    idle = 0
    while idle < 20:
        claimed = store.claim_events(name, now=PLACED, limit=5)
        if not claimed:
            idle += 1
            continue
        idle = 0
        with store.transaction() as connection:
            for event in claimed:  # "deliver": record the order deliveries happen in
                connection.execute(
                    insert(_DELIVERIES).values(
                        event_id=event.id,
                        aggregate=event.aggregate.id,
                        version=event.aggregate.version,
                    )
                )
        store.ack_events(name, [e.id for e in claimed], at=PLACED)
        delivered += [(e.aggregate.id, e.aggregate.version, e.id) for e in claimed]
    results.put(delivered)
    store.close()


_TEST_TABLES = MetaData()
_DELIVERIES = Table(
    "test_deliveries",
    _TEST_TABLES,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(64)),
    Column("aggregate", String(64)),
    Column("version", Integer),
)


def test_four_relays_deliver_every_event_once_in_order_per_aggregate(db_url: str) -> None:
    engine = create_engine(db_url)
    _TEST_TABLES.drop_all(engine)
    _TEST_TABLES.create_all(engine)
    try:
        with SqlStore(db_url, upgrade=True) as store:
            _many_events(store, aggregates=12, each=4)
            expected = {e.id for e in store.outbox()}
        context = multiprocessing.get_context("spawn")
        count = processes(db_url)
        barrier, results = context.Barrier(count), context.Queue()
        relays = [
            context.Process(target=_relay_worker, args=(db_url, f"relay-{n}", barrier, results))
            for n in range(count)
        ]
        for relay in relays:
            relay.start()
        delivered = [item for _ in relays for item in results.get(timeout=120)]
        for relay in relays:
            relay.join(60)
            assert relay.exitcode == 0
        assert sorted(e for _, _, e in delivered) == sorted(expected)  # each once
        with engine.connect() as connection:
            rows = connection.execute(
                select(_DELIVERIES.c.aggregate, _DELIVERIES.c.version).order_by(_DELIVERIES.c.seq)
            ).all()
        by_aggregate: dict[str, list[int]] = {}
        for aggregate, version in rows:
            by_aggregate.setdefault(aggregate, []).append(version)
        assert all(versions == sorted(versions) for versions in by_aggregate.values())
        with SqlStore(db_url) as store:
            assert store.outbox(pending_only=True) == []
    finally:
        _TEST_TABLES.drop_all(engine)
        engine.dispose()


def test_purge_deletes_only_old_delivered_events_and_old_keys(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(new_order("SO-1"))
        store.insert(new_order("SO-2"))
        old = store.run("SO-1", CancelOrder(reason="a"), actor=STAFF, now=PLACED)
        store.run("SO-2", CancelOrder(reason="b"), actor=STAFF, now=PLACED)  # never delivered
        store.mark_delivered([old[0].id], at=PLACED)
        with store.transaction() as connection:
            store.remember(connection, "refund", "old", {}, {}, now=PLACED)
            store.remember(connection, "refund", "new", {}, {}, now=PLACED + timedelta(days=100))
        purged = store.purge(before=PLACED + timedelta(days=90), batch=1)
        assert purged == Purged(events=1, deliveries=0, keys=1)
        assert [e.aggregate.id for e in store.outbox()] == ["SO-2"]
        with store.transaction() as connection:
            assert store.recall(connection, "refund", "new", {}) == {}
            assert store.recall(connection, "refund", "old", {}) is None


def test_threads_share_a_store_on_an_engine_but_not_on_a_connection(db_url: str) -> None:
    import threading

    from csdesk.workflows import ChangeTicket, open_ticket

    with SqlStore(db_url, upgrade=True) as store:
        for number in range(4):
            ticket, opened = open_ticket(
                id=f"T-{number}",
                category="order_problem",
                customer_id="C-1",
                actor=CUSTOMER,
                now=PLACED,
            )
            store.insert(ticket, opened)
        errors: list[BaseException] = []

        def work(number: int) -> None:
            try:
                for step in range(10):
                    store.run(
                        f"T-{number % 4}",
                        ChangeTicket(tags=[f"s{step}"]),
                        actor=STAFF,
                        now=PLACED,
                        retries=50,
                    )
            except BaseException as error:  # pragma: no cover - reported below
                errors.append(error)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        from csdesk import Ticket

        assert sorted(store.load(Ticket, f"T-{n}").version for n in range(4)) == [21, 21, 21, 21]

    engine = sqlite_transactions(create_engine(db_url))
    with engine.connect() as connection:
        shared = SqlStore(connection)
        seen: list[BaseException] = []
        thread = threading.Thread(target=lambda: _catch(seen, lambda: shared.load(Order, "SO-1")))
        thread.start()
        thread.join()
        assert [type(e) for e in seen] == [StorageError]
        assert "thread" in str(seen[0])
    engine.dispose()


def _catch(seen: list[BaseException], call: Any) -> None:
    try:
        call()
    except BaseException as error:
        seen.append(error)


def _host_writer(url: str, commit: bool, ready: Any) -> None:
    import time

    engine = sqlite_transactions(create_engine(url))
    notes = Table("shop_notes", MetaData(), Column("id", String(20), primary_key=True))
    with engine.connect() as connection:
        connection.begin()
        SqlStore(connection).insert(new_order("SO-K"))
        connection.execute(insert(notes).values(id="K"))
        if commit:
            connection.commit()
        ready.set()
        time.sleep(60)  # killed here


@pytest.mark.parametrize("commit", [False, True])
def test_a_sigkill_leaves_both_writes_or_neither(db_url: str, commit: bool) -> None:
    import os
    import signal

    engine = create_engine(db_url)
    shop = MetaData()
    notes = Table("shop_notes", shop, Column("id", String(20), primary_key=True))
    shop.drop_all(engine)
    shop.create_all(engine)
    upgrade(engine)
    try:
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        process = context.Process(target=_host_writer, args=(db_url, commit, ready))
        process.start()
        assert ready.wait(60)
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)
        process.join(30)
        with SqlStore(db_url) as store:
            stored = [o.id for o in store.of_order(Order, "SO-K")]
        with engine.connect() as connection:
            noted = connection.execute(select(notes.c.id)).scalars().all()
        assert (stored, noted) == ((["SO-K"], ["K"]) if commit else ([], []))
    finally:
        shop.drop_all(engine)
        engine.dispose()
