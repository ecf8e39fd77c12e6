"""What happened, to whom, on which order, and who is deciding: the typed inputs of `decide`.

An `Incident` is a discriminated union on ``kind``: each kind carries the facts its rules read
(``days_late`` for a late delivery, ``rating`` and ``root_cause`` for a review, ``price_paid`` for
a statutory claim). The host supplies snapshots of the order and the customer as they were when
the incident happened, including what the customer already received in compensation over rolling
windows and the risk flags its own systems raise; csdesk does not look anything up.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, ConfigDict, Field, Strict, TypeAdapter, model_validator

from csdesk._model import CsdeskModel
from csdesk.errors import InvalidInputError
from csdesk.models import CustomerTier, Order, RootCause
from csdesk.money import Money

__all__ = [
    "Agent",
    "CustomerSnapshot",
    "DamagedItem",
    "FalseShipment",
    "Fault",
    "FoodSafetyClaim",
    "FraudClaim",
    "Incident",
    "IncidentKind",
    "LateDelivery",
    "LateShipment",
    "OrderSnapshot",
    "OutOfStockCancel",
    "PriceDrop",
    "Received",
    "Review",
    "Role",
    "RootCause",
    "ServiceFailure",
    "SystemFaultCancel",
    "WrongItem",
    "parse_incident",
]

Id = Annotated[str, Field(min_length=1, max_length=128)]


class IncidentKind(StrEnum):
    """What went wrong. The last two are statutory claims, routed to a person, never goodwill."""

    LATE_SHIPMENT = "late_shipment"
    LATE_DELIVERY = "late_delivery"
    OUT_OF_STOCK_CANCEL = "out_of_stock_cancel"
    SYSTEM_FAULT_CANCEL = "system_fault_cancel"
    FALSE_SHIPMENT = "false_shipment"
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    PRICE_DROP = "price_drop"
    REVIEW = "review"
    SERVICE_FAILURE = "service_failure"
    FRAUD_CLAIM = "fraud_claim"
    FOOD_SAFETY_CLAIM = "food_safety_claim"


STATUTORY_KINDS = frozenset({IncidentKind.FRAUD_CLAIM, IncidentKind.FOOD_SAFETY_CLAIM})


class Fault(StrEnum):
    """Whose fault the problem was, as the host's investigation found."""

    SHOP = "shop"
    CARRIER = "carrier"
    PLATFORM = "platform"
    CUSTOMER = "customer"
    FORCE_MAJEURE = "force_majeure"
    UNKNOWN = "unknown"


class Role(StrEnum):
    """Who decides, from least to most authority. Compare with `Role.rank`."""

    BOT = "bot"
    AGENT = "agent"
    SENIOR_AGENT = "senior_agent"
    SUPERVISOR = "supervisor"

    @property
    def rank(self) -> int:
        """0 for the bot up to 3 for a supervisor."""
        return _RANKS[self]


_RANKS = {Role.BOT: 0, Role.AGENT: 1, Role.SENIOR_AGENT: 2, Role.SUPERVISOR: 3}


class Agent(CsdeskModel):
    """The one deciding: a bot or a person, with the role that sets their authority.

    Examples:
        >>> Agent(id="a-7", role="agent").role.rank
        1
    """

    id: Id
    role: Role


class Received(CsdeskModel):
    """What a customer received in compensation over one rolling window."""

    amount: Money
    count: Annotated[int, Strict(), Field(ge=0)] = 0


class CustomerSnapshot(CsdeskModel):
    """The customer as the host saw them when the incident happened.

    Attributes:
        id: The customer's id (caps and the simulation group by it).
        tier: Membership tier.
        received: Compensation already received over rolling windows, keyed by the window's
            length in days (``{30: Received(...), 90: Received(...)}``). A policy with a customer
            cap over N days needs the window N here; it is never assumed to be zero.
        risk_flags: Signals the host's own systems raise (``"serial_complainer"``,
            ``"linked_accounts"``, ``"professional_claimant"``); policies' anti-abuse signals read
            them.
        orders: How many orders the customer has placed, this one included.
    """

    id: Id
    tier: CustomerTier = CustomerTier.REGULAR
    received: dict[Annotated[int, Field(gt=0, le=366)], Received] = Field(default_factory=dict)
    risk_flags: frozenset[Annotated[str, Field(min_length=1)]] = frozenset()
    orders: Annotated[int, Strict(), Field(ge=0)] = 1

    def window(self, days: int) -> Received | None:
        """What the customer received over the last ``days`` days, if the host said."""
        return self.received.get(days)


