"""A refund request's cost with few and with many refunds already stored (SQLite, PostgreSQL).

`RefundDesk.request` reads the order's earlier refunds through the indexed ``order_id`` column;
the SQLite-only desk scanned every stored refund (3.75 ms a request with 1,000 stored refunds,
138 ms with 100,000). This stores ``small`` and then ``large`` refunds of other orders and times a
one-unit refund request on a fresh paid order (the median of ``REQUESTS``). Issue 15's goal: the
request at 1,000,000 stored refunds within 1.5x of its cost at 1,000; the default ``large`` is
100,000 (a million JSON documents take minutes to write here): pass ``--large 1000000``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, insert

from benchmarks._db import own_database
from csdesk import Actor, Customer, LineDraft, Money, Order, Payment, Refund
from csdesk.policies.refunds import refund_policy
from csdesk.refund_desk import RefundDesk
from csdesk.storage import SqlStore, metadata, upgrade
from csdesk.storage.schema import entities
from csdesk.workflows import PayOrder, run

GOAL = 1.5
REQUESTS = 60
AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CN = refund_policy("cn_default")
STAFF = Actor(kind="staff", id="a7")


def _paid(order_id: str) -> Order:
    order = Order.place(
        id=order_id,
        customer=Customer(id="C-1"),
        placed_at=AT,
        lines=[LineDraft(sku="A", name="a", quantity=3, unit_price=Money("19.90", "CNY"))],
    )
    payment = Payment(id="P-1", method="alipay", captured=order.total, captured_at=AT)
    run(order, PayOrder(payments=[payment]), actor=Actor(kind="customer"), now=AT)
    return order


def _filler(number: int) -> dict[str, object]:
    refund = Refund(
        id=f"old-{number}:P-1",
        order_id=f"OLD-{number // 3}",
        payment_id="P-1",
        amount=Money("19.90", "CNY"),
        reason="no_reason",
        idempotency_key=f"old-{number}:P-1",
        request_key=f"old-{number}",
        requested_by="a7",
        requested_at=AT,
        lines={"1": 1},
    )
    return {
        "kind": "refund",
        "id": refund.id,
        "state": str(refund.state),
        "version": refund.version,
        "order_id": refund.order_id,
        "document": refund.model_dump_json(),
        "updated_at": AT,
    }


def _fill(url: str, total: int, already: int) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        for start in range(already, total, 5000):
            rows = [_filler(n) for n in range(start, min(total, start + 5000))]
            connection.execute(insert(entities), rows)
    engine.dispose()


def _request_cost(url: str, label: str) -> float:
    times = []
    with SqlStore(url) as store:
        desk = RefundDesk(store)
        for number in range(REQUESTS):
            order = _paid(f"{label}-{number}")
            store.insert(order)
            began = time.perf_counter()
            desk.request(order.id, idempotency_key=f"{label}-{number}", lines={"1": 1},
                         reason="no_reason", policy=CN, actor=STAFF, now=AT)  # fmt: skip
            times.append(time.perf_counter() - began)
    return statistics.median(times)


def measure(url: str, small: int, large: int) -> tuple[float, float]:
    """Median request seconds with ``small`` and then ``large`` refunds stored."""
    engine = create_engine(url)
    metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS csdesk_alembic_version")
    engine.dispose()
    upgrade(url)
    _fill(url, small, 0)
    few = _request_cost(url, "few")
    _fill(url, large, small)
    many = _request_cost(url, "many")
    return few, many


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=1_000)
    parser.add_argument("--large", type=int, default=100_000)
    options = parser.parse_args()
    targets = {"sqlite": f"sqlite:///{Path(tempfile.mkdtemp()) / 'refunds.db'}"}
    if os.environ.get("CSDESK_POSTGRES_URL"):
        targets["postgresql"] = own_database(os.environ["CSDESK_POSTGRES_URL"])
    print(f"\nRefund request: median of {REQUESTS}, {options.small:,} vs {options.large:,} stored")
    for name, url in targets.items():
        few, many = measure(url, options.small, options.large)
        ratio = many / few
        print(
            f"{name:<11} {few * 1000:6.2f} ms vs {many * 1000:6.2f} ms: {ratio:.2f}x "
            f"(goal <= {GOAL}x: {'met' if ratio <= GOAL else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
