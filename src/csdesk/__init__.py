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

import logging

from csdesk._model import require_aware
from csdesk._version import __version__
from csdesk.errors import (
    AllocationError,
    CalendarCoverageError,
    CalendarError,
    ConcurrencyConflictError,
    CorruptStateError,
    CsdeskError,
    CurrencyMismatchError,
    FloatNotAllowedError,
    IdempotencyConflictError,
    InvalidAmountError,
    InvalidInputError,
    InvalidOrderError,
    InvalidTransitionError,
    LedgerError,
    MoneyError,
    NaiveDatetimeError,
    NotFoundError,
    OverRefundError,
    PolicyError,
    PrecisionError,
    QuantityError,
    StorageError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
    TransitionRejectedError,
    UnknownCurrencyError,
    UnknownLocaleError,
    UnknownPresetError,
    WorkflowError,
)
from csdesk.events import Actor, ActorKind, AggregateRef, DomainEvent
from csdesk.ledger import LedgerEntry, LedgerEntryKind, PaymentLedger
from csdesk.models import (
    AfterSaleCase,
    CaseLine,
    CaseState,
    CaseType,
    Channel,
    Condition,
    Customer,
    CustomerTier,
    LineDraft,
    Order,
    OrderLine,
    OrderState,
    PaidSplit,
    Payment,
    PaymentMethod,
    Refund,
    RefundDue,
    RefundState,
    Shipment,
    StatutoryBasis,
    Ticket,
    TicketCategory,
    TicketPriority,
    TicketState,
)
from csdesk.money import Money, allocate, currency_digits, prorate, sum_money

__all__ = [
    "Actor",
    "ActorKind",
    "AfterSaleCase",
    "AggregateRef",
    "AllocationError",
    "CalendarCoverageError",
    "CalendarError",
    "CaseLine",
    "CaseState",
    "CaseType",
    "Channel",
    "ConcurrencyConflictError",
    "Condition",
    "CorruptStateError",
    "CsdeskError",
    "CurrencyMismatchError",
    "Customer",
    "CustomerTier",
    "DomainEvent",
    "FloatNotAllowedError",
    "IdempotencyConflictError",
    "InvalidAmountError",
    "InvalidInputError",
    "InvalidOrderError",
    "InvalidTransitionError",
    "LedgerEntry",
    "LedgerEntryKind",
    "LedgerError",
    "LineDraft",
    "Money",
    "MoneyError",
    "NaiveDatetimeError",
    "NotFoundError",
    "Order",
    "OrderLine",
    "OrderState",
    "OverRefundError",
    "PaidSplit",
    "Payment",
    "PaymentLedger",
    "PaymentMethod",
    "PolicyError",
    "PrecisionError",
    "QuantityError",
    "Refund",
    "RefundDue",
    "RefundState",
    "Shipment",
    "StatutoryBasis",
    "StorageError",
    "TemplateError",
    "TemplateLimitError",
    "TemplateSecurityError",
    "Ticket",
    "TicketCategory",
    "TicketPriority",
    "TicketState",
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

# A library logs, the host decides where logs go (nothing is printed unless it configures logging).
logging.getLogger(__name__).addHandler(logging.NullHandler())