class OrderSnapshot(CsdeskModel):
    """The order's money as the host saw it when the incident happened.

    Attributes:
        paid_total: What the customer paid for the whole order.
        item_paid: What they paid for the goods (after discounts, without shipping).
        shipping_paid: What they paid for shipping.
        compensated: Compensation already granted on this order (the per-order cap counts it).
        skus: The order's SKUs (the review analysis groups by them).
    """

    id: Id
    paid_total: Money
    item_paid: Money
    shipping_paid: Money
    compensated: Money | None = None
    placed_at: AwareDatetime | None = None
    skus: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _one_currency(self) -> OrderSnapshot:
        currency = self.paid_total.currency
        for name in ("item_paid", "shipping_paid", "compensated"):
            value = getattr(self, name)
            if value is not None and value.currency != currency:
                raise ValueError(f"{name} is in {value.currency}, paid_total in {currency}")
        if self.item_paid + self.shipping_paid > self.paid_total:
            raise ValueError("item_paid + shipping_paid exceeds paid_total")
        return self

    @property
    def currency(self) -> str:
        """The order's currency."""
        return self.paid_total.currency

    @property
    def already_compensated(self) -> Money:
        """`compensated`, or zero."""
        return self.compensated if self.compensated is not None else Money.zero(self.currency)

    @classmethod
    def from_order(cls, order: Order, *, compensated: Money | None = None) -> OrderSnapshot:
        """Take the snapshot of a placed `csdesk.models.Order`.

        Examples:
            >>> from datetime import datetime, timezone
            >>> from csdesk import Customer, Order
            >>> order = Order.place(
            ...     id="SO-1", customer=Customer(id="C-1"),
            ...     lines=[{"sku": "MUG", "name": "Mug", "quantity": 2,
            ...             "unit_price": Money("64.25", "CNY")}],
            ...     shipping_fee=Money("8", "CNY"),
            ...     placed_at=datetime(2026, 3, 1, tzinfo=timezone.utc),
            ... )
            >>> snap = OrderSnapshot.from_order(order)
            >>> print(snap.item_paid, snap.shipping_paid, snap.paid_total)
            128.50 CNY 8.00 CNY 136.50 CNY
        """
        zero = Money.zero(order.currency)
        shipping = sum((line.split.shipping for line in order.lines), zero)
        return cls(
            id=order.id,
            paid_total=order.total,
            item_paid=order.total - shipping,
            shipping_paid=shipping,
            compensated=compensated,
            placed_at=order.placed_at,
            skus=tuple(dict.fromkeys(line.sku for line in order.lines)),
        )


class _IncidentBase(CsdeskModel):
    """The facts every incident has."""

    id: Id
    occurred_at: AwareDatetime
    order: OrderSnapshot
    customer: CustomerSnapshot
    fault: Fault = Fault.SHOP
    sku: str | None = None


class LateShipment(_IncidentBase):
    """The shop shipped after the time it promised (发货超时)."""

    kind: Literal[IncidentKind.LATE_SHIPMENT] = IncidentKind.LATE_SHIPMENT
    days_late: Annotated[int, Strict(), Field(ge=1)]


class LateDelivery(_IncidentBase):
    """The parcel arrived after the promised delivery date."""

    kind: Literal[IncidentKind.LATE_DELIVERY] = IncidentKind.LATE_DELIVERY
    days_late: Annotated[int, Strict(), Field(ge=1)]


class OutOfStockCancel(_IncidentBase):
    """The shop cancelled (part of) a paid order because it had no stock."""

    kind: Literal[IncidentKind.OUT_OF_STOCK_CANCEL] = IncidentKind.OUT_OF_STOCK_CANCEL
    amount_canceled: Money


class SystemFaultCancel(_IncidentBase):
    """An order cancelled by a system fault (wrong price, double sale, outage)."""

    kind: Literal[IncidentKind.SYSTEM_FAULT_CANCEL] = IncidentKind.SYSTEM_FAULT_CANCEL
    amount_canceled: Money


class FalseShipment(_IncidentBase):
    """Marked as shipped with no real parcel behind the tracking number (虚假发货)."""

    kind: Literal[IncidentKind.FALSE_SHIPMENT] = IncidentKind.FALSE_SHIPMENT


class DamagedItem(_IncidentBase):
    """Goods arrived damaged; ``affected`` is what the damaged goods cost the customer."""

    kind: Literal[IncidentKind.DAMAGED] = IncidentKind.DAMAGED
    affected: Money


class WrongItem(_IncidentBase):
    """The wrong goods were sent; ``affected`` is what the ordered goods cost."""

    kind: Literal[IncidentKind.WRONG_ITEM] = IncidentKind.WRONG_ITEM
    affected: Money


class PriceDrop(_IncidentBase):
    """The price fell after purchase (价保); ``difference`` is the drop times the quantity."""

    kind: Literal[IncidentKind.PRICE_DROP] = IncidentKind.PRICE_DROP
    difference: Money
    days_since_purchase: Annotated[int, Strict(), Field(ge=0)]
    caused_by_coupon: bool = False


