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
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)

from csdesk._checks import checked
from csdesk._locale import get_locale
from csdesk._model import CsdeskModel, require_aware
from csdesk.errors import (
    CurrencyMismatchError,
    InvalidInputError,
    InvalidOrderError,
    PrecisionError,
)
from csdesk.money import Money, allocate, prorate_many
from csdesk.privacy import mask_address, mask_email, mask_name, mask_phone, scrub

__all__ = [
    "AfterSaleCase",
    "CaseLine",
    "CaseState",
    "CaseType",
    "Channel",
    "Condition",
    "Consent",
    "ContactAttempt",
    "Customer",
    "CustomerTier",
    "Duty",
    "ExchangeItem",
    "LineDraft",
    "Order",
    "OrderLine",
    "OrderState",
    "PaidSplit",
    "Payment",
    "PaymentMethod",
    "Refund",
    "RefundDestination",
    "RefundDue",
    "RefundState",
    "ReviewCase",
    "ReviewCaseState",
    "RootCause",
    "Satisfaction",
    "Shipment",
    "StatutoryBasis",
    "Ticket",
    "TicketCategory",
    "TicketPriority",
    "TicketState",
    "Transfer",
]

Id = Annotated[str, Field(min_length=1, max_length=128)]


def _percent(value: object) -> object:
    if isinstance(value, float):
        raise ValueError(
            f"a tax rate {value!r} is a float; give a Decimal or a string such as '19'"
        )
    return value


TaxPercent = Annotated[Decimal, BeforeValidator(_percent), Field(ge=0, le=100)]
"""A tax rate in percent (``Decimal("19")`` for 19 %), never a float."""


def _not_negative(value: Money) -> Money:
    if value < Money.zero(value.currency):
        raise ValueError(f"unit_price must be >= 0, got {value}; give discounts separately")
    return value


UnitPrice = Annotated[Money, AfterValidator(_not_negative)]
"""A list price of one unit: never negative (discounts are given separately)."""


class OrderState(StrEnum):
    """Where an order is in its lifecycle (`csdesk.workflows.OrderWorkflow`).

    Members are strings, so they store and compare as their values (``"processing"``).
    """

    PENDING_PAYMENT = "pending_payment"
    PROCESSING = "processing"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    COMPLETED = "completed"
    CLOSED = "closed"
    CANCELED = "canceled"


class CaseState(StrEnum):
    """Where an after-sale case is (`csdesk.workflows.AfterSaleWorkflow`)."""

    REQUESTED = "requested"
    APPROVED = "approved"
    AWAITING_RETURN = "awaiting_return"
    RETURN_IN_TRANSIT = "return_in_transit"
    RECEIVED = "received"
    RESOLVING = "resolving"
    RESOLVED = "resolved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    CANCELED = "canceled"


class RefundState(StrEnum):
    """Where one refund is (`csdesk.workflows.RefundWorkflow`)."""

    REQUESTED = "requested"
    PENDING_APPROVAL = "pending_approval"
    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"
    REVERSED = "reversed"


