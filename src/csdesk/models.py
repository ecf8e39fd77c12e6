"""The shared models: customers, orders and their lines, payments and shipments.

Every model is pydantic v2, immutable unless a workflow must move it (`Order` carries a ``state``
and a ``version``), and accepts timezone-aware datetimes only: a naive one is refused with a
`csdesk.errors.NaiveDatetimeError` that names the field.

The heart of this module is `Order.place`: at placement it splits what the customer actually pays
for each line into list price, line discount, allocated order-level discount, allocated shipping and
tax (`PaidSplit`), with `csdesk.money.allocate`, so the split conserves every total to the minor
unit. That stored split is what every later refund uses; it is never recomputed from whatever
promotions run on the day of the refund.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, ConfigDict, Field, field_validator, model_validator

from csdesk._locale import get_locale
from csdesk._model import CsdeskModel, require_aware
from csdesk.errors import (
    CurrencyMismatchError,
    InvalidInputError,
    InvalidOrderError,
    PrecisionError,
)
from csdesk.money import Money, allocate, prorate
from csdesk.privacy import mask_address, mask_email, mask_name, mask_phone

__all__ = [
    "Customer",
    "CustomerTier",
    "LineDraft",
    "Order",
    "OrderLine",
    "PaidSplit",
    "Payment",
    "PaymentMethod",
    "Shipment",
]

Id = Annotated[str, Field(min_length=1, max_length=128)]


class CustomerTier(StrEnum):
    """Membership tiers; the seeds' silver / gold / diamond (银卡-金卡-钻卡) plus regular."""

    REGULAR = "regular"
    SILVER = "silver"
    GOLD = "gold"
    DIAMOND = "diamond"


class Customer(CsdeskModel):
    """A customer as the desk sees them.

    Contact fields are customer data: ``repr()`` and `masked` show them masked; read the attribute
    itself when you need the raw value.

    Examples:
        >>> customer = Customer(id="c-1", tier="gold", name="张三丰", phone="13812345678")
        >>> customer
        Customer(id='c-1', tier=<CustomerTier.GOLD: 'gold'>, locale='zh-CN', time_zone='Asia/Shanghai', name='张**', phone='138****5678', email=None, address=None)
    """  # noqa: E501

    id: Id
    tier: CustomerTier = CustomerTier.REGULAR
    locale: str = "zh-CN"
    time_zone: str = "Asia/Shanghai"
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None

    @field_validator("locale")
    @classmethod
    def _known_locale(cls, value: str) -> str:
        get_locale(value)
        return value

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown IANA time zone {value!r}; use a name such as 'Asia/Shanghai'"
            ) from None
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The customer's time zone."""
        return ZoneInfo(self.time_zone)

    @property
    def masked(self) -> dict[str, str | None]:
        """The contact fields, masked for logs, traces and reports."""
        return {
            "name": None if self.name is None else mask_name(self.name),
            "phone": None if self.phone is None else mask_phone(self.phone),
            "email": None if self.email is None else mask_email(self.email),
            "address": None if self.address is None else mask_address(self.address),
        }

    def __repr_args__(self) -> Any:
        masked = self.masked
        for key, value in super().__repr_args__():
            yield key, (masked.get(key, value) if key else value)


class PaymentMethod(StrEnum):
    """How a tender was paid."""

    ALIPAY = "alipay"
    WECHAT_PAY = "wechat_pay"
    UNIONPAY = "unionpay"
    CARD = "card"
    BANK_TRANSFER = "bank_transfer"
    STORE_CREDIT = "store_credit"
    GIFT_CARD = "gift_card"
    POINTS = "points"
    CASH_ON_DELIVERY = "cash_on_delivery"


class Payment(CsdeskModel):
    """One tender of an order: a captured amount by one method.

    Attributes:
        reference: The payment provider's reference (transaction id).
    """

    id: Id
    method: PaymentMethod
    captured: Money
    captured_at: AwareDatetime
    reference: str | None = None

    @field_validator("captured")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if value.is_zero or value < Money.zero(value.currency) or not value.is_quantized:
            raise ValueError(
                f"captured must be a positive whole number of minor units, got {value}"
            )
        return value


