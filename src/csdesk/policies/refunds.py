"""Refund quotes: what to pay back, line by line, and from which tender, with every step shown.

`quote_refund` is pure. It reads the paid split fixed at placement (never today's prices), prorates
every part with cumulative rounding (`csdesk.money.prorate`), applies the shipping, fee and coupon
rules of a `RefundPolicy`, and splits the total over the tenders. Refunding every unit of an order,
in any sequence of partial refunds, returns exactly what was paid.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk import Customer, LineDraft, Money, Order, Payment
    >>> at = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)
    >>> order = Order.place(id="SO-1", customer=Customer(id="C-1"), placed_at=at,
    ...     lines=[LineDraft(sku="TC", name="thermos", quantity=5,
    ...                      unit_price=Money("349.99", "CNY"))],
    ...     order_discount=Money("524.98", "CNY"))
    >>> order.payments = (Payment(id="P-1", method="alipay", captured=order.total,
    ...                           captured_at=at),)
    >>> quote = quote_refund(order, lines={"1": 2}, reason="no_reason",
    ...                      policy=refund_policy("cn_default"), now=at,
    ...                      refunded=Refunded.of(order))
    >>> quote.total, quote.lines[0].coupon_share
    (Money('489.99', 'CNY'), Money('209.99', 'CNY'))

What was refunded before is a required `Refunded`, built from the order and its earlier refunds
(`Refunded.of`), never a pair of optional figures a caller could forget:

    >>> Refunded.of(order).after(quote).units
    {'1': 2}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction
from functools import cache
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, field_validator

from csdesk._checks import checked, parse_enum
from csdesk._model import CsdeskModel, require_aware
from csdesk.decision import Decided, Policy, Step, load_policy, step
from csdesk.errors import (
    CurrencyMismatchError,
    InvalidAmountError,
    InvalidInputError,
    OverRefundError,
    QuantityError,
)
from csdesk.ledger import PaymentLedger
from csdesk.models import Order, Payment, PaymentMethod, Refund, RefundState, StatutoryBasis
from csdesk.money import Money, Rounding, allocate, prorate_many

__all__ = [
    "LineRefund",
    "RefundPolicy",
    "RefundQuote",
    "RefundReason",
    "Refunded",
    "TenderShare",
    "quote_refund",
    "refund_policy",
]


class RefundReason(StrEnum):
    """Why money goes back. The seller's faults refund outbound shipping and never carry fees."""

    NO_REASON = "no_reason"
    FAULTY = "faulty"
    WRONG_ITEM = "wrong_item"
    NOT_DELIVERED = "not_delivered"
    SELLER_CANCELED = "seller_canceled"
    OUT_OF_STOCK = "out_of_stock"
    PRICE_ADJUSTMENT = "price_adjustment"
    GOODWILL = "goodwill"

    @property
    def seller_fault(self) -> bool:
        """Whether the shop is at fault (shipping refunded, no fees)."""
        return self in {
            RefundReason.FAULTY,
            RefundReason.WRONG_ITEM,
            RefundReason.NOT_DELIVERED,
            RefundReason.SELLER_CANCELED,
            RefundReason.OUT_OF_STOCK,
        }


