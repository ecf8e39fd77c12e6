"""Price protection (价保): the price dropped after purchase, the difference comes back.

A customer who bought at one price and sees the shop sell the same item lower within the
protection window claims the difference for each unit they still hold. `claim_price_protection`
checks the claim against a `PriceProtectionPolicy` (the window, counted from payment or sign-off;
the causes of a drop that do not count, such as a coupon or a 满减 promotion) and the price
history the host supplies (`PricePoint`), and answers with a `PriceProtectionClaim` in the
decision envelope: the unit price protected, the lower price, the units, the amount, and an
idempotency key per (line, price change), so the same drop is refunded once through the one
refund path (`csdesk.refund_desk.RefundDesk.request` with ``reason="price_adjustment"`` and the
claim's amount; `PriceProtectionClaim.refund_arguments` gives them).

A later, further drop is a new claim for the further difference only: earlier claims on the line
lower the price it protects. A late-delivery remedy may lengthen the window (延长保价): a
compensation offer with the ``price_protection`` instrument and ``protection_days``, passed as
``extensions``.

The preset ``jd_style`` follows JD's 价保 as reported: 30 days from payment, drops from coupons
and 满减 excluded, the difference for the purchased quantity. Its numbers are a platform's and
change by category and year: set your own.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk import Customer, LineDraft, Money, Order
    >>> paid = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
    >>> order = Order.place(id="SO-1", customer=Customer(id="C-1"), placed_at=paid,
    ...     lines=[LineDraft(sku="KETTLE", name="Kettle", quantity=2,
    ...                      unit_price=Money("199.00", "CNY"))])
    >>> drop = PricePoint(sku="KETTLE", price=Money("179.00", "CNY"),
    ...                   at=datetime(2026, 3, 10, 0, 0, tzinfo=timezone.utc))
    >>> claim = claim_price_protection(order, "1", prices=[drop], paid_at=paid,
    ...     policy=price_protection_policy("jd_style"),
    ...     now=datetime(2026, 3, 12, tzinfo=timezone.utc))
    >>> claim.eligible, str(claim.amount), claim.units
    (True, '40.00 CNY', 2)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, Field

from csdesk._checks import checked
from csdesk._model import CsdeskModel, require_aware
from csdesk.decision import Decided, Policy, Step, load_policy, step
from csdesk.errors import CurrencyMismatchError, InvalidInputError
from csdesk.models import Order
from csdesk.money import Money
from csdesk.policies.compensation.offers import Offer
from csdesk.policies.compensation.policy import Instrument
from csdesk.policies.refunds import Refunded

__all__ = [
    "PricePoint",
    "PriceProtectionClaim",
    "PriceProtectionPolicy",
    "claim_price_protection",
    "price_protection_policy",
]


class PricePoint(CsdeskModel):
    """The shop's selling price of a SKU from ``at`` on (one entry of the price history).

    Attributes:
        price: The unit price the shop sells at (the page price, before order coupons).
        cause: Why the price changed (``price_change``, ``coupon``, ``full_reduction`` for
            满减, ``flash_sale``, …); the policy excludes some causes.
    """

    sku: str = Field(min_length=1)
    price: Money
    at: AwareDatetime
    cause: str = Field(default="price_change", min_length=1, max_length=64)


class PriceProtectionPolicy(Policy):
    """How a shop protects prices (kind ``price_protection``).

    Attributes:
        window_days: Days the protection lasts.
        counts_from: ``paid`` (the payment) or ``signed`` (the sign-off): where the days start.
        excluded_causes: Drop causes that do not count (coupons, 满减, …).
    """

    window_days: int = Field(gt=0, le=365)
    counts_from: Literal["paid", "signed"] = "paid"
    excluded_causes: tuple[str, ...] = ()


class PriceProtectionClaim(Decided):
    """The answer of `claim_price_protection`, in the decision envelope.

    Attributes:
        eligible: Whether anything is refunded; the trace says why not.
        amount: The refund: (protected − lower price) × units; zero when not eligible.
        protected_price: The unit price protected: what was paid per unit on the page, or the
            price an earlier claim on this line brought it down to.
        lower_price: The lower price the claim uses (``None``: none found).
        price_changed_at: When that price took effect.
        units: Units still held (bought, less refunded and canceled).
        window_ends: The end of the protection window (extensions included).
        key: The idempotency key of this (line, price change): refund with it, once.
    """

    answer_field: ClassVar[str] = "amount"

    order_id: str
    line_id: str
    eligible: bool
    amount: Money
    protected_price: Money
    lower_price: Money | None
    price_changed_at: AwareDatetime | None
    units: int
    window_ends: AwareDatetime
    key: str

    def refund_arguments(self) -> dict[str, Any]:
        """Keyword arguments for `csdesk.refund_desk.RefundDesk.request` (add policy, actor, now).

        The one refund path, keyed so that the same price change refunds once.
        """
        if not self.eligible:
            raise InvalidInputError(
                f"the price protection claim on line {self.line_id} refunds nothing"
            )
        return {
            "order_id": self.order_id,
            "idempotency_key": self.key,
            "lines": {},
            "reason": "price_adjustment",
            "goodwill": self.amount,
        }


def _key(order_id: str, line_id: str, changed_at: datetime) -> str:
    text = "\x1f".join(("csdesk.price_protection", order_id, line_id, changed_at.isoformat()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _window(
    policy: PriceProtectionPolicy,
    start: datetime,
    extensions: Sequence[Offer],
    trace: list[Step],
) -> datetime:
    days = policy.window_days
    trace.append(step("window", "price.window", days=days, counts_from=policy.counts_from,
                      start=start))  # fmt: skip
    for offer in extensions:
        if offer.instrument is not Instrument.PRICE_PROTECTION or offer.protection_days is None:
            raise InvalidInputError(
                f"extension {offer.rule_id} is a {offer.instrument.value} offer, not "
                "price_protection"
            )
        days += offer.protection_days
        trace.append(step("window", "price.extended", rule=offer.rule_id,
                          days=offer.protection_days))  # fmt: skip
    return start + timedelta(days=days)


@checked
def claim_price_protection(
    order: Order,
    line_id: str,
    *,
    prices: Sequence[PricePoint],
    paid_at: datetime,
    policy: PriceProtectionPolicy,
    now: datetime,
    refunded: Refunded | None = None,
    earlier: Sequence[PriceProtectionClaim] = (),
    extensions: Sequence[Offer] = (),
) -> PriceProtectionClaim:
    """Check a price-protection claim on one line; the answer carries its trace.

    The lower price is the shop's current price of the line's SKU (the last ``prices`` entry at
    or before ``now``), if it took effect inside the window, after the purchase, for a cause the
    policy counts, and below the protected price.

    Args:
        order: The order; the line's page price per unit is ``unit_price`` less its line discount
            per unit (order coupons are not part of the page price).
        line_id: The line claimed.
        prices: The SKU's price history (any order; other SKUs are ignored).
        paid_at: When the order was paid (the window's start under ``counts_from = "paid"``).
        policy: The shop's `PriceProtectionPolicy`.
        now: When the customer claims.
        refunded: What the order refunded (`Refunded.of`): those units are no longer held.
        earlier: This line's earlier claims that were refunded: a further drop refunds only the
            further difference, and the same price change never twice.
        extensions: Extended price protection offers (延长保价) the order was granted.

    Raises:
        InvalidInputError: an unknown line, a naive time, an extension that is not price
            protection, an earlier claim of another line.
        CurrencyMismatchError: a price in another currency than the order's.
    """
    require_aware(now, "now")
    require_aware(paid_at, "paid_at")
    line = order.line(line_id)
    trace: list[Step] = []
    if policy.counts_from == "signed":
        start = order.delivered_at
        if start is None:
            raise InvalidInputError(
                f"policy {policy.id} counts from the sign-off, and order {order.id} has none yet"
            )
    else:
        start = paid_at
    ends = _window(policy, start, extensions, trace)
    page = (line.split.list_price - line.split.line_discount) / line.quantity
    protected = page.quantize()
    for claim in earlier:
        if claim.order_id != order.id or claim.line_id != line_id:
            raise InvalidInputError(
                f"earlier claim {claim.key} is for {claim.order_id} line {claim.line_id}"
            )
        if claim.eligible and claim.lower_price is not None and claim.lower_price < protected:
            protected = claim.lower_price
    # Refunded.of counts the order's cancellations; without it, count them here.
    gone = refunded.units.get(line_id, 0) if refunded else order.canceled_units.get(line_id, 0)
    units = max(line.quantity - gone, 0)
    trace.append(step("price", "price.protected", page=page.quantize(), protected=protected,
                      units=units))  # fmt: skip
    current: PricePoint | None = None
    for point in sorted((p for p in prices if p.sku == line.sku), key=lambda p: p.at):
        if point.price.currency != order.currency:
            raise CurrencyMismatchError(order.currency, point.price.currency, operation="compare")
        if point.at <= now:
            current = point
    zero = Money.zero(order.currency)
    refusal: tuple[str, dict[str, Any]] | None = None
    if current is None or current.at <= paid_at:
        refusal = ("price.no_change", {})
    elif current.at > ends:
        refusal = ("price.outside_window", {"at": current.at, "ends": ends})
    elif now > ends:
        refusal = ("price.claimed_late", {"now": now, "ends": ends})
    elif current.cause in policy.excluded_causes:
        refusal = ("price.excluded_cause", {"cause": current.cause})
    elif current.price >= protected:
        refusal = ("price.not_lower", {"price": current.price, "protected": protected})
    elif units == 0:
        refusal = ("price.no_units", {})
    elif any(c.price_changed_at == current.at for c in earlier if c.eligible):
        refusal = ("price.claimed", {"at": current.at})
    amount = zero
    if refusal is not None:
        code, params = refusal
        trace.append(step("result", code, **params))
    else:
        assert current is not None
        amount = ((protected - current.price) * units).quantize()
        trace.append(step("result", "price.difference", protected=protected,
                          price=current.price, units=units, amount=amount))  # fmt: skip
    changed_at = current.at if current is not None else start
    return PriceProtectionClaim.made(
        policy=policy.ref,
        trace=trace,
        decided_at=now,
        inputs=(order.id, line_id, tuple(prices), paid_at, refunded, tuple(earlier)),
        order_id=order.id,
        line_id=line_id,
        eligible=refusal is None,
        amount=amount,
        protected_price=protected,
        lower_price=current.price if current is not None else None,
        price_changed_at=current.at if current is not None else None,
        units=units,
        window_ends=ends,
        key=_key(order.id, line_id, changed_at),
    )


@checked
@cache
def price_protection_policy(name: str) -> PriceProtectionPolicy:
    """A built-in price-protection preset: ``jd_style`` (JD's 价保 as reported)."""
    return load_policy(PriceProtectionPolicy, name, kind="price_protection")
