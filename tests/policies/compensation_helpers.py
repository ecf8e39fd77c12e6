"""Builders for compensation tests: incidents with sensible defaults."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from csdesk.policies.compensation import Agent, Incident, parse_incident

SHANGHAI = ZoneInfo("Asia/Shanghai")
AT = datetime(2026, 3, 5, 10, 0, tzinfo=SHANGHAI)
BOT = Agent(id="bot-1", role="bot")
AGENT = Agent(id="agent-7", role="agent")
SUPERVISOR = Agent(id="sup-1", role="supervisor")


def cny(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "CNY"}


def order(
    paid: str = "136.50", items: str = "128.50", shipping: str = "8.00", **extra: Any
) -> dict[str, Any]:
    return {
        "id": extra.pop("id", "SO-1"),
        "paid_total": cny(paid),
        "item_paid": cny(items),
        "shipping_paid": cny(shipping),
        "skus": extra.pop("skus", ["MUG"]),
        **extra,
    }


def customer(received: str = "0", count: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "id": extra.pop("id", "C-1"),
        "received": {"30": {"amount": cny(received), "count": count}},
        **extra,
    }


def incident(kind: str, *, id: str = "inc-1", **fields: Any) -> Incident:
    data: dict[str, Any] = {
        "kind": kind,
        "id": id,
        "occurred_at": fields.pop("occurred_at", AT.isoformat()),
        "order": fields.pop("order", order()),
        "customer": fields.pop("customer", customer()),
    }
    data.update(fields)
    return parse_incident(data)
