"""A FastAPI shop refunds a returned parcel inside its own database transaction.

The shop keeps its tables and csdesk's in one database (SQLite here; PostgreSQL or MariaDB the
same way). Its endpoint ``POST /cases/{case_id}/refund`` opens one SQLAlchemy transaction, asks
csdesk's `RefundDesk` to refund the case's received units, writes its own bookkeeping row, and
commits: both land, or neither. When the shop's own write fails, csdesk's refund rolls back with
it, so csdesk never shows money on its way back that the shop never recorded.

Run it: ``python examples/fastapi_refund_in_your_transaction.py`` (needs ``fastapi``).
"""

from __future__ import annotations

import asyncio
import tempfile
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo

import httpx
from fastapi import Depends, FastAPI, HTTPException
from sqlalchemy import Column, Connection, MetaData, String, Table, create_engine, insert, select

from csdesk import Actor, AfterSaleCase, Customer, LineDraft, Money, Order, Payment, Refund
from csdesk.aftersale_desk import AfterSaleDesk
from csdesk.errors import CsdeskError
from csdesk.models import Shipment
from csdesk.policies import return_policy
from csdesk.policies.refunds import refund_policy
from csdesk.refund_desk import RefundDesk
from csdesk.storage import SqlStore, sqlite_transactions, upgrade
from csdesk.workflows import (
    ApproveCase,
    DeliverOrder,
    MarkReturnShipped,
    PayOrder,
    ReceiveReturn,
    ResolveCase,
    ShipOrder,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLACED = datetime(2026, 11, 11, 20, 15, tzinfo=SHANGHAI)
CUSTOMER, AGENT = Actor(kind="customer", id="C-1"), Actor(kind="staff", id="agent-7")

# -- the shop's database: its own table beside csdesk's ------------------------------------------

engine = sqlite_transactions(create_engine(f"sqlite:///{Path(tempfile.mkdtemp()) / 'shop.db'}"))
shop = MetaData()
notes = Table(
    "shop_refund_notes",
    shop,
    Column("refund_id", String(64), primary_key=True),
    Column("amount", String(32), nullable=False),
)
with engine.begin() as connection:
    shop.create_all(connection)
    upgrade(connection)  # csdesk's tables, in the same database


def seed() -> None:
    """A paid, delivered order whose customer sent two thermoses back (case AS-1, resolving)."""
    store = SqlStore(engine)
    order = Order.place(
        id="SO-1",
        customer=Customer(id="C-1"),
        placed_at=PLACED,
        lines=[
            LineDraft(sku="TC-500", name="保温杯", quantity=3, unit_price=Money("99.00", "CNY"))
        ],
    )
    store.insert(order)
    paid = Payment(id="P-1", method="alipay", captured=order.total, captured_at=PLACED)
    signed = PLACED + timedelta(days=2)
    store.run("SO-1", PayOrder(payments=[paid]), actor=CUSTOMER, now=PLACED)
    parcel = Shipment(id="S-1", carrier="SF Express", tracking_number="SF1")
    store.run("SO-1", ShipOrder(shipment=parcel), actor=AGENT, now=PLACED + timedelta(hours=9))
    store.run("SO-1", DeliverOrder(signed_at=signed), actor=Actor.system(), now=signed)
    later = signed + timedelta(days=3)
    AfterSaleDesk(store).open(
        "SO-1", id="AS-1", type="return_and_refund", lines={"1": 2}, reason="no_reason",
        actor=CUSTOMER, now=later, policy=return_policy("cn_consumer_law"),
    )  # fmt: skip
    for command in (
        ApproveCase(),
        MarkReturnShipped(tracking_number="YT77"),
        ReceiveReturn(received={"1": 2}, condition="resellable"),
        ResolveCase(),
    ):
        store.run("AS-1", command, actor=AGENT, now=later)


# -- the shop's app ----------------------------------------------------------------------------

app = FastAPI()


def transaction() -> Iterator[Connection]:
    """One database transaction per request: committed if the endpoint returns, else rolled back."""
    with engine.connect() as connection, connection.begin():
        yield connection


@app.post("/cases/{case_id}/refund")
def refund_case(
    case_id: str,
    connection: Annotated[Connection, Depends(transaction)],
    fail_after: bool = False,
) -> dict[str, object]:
    store = SqlStore(connection)  # csdesk writes inside this request's transaction
    case = store.load(AfterSaleCase, case_id)
    try:
        quote, refunds = RefundDesk(store).request(
            case.order_id,
            idempotency_key=f"case:{case_id}",
            lines={line.line_id: line.received for line in case.lines},
            reason="no_reason",
            basis=str(case.statutory_basis),
            case_id=case_id,
            policy=refund_policy("cn_default"),
            actor=AGENT,
            now=datetime(2026, 11, 20, 10, 0, tzinfo=SHANGHAI),
        )
    except CsdeskError as error:
        raise HTTPException(status_code=409, detail=f"[{error.code}] {error}") from None
    for refund in refunds:  # a replayed request returns the same refunds: note each once
        noted = connection.execute(select(notes.c.refund_id).where(notes.c.refund_id == refund.id))
        if noted.first() is None:
            connection.execute(insert(notes).values(refund_id=refund.id, amount=str(refund.amount)))
    if fail_after:
        raise RuntimeError("the shop's own bookkeeping failed after csdesk wrote")
    return {"refunds": [r.id for r in refunds], "total": str(quote.total)}


async def call(path: str, **params: bool) -> httpx.Response:
    """One request to the app, in process (the same as through a real server)."""
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://shop") as client:
        return await client.post(path, params=params)


def main() -> None:
    seed()
    failed = asyncio.run(call("/cases/AS-1/refund", fail_after=True))
    print("shop write fails:", failed.status_code)
    with engine.connect() as connection:
        assert SqlStore(connection).of_order(Refund, "SO-1") == []  # csdesk rolled back too
        assert connection.execute(select(notes)).all() == []

    done = asyncio.run(call("/cases/AS-1/refund"))
    print("refunded:", done.status_code, done.json())
    again = asyncio.run(call("/cases/AS-1/refund"))  # a retry replays: the same refund
    print("retried: ", again.status_code, again.json())
    with engine.connect() as connection:
        stored = SqlStore(connection).of_order(Refund, "SO-1")
        recorded = connection.execute(select(notes.c.refund_id, notes.c.amount)).all()
    print("csdesk's refunds:", [(r.id, str(r.amount)) for r in stored])
    print("the shop's notes:", [tuple(row) for row in recorded])
    assert [r.id for r in stored] == [row.refund_id for row in recorded] == done.json()["refunds"]


if __name__ == "__main__":
    main()