class TicketState(StrEnum):
    """Where a ticket is (`csdesk.workflows.TicketWorkflow`)."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


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


class RefundDestination(StrEnum):
    """Where a refund's money goes.

    ``original``: back to the tender it came from (原路退回; the EU's "same means of payment").
    The others need the customer's recorded `Consent` (CRD art. 13(1): "unless the consumer has
    expressly agreed otherwise").
    """

    ORIGINAL = "original"
    STORE_CREDIT = "store_credit"
    GIFT_CARD = "gift_card"
    OTHER_METHOD = "other_method"

    @property
    def immediate(self) -> bool:
        """Whether the money is there as soon as the refund succeeds (the shop's own balance)."""
        return self in {RefundDestination.STORE_CREDIT, RefundDestination.GIFT_CARD}


class Consent(CsdeskModel):
    """A customer's recorded agreement to be refunded other than to the tender that paid.

    Attributes:
        customer_id: Who agreed: the order's customer.
        destination: What they agreed to.
        method: For ``other_method``, which one (a bank transfer when the card is closed).
        given_at: When.
        channel: Where (``chat``, ``phone``, ``email``, ``app``…).
        evidence: The message, call recording or form that shows it; kept with the refund and on
            the ledger.
    """

    customer_id: Id
    destination: RefundDestination
    method: PaymentMethod | None = None
    given_at: AwareDatetime
    channel: str = Field(min_length=1, max_length=40)
    evidence: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _method_when_other(self) -> Self:
        if self.destination is RefundDestination.ORIGINAL:
            raise ValueError("no consent is needed to refund the original tender")
        if (self.destination is RefundDestination.OTHER_METHOD) != (self.method is not None):
            raise ValueError("give method with destination other_method, and only then")
        return self


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
    lines: dict[str, Annotated[int, Strict(), Field(gt=0)]] = Field(default_factory=dict)
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

    ``paid = list_price - line_discount - order_discount + shipping`` plus ``tax`` and
    ``shipping_tax`` when prices exclude tax. With tax-inclusive prices (the norm in China and the
    EU) they are the parts of the paid amount that are tax, reported for refunds and credit notes.
    The tax on the goods and the tax on the shipping are kept apart, so a refund that keeps the
    shipping keeps its tax too.

    Attributes:
        list_price: Unit list price × quantity.
        line_discount: Discounts on this line alone.
        order_discount: This line's share of order-level discounts (coupons, vouchers).
        shipping: This line's share of the outbound shipping fee.
        tax: The tax on this line's goods.
        tax_included: Whether ``tax`` is already inside the prices.
        shipping_tax: The tax on this line's share of the shipping (``None``: none, as in splits
            made before csdesk kept the two apart, whose ``tax`` holds both).
    """

    list_price: Money
    line_discount: Money
    order_discount: Money
    shipping: Money
    tax: Money
    tax_included: bool = True
    shipping_tax: Money | None = None

    @model_validator(mode="after")
    def _one_currency(self) -> Self:
        currency = self.list_price.currency
        for name in ("line_discount", "order_discount", "shipping", "tax", "shipping_tax"):
            part: Money | None = getattr(self, name)
            if part is None:
                continue
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
        return paid if self.tax_included else paid + self.tax + self.shipping_tax_amount

    @property
    def shipping_tax_amount(self) -> Money:
        """``shipping_tax``, zero when there is none."""
        if self.shipping_tax is None:
            return Money.zero(self.list_price.currency)
        return self.shipping_tax

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
        line_discount, order_discount, shipping, tax, goods = self.prorated_parts(
            quantity=quantity, already=already, units=units
        )
        shipping_tax = None
        if self.shipping_tax is not None:
            (shipping_tax,) = prorate_many(
                (self.shipping_tax,), quantity=quantity, already=already, units=units
            )
        # Built without re-validation: every part is a prorated share of a validated split,
        # so the split's invariants hold by construction (and the Hypothesis tests check them).
        return PaidSplit.model_construct(
            list_price=goods + line_discount + order_discount,
            line_discount=line_discount,
            order_discount=order_discount,
            shipping=shipping,
            tax=tax,
            tax_included=self.tax_included,
            shipping_tax=shipping_tax,
        )

    def prorated_parts(
        self, *, quantity: int, already: int, units: int
    ) -> tuple[Money, Money, Money, Money, Money]:
        """Line discount, order discount, shipping, tax and goods (after discounts) of ``units``.

        The arithmetic of `prorate` without building a split, for quoting many lines fast.
        """
        goods = self.list_price - self.line_discount - self.order_discount
        ld, od, ship, tax, net = prorate_many(
            (self.line_discount, self.order_discount, self.shipping, self.tax, goods),
            quantity=quantity,
            already=already,
            units=units,
        )
        return ld, od, ship, tax, net


class OrderLine(CsdeskModel):
    """One line of a placed order, with its paid split.

    Attributes:
        unit_price: List price of one unit.
        split: What the line cost, fixed at placement (see `PaidSplit`).
        category: The goods category return policies read (``"custom_made"``, ``"fresh"``, …).
        non_returnable_confirmed: The customer confirmed at purchase that the goods cannot be
            returned without reason (the confirmation CN law requires for such exclusions).
        tax_percent: The line's tax rate, when known: refunds report their tax per rate.
        gift_of: For a free gift (赠品): the id of the line it came with.
        gift_value: A gift's marked value per unit: what a refund deducts for a gift not
            returned with its main line (CN Interim Measures art. 15), where the policy says so.
        bundle: The bundle (套装) the line belongs to; the lines of one bundle are refunded as a
            unit or by component, as the refund policy says.
    """

    id: Id
    sku: Id
    name: str
    quantity: Annotated[int, Strict(), Field(gt=0)]
    unit_price: UnitPrice
    split: PaidSplit
    category: str | None = None
    non_returnable_confirmed: bool = False
    tax_percent: TaxPercent | None = None
    gift_of: str | None = Field(default=None, min_length=1)
    gift_value: Money | None = None
    bundle: str | None = Field(default=None, min_length=1, max_length=64)

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


class RefundDue(CsdeskModel):
    """A refund an order owes after a cancellation, to one tender, until the host settles it.

    Attributes:
        lines: Units per line id the refund covers; empty for a whole-order cancellation.
        settled: Whether the refund step has taken it over (``settle_refund``).
    """

    id: Id
    payment_id: Id
    amount: Money
    reason: str
    lines: dict[str, Annotated[int, Strict(), Field(gt=0)]] = Field(default_factory=dict)
    created_at: AwareDatetime
    settled: bool = False


class StatutoryBasis(StrEnum):
    """The legal ground of a return or claim."""

    NONE = "none"
    CN_7DAY = "cn_7day"
    CN_NONCONFORMING = "cn_nonconforming"
    EU_WITHDRAWAL = "eu_withdrawal"
    UK_CANCELLATION = "uk_cancellation"
    UK_SHORT_TERM_REJECT = "uk_short_term_reject"
    WARRANTY = "warranty"

    @property
    def is_nonconformity(self) -> bool:
        """Whether the goods do not conform (the shop bears every cost: shipping, no fees)."""
        return self in {StatutoryBasis.CN_NONCONFORMING, StatutoryBasis.UK_SHORT_TERM_REJECT}

    @property
    def is_no_reason(self) -> bool:
        """Whether the customer needs no reason (so only a finding or an exclusion can refuse)."""
        return self in {
            StatutoryBasis.CN_7DAY,
            StatutoryBasis.EU_WITHDRAWAL,
            StatutoryBasis.UK_CANCELLATION,
        }


class CaseType(StrEnum):
    """What an after-sale case asks for."""

    RETURN_AND_REFUND = "return_and_refund"
    REFUND_ONLY = "refund_only"
    EXCHANGE = "exchange"
    REPLACEMENT = "replacement"

    @property
    def needs_return(self) -> bool:
        """Whether the goods travel back to the shop."""
        return self in {CaseType.RETURN_AND_REFUND, CaseType.EXCHANGE}


class Condition(StrEnum):
    """What the shop found when a returned line arrived."""

    RESELLABLE = "resellable"
    OPENED = "opened"
    NOT_INTACT = "not_intact"
    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    MISSING = "missing"
    UNCHECKED = "unchecked"


class CaseLine(CsdeskModel):
    """One order line in an after-sale case: units asked for, units received, their condition."""

    line_id: Id
    requested: Annotated[int, Strict(), Field(gt=0)]
    received: Annotated[int, Strict(), Field(ge=0)] = 0
    condition: Condition | None = None


class ExchangeItem(CsdeskModel):
    """What an exchange (换货) sends out for units of one order line.

    Attributes:
        line_id: The order line whose units come back.
        units: How many of them are exchanged.
        sku: What goes out instead: the same SKU (another size or colour) or another one.
        name: Its name, for the customer.
        unit_price: What the new goods cost a unit now; with the returned units' paid share it
            makes the price difference.
    """

    line_id: Id
    units: Annotated[int, Strict(), Field(gt=0)]
    sku: Id
    name: str = ""
    unit_price: Money


class AfterSaleCase(CsdeskModel):
    """One after-sale request (售后): a return, a refund only, an exchange or a replacement.

    Open one with `csdesk.workflows.open_case`, which checks the return window and the quantities;
    `csdesk.workflows.AfterSaleWorkflow` moves it. Like `Order`, only the workflow changes it.

    Attributes:
        reason: The customer's reason code (``"no_reason"``, ``"damaged"``, ``"wrong_item"``, …).
        statutory_basis: The legal ground; a no-reason statutory return can be refused only with
            a condition finding or a recorded exclusion.
        finding: The condition finding a rejection rests on, if any.
        exclusion: The recorded exclusion a rejection rests on, if any.
        shipped_before: Whether the order had shipped when the case was filed (``None``: not
            known); a platform answers a refund-only request for unshipped goods sooner.
        express_refund: Approved for express refund (极速退款): the refund is requested when
            the return ships, not when it arrives.
        express_refunded_at: When the express refund was requested (the return shipped).
        keep_goods: Approved as refund only (仅退款): the customer keeps the goods.
        approval_rule: The approval policy's rule that approved the case, if one did.
        exchange: For an exchange: what goes out for the units coming back.
        difference: For an exchange: the new goods' price less the paid share of the units
            coming back; positive, the customer pays it (`PayExchangeDifference`) before the
            new goods ship; negative, it is refunded through the refund step.
        difference_payment: The payment of a positive difference.
        replacement_shipment: The parcel that took the new goods out.
        converted_to_refund: The replacement could not be sent (out of stock) and the customer
            chose a refund instead: their choice, as recorded (channel, words).
    """

    model_config = ConfigDict(frozen=False, validate_assignment=True)

    id: Id
    order_id: Id
    type: CaseType
    reason: str = Field(min_length=1)
    statutory_basis: StatutoryBasis = StatutoryBasis.NONE
    lines: tuple[CaseLine, ...] = Field(min_length=1)
    requested_at: AwareDatetime
    approved_at: AwareDatetime | None = None
    rejected_at: AwareDatetime | None = None
    rejection: str | None = None
    finding: str | None = None
    exclusion: str | None = None
    escalated_at: AwareDatetime | None = None
    shipped_before: bool | None = None
    express_refund: bool = False
    express_refunded_at: AwareDatetime | None = None
    keep_goods: bool = False
    approval_rule: str | None = None
    exchange: tuple[ExchangeItem, ...] = ()
    difference: Money | None = None
    difference_payment: Payment | None = None
    replacement_shipment: Shipment | None = None
    converted_to_refund: str | None = None
    return_tracking: str | None = None
    return_shipped_at: AwareDatetime | None = None
    received_at: AwareDatetime | None = None
    resolved_at: AwareDatetime | None = None
    canceled_at: AwareDatetime | None = None
    cancel_reason: str | None = None
    state: CaseState = CaseState.REQUESTED
    version: Annotated[int, Strict(), Field(ge=0)] = 0

    @checked
    def line(self, line_id: str) -> CaseLine:
        """The case line for an order line id.

        Raises:
            InvalidInputError: the case has no such line.
        """
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise InvalidInputError(f"case {self.id} has no line {line_id!r}")


class Refund(CsdeskModel):
    """One refund to one tender. `csdesk.workflows.RefundWorkflow` moves it.

    Attributes:
        request_key: The idempotency key of the request that created it; one request (one quote)
            creates one refund per tender, keyed ``<request_key>:<payment_id>``.
        lines: Units per line id the request refunds (the same on each tender's refund).
        reason: A `csdesk.policies.refunds.RefundReason` value; goodwill refunds say so.
        over_refund_reason: Set when the refund exceeds what is refundable; needs an approver.
        destination: Where the money goes (`RefundDestination`): the tender that paid, unless
            the customer agreed otherwise (``consent``).
        consent: The customer's recorded agreement, for any destination but ``original``.
    """

    model_config = ConfigDict(frozen=False, validate_assignment=True)

    id: Id
    order_id: Id
    payment_id: Id
    case_id: str | None = None
    amount: Money
    reason: str = Field(min_length=1)
    statutory_basis: StatutoryBasis = StatutoryBasis.NONE
    lines: dict[str, Annotated[int, Strict(), Field(gt=0)]] = Field(default_factory=dict)
    shipping: Money | None = None
    idempotency_key: str = Field(min_length=1)
    request_key: str = Field(min_length=1)
    requested_by: str | None = None
    requested_at: AwareDatetime
    approved_by: str | None = None
    over_refund_reason: str | None = None
    destination: RefundDestination = RefundDestination.ORIGINAL
    consent: Consent | None = None
    provider_reference: str | None = None
    failure_reason: str | None = None
    attempts: Annotated[int, Strict(), Field(ge=0)] = 0
    submitted_at: AwareDatetime | None = None
    succeeded_at: AwareDatetime | None = None
    failed_at: AwareDatetime | None = None
    canceled_at: AwareDatetime | None = None
    reversed_at: AwareDatetime | None = None
    state: RefundState = RefundState.REQUESTED
    version: Annotated[int, Strict(), Field(ge=0)] = 0

    def arrival_method(self, paid_with: PaymentMethod | str) -> str:
        """The method whose typical times say when this refund arrives.

        For `csdesk.policies.estimate_arrival`: the tender's (``paid_with``), or the
        destination's when the customer agreed to another (store credit and gift cards are
        immediate).
        """
        if self.destination is RefundDestination.ORIGINAL:
            return str(paid_with)
        if self.destination is RefundDestination.OTHER_METHOD and self.consent is not None:
            return str(self.consent.method)
        return self.destination.value

    @field_validator("amount")
    @classmethod
    def _positive(cls, value: Money) -> Money:
        if value <= Money.zero(value.currency) or not value.is_quantized:
            raise ValueError(f"a refund is a positive whole number of minor units, got {value}")
        return value


class TicketCategory(StrEnum):
    """The seeds' three ticket categories (商品咨询 / 订单问题 / 投诉建议)."""

    PRODUCT_INQUIRY = "product_inquiry"
    ORDER_PROBLEM = "order_problem"
    COMPLAINT_SUGGESTION = "complaint_suggestion"


class TicketPriority(StrEnum):
    """Priority, ``P1`` (most urgent) to ``P5``: one spelling from tiering to SLA.

    Lower case (``"p2"``, as csdesk 0.1 wrote it) is read as the same member.
    """

    P1 = "P1"
    P2 = "P2"
    P3 = "P3"
    P4 = "P4"
    P5 = "P5"

    @classmethod
    def _missing_(cls, value: object) -> TicketPriority | None:
        if isinstance(value, str) and value.upper() in cls.__members__:
            return cls[value.upper()]
        return None


class Channel(StrEnum):
    """Where the customer wrote."""

    CHAT = "chat"
    PHONE = "phone"
    EMAIL = "email"
    WEB = "web"
    APP = "app"
    SOCIAL = "social"
    PLATFORM = "platform"
    SMS = "sms"


class Satisfaction(CsdeskModel):
    """What the customer said of a solved ticket (满意度).

    Attributes:
        score: On the shop's scale, 1 to ``scale``.
        scale: The scale's top (5 for five stars, 10 for NPS-style, 2 for thumbs).
        comment: The customer's words; customer data, shown masked.
        channel: Where they said it.
        at: When.
    """

    score: Annotated[int, Strict(), Field(ge=1)]
    scale: Annotated[int, Strict(), Field(ge=2, le=10)] = 5
    comment: str | None = Field(default=None, max_length=2000)
    channel: Channel = Channel.CHAT
    at: AwareDatetime

    @model_validator(mode="after")
    def _on_the_scale(self) -> Self:
        if self.score > self.scale:
            raise ValueError(f"score {self.score} is above the scale's top, {self.scale}")
        return self

    @property
    def satisfied(self) -> bool:
        """Top-two-box: 4 or 5 of 5 (the top fifth and the next of any scale)."""
        return self.score * 5 >= self.scale * 4

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, (scrub(value) if key == "comment" and value else value)


class RootCause(StrEnum):
    """The problem a neutral or negative review revealed, once the desk has confirmed it."""

    DAMAGED = "damaged"
    WRONG_ITEM = "wrong_item"
    MISSING_ITEM = "missing_item"
    LATE_DELIVERY = "late_delivery"
    QUALITY = "quality"
    NOT_AS_DESCRIBED = "not_as_described"
    SERVICE = "service"
    PRICE = "price"
    OTHER = "other"


class ReviewCaseState(StrEnum):
    """Where a review-recovery case is (`csdesk.workflows.ReviewCaseWorkflow`)."""

    OPEN = "open"
    CONTACTING = "contacting"
    RESOLVED = "resolved"
    DECLINED = "declined"
    UNREACHABLE = "unreachable"


class ContactAttempt(CsdeskModel):
    """One attempt to reach a customer about their review: by which channel, when, with what.

    Attributes:
        channel: Phone first (the seeds' practice), then SMS or chat.
        at: When.
        reached: Whether the customer was reached (picked up, answered).
        by: Who tried.
        note: What was said, in the agent's words; customer data, shown masked.
    """

    channel: Channel
    at: AwareDatetime
    reached: bool
    by: str | None = None
    note: str | None = Field(default=None, max_length=2000)

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, (scrub(value) if key == "note" and value else value)


class ReviewCase(CsdeskModel):
    """A review-recovery case (中差评处理), opened from a neutral or negative review.

    `csdesk.workflows.open_review_case` opens one; `csdesk.workflows.ReviewCaseWorkflow` moves it:
    contact attempts within the policy's limits (no harassment), the root cause confirmed,
    compensation offered only for that cause (never for the review), and an outcome.

    Attributes:
        rating: 1 or 2 (差评) or 3 (中评) of 5.
        posted_at: When the review was posted.
        zone: The customer's time zone: quiet hours are counted in it.
        attempts: Every contact attempt, in order.
        root_cause: The problem behind the review, once confirmed.
        compensation_key: The compensation decision's idempotency key, once offered.
        outcome_note: How it ended, in the agent's words (a firm refusal is noted, politely).
    """

    model_config = ConfigDict(frozen=False, validate_assignment=True)

    id: Id
    review_id: Id
    order_id: Id
    customer_id: Id
    rating: Annotated[int, Strict(), Field(ge=1, le=3)]
    sku: str | None = Field(default=None, min_length=1)
    posted_at: AwareDatetime
    opened_at: AwareDatetime
    zone: str = "Asia/Shanghai"
    attempts: tuple[ContactAttempt, ...] = ()
    root_cause: RootCause | None = None
    cause_confirmed_at: AwareDatetime | None = None
    cause_confirmed_by: str | None = None
    compensation_key: str | None = None
    outcome_note: str | None = Field(default=None, max_length=2000)
    ended_at: AwareDatetime | None = None
    state: ReviewCaseState = ReviewCaseState.OPEN
    version: Annotated[int, Strict(), Field(ge=0)] = 0

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, zone: str) -> str:
        try:
            ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown IANA time zone {zone!r}; use a name such as 'Asia/Shanghai'"
            ) from None
        return zone

    @property
    def negative(self) -> bool:
        """A rating of 1 or 2 (差评); 3 is neutral (中评)."""
        return self.rating <= 2

    @property
    def reached(self) -> bool:
        """Whether any attempt reached the customer."""
        return any(attempt.reached for attempt in self.attempts)

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            yield key, (scrub(value) if key == "outcome_note" and value else value)


