import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from csdesk import (
    Actor,
    ActorKind,
    AggregateRef,
    CustomerTier,
    DomainEvent,
    InvalidInputError,
    Money,
    NaiveDatetimeError,
)

AT = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)


def event(**overrides: object) -> DomainEvent:
    fields: dict[str, object] = {
        "type": "refund.requested",
        "occurred_at": AT,
        "actor": Actor(kind=ActorKind.STAFF, id="agent-7"),
        "aggregate": AggregateRef(kind="refund", id="r-1", version=1),
        "payload": {"amount": Money("489.99", "CNY"), "units": 2},
        "idempotency_key": "SO-1:refund:1",
        "causation_id": "evt-0",
        "policy_version": "cn-2026.1",
    }
    fields.update(overrides)
    return DomainEvent.model_validate(fields)


def test_json_round_trip_is_exact() -> None:
    original = event()
    text = original.to_json()
    assert DomainEvent.from_json(text) == original
    data = json.loads(text)
    assert data["payload"]["amount"] == {"amount": "489.99", "currency": "CNY"}
    assert data["occurred_at"] == "2026-03-01T09:30:00Z"
    assert data["actor"] == {"kind": "staff", "id": "agent-7"}


def test_payload_values_become_json() -> None:
    payload = {
        "when": date(2026, 3, 1),
        "ratio": Decimal("0.125"),
        "tier": CustomerTier.GOLD,
        "wait": timedelta(minutes=2),
        "lines": ({"id": "1", "refund": Money("1", "JPY")},),
        "tags": {"b", "a"},
    }
    assert event(payload=payload).payload == {
        "when": "2026-03-01",
        "ratio": "0.125",
        "tier": "gold",
        "wait": 120.0,
        "lines": [{"id": "1", "refund": {"amount": "1", "currency": "JPY"}}],
        "tags": ["a", "b"],
    }


def test_ids_are_unique_by_default() -> None:
    assert event().id != event().id


def test_immutable() -> None:
    original = event()
    with pytest.raises(InvalidInputError):
        original.type = "refund.succeeded"  # type: ignore[misc]


@pytest.mark.parametrize("bad_type", ["Refund", "refund", "refund.", "refund..x", "Refund.Paid"])
def test_type_must_be_dotted_lower_case(bad_type: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        event(type=bad_type)
    assert caught.value.errors[0].loc == "type"


def test_naive_occurred_at_is_refused() -> None:
    with pytest.raises(NaiveDatetimeError) as caught:
        event(occurred_at=datetime(2026, 3, 1, 9, 30))
    assert caught.value.field == "occurred_at"


def test_negative_version_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="aggregate"):
        event(aggregate={"kind": "order", "id": "o", "version": -1})


def test_system_actor() -> None:
    assert Actor.system() == Actor(kind="system")
