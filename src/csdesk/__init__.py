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

import importlib as _importlib
import logging as _logging
import typing as _typing

from csdesk._version import __version__

if _typing.TYPE_CHECKING:  # the names, eagerly, for type checkers and IDEs
    from csdesk._model import require_aware
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
        Consent,
        ContactAttempt,
        Customer,
        CustomerTier,
        Duty,
        ExchangeItem,
        LineDraft,
        Order,
        OrderLine,
        OrderState,
        PaidSplit,
        Payment,
        PaymentMethod,
        Refund,
        RefundDestination,
        RefundDue,
        RefundState,
        ReviewCase,
        ReviewCaseState,
        RootCause,
        Satisfaction,
        Shipment,
        StatutoryBasis,
        Ticket,
        TicketCategory,
        TicketPriority,
        TicketState,
        Transfer,
    )
    from csdesk.money import Money, allocate, currency_digits, prorate, sum_money


# The public names load on first use (PEP 562), so `import csdesk.<module>` and the `csdesk`
# command start without importing every module (pydantic models, Babel, SQLAlchemy).
_EXPORTS: dict[str, str] = {
    "Actor": "csdesk.events",
    "ActorKind": "csdesk.events",
    "AfterSaleCase": "csdesk.models",
    "AggregateRef": "csdesk.events",
    "AllocationError": "csdesk.errors",
    "CalendarCoverageError": "csdesk.errors",
    "CalendarError": "csdesk.errors",
    "CaseLine": "csdesk.models",
    "CaseState": "csdesk.models",
    "CaseType": "csdesk.models",
    "Channel": "csdesk.models",
    "ConcurrencyConflictError": "csdesk.errors",
    "Condition": "csdesk.models",
    "CorruptStateError": "csdesk.errors",
    "CsdeskError": "csdesk.errors",
    "CurrencyMismatchError": "csdesk.errors",
    "Customer": "csdesk.models",
    "CustomerTier": "csdesk.models",
    "DomainEvent": "csdesk.events",
    "FloatNotAllowedError": "csdesk.errors",
    "IdempotencyConflictError": "csdesk.errors",
    "InvalidAmountError": "csdesk.errors",
    "InvalidInputError": "csdesk.errors",
    "InvalidOrderError": "csdesk.errors",
    "InvalidTransitionError": "csdesk.errors",
    "LedgerEntry": "csdesk.ledger",
    "LedgerEntryKind": "csdesk.ledger",
    "LedgerError": "csdesk.errors",
    "LineDraft": "csdesk.models",
    "Money": "csdesk.money",
    "MoneyError": "csdesk.errors",
    "NaiveDatetimeError": "csdesk.errors",
    "NotFoundError": "csdesk.errors",
    "Order": "csdesk.models",
    "OrderLine": "csdesk.models",
    "OrderState": "csdesk.models",
    "OverRefundError": "csdesk.errors",
    "PaidSplit": "csdesk.models",
    "Payment": "csdesk.models",
    "PaymentLedger": "csdesk.ledger",
    "PaymentMethod": "csdesk.models",
    "PolicyError": "csdesk.errors",
    "PrecisionError": "csdesk.errors",
    "QuantityError": "csdesk.errors",
    "Refund": "csdesk.models",
    "RefundDestination": "csdesk.models",
    "Consent": "csdesk.models",
    "RefundDue": "csdesk.models",
    "RefundState": "csdesk.models",
    "Satisfaction": "csdesk.models",
    "Shipment": "csdesk.models",
    "StatutoryBasis": "csdesk.models",
    "StorageError": "csdesk.errors",
    "TemplateError": "csdesk.errors",
    "TemplateLimitError": "csdesk.errors",
    "TemplateSecurityError": "csdesk.errors",
    "Ticket": "csdesk.models",
    "TicketCategory": "csdesk.models",
    "TicketPriority": "csdesk.models",
    "TicketState": "csdesk.models",
    "Transfer": "csdesk.models",
    "ExchangeItem": "csdesk.models",
    "Duty": "csdesk.models",
    "RootCause": "csdesk.models",
    "ReviewCaseState": "csdesk.models",
    "ReviewCase": "csdesk.models",
    "ContactAttempt": "csdesk.models",
    "TransitionRejectedError": "csdesk.errors",
    "UnknownCurrencyError": "csdesk.errors",
    "UnknownLocaleError": "csdesk.errors",
    "UnknownPresetError": "csdesk.errors",
    "WorkflowError": "csdesk.errors",
    "allocate": "csdesk.money",
    "currency_digits": "csdesk.money",
    "prorate": "csdesk.money",
    "require_aware": "csdesk._model",
    "sum_money": "csdesk.money",
}


def __getattr__(name: str) -> _typing.Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'csdesk' has no attribute {name!r}")
    value = getattr(_importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})


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
    "Consent",
    "ContactAttempt",
    "CorruptStateError",
    "CsdeskError",
    "CurrencyMismatchError",
    "Customer",
    "CustomerTier",
    "DomainEvent",
    "Duty",
    "ExchangeItem",
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
    "RefundDestination",
    "RefundDue",
    "RefundState",
    "ReviewCase",
    "ReviewCaseState",
    "RootCause",
    "Satisfaction",
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
    "Transfer",
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
_logging.getLogger(__name__).addHandler(_logging.NullHandler())