class Duty(StrEnum):
    """The duties of a ticket the seeds name, which a transfer may split between teams.

    首问负责: the team that first took the customer's question keeps answering them unless it
    hands that duty over too.
    """

    ACCEPT = "accept"  # 受理
    HANDLE = "handle"  # 处理
    ANSWER = "answer"  # 答复客户
    FOLLOW_UP = "follow_up"  # 跟进
    RECORD = "record"  # 记录


class Transfer(CsdeskModel):
    """A ticket handed from one team to another (售前 → 售后, 售后 → 物流…).

    Attributes:
        from_group: The team that had it (None: no team yet).
        to_group: The team that has it now.
        reason: Why, in the agent's words.
        by: Who transferred it.
        at: When.
        ping_pong: The ticket was being sent back to a team it had left within the window, so
            it went to ``to_group`` (the escalation team) instead.
        owners: Who owns each duty after the transfer (every `Duty`, by team).
        case_id: The after-sale case the transfer hands over with it (pre-sales → after-sales).
    """

    from_group: str | None
    to_group: str = Field(min_length=1, max_length=64)
    reason: str = Field(min_length=1, max_length=500)
    by: str | None = None
    at: AwareDatetime
    ping_pong: bool = False
    owners: dict[Duty, str] = Field(default_factory=dict)
    case_id: str | None = Field(default=None, min_length=1, max_length=128)


