"""A Django shop refunds a goodwill amount inside its own ``transaction.atomic()`` block.

csdesk's tables live in Django's database beside the shop's, and csdesk writes on the very
connection Django holds (`csdesk.storage.host.django_connection`), inside the view's transaction:
when the view fails after both writes, both roll back; when it returns, both commit. SQLite here,
PostgreSQL or MariaDB/MySQL the same way (the test suite runs it on all three).

Run it: ``python examples/django_refund_in_atomic.py`` (needs ``django``).
"""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import django
from django.conf import settings
from django.db import connection, transaction

from csdesk import Actor, Customer, LineDraft, Money, Order, Payment, Refund
from csdesk.policies.refunds import refund_policy
from csdesk.refund_desk import RefundDesk
from csdesk.storage import SqlStore
from csdesk.storage.host import django_connection
from csdesk.workflows import PayOrder

SHANGHAI = ZoneInfo("Asia/Shanghai")
PLACED = datetime(2026, 11, 11, 20, 15, tzinfo=SHANGHAI)
AGENT = Actor(kind="staff", id="agent-7")

# -- the shop's Django settings: one database, csdesk's tables in it -----------------------------

DATABASE = Path(tempfile.mkdtemp()) / "shop.db"
settings.configure(
    DATABASES={
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(DATABASE),
            # SQLite has one writer at a time: take the lock at BEGIN (csdesk does the same).
            "OPTIONS": {"transaction_mode": "IMMEDIATE"},
        }
    },
    USE_TZ=True,
)
django.setup()
with connection.cursor() as cursor:  # the shop's own table (a Django model in a real shop)
    cursor.execute("CREATE TABLE shop_refund_notes (refund_id VARCHAR(64), amount VARCHAR(32))")
with transaction.atomic(), django_connection() as csdesk_connection:
    SqlStore(csdesk_connection, upgrade=True)  # or `csdesk db upgrade --url sqlite:///shop.db`


def seed() -> None:
    with transaction.atomic(), django_connection() as csdesk_connection:
        store = SqlStore(csdesk_connection)
        order = Order.place(
            id="SO-1",
            customer=Customer(id="C-1"),
            placed_at=PLACED,
            lines=[
                LineDraft(sku="CK-001", name="蛋糕", quantity=1, unit_price=Money("99.00", "CNY"))
            ],
        )
        store.insert(order)
        paid = Payment(id="P-1", method="wechat_pay", captured=order.total, captured_at=PLACED)
        store.run("SO-1", PayOrder(payments=[paid]), actor=AGENT, now=PLACED)


def goodwill_refund_view(order_id: str, *, fail_after: bool = False) -> list[str]:
    """What a Django view does: csdesk's refund and the shop's note in one atomic block."""
    with transaction.atomic():
        with django_connection() as csdesk_connection:
            _quote, refunds = RefundDesk(SqlStore(csdesk_connection)).request(
                order_id,
                idempotency_key=f"late-parcel:{order_id}",
                lines={},
                reason="goodwill",
                goodwill=Money("10.00", "CNY"),
                policy=refund_policy("cn_default"),
                actor=AGENT,
                now=PLACED + timedelta(days=3),
            )
        with connection.cursor() as cursor:
            for refund in refunds:
                cursor.execute(
                    "INSERT INTO shop_refund_notes VALUES (%s, %s)", [refund.id, str(refund.amount)]
                )
        if fail_after:
            raise RuntimeError("the shop's own bookkeeping failed after csdesk wrote")
        return [refund.id for refund in refunds]


def committed() -> tuple[list[str], list[tuple[str, str]]]:
    """csdesk's refunds and the shop's notes, as another connection sees them."""
    with SqlStore(f"sqlite:///{DATABASE}") as store:
        refunds = [f"{r.id} {r.amount}" for r in store.of_order(Refund, "SO-1")]
    with connection.cursor() as cursor:
        cursor.execute("SELECT refund_id, amount FROM shop_refund_notes")
        notes = [(str(a), str(b)) for a, b in cursor.fetchall()]
    return refunds, notes


def main() -> None:
    seed()
    try:
        goodwill_refund_view("SO-1", fail_after=True)
    except RuntimeError as error:
        print("the view failed:", error)
    print("after the failure:", committed())
    assert committed() == ([], [])
    print("refunded:", goodwill_refund_view("SO-1"))
    refunds, notes = committed()
    print("after the success:", refunds, notes)
    assert len(refunds) == len(notes) == 1


if __name__ == "__main__":
    main()
