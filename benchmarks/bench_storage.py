"""Workflow commands per second through `SqlStore`, with 1 and 4 processes, SQLite and PostgreSQL.

Each process runs ``PayOrder`` then ``CancelOrder`` (a paid cancel: refunds owed, two events) on
orders of its own, each command one transaction (load, decide, save with the version check, write
the outbox). Issue 15's goal: 4 processes on PostgreSQL at least 1.8x one process on distinct
orders (this machine has 2 cores, shared with the server). SQLite has one writer at a time, so its
4-process figure shows the lock, not the work. PostgreSQL runs when ``CSDESK_POSTGRES_URL`` is set
(``eval "$(bash scripts/db-servers.sh start)"``).
"""

from __future__ import annotations

import multiprocessing
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine

from benchmarks._db import own_database
from csdesk import Actor, Customer, LineDraft, Money, Order, Payment
from csdesk.storage import SqlStore, metadata, upgrade
from csdesk.workflows import CancelOrder, PayOrder

GOAL = 1.8
ORDERS = 150  # per process
CUSTOMER = Actor(kind="customer", id="C-1")
STAFF = Actor(kind="staff", id="a7")


def _order(order_id: str) -> Order:
    from datetime import UTC, datetime

    return Order.place(
        id=order_id,
        customer=Customer(id="C-1"),
        placed_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        lines=[LineDraft(sku="A", name="a", quantity=2, unit_price=Money("19.90", "CNY"))],
    )


def _prepare(url: str, processes: int) -> None:
    engine = create_engine(url)
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS csdesk_alembic_version")
    engine.dispose()
    upgrade(url)
    with SqlStore(url) as store:
        for worker in range(processes):
            for number in range(ORDERS):
                store.insert(_order(f"W{worker}-{number}"))


def _worker(url: str, worker: int, barrier: Any, results: Any) -> None:
    store = SqlStore(url)
    at = _order("x").placed_at
    barrier.wait()
    began = time.perf_counter()
    for number in range(ORDERS):
        order_id = f"W{worker}-{number}"
        paid = Payment(
            id=f"P-{order_id}", method="alipay", captured=Money("39.80", "CNY"), captured_at=at
        )
        store.run(order_id, PayOrder(payments=[paid]), actor=CUSTOMER, now=at)
        store.run(order_id, CancelOrder(reason="benchmark"), actor=STAFF, now=at)
    results.put(time.perf_counter() - began)
    store.close()


def throughput(url: str, processes: int) -> float:
    """Commands per second across ``processes`` workers (wall time of the slowest)."""
    _prepare(url, processes)
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(processes), context.Queue()
    workers = [
        context.Process(target=_worker, args=(url, n, barrier, results)) for n in range(processes)
    ]
    for worker in workers:
        worker.start()
    times = [float(results.get(timeout=600)) for _ in workers]
    for worker in workers:
        worker.join()
    return 2 * ORDERS * processes / max(times)


def main() -> None:
    targets = {"sqlite": f"sqlite:///{Path(tempfile.mkdtemp()) / 'bench.db'}"}
    if os.environ.get("CSDESK_POSTGRES_URL"):
        targets["postgresql"] = own_database(os.environ["CSDESK_POSTGRES_URL"])
    else:
        print("CSDESK_POSTGRES_URL not set: PostgreSQL skipped")
    print(f"\nStorage: workflow commands per second ({ORDERS} orders x 2 commands per process)")
    for name, url in targets.items():
        one = statistics.median(throughput(url, 1) for _ in range(3))
        four = statistics.median(throughput(url, 4) for _ in range(3))
        verdict = ""
        if name == "postgresql":
            verdict = f" (goal >= {GOAL}x: {'met' if four / one >= GOAL else 'NOT met'})"
        print(
            f"{name:<11} 1 process {one:7.0f}/s   4 processes {four:7.0f}/s   "
            f"{four / one:.2f}x{verdict}"
        )


if __name__ == "__main__":
    main()
