"""csdesk: customer-service rules for shop back ends.

Orders, returns and refunds with exact money, complaint tiering, compensation policies, reply
templates and SLA clocks on real business calendars. The core is pure and deterministic: the host
owns storage, scheduling, transport and identity; csdesk owns rules, state transitions, money
arithmetic, time arithmetic and words.

Examples:
    >>> import csdesk
    >>> csdesk.Money("0.1", "CNY") + csdesk.Money("0.2", "CNY")
    Money('0.3', 'CNY')
"""

from csdesk._model import require_aware
from csdesk._version import __version__
from csdesk.errors import (
    AllocationError,
    ConcurrencyConflictError,
    CorruptStateError,
    CsdeskError,
    CurrencyMismatchError,
    FloatNotAllowedError,
    InvalidAmountError,
    InvalidInputError,
    InvalidOrderError,
    InvalidTransitionError,
    MoneyError,
    NaiveDatetimeError,
    NotFoundError,
    PolicyError,
    PrecisionError,
    QuantityError,
    TransitionRejectedError,
    UnknownCurrencyError,
    UnknownLocaleError,
    UnknownPresetError,
    WorkflowError,
)
from csdesk.events import Actor, ActorKind, AggregateRef, DomainEvent
from csdesk.models import (
    AfterSaleCase,
    CaseLine,
    CaseType,
    Condition,
    Customer,
    CustomerTier,
    LineDraft,
    Order,
    OrderLine,
    PaidSplit,
    Payment,
    PaymentMethod,
    RefundDue,
    Shipment,
    StatutoryBasis,
)
from csdesk.money import Money, allocate, currency_digits, prorate, sum_money

__all__ = [
    "Actor",
    "ActorKind",
    "AfterSaleCase",
    "AggregateRef",
    "AllocationError",
    "CaseLine",
    "CaseType",
    "ConcurrencyConflictError",
    "Condition",
    "CorruptStateError",
    "CsdeskError",
    "CurrencyMismatchError",
    "Customer",
    "CustomerTier",
    "DomainEvent",
    "FloatNotAllowedError",
    "InvalidAmountError",
    "InvalidInputError",
    "InvalidOrderError",
    "InvalidTransitionError",
    "LineDraft",
    "Money",
    "MoneyError",
    "NaiveDatetimeError",
    "NotFoundError",
    "Order",
    "OrderLine",
    "PaidSplit",
    "Payment",
    "PaymentMethod",
    "PolicyError",
    "PrecisionError",
    "QuantityError",
    "RefundDue",
    "Shipment",
    "StatutoryBasis",
    "TransitionRejectedError",
    "UnknownCurrencyError",
    "UnknownLocaleError",
    "UnknownPresetError",
    "WorkflowError",
    "__version__",
    "allocate",
    "currency_digits",
    "prorate",
    "require_aware",
    "sum_money",
]
