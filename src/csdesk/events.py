"""`DomainEvent`: the audit and outbox record every workflow and policy emits.

An event says what happened (``type``, such as ``"order.placed"``), when, who did it, to which
aggregate at which version, with which payload, under which idempotency key, caused by which earlier
event, and under which policy version. Events are immutable and round-trip through JSON exactly.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk import Money
    >>> event = DomainEvent(
    ...     type="refund.requested",
    ...     occurred_at=datetime(2026, 3, 1, 9, 30, tzinfo=timezone.utc),
    ...     actor=Actor(kind="staff", id="agent-7"),
    ...     aggregate=AggregateRef(kind="refund", id="r-1", version=1),
    ...     payload={"amount": Money("489.99", "CNY")},
    ...     idempotency_key="order-1001:refund:1",
    ... )
    >>> event.payload["amount"]
    {'amount': '489.99', 'currency': 'CNY'}
    >>> DomainEvent.from_json(event.to_json()) == event
    True
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum, StrEnum
from typing import Annotated, Any
from uuid import uuid4

from pydantic import AwareDatetime, BaseModel, BeforeValidator, Field, JsonValue, Strict

from csdesk._model import CsdeskModel, build
from csdesk.errors import InvalidInputError
from csdesk.money import Money

__all__ = ["Actor", "ActorKind", "AggregateRef", "DomainEvent"]


class ActorKind(StrEnum):
    """Who acted."""

    CUSTOMER = "customer"
    STAFF = "staff"
    BOT = "bot"
    PLATFORM = "platform"
    SYSTEM = "system"


class Actor(CsdeskModel):
    """Who did it: a kind and, for people and bots, an id."""

    kind: ActorKind
    id: str | None = None

    @classmethod
    def system(cls) -> Actor:
        """The system itself (timers, sweeps)."""
        return cls(kind=ActorKind.SYSTEM)


class AggregateRef(CsdeskModel):
    """The entity an event happened to, at the version it reached."""

    kind: str = Field(min_length=1)
    id: str = Field(min_length=1)
    version: Annotated[int, Strict()] = Field(ge=0)


def _jsonable(value: Any) -> Any:
    return _convert(value, strict=False)


_PLAIN = frozenset({str, int, bool, float, type(None)})


def _convert(value: Any, *, strict: bool) -> Any:
    kind = type(value)
    if kind in _PLAIN:
        # Floats pass through as JSON numbers; money never travels as one (Money is a dict).
        return value
    if kind is dict:
        return {str(key): _convert(item, strict=strict) for key, item in value.items()}
    if kind is list or kind is tuple:
        return [_convert(item, strict=strict) for item in value]
    if isinstance(value, Money):
        return value.to_dict()
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, str):
        return str(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, Mapping):
        return {str(key): _convert(item, strict=strict) for key, item in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_convert(item, strict=strict) for item in items]
    if strict:
        raise InvalidInputError(f"an event payload holds a {kind.__name__}, which has no JSON form")
    return value


def _json_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """`_jsonable` for a payload the library built itself, refusing what has no JSON form."""
    made: dict[str, Any] = _convert(payload, strict=True)
    return made


Payload = Annotated[dict[str, JsonValue], BeforeValidator(_jsonable)]


class DomainEvent(CsdeskModel):
    """One thing that happened, as the audit log and the outbox store it.

    ``payload`` accepts `Money`, `Decimal`, dates and enums and stores them in their JSON form
    (Money as ``{"amount": "12.30", "currency": "CNY"}``, Decimal as a string), so an event read
    back from JSON equals the event written.

    Attributes:
        id: A unique id; a random hex UUID unless given.
        type: Dotted, lower-case: ``"order.placed"``, ``"refund.succeeded"``.
        idempotency_key: The key of the command that produced it, for money-moving commands.
        causation_id: The id of the event or command that caused this one.
        policy_version: The version of the policy that decided it, when a policy did.
    """

    id: str = Field(default_factory=lambda: uuid4().hex, min_length=1)
    type: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    occurred_at: AwareDatetime
    actor: Actor
    aggregate: AggregateRef
    payload: Payload = Field(default_factory=dict)
    idempotency_key: str | None = None
    causation_id: str | None = None
    policy_version: str | None = None

    @classmethod
    def recorded(
        cls,
        type: str,
        payload: Mapping[str, Any],
        common: Mapping[str, Any],
        causation_id: str | None,
    ) -> DomainEvent:
        """An event the workflow engine built from its own, already valid parts (no revalidation).

        ``common`` holds ``occurred_at`` (aware), ``actor``, ``aggregate``, ``idempotency_key``
        and ``policy_version``; the payload is made JSON here, as the validating path does.
        """
        return build(
            cls,
            id=uuid4().hex,
            type=type,
            payload=_json_payload(payload),
            causation_id=causation_id,
            **common,
        )

    def to_json(self) -> str:
        """The event as JSON text."""
        return self.model_dump_json()

    @classmethod
    def from_json(cls, text: str | bytes) -> DomainEvent:
        """Read an event back from `to_json`'s output.

        Raises:
            InvalidInputError: the text is not a valid event.
        """
        return cls.model_validate_json(text)