class Review(_IncidentBase):
    """A neutral (3) or negative (1–2) review, and the problem behind it once confirmed.

    The rating is what brought the desk in; a recovery offer is for the confirmed root cause,
    never for the review (网络反不正当竞争暂行规定 art. 9(5), in force 2024-09-01).
    """

    kind: Literal[IncidentKind.REVIEW] = IncidentKind.REVIEW
    rating: Annotated[int, Strict(), Field(ge=1, le=3)]
    root_cause: RootCause | None = None
    root_cause_confirmed: bool = False

    @model_validator(mode="after")
    def _cause_if_confirmed(self) -> Review:
        if self.root_cause_confirmed and self.root_cause is None:
            raise ValueError("root_cause_confirmed is true but no root_cause is given")
        return self

    @property
    def negative(self) -> bool:
        """A rating of 1 or 2 (差评); 3 is neutral (中评)."""
        return self.rating <= 2


class ServiceFailure(_IncidentBase):
    """The desk itself failed the customer: a missed call-back, a wrong answer, rudeness."""

    kind: Literal[IncidentKind.SERVICE_FAILURE] = IncidentKind.SERVICE_FAILURE
    severity: Literal["minor", "major"] = "minor"


class FraudClaim(_IncidentBase):
    """A claim of fraud in the sale: 消费者权益保护法 art. 55 ¶1 (3×, at least 500 yuan)."""

    kind: Literal[IncidentKind.FRAUD_CLAIM] = IncidentKind.FRAUD_CLAIM
    price_paid: Money


class FoodSafetyClaim(_IncidentBase):
    """Food below safety standards: 食品安全法 art. 148 ¶2 (10× price or 3× loss, at least 1000)."""

    kind: Literal[IncidentKind.FOOD_SAFETY_CLAIM] = IncidentKind.FOOD_SAFETY_CLAIM
    price_paid: Money
    loss: Money | None = None


Incident = Annotated[
    LateShipment
    | LateDelivery
    | OutOfStockCancel
    | SystemFaultCancel
    | FalseShipment
    | DamagedItem
    | WrongItem
    | PriceDrop
    | Review
    | ServiceFailure
    | FraudClaim
    | FoodSafetyClaim,
    Field(discriminator="kind"),
]
"""Any incident; pydantic picks the class from ``kind``."""

INCIDENT_CLASSES: dict[IncidentKind, type[_IncidentBase]] = {
    IncidentKind.LATE_SHIPMENT: LateShipment,
    IncidentKind.LATE_DELIVERY: LateDelivery,
    IncidentKind.OUT_OF_STOCK_CANCEL: OutOfStockCancel,
    IncidentKind.SYSTEM_FAULT_CANCEL: SystemFaultCancel,
    IncidentKind.FALSE_SHIPMENT: FalseShipment,
    IncidentKind.DAMAGED: DamagedItem,
    IncidentKind.WRONG_ITEM: WrongItem,
    IncidentKind.PRICE_DROP: PriceDrop,
    IncidentKind.REVIEW: Review,
    IncidentKind.SERVICE_FAILURE: ServiceFailure,
    IncidentKind.FRAUD_CLAIM: FraudClaim,
    IncidentKind.FOOD_SAFETY_CLAIM: FoodSafetyClaim,
}

_KINDS = tuple(kind.value for kind in IncidentKind)
_ADAPTER: TypeAdapter[Incident] = TypeAdapter(Incident, config=ConfigDict(title="incident"))


def parse_incident(data: Mapping[str, object] | str | bytes) -> Incident:
    """Validate a mapping or a JSON document into the incident class its ``kind`` names.

    Raises:
        InvalidInputError: unknown kind, missing or mistyped fields, naive datetimes, floats.

    Examples:
        >>> incident = parse_incident({
        ...     "kind": "late_delivery", "id": "inc-1", "days_late": 3,
        ...     "occurred_at": "2026-03-05T10:00:00+08:00",
        ...     "order": {"id": "SO-1", "paid_total": {"amount": "136.50", "currency": "CNY"},
        ...               "item_paid": {"amount": "128.50", "currency": "CNY"},
        ...               "shipping_paid": {"amount": "8.00", "currency": "CNY"}},
        ...     "customer": {"id": "C-1"},
        ... })
        >>> type(incident).__name__, incident.days_late
        ('LateDelivery', 3)
    """
    import pydantic

    if isinstance(data, Mapping):
        kind = data.get("kind")
        if kind not in _KINDS:
            raise InvalidInputError(
                f"invalid incident: kind: {kind!r} is not an incident kind; the kinds are "
                + ", ".join(_KINDS),
                model="incident",
            )
    try:
        if isinstance(data, str | bytes):
            return _ADAPTER.validate_json(data)
        return _ADAPTER.validate_python(data)
    except pydantic.ValidationError as error:
        raise InvalidInputError.from_pydantic(error) from None
