"""What a compensation decision offers: `Offer`, `Status`, and statutory claims' amounts."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Self

from pydantic import AwareDatetime

from csdesk._checks import checked
from csdesk._model import CsdeskModel, build
from csdesk.errors import InvalidInputError
from csdesk.money import Money
from csdesk.policies.compensation.incidents import FoodSafetyClaim, FraudClaim
from csdesk.policies.compensation.policy import Instrument

__all__ = ["Offer", "Status", "StatutoryClaim", "statutory_claim"]


class Status(StrEnum):
    """What happens next."""

    AUTO_APPROVED = "auto_approved"
    NEEDS_APPROVAL = "needs_approval"
    NEEDS_EVIDENCE = "needs_evidence"
    REJECTED = "rejected"
    STATUTORY = "statutory"


class Offer(CsdeskModel):
    """One thing offered, with its amount already rounded by the policy.

    Attributes:
        rule_id: The rule that offered it; ``group`` the rule's group.
        instrument: How it is given.
        value: What it is worth (the coupon's face value, the cash, the points' money value, the
            shipping or gift cost); zero for a membership upgrade.
        key: An idempotency key from the incident and the rule: create the coupon or the refund
            with it and a retry never grants twice.
        threshold: A threshold coupon's minimum spend.
        points: Points granted, for a points offer.
        upgrade_to: The membership tier, for an upgrade; ``gift_sku`` the gift, for a gift.
        valid_until: When a coupon, free shipping or points stop being usable.
        protection_days: For extended price protection: the days the window grows by.
        label: The rule's label for the customer.
    """

    rule_id: str
    group: str
    instrument: Instrument
    value: Money
    key: str
    threshold: Money | None = None
    points: int | None = None
    upgrade_to: str | None = None
    gift_sku: str | None = None
    protection_days: int | None = None
    valid_until: AwareDatetime | None = None
    label: str = ""

    @classmethod
    def made(cls, **values: Any) -> Self:
        """An offer from the deciding code's own, already valid values (not validated again)."""
        return build(cls, **values)

    def but(self, **changes: Any) -> Self:
        """A copy with ``changes`` (already valid values)."""
        return build(type(self), **{**self.__dict__, **changes})


class StatutoryClaim(CsdeskModel):
    """The amount a statute sets, shown to the person who handles the claim.

    Attributes:
        law: The provision, e.g. ``消费者权益保护法 art. 55 ¶1``.
        formula: How the amount comes out, e.g. ``3 × 200.00 = 600.00; minimum 500.00``.
        computed: The multiple of the price (or loss).
        minimum: The statutory floor.
        amount: The larger of the two: what the consumer may claim on top of a refund.
        source: Where the numbers come from.
    """

    law: str
    formula: str
    computed: Money
    minimum: Money
    amount: Money
    source: str


_CPL_55 = (
    "消费者权益保护法 art. 55 ¶1",
    "消费者权益保护法 (2013 amendment) art. 55 ¶1: fraud in providing goods or services: at the "
    "consumer's request, additional compensation of three times the price paid; less than 500 "
    "yuan becomes 500 yuan, unless another law provides otherwise",
)
_FOOD_148 = (
    "食品安全法 art. 148 ¶2",
    "食品安全法 (2021 amendment) art. 148 ¶2: food not meeting safety standards: besides damages, "
    "ten times the price or three times the loss; less than 1000 yuan becomes 1000 yuan (except "
    "label or instruction flaws that neither affect safety nor mislead)",
)


@checked
def statutory_claim(incident: FraudClaim | FoodSafetyClaim) -> StatutoryClaim:
    """The statutory amount of a fraud or food-safety claim (Chinese law, amounts in CNY).

    Examples:
        >>> from datetime import datetime, timezone
        >>> from csdesk.policies.compensation import parse_incident
        >>> order = {"id": "SO-1", "paid_total": {"amount": "200", "currency": "CNY"},
        ...          "item_paid": {"amount": "200", "currency": "CNY"},
        ...          "shipping_paid": {"amount": "0", "currency": "CNY"}}
        >>> claim = parse_incident({"kind": "fraud_claim", "id": "i-1", "order": order,
        ...     "customer": {"id": "C-1"}, "occurred_at": "2026-03-01T10:00:00+08:00",
        ...     "price_paid": {"amount": "200", "currency": "CNY"}})
        >>> statutory_claim(claim).formula
        '3 × 200.00 = 600.00; minimum 500.00 → 600.00'
    """
    currency = incident.price_paid.currency
    if currency != "CNY":
        raise InvalidInputError(
            f"statutory amounts under Chinese law are in CNY; this claim is in {currency}"
        )
    price = incident.price_paid
    if isinstance(incident, FraudClaim):
        law, source = _CPL_55
        computed = price * 3
        minimum = Money(500, currency)
        formula = f"3 × {price.quantize().amount} = {computed.quantize().amount}"
    else:
        law, source = _FOOD_148
        computed = price * 10
        formula = f"10 × {price.quantize().amount} = {computed.quantize().amount}"
        if incident.loss is not None:
            by_loss = incident.loss * 3
            formula += f", 3 × loss {incident.loss.quantize().amount} = {by_loss.quantize().amount}"
            computed = max(computed, by_loss)
        minimum = Money(1000, currency)
    amount = max(computed, minimum)
    formula += f"; minimum {minimum.quantize().amount} → {amount.quantize().amount}"
    return StatutoryClaim(
        law=law,
        formula=formula,
        computed=computed.quantize(),
        minimum=minimum.quantize(),
        amount=amount.quantize(),
        source=source,
    )