class Shipment(CsdeskModel):
    """A parcel: carrier, tracking number, promised and actual delivery.

    Attributes:
        lines: Units per order line id in this parcel; empty means the whole order.
    """

    id: Id
    carrier: str = Field(min_length=1)
    tracking_number: str = Field(min_length=1)
    lines: dict[str, Annotated[int, Field(gt=0)]] = Field(default_factory=dict)
    shipped_at: AwareDatetime | None = None
    promised_delivery: AwareDatetime | None = None
    delivered_at: AwareDatetime | None = None

    def delay(self, *, now: datetime) -> timedelta:
        """How late the parcel is (or was, once delivered); zero when on time or no promise.

        Examples:
            >>> from datetime import datetime, timezone
            >>> parcel = Shipment(id="s-1", carrier="SF", tracking_number="SF1",
            ...     promised_delivery=datetime(2026, 3, 5, tzinfo=timezone.utc))
            >>> parcel.delay(now=datetime(2026, 3, 8, 12, tzinfo=timezone.utc))
            datetime.timedelta(days=3, seconds=43200)
        """
        require_aware(now, "now")
        if self.promised_delivery is None:
            return timedelta(0)
        arrived = self.delivered_at or now
        return max(arrived - self.promised_delivery, timedelta(0))


class PaidSplit(CsdeskModel):
    """What one line cost, split into its parts; fixed at placement.

    ``paid = list_price - line_discount - order_discount + shipping`` plus ``tax`` when prices
    exclude tax. With tax-inclusive prices (the norm in China and the EU) ``tax`` is the part of the
    paid amount that is tax, reported for refunds and credit notes.

    Attributes:
        list_price: Unit list price × quantity.
        line_discount: Discounts on this line alone.
        order_discount: This line's share of order-level discounts (coupons, vouchers).
        shipping: This line's share of the outbound shipping fee.
        tax: This line's share of the order's tax.
        tax_included: Whether ``tax`` is already inside the prices.
    """

    list_price: Money
    line_discount: Money
    order_discount: Money
    shipping: Money
    tax: Money
    tax_included: bool = True

    @model_validator(mode="after")
    def _one_currency(self) -> Self:
        currency = self.list_price.currency
        for name in ("line_discount", "order_discount", "shipping", "tax"):
            part: Money = getattr(self, name)
            if part.currency != currency:
                raise CurrencyMismatchError(currency, part.currency, operation=f"split {name}")
            if part < Money.zero(currency) or not part.is_quantized:
                raise ValueError(f"{name} must be >= 0 and in whole minor units, got {part}")
        if self.line_discount + self.order_discount > self.list_price:
            raise ValueError(
                f"discounts {self.line_discount + self.order_discount} exceed the list price "
                f"{self.list_price}"
            )
        return self

    @property
    def paid(self) -> Money:
        """What the customer paid for this line."""
        paid = self.list_price - self.line_discount - self.order_discount + self.shipping
        return paid if self.tax_included else paid + self.tax

    def prorate(self, *, quantity: int, already: int, units: int) -> PaidSplit:
        """The split of ``units`` more units of a ``quantity``-unit line after ``already``.

        The goods after discounts, the line discount, the order discount, shipping and tax are
        each prorated with `csdesk.money.prorate`; the list-price share is goods plus discounts.
        So every part of a partial refund is never negative and within a minor unit of its exact
        share (the list price within three), discounts never exceed the list price, and
        refunding every unit, in any sequence, returns every part of the split exactly.

        Examples:
            >>> cny = lambda amount: Money(amount, "CNY")
            >>> split = PaidSplit(list_price=cny("1749.95"), line_discount=cny("0"),
            ...     order_discount=cny("524.98"), shipping=cny("0"), tax=cny("140.93"))
            >>> part = split.prorate(quantity=5, already=0, units=2)
            >>> part.paid, part.order_discount, part.tax
            (Money('489.99', 'CNY'), Money('209.99', 'CNY'), Money('56.37', 'CNY'))
        """

        def share(amount: Money) -> Money:
            return prorate(amount, quantity=quantity, already=already, units=units)

        goods = self.list_price - self.line_discount - self.order_discount
        line_discount = share(self.line_discount)
        order_discount = share(self.order_discount)
        return PaidSplit(
            list_price=share(goods) + line_discount + order_discount,
            line_discount=line_discount,
            order_discount=order_discount,
            shipping=share(self.shipping),
            tax=share(self.tax),
            tax_included=self.tax_included,
        )


class OrderLine(CsdeskModel):
    """One line of a placed order, with its paid split.

    Attributes:
        unit_price: List price of one unit.
        split: What the line cost, fixed at placement (see `PaidSplit`).
    """

    id: Id
    sku: Id
    name: str
    quantity: Annotated[int, Field(gt=0)]
    unit_price: Money
    split: PaidSplit

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.unit_price * self.quantity != self.split.list_price:
            raise ValueError(
                f"split.list_price {self.split.list_price} is not unit_price × quantity "
                f"({self.unit_price} × {self.quantity})"
            )
        return self

    @property
    def paid(self) -> Money:
        """What the customer paid for the whole line."""
        return self.split.paid

    def refund_split(self, *, units: int, already: int = 0) -> PaidSplit:
        """The paid split of ``units`` units when ``already`` units were refunded before.

        Raises:
            QuantityError: the unit counts do not fit the line.
        """
        return self.split.prorate(quantity=self.quantity, already=already, units=units)