class RefundPolicy(Policy):
    """How a shop refunds, as data.

    Attributes:
        shipping: Outbound shipping on returns the customer chose: ``none``, ``proportional``
            (each unit's share) or ``full_if_last_item`` (all of it with the last unit). Refunded
            anyway, and at most once in total, when the shop is at fault.
        restocking_fee_percent: Of the goods refunded; never on statutory returns.
        return_label_fee: A flat fee for a prepaid return label; never on statutory returns.
        fee_rounding: How fees round to the minor unit.
        tender_split: ``proportional`` to what each tender paid (largest remainder; the CN
            default, Interim Measures art. 14(2)) or ``priority`` in ``tender_priority`` order.
        restore_coupon_on_full_return: Give the coupon back when the whole order comes back and it
            is still valid (Interim Measures art. 15); it is never paid out in cash.
        premium_delivery: ``standard_only``: when the customer chose a premium delivery
            (`csdesk.models.Order.standard_shipping_fee` set), a return the shop is not at fault
            for refunds at most the cheapest standard delivery (CRD art. 13(2), CCR
            reg. 34(7)); ``refund``: the delivery as paid.
        threshold_discounts: ``settle_at_price``: when a return leaves the goods kept below the
            order's `csdesk.models.Order.discount_threshold` (a "300 off 50" the rest no longer
            reaches), the goods kept are settled at their price without the order discount, and
            the refund is that much smaller (CN Interim Measures art. 17(2)); ``keep``: they keep
            their share of it.
        free_shipping_deduction: Whether a return the customer chose (not the shop's fault)
            that leaves the goods kept below the order's
            `csdesk.models.Order.free_shipping_threshold` deducts the shipping it had waived
            (CN Interim Measures art. 18(2)): once, when the goods kept first fall below it.
        gifts_not_returned: A free gift (`csdesk.models.OrderLine.gift_of`) goes back with its
            main line; ``deduct``: a refund of main units whose gifts do not come back deducts
            the gifts' marked value (CN Interim Measures art. 15: a gift that cannot be returned
            may be charged at its marked price); ``refuse``: the quote is refused until the
            gifts are in it.
        bundles: Lines of one bundle (套装, `csdesk.models.OrderLine.bundle`): ``as_unit``
            refunds whole sets only (every component in the same share); ``by_component``
            refunds any units of any component, each at its paid share.
    """

    shipping: Literal["none", "proportional", "full_if_last_item"]
    restocking_fee_percent: Decimal = Field(default=Decimal(0), ge=0, le=100)
    return_label_fee: Money | None = None
    fee_rounding: Rounding = "ROUND_HALF_UP"
    tender_split: Literal["proportional", "priority"] = "proportional"
    tender_priority: tuple[PaymentMethod, ...] = ()
    restore_coupon_on_full_return: bool = True
    premium_delivery: Literal["refund", "standard_only"] = "refund"
    threshold_discounts: Literal["keep", "settle_at_price"] = "keep"
    free_shipping_deduction: bool = False
    gifts_not_returned: Literal["deduct", "refuse"] = "deduct"
    bundles: Literal["as_unit", "by_component"] = "as_unit"

    @field_validator("restocking_fee_percent", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError(f"restocking_fee_percent {value!r} is a float; write it as a string")
        return value


@checked
@cache
def refund_policy(name: str) -> RefundPolicy:
    """A built-in refund policy: ``cn_default``, ``eu_default``, ``uk_default``, ``generic``."""
    return load_policy(RefundPolicy, name, kind="refunds")


class LineRefund(CsdeskModel):
    """One line's part of a refund, from its paid split.

    Attributes:
        list_price: The units' share of the list price.
        line_discount: Their share of the line's own discount.
        coupon_share: Their share of order-level discounts: kept, never paid out in cash.
        tax: The tax in (or on) the goods' amount (the shipping's tax is the quote's
            ``shipping_tax``).
        amount: What the customer gets back for the goods.
        tax_percent: The line's tax rate, when the order knows it.
    """

    line_id: str
    units: int
    already: int
    list_price: Money
    line_discount: Money
    coupon_share: Money
    tax: Money
    shipping_share: Money
    amount: Money
    tax_percent: Decimal | None = None


class TaxShare(CsdeskModel):
    """The tax in a refund's goods and shipping at one rate (a credit note's tax line).

    Attributes:
        percent: The rate (``None``: the order does not say).
        net: The amount refunded at that rate, without the tax.
        tax: The tax in it (or on it, with tax-exclusive prices).
    """

    percent: Decimal | None
    net: Money
    tax: Money


class TenderShare(CsdeskModel):
    """How much of the refund goes back to one tender."""

    payment_id: str
    method: PaymentMethod
    amount: Money
    refundable: Money


class RefundQuote(Decided):
    """A refund, computed and explained, in the decision envelope; nothing has moved yet.

    Attributes:
        goods: The lines' amounts together.
        shipping: Outbound shipping refunded with this refund.
        shipping_tax: The tax in that shipping (with tax-exclusive prices: on it, and refunded
            with it).
        discount_lost: Deducted: the order discount the goods kept no longer earn
            (``threshold_discounts``).
        gift_deduction: Deducted: the marked value of gifts that did not come back with their
            main units (``None`` when nothing was deducted).
        waived_shipping: Deducted: the shipping a free-shipping threshold had waived
            (``free_shipping_deduction``).
        restocking_fee: Deducted; zero on statutory returns and seller faults.
        label_fee: Deducted for a prepaid return label; same exemptions.
        coupon_retained: The coupon value of these units, kept by the shop (not cash).
        coupon_restored: The coupon given back because the whole order came back.
        total: What goes back to the customer's tenders.
        maximum_refundable: What the tenders have left to refund, before this quote.
        tenders: The total split over the tenders.
        taxes: The tax in the goods and shipping refunded, per rate (deductions are not split
            by rate).
    """

    answer_field: ClassVar[str] = "total"

    order_id: str
    currency: str
    reason: RefundReason
    basis: StatutoryBasis
    lines: tuple[LineRefund, ...]
    goods: Money
    shipping: Money
    restocking_fee: Money
    label_fee: Money
    coupon_retained: Money
    coupon_restored: Money
    total: Money
    maximum_refundable: Money
    tenders: tuple[TenderShare, ...]
    shipping_tax: Money | None = None
    discount_lost: Money | None = None
    waived_shipping: Money | None = None
    gift_deduction: Money | None = None
    taxes: tuple[TaxShare, ...] = ()

    @property
    def units(self) -> dict[str, int]:
        """Units per line id in this refund."""
        return {line.line_id: line.units for line in self.lines}


_SPENT = frozenset({RefundState.CANCELED, RefundState.REVERSED})


class Refunded(CsdeskModel):
    """What an order has refunded so far, from every source: units per line and shipping.

    Build it with `Refunded.of` (the order's own cancellations and its earlier refunds) and,
    across several quotes before any refund is stored (a batch), with `Refunded.after`. A quote
    checks it counts at least the order's cancellations, so an order's history cannot be left out
    by accident.

    Attributes:
        units: Units per line id already refunded.
        shipping: Outbound shipping already refunded (None for none).
    """

    units: dict[str, Annotated[int, Field(ge=0)]] = Field(default_factory=dict)
    shipping: Money | None = None

    @classmethod
    def of(cls, order: Order, refunds: Sequence[Refund] = ()) -> Refunded:
        """The order's cancellations plus its ``refunds`` that still stand (each request once).

        A request split over several tenders made one refund per tender, all with the same
        ``request_key``: its units and shipping count once. Canceled and reversed refunds do not
        count.
        """
        units: dict[str, int] = dict(order.canceled_units)
        shipping: Money | None = None
        for line_id, count in order.canceled_units.items():
            share = order.line(line_id).refund_split(units=count).shipping
            shipping = share if shipping is None else shipping + share
        seen: set[str] = set()
        for refund in refunds:
            if refund.order_id != order.id:
                raise InvalidInputError(
                    f"refund {refund.id} belongs to order {refund.order_id}, not {order.id}"
                )
            if refund.state in _SPENT or refund.request_key in seen:
                continue
            seen.add(refund.request_key)
            for line_id, count in refund.lines.items():
                units[line_id] = units.get(line_id, 0) + count
            if refund.shipping is not None:
                shipping = refund.shipping if shipping is None else shipping + refund.shipping
        return cls(units=units, shipping=shipping)

    def after(self, quote: RefundQuote) -> Refunded:
        """This history once ``quote`` is refunded too."""
        units = dict(self.units)
        for line_id, count in quote.units.items():
            units[line_id] = units.get(line_id, 0) + count
        shipping = self.shipping
        if not quote.shipping.is_zero:
            shipping = quote.shipping if shipping is None else shipping + quote.shipping
        return Refunded(units=units, shipping=shipping)


def _units(order: Order, lines: Mapping[str, int], refunded: Mapping[str, int]) -> dict[str, int]:
    by_id = {line.id: line for line in order.lines}
    wanted: dict[str, int] = {}
    for line_id, units in lines.items():
        line = by_id.get(line_id) or order.line(line_id)
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise QuantityError(f"units for line {line_id} must be an int >= 0, got {units!r}")
        done = refunded.get(line_id, 0)  # counts the cancellations (`_history` checks)
        if done + units > line.quantity:
            raise QuantityError(
                f"line {line_id} has {line.quantity - done} unit(s) left to refund, not {units}"
            )
        if units:
            wanted[line_id] = units
    return wanted


def _line_refunds(
    order: Order, wanted: Mapping[str, int], refunded: Mapping[str, int], trace: list[Step]
) -> list[LineRefund]:
    by_id = {line.id: line for line in order.lines}
    result: list[LineRefund] = []
    for line_id, units in wanted.items():
        line = by_id[line_id]
        already = refunded.get(line_id, 0)
        ld, od, ship, tax, goods = line.split.prorated_parts(
            quantity=line.quantity, already=already, units=units
        )
        amount = goods if order.tax_included else goods + tax
        result.append(
            LineRefund(
                line_id=line_id,
                units=units,
                already=already,
                list_price=goods + ld + od,
                line_discount=ld,
                coupon_share=od,
                tax=tax,
                shipping_share=ship,
                amount=amount,
                tax_percent=line.tax_percent,
            )
        )
    goods_total = sum((line.amount for line in result), Money.zero(order.currency))
    trace.append(
        step(
            "lines",
            "refund.lines",
            lines=len(result),
            tax_included=order.tax_included,
            amount=goods_total,
        )
    )
    return result


def _is_full_return(order: Order, wanted: Mapping[str, int], refunded: Mapping[str, int]) -> bool:
    return all(
        refunded.get(line.id, 0) + wanted.get(line.id, 0) == line.quantity for line in order.lines
    )


def _shipping(
    order: Order,
    policy: RefundPolicy,
    reason: RefundReason,
    lines: Sequence[LineRefund],
    full: bool,
    already: Money,
    trace: list[Step],
    basis: StatutoryBasis = StatutoryBasis.NONE,
) -> Money:
    zero = Money.zero(order.currency)
    remaining = order.shipping_fee - already
    shares = sum((line.shipping_share for line in lines), zero)
    fault = reason.seller_fault or basis.is_nonconformity
    if fault or policy.shipping == "proportional":
        amount = remaining if full else shares
        why = "seller_fault" if fault else "proportional"
    elif policy.shipping == "full_if_last_item" and full:
        amount, why = remaining, "last_item"
    else:
        amount, why = zero, policy.shipping
    amount = min(amount, remaining)
    standard = order.standard_shipping_fee
    if standard is not None and policy.premium_delivery == "standard_only" and not fault:
        room = max(standard - already, zero)
        if amount > room:
            trace.append(step("shipping", "refund.premium_delivery", standard=standard,
                              paid=order.shipping_fee, amount=room))  # fmt: skip
            amount = room
    trace.append(
        step(
            "shipping",
            "refund.shipping",
            why=why,
            remaining=remaining,
            fee=order.shipping_fee,
            amount=amount,
        )
    )
    return amount


def _shipping_tax(order: Order, shipping: Money, already: Money) -> Money:
    """The tax in ``shipping`` refunded after ``already``.

    The order's shipping tax, prorated by the fee in minor units (cumulative rounding: every cent
    of it once, in any sequence).
    """
    total, fee = order.shipping_tax, order.shipping_fee
    if total.is_zero or shipping.is_zero or fee.is_zero:
        return Money.zero(order.currency)
    (share,) = prorate_many(
        (total,),
        quantity=fee.minor_units,
        already=min(already.minor_units, fee.minor_units - shipping.minor_units),
        units=shipping.minor_units,
    )
    return share


def _kept(order: Order, refunded: Mapping[str, int], *, before_discount: bool) -> Money:
    """The goods kept when ``refunded`` units per line have come back.

    ``before_discount``: at their price after line discounts, on the lines the order discount
    applied to (what a full-reduction threshold measures); else at what was paid for them after
    every discount, on every line (what a free-shipping threshold measures).
    """
    kept = Money.zero(order.currency)
    for line in order.lines:
        split = line.split
        if before_discount and split.order_discount.is_zero:
            continue
        price = split.list_price - split.line_discount
        if not before_discount:
            price = price - split.order_discount
        (gone,) = prorate_many(
            (price,), quantity=line.quantity, already=0, units=refunded.get(line.id, 0)
        )
        kept = kept + price - gone
    return kept


def _discount_kept(order: Order, refunded: Mapping[str, int]) -> Money:
    """The order discount on the goods kept: what they lose below the threshold."""
    zero = Money.zero(order.currency)
    threshold = order.discount_threshold
    if threshold is None or _kept(order, refunded, before_discount=True) >= threshold:
        return zero
    lost = zero
    for line in order.lines:
        (gone,) = prorate_many(
            (line.split.order_discount,),
            quantity=line.quantity,
            already=0,
            units=refunded.get(line.id, 0),
        )
        lost = lost + line.split.order_discount - gone
    return lost


def _thresholds(
    order: Order,
    policy: RefundPolicy,
    before: Mapping[str, int],
    wanted: Mapping[str, int],
    fault: bool,
    trace: list[Step],
) -> tuple[Money, Money]:
    """What the goods kept lose with this return.

    The order discount a full-reduction threshold no longer grants (negative: given back, as
    goods that had lost it come back), and the shipping a free-shipping threshold no longer
    waives.
    """
    zero = Money.zero(order.currency)
    after = dict(before)
    for line_id, units in wanted.items():
        after[line_id] = after.get(line_id, 0) + units
    lost = zero
    if policy.threshold_discounts == "settle_at_price" and order.discount_threshold is not None:
        lost = _discount_kept(order, after) - _discount_kept(order, before)
        if not lost.is_zero:
            trace.append(step("thresholds", "refund.discount_lost", given_back=lost < zero,
                              threshold=order.discount_threshold, amount=abs(lost)))  # fmt: skip
    waived = zero
    threshold = order.free_shipping_threshold
    if policy.free_shipping_deduction and threshold is not None and not fault and wanted:
        was = _kept(order, before, before_discount=False)
        now = _kept(order, after, before_discount=False)
        if was >= threshold > now and order.waived_shipping is not None:
            waived = order.waived_shipping
            trace.append(step("thresholds", "refund.waived_shipping", threshold=threshold,
                              kept=now, amount=waived))  # fmt: skip
    return lost, waived


def _tax_shares(
    order: Order, lines: Sequence[LineRefund], shipping: Money, shipping_tax: Money
) -> tuple[TaxShare, ...]:
    groups: dict[Decimal | None, tuple[Money, Money]] = {}

    def add(percent: Decimal | None, net: Money, tax: Money) -> None:
        known = groups.get(percent)
        groups[percent] = (net, tax) if known is None else (known[0] + net, known[1] + tax)

    for line in lines:
        add(line.tax_percent, line.amount - line.tax, line.tax)
    if not shipping.is_zero:
        net = shipping - shipping_tax if order.tax_included else shipping
        add(order.shipping_tax_percent, net, shipping_tax)
    ordered = sorted(groups.items(), key=lambda item: (item[0] is None, item[0] or 0))
    return tuple(TaxShare(percent=rate, net=net, tax=tax) for rate, (net, tax) in ordered)


def _fees(
    policy: RefundPolicy,
    reason: RefundReason,
    basis: StatutoryBasis,
    goods: Money,
    cap: Money,
    trace: list[Step],
) -> tuple[Money, Money]:
    zero = Money.zero(goods.currency)
    has_fees = bool(policy.restocking_fee_percent) or policy.return_label_fee is not None
    if not has_fees:
        return zero, zero
    if basis.is_no_reason or basis.is_nonconformity:
        trace.append(step("fees", "refund.fees_waived_statutory", basis=basis.value))
        return zero, zero
    if reason.seller_fault:
        trace.append(step("fees", "refund.fees_waived_fault", reason=reason.value))
        return zero, zero
    restocking = (goods * policy.restocking_fee_percent / 100).quantize(policy.fee_rounding)
    label = policy.return_label_fee or zero
    if label.currency != goods.currency:
        raise CurrencyMismatchError(
            goods.currency, label.currency, operation="charge a label fee in"
        )
    restocking = min(restocking, cap)
    label = min(label, cap - restocking)
    trace.append(
        step(
            "fees",
            "refund.fees",
            percent=policy.restocking_fee_percent,
            restocking=restocking,
            rounding=policy.fee_rounding,
            label=label,
            amount=restocking + label,
        )
    )
    return restocking, label


def _refundable(order: Order, ledgers: Mapping[str, PaymentLedger] | None) -> dict[str, Money]:
    if ledgers is None:
        return {p.id: p.captured for p in order.payments}
    return {
        p.id: ledgers[p.id].refundable if p.id in ledgers else p.captured for p in order.payments
    }


def _tenders(
    order: Order,
    total: Money,
    policy: RefundPolicy,
    room: Mapping[str, Money],
    trace: list[Step],
) -> list[TenderShare]:
    payments = list(order.payments)
    if policy.tender_split == "priority":
        rank = {method: index for index, method in enumerate(policy.tender_priority)}
        payments.sort(key=lambda p: rank.get(p.method, len(rank)))
        shares = [Money.zero(order.currency)] * len(payments)
    else:
        shares = allocate(total, [p.captured for p in payments])
    shares = _fit(payments, shares, total, room)
    trace.append(
        step(
            "tenders",
            "refund.tenders",
            split=policy.tender_split,
            shares=[
                {"method": str(p.method), "amount": s}
                for p, s in zip(payments, shares, strict=True)
            ],
            amount=total,
        )
    )
    return [
        TenderShare(payment_id=p.id, method=p.method, amount=s, refundable=room[p.id])
        for p, s in zip(payments, shares, strict=True)
        if not s.is_zero
    ]


def _fit(
    payments: Sequence[Payment], shares: list[Money], total: Money, room: Mapping[str, Money]
) -> list[Money]:
    # Cap each tender at what it can still refund; hand the excess to the next tenders with room.
    fitted = [min(share, room[p.id]) for p, share in zip(payments, shares, strict=True)]
    excess = total - sum(fitted, Money.zero(total.currency))
    for index, payment in enumerate(payments):
        if excess.is_zero:
            break
        extra = min(excess, room[payment.id] - fitted[index])
        fitted[index] = fitted[index] + extra
        excess = excess - extra
    return fitted


def _bundles(
    order: Order,
    policy: RefundPolicy,
    wanted: Mapping[str, int],
    done: Mapping[str, int],
    trace: list[Step],
) -> None:
    """Under ``as_unit``, a bundle's components come back in whole sets (the same share each)."""
    sets: dict[str, list[Any]] = {}
    for line in order.lines:
        if line.bundle is not None:
            sets.setdefault(line.bundle, []).append(line)
    for bundle, members in sorted(sets.items()):
        asked = {line.id: wanted.get(line.id, 0) for line in members}
        if not any(asked.values()):
            continue
        if policy.bundles == "by_component":
            trace.append(step("lines", "refund.bundle_by_component", bundle=bundle,
                              lines=sorted(k for k, v in asked.items() if v)))  # fmt: skip
            continue
        # whole sets: after this refund, every component has the same share refunded
        shares = {
            line.id: Fraction(done.get(line.id, 0) + asked[line.id], line.quantity)
            for line in members
        }
        if len(set(shares.values())) != 1:
            need = ", ".join(f"line {line.id}: {line.quantity}" for line in members)
            raise QuantityError(
                f"bundle {bundle} is refunded as a unit under policy {policy.id}: return whole "
                f"sets, every component in the same share ({need} per order)"
            )
        trace.append(step("lines", "refund.bundle_as_unit", bundle=bundle,
                          lines=sorted(asked)))  # fmt: skip


def _gifts_kept(
    order: Order,
    policy: RefundPolicy,
    wanted: Mapping[str, int],
    done: Mapping[str, int],
    trace: list[Step],
) -> Money:
    """The marked value of gifts due back with the main units refunded but not in the refund."""
    zero = Money.zero(order.currency)
    kept = zero
    for gift in order.lines:
        if gift.gift_of is None or gift.gift_value is None:
            continue
        main = order.line(gift.gift_of)
        units = wanted.get(main.id, 0)
        if not units:
            continue
        before = done.get(main.id, 0)
        # Gifts go back in proportion to the main units, whole gifts only: all of them with
        # the last main unit.
        due = gift.quantity * (before + units) // main.quantity - gift.quantity * before // (
            main.quantity
        )
        returned = wanted.get(gift.id, 0)
        missing = max(due - returned, 0)
        if not missing:
            if due:
                trace.append(step("gifts", "refund.gift_returned", line=gift.id, units=due))
            continue
        if policy.gifts_not_returned == "refuse":
            raise QuantityError(
                f"line {gift.id} is a free gift with line {main.id}: {missing} unit(s) of it go "
                f"back with these {units} unit(s) (policy {policy.id}); add them to the refund"
            )
        value = gift.gift_value * missing
        kept += value
        trace.append(step("gifts", "refund.gift_kept", line=gift.id, units=missing,
                          value=gift.gift_value, amount=value))  # fmt: skip
    return kept


