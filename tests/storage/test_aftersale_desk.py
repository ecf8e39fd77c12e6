"""Filing cases through the store: the units of a line are claimed once, however many workers."""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from typing import Any

import pytest

from csdesk import AfterSaleCase, InvalidInputError, TransitionRejectedError
from csdesk.aftersale_desk import AfterSaleDesk
from csdesk.policies import return_policy
from csdesk.storage import SqlStore
from tests.factories import CUSTOMER, SIGNED, delivered_order
from tests.storage.conftest import processes

CN = return_policy("cn_consumer_law")
IN_TIME = SIGNED + timedelta(days=2)
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pymysql")


def _open(desk: AfterSaleDesk, case_id: str, units: int) -> list[Any]:
    _, events = desk.open(
        "SO-1",
        id=case_id,
        type="return_and_refund",
        lines={"1": units},
        reason="no_reason",
        actor=CUSTOMER,
        now=IN_TIME,
        policy=CN,
    )
    return events


def test_cases_count_against_the_stored_cases(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(delivered_order())
        desk = AfterSaleDesk(store)
        assert [e.type for e in _open(desk, "AS-1", 3)] == ["aftersale.requested"]
        with pytest.raises(TransitionRejectedError, match="line 1"):
            _open(desk, "AS-2", 3)
        with pytest.raises(InvalidInputError, match="already stored"):
            _open(desk, "AS-1", 1)
        assert [c.id for c in store.of_order(AfterSaleCase, "SO-1")] == ["AS-1"]


def _file(url: str, case_id: str, barrier: Any, results: Any) -> None:
    store = SqlStore(url)
    barrier.wait()
    try:
        _open(AfterSaleDesk(store), case_id, 2)
        results.put("filed")
    except TransitionRejectedError:
        results.put("refused")
    finally:
        store.close()


def test_four_workers_filing_at_once_claim_each_unit_once(db_url: str) -> None:
    with SqlStore(db_url, upgrade=True) as store:
        store.insert(delivered_order())  # line 1 has 5 units: two cases of 2 fit, a third not
    context = multiprocessing.get_context("spawn")
    count = processes(db_url)
    barrier, results = context.Barrier(count), context.Queue()
    workers = [
        context.Process(target=_file, args=(db_url, f"AS-{n}", barrier, results))
        for n in range(count)
    ]
    for worker in workers:
        worker.start()
    outcomes = sorted(results.get(timeout=120) for _ in workers)
    for worker in workers:
        worker.join(60)
        assert worker.exitcode == 0
    assert outcomes == ["filed", "filed"] + ["refused"] * (count - 2)
    with SqlStore(db_url) as store:
        claimed = sum(c.lines[0].requested for c in store.of_order(AfterSaleCase, "SO-1"))
        assert claimed == 4