class Ticket(CsdeskModel):
    """A customer-service ticket (工单). `csdesk.workflows.TicketWorkflow` moves it.

    Replies, internal notes and field changes are events of the ticket (see `open_ticket`), from
    which the SLA clocks are computed.
    """

    model_config = ConfigDict(frozen=False, validate_assignment=True)

    id: Id
    category: TicketCategory
    priority: TicketPriority = TicketPriority.P3
    channel: Channel = Channel.CHAT
    customer_id: Id
    customer_tier: CustomerTier = CustomerTier.REGULAR
    order_id: str | None = None
    subject: str = ""
    tags: tuple[str, ...] = ()
    assignee: str | None = None
    group: str | None = Field(default=None, min_length=1, max_length=64)
    follow_up_at: AwareDatetime | None = None
    followed_up_at: AwareDatetime | None = None
    satisfaction: Satisfaction | None = None
    escalation_level: Annotated[int, Strict(), Field(ge=0, le=4)] = 0
    transfers: tuple[Transfer, ...] = ()
    kept_duties: dict[Duty, str] = Field(default_factory=dict)
    created_at: AwareDatetime
    solved_at: AwareDatetime | None = None
    state: TicketState = TicketState.NEW
    version: Annotated[int, Strict(), Field(ge=0)] = 0

    def owner_of(self, duty: Duty | str) -> str | None:
        """The team that owns ``duty`` now: one that kept it at a transfer, else ``group``."""
        return self.kept_duties.get(Duty(duty), self.group)

    @property
    def owners(self) -> dict[Duty, str | None]:
        """Every duty and the team that owns it now."""
        return {duty: self.owner_of(duty) for duty in Duty}

    def __repr_args__(self) -> Any:
        # The subject is the customer's own words: phones and e-mails in it show masked.
        for key, value in super().__repr_args__():
            yield key, (scrub(value) if key == "subject" else value)