def _history(order: Order, refunded: Refunded) -> dict[str, int]:
    if refunded.shipping is not None and refunded.shipping.currency != order.currency:
        raise CurrencyMismatchError(order.currency, refunded.shipping.currency, operation="refund")
    short = {
        line_id: count
        for line_id, count in order.canceled_units.items()
        if refunded.units.get(line_id, 0) < count
    }
    if short:
        raise InvalidInputError(
            f"refunded counts fewer units than order {order.id} canceled ({short}): build it with "
            "Refunded.of(order, earlier_refunds), which counts the cancellations"
        )
    return dict(refunded.units)


@checked
def quote_refund(
    order: Order,
    *,
    lines: Mapping[str, int],
    reason: RefundReason | str,
    policy: RefundPolicy,
    now: datetime,
    refunded: Refunded,
    basis: StatutoryBasis | str = StatutoryBasis.NONE,
    ledgers: Mapping[str, PaymentLedger] | None = None,
    coupon_valid: bool = True,
    goodwill: Money | None = None,
) -> RefundQuote:
    """Compute a refund for some units of some lines (or a goodwill amount), with its trace.

    Args:
        order: The order, with its paid split and its payments.
        lines: Units to refund per line id (empty for a goodwill refund).
        reason: Why (`RefundReason`); the shop's faults refund shipping and carry no fees.
        policy: The shop's `RefundPolicy`.
        now: When the quote is made.
        refunded: What the order refunded before (`Refunded.of(order, earlier_refunds)`):
            units are refunded at most once, and so is the outbound shipping.
        basis: The statutory basis; statutory returns never carry fees.
        ledgers: The tenders' ledgers, for what each can still refund (default: all captured).
        coupon_valid: Whether the order's coupon could still be used, if the whole order returns.
        goodwill: A fixed amount to refund without goods coming back (compensation).

    Raises:
        QuantityError: more units than are left to refund on a line.
        InvalidInputError: ``refunded`` leaves out the order's own cancellations.
        OverRefundError: the total is more than the tenders can still refund; the message says
            how much can.
    """
    require_aware(now, "now")
    why = parse_enum(RefundReason, reason, "refund reason")
    ground = parse_enum(StatutoryBasis, basis, "statutory basis")
    zero = Money.zero(order.currency)
    done = _history(order, refunded)
    shipping_refunded = refunded.shipping
    trace: list[Step] = []
    wanted = _units(order, lines, done)
    _bundles(order, policy, wanted, done, trace)
    gifts_kept = _gifts_kept(order, policy, wanted, done, trace)
    refunds = _line_refunds(order, wanted, done, trace)
    goods = sum((line.amount for line in refunds), zero)
    if goodwill is not None:
        if goodwill.currency != order.currency:
            raise CurrencyMismatchError(order.currency, goodwill.currency, operation="refund")
        if goodwill <= zero or not goodwill.is_quantized:
            raise InvalidAmountError(
                f"a goodwill refund is a positive whole number of minor units, got {goodwill}",
                value=str(goodwill),
            )
        goods = goods + goodwill
        trace.append(step("lines", "refund.goodwill", reason=why.value, amount=goodwill))
    full = bool(wanted) and _is_full_return(order, wanted, done)
    shipping = _shipping(
        order, policy, why, refunds, full, shipping_refunded or zero, trace, ground
    )
    shipping_tax = _shipping_tax(order, shipping, shipping_refunded or zero)
    shipping_paid = shipping if order.tax_included else shipping + shipping_tax
    restocking, label = _fees(policy, why, ground, goods, goods + shipping_paid, trace)
    fault = why.seller_fault or ground.is_nonconformity
    lost, waived = _thresholds(order, policy, done, wanted, fault, trace)
    coupon_retained = sum((line.coupon_share for line in refunds), zero)
    coupon_restored = zero
    if full and policy.restore_coupon_on_full_return and not order.order_discount.is_zero:
        coupon_restored = order.order_discount if coupon_valid else zero
        code = "refund.coupon_restored" if coupon_valid else "refund.coupon_expired"
        trace.append(step("coupon", code, amount=coupon_restored))
    before_deductions = goods + shipping_paid - restocking - label
    deducted = lost + waived + gifts_kept
    if deducted > before_deductions:  # never below zero: the rest is not collected here
        trace.append(step("thresholds", "refund.deduction_capped", asked=deducted,
                          amount=before_deductions))  # fmt: skip
        gifts_kept = min(gifts_kept, before_deductions)
        waived = min(waived, before_deductions - gifts_kept)
        lost = before_deductions - gifts_kept - waived
    total = before_deductions - lost - waived - gifts_kept
    room = _refundable(order, ledgers)
    maximum = sum(room.values(), zero)
    trace.append(
        step(
            "total",
            "refund.total",
            goods=goods,
            shipping=shipping_paid,
            fees=restocking + label + lost + waived + gifts_kept,
            maximum=maximum,
            amount=total,
        )
    )
    if total > maximum or (total.is_zero and not refunds) or total < zero:
        raise OverRefundError(f"order {order.id}", requested=total, refundable=maximum)
    tenders = _tenders(order, total, policy, room, trace) if not total.is_zero else []
    return RefundQuote.made(
        order_id=order.id,
        currency=order.currency,
        reason=why,
        basis=ground,
        lines=tuple(refunds),
        goods=goods,
        shipping=shipping,
        restocking_fee=restocking,
        label_fee=label,
        coupon_retained=coupon_retained,
        coupon_restored=coupon_restored,
        total=total,
        maximum_refundable=maximum,
        tenders=tuple(tenders),
        shipping_tax=shipping_tax,
        discount_lost=lost,
        waived_shipping=waived,
        gift_deduction=gifts_kept if not gifts_kept.is_zero else None,
        taxes=_tax_shares(order, refunds, shipping, shipping_tax),
        trace=trace,
        policy=policy.ref,
        decided_at=now,
        inputs=(
            order,
            sorted(wanted.items()),
            why.value,
            ground.value,
            sorted(done.items()),
            shipping_refunded,
            None if ledgers is None else sorted((k, v.refundable) for k, v in ledgers.items()),
            coupon_valid,
            goodwill,
        ),
    )