class LineDraft(CsdeskModel):
    """A line as the host hands it to `Order.place`, before any allocation.

    Attributes:
        id: The line id; defaults to its 1-based position.
        line_discount: A discount on this line alone (e.g. a product promotion).
        discountable: Whether order-level discounts may apply to it (gift cards are not).
        tax: This line's tax when the host's tax engine computes tax per line (lines at different
            rates); give it on every line or on none, and then pass the order's ``tax`` instead.
    """

    id: str | None = None
    sku: Id
    name: str
    quantity: Annotated[int, Field(gt=0)]
    unit_price: Money
    line_discount: Money | None = None
    discountable: bool = True
    tax: Money | None = None


class Order(CsdeskModel):
    """A placed order. Build one with `Order.place`.

    ``state`` and ``version`` are the only fields that change after placement; workflows move them
    (the state string is what the host stores; ``version`` increments once per successful command,
    for compare-and-swap persistence).
    """

    model_config = ConfigDict(frozen=False, validate_assignment=True)

    id: Id
    customer: Customer
    currency: str
    placed_at: AwareDatetime
    lines: tuple[OrderLine, ...] = Field(min_length=1)
    shipping_fee: Money
    order_discount: Money
    tax: Money
    tax_included: bool = True
    payments: tuple[Payment, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    pay_by: AwareDatetime | None = None
    state: str = "pending_payment"
    version: Annotated[int, Field(ge=0)] = 0

    @model_validator(mode="after")
    def _conserved(self) -> Self:
        Money.zero(self.currency)
        for line in self.lines:
            if line.unit_price.currency != self.currency:
                raise CurrencyMismatchError(self.currency, line.unit_price.currency)
            if line.split.tax_included != self.tax_included:
                raise ValueError(f"line {line.id}: split.tax_included differs from the order's")
        ids = [line.id for line in self.lines]
        if len(set(ids)) != len(ids):
            raise ValueError(f"line ids must be unique, got {ids}")
        for name in ("order_discount", "shipping", "tax"):
            total: Money = getattr(self, "shipping_fee" if name == "shipping" else name)
            parts = sum(
                (getattr(line.split, name) for line in self.lines), Money.zero(total.currency)
            )
            if parts != total:
                raise ValueError(f"the lines' {name} shares sum to {parts}, not {total}")
        return self

    @property
    def total(self) -> Money:
        """What the customer pays for the whole order."""
        return sum((line.paid for line in self.lines), Money.zero(self.currency))

    @property
    def captured(self) -> Money:
        """What the payments have captured so far."""
        return sum((p.captured for p in self.payments), Money.zero(self.currency))

    def line(self, line_id: str) -> OrderLine:
        """The line with this id.

        Raises:
            InvalidInputError: no line has that id.
        """
        for line in self.lines:
            if line.id == line_id:
                return line
        known = ", ".join(line.id for line in self.lines)
        raise InvalidInputError(f"order {self.id} has no line {line_id!r}; its lines are {known}")

    @classmethod
    def place(
        cls,
        *,
        id: str,
        customer: Customer,
        lines: Sequence[LineDraft | Mapping[str, Any]],
        placed_at: datetime,
        shipping_fee: Money | None = None,
        order_discount: Money | None = None,
        tax: Money | None = None,
        tax_included: bool = True,
        pay_by: datetime | None = None,
    ) -> Order:
        """Place an order: allocate order-level amounts to lines and fix each line's paid split.

        The order-level discount goes to discountable lines in proportion to their price after line
        discounts; shipping to all lines in proportion to their price after all discounts; tax in
        proportion to price plus shipping, unless each line brings its own tax. Each split is
        `csdesk.money.allocate` (largest remainder, ties to the earlier line), so every total is
        conserved to the minor unit. Lines that are all free take shares by unit count.

        Args:
            id: The order id.
            customer: A snapshot of the customer.
            lines: `LineDraft`s (or mappings of their fields), in display order.
            placed_at: When the order was placed; timezone-aware.
            shipping_fee: Outbound shipping charged; default zero.
            order_discount: Order-level discounts (coupons, vouchers, full-reduction); default zero.
            tax: The order's tax as computed by the host's tax engine; default zero. Leave it
                out when the lines carry their own tax.
            tax_included: Whether prices include tax (CN, EU) or tax is added (US).
            pay_by: The payment deadline, if any.

        Raises:
            InvalidOrderError: no lines, duplicate ids, or discounts above what they apply to.
            CurrencyMismatchError: amounts in more than one currency.
            PrecisionError: an amount finer than the currency's minor unit.
            NaiveDatetimeError: ``placed_at`` or ``pay_by`` has no time zone.
        """
        require_aware(placed_at, "placed_at")
        if pay_by is not None:
            require_aware(pay_by, "pay_by")
        drafts = [d if isinstance(d, LineDraft) else LineDraft.model_validate(d) for d in lines]
        if not drafts:
            raise InvalidOrderError("an order needs at least one line", model="Order")
        currency = drafts[0].unit_price.currency
        zero = Money.zero(currency)
        ship = _amount(shipping_fee, zero, "shipping_fee")
        discount = _amount(order_discount, zero, "order_discount")
        tax_total = _amount(tax, zero, "tax")
        nets = [_net(draft, index, zero) for index, draft in enumerate(drafts)]
        discounts = _allocate_discount(discount, drafts, nets, zero)
        after = [net - share for net, share in zip(nets, discounts, strict=True)]
        shipping_shares = _allocate_by(ship, after, drafts)
        tax_shares, tax_total = _taxes(tax_total, drafts, after, shipping_shares, zero)
        order_lines = [
            OrderLine(
                id=draft.id or str(index + 1),
                sku=draft.sku,
                name=draft.name,
                quantity=draft.quantity,
                unit_price=draft.unit_price,
                split=PaidSplit(
                    list_price=draft.unit_price * draft.quantity,
                    line_discount=draft.line_discount or zero,
                    order_discount=discounts[index],
                    shipping=shipping_shares[index],
                    tax=tax_shares[index],
                    tax_included=tax_included,
                ),
            )
            for index, draft in enumerate(drafts)
        ]
        return cls(
            id=id,
            customer=customer,
            currency=currency,
            placed_at=placed_at,
            lines=tuple(order_lines),
            shipping_fee=ship,
            order_discount=discount,
            tax=tax_total,
            tax_included=tax_included,
            pay_by=pay_by,
        )


def _amount(value: Money | None, zero: Money, name: str) -> Money:
    if value is None:
        return zero
    if not isinstance(value, Money):
        raise InvalidOrderError(f"{name} must be Money, got {value!r}", model="Order")
    if value.currency != zero.currency:
        raise CurrencyMismatchError(zero.currency, value.currency, operation=f"place {name} in")
    if not value.is_quantized:
        raise PrecisionError(value.amount, value.currency, value.digits, what=name)
    if value < zero:
        raise InvalidOrderError(f"{name} must be >= 0, got {value}", model="Order")
    return value.quantize()  # exact here; only fixes the exponent, so 100 shows as 100.00


def _net(draft: LineDraft, index: int, zero: Money) -> Money:
    list_price = _amount(draft.unit_price, zero, f"lines[{index}].unit_price") * draft.quantity
    line_discount = _amount(draft.line_discount, zero, f"lines[{index}].line_discount")
    if line_discount > list_price:
        raise InvalidOrderError(
            f"lines[{index}].line_discount {line_discount} exceeds the line's list price "
            f"{list_price}",
            model="Order",
        )
    return list_price - line_discount


def _taxes(
    tax: Money,
    drafts: Sequence[LineDraft],
    after: Sequence[Money],
    shipping: Sequence[Money],
    zero: Money,
) -> tuple[list[Money], Money]:
    given = [draft.tax for draft in drafts if draft.tax is not None]
    if not given:
        bases = [a + s for a, s in zip(after, shipping, strict=True)]
        return _allocate_by(tax, bases, drafts), tax
    if len(given) != len(drafts) or not tax.is_zero:
        raise InvalidOrderError(
            "give tax either per line (on every line) or for the whole order, not both",
            model="Order",
        )
    shares = [_amount(draft.tax, zero, f"lines[{i}].tax") for i, draft in enumerate(drafts)]
    return shares, sum(shares, zero)


def _allocate_discount(
    discount: Money, drafts: Sequence[LineDraft], nets: Sequence[Money], zero: Money
) -> list[Money]:
    if discount.is_zero:
        return [zero] * len(drafts)
    weights = [net if draft.discountable else zero for draft, net in zip(drafts, nets, strict=True)]
    base = sum(weights, zero)
    if discount > base:
        raise InvalidOrderError(
            f"order_discount {discount} exceeds the discountable goods ({base})", model="Order"
        )
    return allocate(discount, weights)


def _allocate_by(
    amount: Money, weights: Sequence[Money], drafts: Sequence[LineDraft]
) -> list[Money]:
    if amount.is_zero:
        return [Money.zero(amount.currency)] * len(weights)
    if all(weight.is_zero for weight in weights):
        return allocate(amount, [draft.quantity for draft in drafts])
    return allocate(amount, weights)