class LineDraft(CsdeskModel):
    """A line as the host hands it to `Order.place`, before any allocation.

    Attributes:
        id: The line id; defaults to its 1-based position.
        line_discount: A discount on this line alone (e.g. a product promotion).
        discountable: Whether order-level discounts may apply to it (gift cards are not).
        tax: This line's tax on its goods when the host's tax engine computes tax per line
            (lines at different rates); give it on every line or on none, and then pass the
            order's ``tax`` instead.
        tax_percent: The line's tax rate in percent (default: the order's ``tax_percent``).
        gift_of: A free gift (赠品): the id of the line it comes with; its ``unit_price`` is 0.
        gift_value: The gift's marked value per unit (deducted when it is not returned).
        bundle: The bundle (套装) the line belongs to.
    """

    id: str | None = None
    sku: Id
    name: str
    quantity: Annotated[int, Strict(), Field(gt=0)]
    unit_price: UnitPrice
    line_discount: Money | None = None
    discountable: bool = True
    tax: Money | None = None
    category: str | None = None
    non_returnable_confirmed: bool = False
    tax_percent: TaxPercent | None = None
    gift_of: str | None = Field(default=None, min_length=1)
    gift_value: Money | None = None
    bundle: str | None = Field(default=None, min_length=1, max_length=64)


