"""`SqlStore.run` and `fire` on every dialect: a lost race decides again, refusals write nothing."""

from __future__ import annotations

from typing import Any

import pytest

from csdesk import (
    ConcurrencyConflictError,
    InvalidInputError,
    NotFoundError,
    Order,
    TransitionRejectedError,
)
from csdesk.storage import SqlStore
from csdesk.workflows import CancelOrder, ExpireOrder, OrderWorkflow, PayOrder
from tests.factories import CUSTOMER, PLACED, STAFF, new_order, payment


def test_a_lost_race_is_decided_again_on_the_new_state(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(new_order())
        stale = store.load(Order, "SO-1")  # what this worker read before another one paid
        store.run("SO-1", PayOrder(payments=[payment(stale)]), actor=CUSTOMER, now=PLACED)
        real_load = store.load_in
        loads: list[int] = []
        stale_loads = [1]  # how many loads see the stale copy

        def load_in(connection: Any, cls: Any, entity_id: str, **kw: Any) -> Any:
            loads.append(1)
            return (
                stale.model_copy(deep=True)
                if len(loads) <= stale_loads[0]
                else real_load(connection, cls, entity_id, **kw)
            )

        store.load_in = load_in  # type: ignore[method-assign]
        store.run("SO-1", CancelOrder(reason="oos"), actor=STAFF, now=PLACED)
        attempts = len(loads)
        order = store.load(Order, "SO-1")
        # The retry saw the payment: cancelling a paid order now owes a refund.
        assert (order.state, order.version, attempts) == ("canceled", 2, 2)
        assert len(order.refunds_due) == 1
        loads.clear()
        stale_loads[0] = 99  # every load is stale now: the retries run out
        with pytest.raises(ConcurrencyConflictError):
            store.run("SO-1", CancelOrder(reason="again"), actor=STAFF, now=PLACED, retries=2)


def test_refusals_write_nothing(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(new_order())
        with pytest.raises(TransitionRejectedError):
            store.run("SO-1", ExpireOrder(), actor=STAFF, now=PLACED)
        with pytest.raises(InvalidInputError):
            store.fire(OrderWorkflow, "SO-1", "cancel", actor=STAFF, now=PLACED)
        assert store.load(Order, "SO-1").version == 0
        assert store.outbox() == []
        with pytest.raises(NotFoundError):
            store.load(Order, "nope")
        with pytest.raises(InvalidInputError, match="already stored"):
            store.insert(new_order())


def test_transient_database_errors_are_retried_and_others_are_not() -> None:
    import pymysql

    from csdesk.errors import StorageError
    from csdesk.storage._errors import transient

    assert transient(pymysql.err.OperationalError(1213, "Deadlock found"))
    assert transient(pymysql.err.OperationalError(1205, "Lock wait timeout exceeded"))
    assert not transient(pymysql.err.IntegrityError(1062, "Duplicate entry"))
    store = SqlStore.memory()
    calls: list[int] = []

    def flaky(kind: bool) -> int:
        calls.append(1)
        if len(calls) < 3:
            raise StorageError("deadlock", dialect="mysql", operation="t", transient=kind)
        return 7

    assert store.retrying(lambda: flaky(True)) == 7
    assert len(calls) == 3
    calls.clear()
    with pytest.raises(StorageError):
        store.retrying(lambda: flaky(False))
    assert len(calls) == 1
