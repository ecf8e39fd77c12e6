"""Synthetic incidents for demos, docs, benchmarks and simulation tests.

`sample_incidents` yields a plausible, deterministic stream of incidents (late parcels, stock-outs,
damaged goods, reviews with and without a confirmed cause, price drops, a few statutory claims)
over four months, in time order. It is not real data: use it to see what a policy does, then
simulate on your own history.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from csdesk._checks import checked
from csdesk.policies.compensation.incidents import Incident, parse_incident

__all__ = ["sample_incidents"]

_SHANGHAI = ZoneInfo("Asia/Shanghai")


def _cny(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


_SKUS = ("MUG", "THERMOS", "SOCKS", "CAKE", "KETTLE")
_CAUSES = ("damaged", "wrong_item", "late_delivery", "quality", "not_as_described", "service")


@checked
def sample_incidents(
    count: int, *, seed: int = 7, customers: int | None = None, start: datetime | None = None
) -> Iterator[Incident]:
    """``count`` synthetic incidents in CNY over 120 days from ``start``, in time order.

    The same ``seed`` gives the same stream; ``customers`` (a third of ``count`` by default)
    sets how often one customer comes back. Customers' snapshots say they received nothing in
    the last 30 days; `simulate` replaces that with what the simulated policy granted.

    Examples:
        >>> from collections import Counter
        >>> kinds = Counter(i.kind.value for i in sample_incidents(1000))
        >>> kinds["late_delivery"] > kinds["fraud_claim"] > 0
        True
    """
    rng = random.Random(seed)
    customers = customers or max(50, count // 3)
    start = start or datetime(2026, 1, 1, 8, 0, tzinfo=_SHANGHAI)
    step = timedelta(days=120) / max(count, 1)
    for index in range(count):
        at = start + step * index
        items = rng.randint(1500, 60000)
        shipping = rng.choice((0, 0, 600, 800, 1200))
        paid = items + shipping
        order_data: dict[str, Any] = {
            "id": f"SO-{rng.randint(1, count // 2 + 1)}",
            "paid_total": _cny(f"{paid / 100:.2f}"),
            "item_paid": _cny(f"{items / 100:.2f}"),
            "shipping_paid": _cny(f"{shipping / 100:.2f}"),
            "skus": [rng.choice(_SKUS)],
        }
        flags = []
        if rng.random() < 0.03:
            flags.append(rng.choice(("serial_complainer", "professional_claimant")))
        customer_data = {
            "id": f"C-{rng.randint(1, customers)}",
            "received": {"30": {"amount": _cny("0"), "count": 0}},
            "risk_flags": flags,
            "tier": rng.choice(("regular", "regular", "silver", "gold")),
        }
        roll = rng.random()
        fields: dict[str, Any]
        if roll < 0.30:
            kind, fields = "late_delivery", {"days_late": rng.randint(1, 9)}
        elif roll < 0.40:
            kind, fields = "late_shipment", {"days_late": rng.randint(1, 4)}
        elif roll < 0.50:
            kind, fields = "out_of_stock_cancel", {"amount_canceled": _cny(f"{items / 100:.2f}")}
        elif roll < 0.55:
            kind, fields = "system_fault_cancel", {"amount_canceled": _cny(f"{items / 100:.2f}")}
        elif roll < 0.65:
            kind, fields = "damaged", {"affected": _cny(f"{items / 100:.2f}")}
        elif roll < 0.70:
            kind, fields = "wrong_item", {"affected": _cny(f"{items / 100:.2f}")}
        elif roll < 0.88:
            confirmed = rng.random() < 0.6
            kind, fields = (
                "review",
                {
                    "rating": rng.randint(1, 3),
                    "root_cause": rng.choice(_CAUSES) if confirmed else None,
                    "root_cause_confirmed": confirmed,
                    "sku": order_data["skus"][0],
                },
            )
        elif roll < 0.93:
            kind, fields = "service_failure", {"severity": rng.choice(("minor", "major"))}
        elif roll < 0.97:
            drop = rng.randint(100, max(101, items // 5))
            kind, fields = (
                "price_drop",
                {
                    "difference": _cny(f"{drop / 100:.2f}"),
                    "days_since_purchase": rng.randint(0, 45),
                    "caused_by_coupon": rng.random() < 0.2,
                },
            )
        elif roll < 0.99:
            kind, fields = "false_shipment", {}
        else:
            kind, fields = "fraud_claim", {"price_paid": _cny(f"{items / 100:.2f}")}
        fields["fault"] = rng.choice(("shop", "shop", "shop", "carrier", "customer"))
        yield parse_incident(
            {
                "kind": kind,
                "id": f"inc-{index}",
                "occurred_at": at.isoformat(),
                "order": order_data,
                "customer": customer_data,
                **fields,
            }
        )