class Order(CsdeskModel):
    """A placed order. Build one with `Order.place`.

    After placement only `csdesk.workflows.OrderWorkflow` changes an order: its ``state`` (the
    string the host stores), its ``version`` (one more per successful command, for compare-and-swap
    persistence) and the facts the commands record (payments, shipments, sign-off, cancellation,
    refunds due). ``shipping_address`` is customer data and shows masked. ``balance_due`` is
    what an edit after payment left to collect (`csdesk.workflows.EditOrder`); the order ships
    once it is paid (`csdesk.workflows.PayBalance`).
    """

    model_config = ConfigDict(frozen=False, validate_assignment=True)
    _free_fields = frozenset(
        {
            "payments",
            "shipments",
            "shipping_address",
            "paid_at",
            "signed_at",
            "completed_at",
            "canceled_at",
            "cancel_reason",
            "canceled_units",
            "refunds_due",
            "balance_due",
        }
    )

    id: Id
    customer: Customer
    currency: str
    placed_at: AwareDatetime
    lines: tuple[OrderLine, ...] = Field(min_length=1)
    shipping_fee: Money
    order_discount: Money
    tax: Money
    tax_included: bool = True
    standard_shipping_fee: Money | None = None
    shipping_tax_percent: TaxPercent | None = None
    discount_threshold: Money | None = None
    free_shipping_threshold: Money | None = None
    waived_shipping: Money | None = None
    payments: tuple[Payment, ...] = ()
    shipments: tuple[Shipment, ...] = ()
    shipping_address: str | None = None
    pay_by: AwareDatetime | None = None
    paid_at: AwareDatetime | None = None
    signed_at: AwareDatetime | None = None
    completed_at: AwareDatetime | None = None
    canceled_at: AwareDatetime | None = None
    cancel_reason: str | None = None
    canceled_units: dict[str, Annotated[int, Strict(), Field(gt=0)]] = Field(default_factory=dict)
    refunds_due: tuple[RefundDue, ...] = ()
    balance_due: Money | None = None
    state: OrderState = OrderState.PENDING_PAYMENT
    version: Annotated[int, Strict(), Field(ge=0)] = 0

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
            if name == "tax":
                parts = parts + self.shipping_tax
            if parts != total:
                raise ValueError(f"the lines' {name} shares sum to {parts}, not {total}")
        for name in ("discount_threshold", "free_shipping_threshold", "waived_shipping"):
            extra: Money | None = getattr(self, name)
            if extra is not None and extra.currency != self.currency:
                raise CurrencyMismatchError(self.currency, extra.currency, operation=name)
        return self

    def __repr_args__(self) -> Any:
        for key, value in super().__repr_args__():
            if key == "shipping_address" and value is not None:
                value = mask_address(value)
            yield key, value

    @property
    def shipping_tax(self) -> Money:
        """The tax on the outbound shipping (in it; on top of it without tax-inclusive prices)."""
        return sum(
            (line.split.shipping_tax_amount for line in self.lines), Money.zero(self.currency)
        )

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

    @property
    def delivered_at(self) -> datetime | None:
        """When the customer had the goods: sign-off, or the last parcel's delivery.

        Only once every unit has shipped: an EU/UK window runs from the last parcel (CRD
        art. 9(2)(b)).
        """
        if self.signed_at is not None:
            return self.signed_at
        times = [s.delivered_at for s in self.shipments]
        if not times or any(t is None for t in times) or self.unshipped_units():
            return None
        return max(t for t in times if t is not None)

    def shipped_units(self) -> dict[str, int]:
        """Units per line id handed to carriers so far.

        A parcel without ``lines`` carries the whole order: every unit not canceled.
        """
        shipped: dict[str, int] = {}
        for parcel in self.shipments:
            units = parcel.lines or {
                line.id: line.quantity - self.canceled_units.get(line.id, 0) for line in self.lines
            }
            for line_id, count in units.items():
                shipped[line_id] = shipped.get(line_id, 0) + count
        return shipped

    def unshipped_units(self) -> dict[str, int]:
        """Units per line id neither shipped nor canceled (only lines with some left)."""
        shipped = self.shipped_units()
        left = {
            line.id: line.quantity - self.canceled_units.get(line.id, 0) - shipped.get(line.id, 0)
            for line in self.lines
        }
        return {line_id: count for line_id, count in left.items() if count > 0}

    @checked
    def line_delivered_at(self, line_id: str) -> datetime | None:
        """When the customer had every unit of one line: the last sign-off of its parcels.

        A CN return window runs per line from it. ``None`` while one of those parcels, or some
        of the line's units, has not arrived.

        Raises:
            InvalidInputError: no such line.
        """
        line = self.line(line_id)
        carrying = [p for p in self.shipments if not p.lines or p.lines.get(line.id)]
        if not carrying:
            return self.signed_at
        if self.unshipped_units().get(line.id):
            return None
        times = [p.delivered_at or self.signed_at for p in carrying]
        if any(t is None for t in times):
            return None
        return max(t for t in times if t is not None)

    def late_parcels(self, *, now: datetime) -> list[tuple[Shipment, timedelta]]:
        """Each parcel that arrived (or is still travelling) after its promised delivery.

        With how late it is: one late-delivery incident per parcel.
        """
        require_aware(now, "now")
        found = [(parcel, parcel.delay(now=now)) for parcel in self.shipments]
        return [(parcel, late) for parcel, late in found if late > timedelta(0)]

    @property
    def refunds_settled(self) -> bool:
        """Whether every refund the order owes (after a cancellation) has been settled."""
        return all(refund.settled for refund in self.refunds_due)

    @classmethod
    @checked
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
        shipping_address: str | None = None,
        standard_shipping_fee: Money | None = None,
        shipping_tax: Money | None = None,
        tax_percent: Decimal | str | None = None,
        shipping_tax_percent: Decimal | str | None = None,
        discount_threshold: Money | None = None,
        free_shipping_threshold: Money | None = None,
        waived_shipping: Money | None = None,
    ) -> Order:
        """Place an order: allocate order-level amounts to lines and fix each line's paid split.

        The order-level discount goes to discountable lines in proportion to their price after line
        discounts; shipping to all lines in proportion to their price after all discounts; the
        tax on the goods in proportion to their price, and the tax on the shipping with the
        shipping, kept apart (a refund that keeps the shipping keeps its tax). Each split is
        `csdesk.money.allocate` (largest remainder, ties to the earlier line), so every total is
        conserved to the minor unit. Lines that are all free take shares by unit count.

        Args:
            id: The order id.
            customer: A snapshot of the customer.
            lines: `LineDraft`s (or mappings of their fields), in display order.
            placed_at: When the order was placed; timezone-aware.
            shipping_fee: Outbound shipping charged; default zero.
            order_discount: Order-level discounts (coupons, vouchers, full-reduction); default zero.
            tax: The order's tax as computed by the host's tax engine, goods and shipping
                together. Leave it out when the lines carry their own tax; leave both out to have
                csdesk compute it from ``tax_percent``, line by line (half up), or to have none.
                Without ``shipping_tax`` it is split between goods and shipping in proportion.
            tax_included: Whether prices include tax (CN, EU) or tax is added (US).
            pay_by: The payment deadline, if any (else the timer preset's).
            shipping_address: Where to ship; customer data, shown masked.
            standard_shipping_fee: When the customer chose a premium delivery, the least
                expensive standard delivery the shop offered: an EU/UK withdrawal refunds only
                that much of the shipping (CRD art. 13(2), CCR reg. 34(7)).
            shipping_tax: The tax on the shipping, when the host's tax engine gives it apart
                (with per-line ``tax``, it is the only shipping tax; default none).
            tax_percent: The tax rate of lines that give none, in percent (``"19"``): refunds
                report their tax per rate.
            shipping_tax_percent: The shipping's tax rate (default ``tax_percent``).
            discount_threshold: The goods total the ``order_discount`` needed (a "300 off 50"
                full-reduction: ``Money("300")``): a return that leaves less settles the kept
                goods at their price without it (CN Interim Measures art. 17(2)).
            free_shipping_threshold: The goods total that made the shipping free, and
                ``waived_shipping`` what it would have cost: a no-reason return that leaves
                less may deduct it from the refund (art. 18(2)), if the policy says so.
            waived_shipping: See ``free_shipping_threshold``.

        Raises:
            InvalidOrderError: no lines, duplicate ids, or discounts above what they apply to.
            CurrencyMismatchError: amounts in more than one currency.
            PrecisionError: an amount finer than the currency's minor unit.
            NaiveDatetimeError: ``placed_at`` or ``pay_by`` has no time zone.
        """
        require_aware(placed_at, "placed_at")
        if pay_by is not None:
            require_aware(pay_by, "pay_by")
            if pay_by <= placed_at:
                raise InvalidOrderError(
                    f"pay_by ({pay_by.isoformat()}) is not after placed_at "
                    f"({placed_at.isoformat()})"
                )
        drafts = [d if isinstance(d, LineDraft) else LineDraft.model_validate(d) for d in lines]
        if not drafts:
            raise InvalidOrderError("an order needs at least one line", model="Order")
        currency = drafts[0].unit_price.currency
        zero = Money.zero(currency)
        ship = _amount(shipping_fee, zero, "shipping_fee")
        standard = _amount(standard_shipping_fee, zero, "standard_shipping_fee")
        if standard_shipping_fee is not None and standard > ship:
            raise InvalidOrderError(
                f"standard_shipping_fee {standard} is more than the shipping charged ({ship}): "
                "it is the cheapest standard delivery, at most what the customer paid",
                model="Order",
            )
        discount = _amount(order_discount, zero, "order_discount")
        nets = [_net(draft, index, zero) for index, draft in enumerate(drafts)]
        discounts = _allocate_discount(discount, drafts, nets, zero)
        after = [net - share for net, share in zip(nets, discounts, strict=True)]
        shipping_shares = _allocate_by(ship, after, drafts)
        rates = _Rates.of(tax_percent, shipping_tax_percent, drafts, tax_included)
        tax_shares, ship_taxes, tax_total = _taxes(
            _Taxed(tax, shipping_tax, zero), drafts, after, shipping_shares, rates
        )
        extras = _thresholds(
            discount, discount_threshold, free_shipping_threshold, waived_shipping, ship, zero
        )
        order_lines = [
            OrderLine(
                id=draft.id or str(index + 1),
                sku=draft.sku,
                name=draft.name,
                quantity=draft.quantity,
                unit_price=draft.unit_price,
                category=draft.category,
                non_returnable_confirmed=draft.non_returnable_confirmed,
                tax_percent=rates.lines[index],
                gift_of=draft.gift_of,
                gift_value=draft.gift_value,
                bundle=draft.bundle,
                split=PaidSplit(
                    list_price=draft.unit_price * draft.quantity,
                    line_discount=draft.line_discount or zero,
                    order_discount=discounts[index],
                    shipping=shipping_shares[index],
                    tax=tax_shares[index],
                    tax_included=tax_included,
                    shipping_tax=ship_taxes[index],
                ),
            )
            for index, draft in enumerate(drafts)
        ]
        _check_gifts(order_lines, zero)
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
            shipping_address=shipping_address,
            standard_shipping_fee=standard if standard_shipping_fee is not None else None,
            shipping_tax_percent=rates.shipping,
            **extras,
        )


def _check_gifts(lines: Sequence[OrderLine], zero: Money) -> None:
    """A gift names a line of the order that is not itself a gift, costs nothing, has a value."""
    ids = {line.id: line for line in lines}
    for line in lines:
        if line.gift_of is None:
            if line.gift_value is not None:
                raise InvalidOrderError(
                    f"line {line.id} has a gift_value but is not a gift (gift_of)", model="Order"
                )
            continue
        main = ids.get(line.gift_of)
        if main is None or main.gift_of is not None or main is line:
            raise InvalidOrderError(
                f"line {line.id} is a gift of {line.gift_of!r}, which is not another line of "
                "the order that is not itself a gift",
                model="Order",
            )
        if not line.unit_price.is_zero:
            raise InvalidOrderError(
                f"gift line {line.id} has a price ({line.unit_price}); a free gift costs 0 and "
                "carries its marked value in gift_value",
                model="Order",
            )
        value = line.gift_value
        if value is None or value.currency != zero.currency or value < zero:
            raise InvalidOrderError(
                f"gift line {line.id} needs gift_value, its marked value per unit in "
                f"{zero.currency}",
                model="Order",
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


class _Rates:
    """The tax rates of an order's lines and shipping, when the host gives them."""

    def __init__(
        self, lines: list[Decimal | None], shipping: Decimal | None, included: bool
    ) -> None:
        self.lines, self.shipping, self.included = lines, shipping, included

    @classmethod
    def of(
        cls,
        default: Decimal | str | None,
        shipping: Decimal | str | None,
        drafts: Sequence[LineDraft],
        included: bool,
    ) -> _Rates:
        base = _rate(default, "tax_percent")
        ship = _rate(shipping, "shipping_tax_percent")
        lines = [draft.tax_percent if draft.tax_percent is not None else base for draft in drafts]
        return cls(lines, ship if ship is not None else base, included)

    def tax(self, amount: Money, percent: Decimal | None) -> Money:
        """The tax on ``amount`` (or in it, with tax-inclusive prices), half up."""
        if percent is None or amount.is_zero:
            return Money.zero(amount.currency)
        share = percent / (100 + percent) if self.included else percent / 100
        return (amount * share).quantize(ROUND_HALF_UP)


def _rate(value: Decimal | str | None, name: str) -> Decimal | None:
    if value is None:
        return None
    try:
        rate = Decimal(value) if isinstance(value, str) else value
    except ArithmeticError:
        rate = None
    if not isinstance(rate, Decimal) or not rate.is_finite() or not 0 <= rate <= 100:
        raise InvalidOrderError(
            f"{name} must be a percent from 0 to 100 as a Decimal or a string, got {value!r}",
            model="Order",
        )
    return rate


class _Taxed:
    """The tax amounts the host gave for the whole order (zero when it gave none)."""

    def __init__(self, tax: Money | None, shipping: Money | None, zero: Money) -> None:
        self.zero = zero
        self.given = tax is not None
        self.tax = _amount(tax, zero, "tax")
        self.shipping_given = shipping is not None
        self.shipping = _amount(shipping, zero, "shipping_tax")
        if self.given and self.shipping > self.tax:
            raise InvalidOrderError(
                f"shipping_tax {self.shipping} is more than the order's tax {self.tax}",
                model="Order",
            )


def _taxes(
    taxed: _Taxed,
    drafts: Sequence[LineDraft],
    after: Sequence[Money],
    shipping: Sequence[Money],
    rates: _Rates,
) -> tuple[list[Money], list[Money | None], Money]:
    """Each line's tax on its goods and on its shipping share, and the order's tax."""
    zero = taxed.zero
    given = [draft.tax for draft in drafts if draft.tax is not None]
    if given and (len(given) != len(drafts) or taxed.given):
        raise InvalidOrderError(
            "give tax either per line (on every line) or for the whole order, not both",
            model="Order",
        )
    if not taxed.shipping.is_zero and sum(shipping, zero).is_zero:
        raise InvalidOrderError("shipping_tax on an order without a shipping fee", model="Order")
    if given:
        goods = [_amount(draft.tax, zero, f"lines[{i}].tax") for i, draft in enumerate(drafts)]
        ship = _allocate_by(taxed.shipping, shipping, drafts)
    elif taxed.given and taxed.shipping_given:
        goods = _allocate_by(taxed.tax - taxed.shipping, after, drafts)
        ship = _allocate_by(taxed.shipping, shipping, drafts)
    elif taxed.given:
        bases = [a + s for a, s in zip(after, shipping, strict=True)]
        totals = _allocate_by(taxed.tax, bases, drafts)
        goods, ship = [], []
        for total, goods_base, ship_base in zip(totals, after, shipping, strict=True):
            if ship_base.is_zero or total.is_zero:
                goods.append(total)
                ship.append(zero)
            else:
                on_goods, on_ship = allocate(total, [goods_base, ship_base])
                goods.append(on_goods)
                ship.append(on_ship)
    else:  # computed from the rates, line by line (none without rates)
        goods = [rates.tax(a, r) for a, r in zip(after, rates.lines, strict=True)]
        ship = [rates.tax(s, rates.shipping) for s in shipping]
    total = sum(goods, zero) + sum(ship, zero)
    return goods, [share if not share.is_zero else None for share in ship], total


def _thresholds(
    discount: Money,
    discount_threshold: Money | None,
    free_shipping_threshold: Money | None,
    waived_shipping: Money | None,
    shipping_fee: Money,
    zero: Money,
) -> dict[str, Money | None]:
    """The order's thresholds, checked: each needs what it applies to."""
    found: dict[str, Money | None] = {
        "discount_threshold": None,
        "free_shipping_threshold": None,
        "waived_shipping": None,
    }
    if discount_threshold is not None:
        if discount.is_zero:
            raise InvalidOrderError("discount_threshold without an order_discount", model="Order")
        found["discount_threshold"] = _amount(discount_threshold, zero, "discount_threshold")
    if (free_shipping_threshold is None) != (waived_shipping is None):
        raise InvalidOrderError(
            "give free_shipping_threshold and waived_shipping together", model="Order"
        )
    if free_shipping_threshold is not None and waived_shipping is not None:
        if not shipping_fee.is_zero:
            raise InvalidOrderError(
                f"free_shipping_threshold on an order that paid {shipping_fee} of shipping",
                model="Order",
            )
        found["free_shipping_threshold"] = _amount(
            free_shipping_threshold, zero, "free_shipping_threshold"
        )
        found["waived_shipping"] = _amount(waived_shipping, zero, "waived_shipping")
    return found


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
