"""Every error csdesk raises on purpose, in one tree.

Each class carries a stable ``code`` (a snake_case string documented on the docs' errors page) and
mixes in the builtin exception a caller would naturally catch, so ``except ValueError`` keeps
working in code that does not know csdesk. Errors from pydantic are translated into these at the
boundary; a caller never has to catch a third-party exception type.

The tree::

    CsdeskError                                    csdesk_error
    ├── InvalidInputError (ValueError)             invalid_input
    │   ├── NaiveDatetimeError                     naive_datetime
    │   ├── QuantityError                          invalid_quantity
    │   ├── InvalidOrderError                      invalid_order
    │   └── NotFoundError (LookupError)            not_found
    ├── MoneyError (ValueError)                    money_error
    │   ├── FloatNotAllowedError (TypeError)       float_not_allowed
    │   ├── InvalidAmountError                     invalid_amount
    │   ├── UnknownCurrencyError (LookupError)     unknown_currency
    │   ├── CurrencyMismatchError                  currency_mismatch
    │   ├── PrecisionError                         money_precision
    │   └── AllocationError                        invalid_allocation
    ├── UnknownLocaleError (ValueError, LookupError)  unknown_locale
    ├── TemplateError (ValueError)                 template_error
    │   └── TemplateSecurityError                  template_security
    │       └── TemplateLimitError                 template_limit
    ├── CalendarError (ValueError)                 calendar_error
    │   └── CalendarCoverageError (LookupError)    calendar_coverage
    ├── PolicyError (ValueError)                   invalid_policy
    │   └── UnknownPresetError (LookupError)       unknown_preset
    ├── LedgerError (ValueError)                   ledger_error
    │   └── OverRefundError                        over_refund
    ├── IdempotencyConflictError (ValueError)      idempotency_conflict
    ├── WorkflowError (ValueError)                 workflow_error
    │   ├── InvalidTransitionError                 invalid_transition
    │   ├── TransitionRejectedError                transition_rejected
    │   └── CorruptStateError                      corrupt_state
    ├── ConcurrencyConflictError (RuntimeError)    concurrency_conflict
    ├── BudgetExceededError (RuntimeError)         budget_exceeded
    ├── ApprovalRequiredError (PermissionError)    approval_required
    ├── StorageError (RuntimeError)                storage_error
    ├── IntegrationError (RuntimeError)            integration_error
    │   ├── RemoteAnswerError                      remote_answer
    │   ├── RemoteRejectedError                    remote_rejected
    │   └── RemoteUnavailableError                 remote_unavailable
    ├── MissingDependencyError (ImportError)      missing_dependency
    └── WebhookSignatureError (ValueError)         webhook_signature

Examples:
    >>> from csdesk import Money
    >>> from csdesk.errors import CsdeskError
    >>> try:
    ...     Money("1", "CNY") + Money("1", "JPY")
    ... except CsdeskError as error:
    ...     print(error.code)
    currency_mismatch
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from csdesk._pii import scrub

if TYPE_CHECKING:
    import pydantic

__all__ = [
    "AllocationError",
    "ApprovalRequiredError",
    "BudgetExceededError",
    "CalendarCoverageError",
    "CalendarError",
    "ConcurrencyConflictError",
    "CorruptStateError",
    "CsdeskError",
    "CurrencyMismatchError",
    "FieldError",
    "FloatNotAllowedError",
    "IdempotencyConflictError",
    "IntegrationError",
    "InvalidAmountError",
    "InvalidInputError",
    "InvalidOrderError",
    "InvalidTransitionError",
    "LedgerError",
    "MissingDependencyError",
    "MoneyError",
    "NaiveDatetimeError",
    "NotFoundError",
    "OverRefundError",
    "PolicyError",
    "PrecisionError",
    "QuantityError",
    "RemoteAnswerError",
    "RemoteRejectedError",
    "RemoteUnavailableError",
    "StorageError",
    "TemplateError",
    "TemplateLimitError",
    "TemplateSecurityError",
    "TransitionRejectedError",
    "UnknownCurrencyError",
    "UnknownLocaleError",
    "UnknownPresetError",
    "WebhookSignatureError",
    "WorkflowError",
    "all_error_classes",
]


class CsdeskError(Exception):
    """The root of every error csdesk raises on purpose.

    Attributes:
        code: A stable identifier for the kind of error; documented on the errors page.
        message: What was wrong and what is allowed.
    """

    code: ClassVar[str] = "csdesk_error"

    def __init__(self, message: str) -> None:
        message = scrub(message)  # a phone or an e-mail in bad input never reaches a log whole
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field of an input.

    Attributes:
        loc: The dotted path of the field (``"lines.0.quantity"``); empty for the whole input.
        message: What was wrong with it.
        code: The csdesk error code when a csdesk check failed, else pydantic's error type.
    """

    loc: str
    message: str
    code: str


class InvalidInputError(CsdeskError, ValueError):
    """An input did not validate.

    Attributes:
        model: The name of the model or function that rejected the input, when known.
        errors: One `FieldError` per problem found.
    """

    code = "invalid_input"

    def __init__(
        self,
        message: str,
        *,
        model: str | None = None,
        errors: Iterable[FieldError] = (),
    ) -> None:
        super().__init__(message)
        self.model = model
        self.errors: tuple[FieldError, ...] = tuple(errors)

    @classmethod
    def from_pydantic(cls, error: pydantic.ValidationError) -> InvalidInputError:
        """Translate a pydantic ``ValidationError`` into the matching csdesk error."""
        fields = tuple(_field_error(detail) for detail in error.errors())
        lines = "; ".join(f"{f.loc or '(input)'}: {f.message}" for f in fields)
        naive = [f for f in fields if f.code == NaiveDatetimeError.code]
        if naive:
            return NaiveDatetimeError(
                f"invalid {error.title}: {lines}",
                field=naive[0].loc,
                model=error.title,
                errors=fields,
            )
        return cls(f"invalid {error.title}: {lines}", model=error.title, errors=fields)


def _field_error(detail: Mapping[str, Any]) -> FieldError:
    loc = ".".join(str(part) for part in detail.get("loc", ()))
    cause = detail.get("ctx", {}).get("error")
    if isinstance(cause, CsdeskError):
        return FieldError(loc, cause.message, cause.code)  # already scrubbed
    if detail["type"] == "timezone_aware":
        message = (
            "naive datetime (no time zone); pass a timezone-aware datetime, "
            "e.g. datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo('Asia/Shanghai'))"
        )
        return FieldError(loc, message, NaiveDatetimeError.code)
    message = str(detail["msg"])
    if detail["type"] == "value_error":
        message = message.removeprefix("Value error, ")
    return FieldError(loc, scrub(message), str(detail["type"]))


class NaiveDatetimeError(InvalidInputError):
    """A datetime without a time zone was given where an instant is needed.

    Attributes:
        field: The name or dotted path of the offending field or argument.
    """

    code = "naive_datetime"

    def __init__(
        self,
        message: str,
        *,
        field: str,
        model: str | None = None,
        errors: Iterable[FieldError] = (),
    ) -> None:
        super().__init__(message, model=model, errors=errors)
        self.field = field


class QuantityError(InvalidInputError):
    """A unit count is out of range (negative, zero where one is needed, or above what exists)."""

    code = "invalid_quantity"


class InvalidOrderError(InvalidInputError):
    """An order cannot be placed as given (no lines, a discount above the goods, …)."""

    code = "invalid_order"


class NotFoundError(InvalidInputError, LookupError):
    """No stored entity has the kind and id asked for."""

    code = "not_found"


class MoneyError(CsdeskError, ValueError):
    """The base of every error about amounts and currencies."""

    code = "money_error"


class FloatNotAllowedError(MoneyError, TypeError):
    """A ``float`` was given as an amount or a factor; floats cannot hold money exactly.

    Attributes:
        value: The float that was refused.
    """

    code = "float_not_allowed"

    def __init__(self, value: float, *, what: str = "amount") -> None:
        super().__init__(
            f"float {value!r} given as {what}: floats cannot represent money exactly; "
            f"pass a string such as '{value!r}' or a decimal.Decimal"
        )
        self.value = value


class InvalidAmountError(MoneyError):
    """An amount is not a finite number (``"abc"``, ``"NaN"``, ``Infinity``, ``True``).

    Attributes:
        value: The value that was refused.
    """

    code = "invalid_amount"

    def __init__(self, message: str, *, value: object) -> None:
        super().__init__(message)
        self.value = value


class UnknownCurrencyError(MoneyError, LookupError):
    """A currency code is not an ISO 4217 code known to Babel's CLDR data.

    Attributes:
        currency: The code that was refused.
    """

    code = "unknown_currency"

    def __init__(self, currency: object) -> None:
        hint = ""
        if isinstance(currency, str) and currency.upper() != currency:
            hint = f" (codes are upper-case: {currency.upper()!r})"
        super().__init__(
            f"unknown currency {currency!r}{hint}; pass an ISO 4217 code such as 'CNY', 'EUR', "
            "'JPY'"
        )
        self.currency = currency


class CurrencyMismatchError(MoneyError):
    """Two amounts in different currencies were combined.

    Attributes:
        left: The currency of the left operand (or the expected currency).
        right: The currency of the right operand (or the one found).
    """

    code = "currency_mismatch"

    def __init__(self, left: str, right: str, *, operation: str = "combine") -> None:
        super().__init__(
            f"cannot {operation} {left} and {right}: amounts in different currencies never mix; "
            "convert explicitly at a rate you choose"
        )
        self.left = left
        self.right = right


class PrecisionError(MoneyError):
    """An amount is finer than its currency's minor unit where whole minor units are required.

    Attributes:
        amount: The amount as given.
        currency: Its currency.
        digits: The currency's number of minor-unit digits.
    """

    code = "money_precision"

    def __init__(self, amount: object, currency: str, digits: int, *, what: str) -> None:
        super().__init__(
            f"{what} {amount} {currency} is finer than the currency's minor unit "
            f"({digits} decimal places); quantize it first with Money.quantize(rounding=...)"
        )
        self.amount = amount
        self.currency = currency
        self.digits = digits


class AllocationError(MoneyError):
    """Weights for an allocation are unusable (empty, negative, all zero, or not numbers)."""

    code = "invalid_allocation"


class UnknownLocaleError(CsdeskError, ValueError, LookupError):
    """A locale tag is malformed or has no CLDR data.

    Attributes:
        locale: The tag that was refused.
    """

    code = "unknown_locale"

    def __init__(self, locale: object) -> None:
        super().__init__(
            f"unknown locale {locale!r}; pass a BCP 47 or CLDR tag such as 'zh-CN', 'zh_Hant_TW' "
            "or 'en'"
        )
        self.locale = locale


class TemplateError(CsdeskError, ValueError):
    """A reply template failed to compile or render (syntax, a missing variable, a bad value).

    Attributes:
        template: The template's id, or ``"<string>"`` for an ad-hoc one.
        line: The line in the template, when known.
        detail: What went wrong, without the template and line prefix.
    """

    code = "template_error"

    def __init__(
        self, message: str, *, template: str = "<string>", line: int | None = None
    ) -> None:
        where = f" (line {line})" if line else ""
        super().__init__(f"template {template}{where}: {message}")
        self.template = template
        self.line = line
        self.detail = message

    def located(
        self, template: str, line: int | None = None, detail: str | None = None
    ) -> TemplateError:
        """The same error for another template id, line or detail (the prefix is never doubled)."""
        return type(self)(
            self.detail if detail is None else detail, template=template, line=line or self.line
        )


class TemplateSecurityError(TemplateError):
    """A template tried something the sandbox forbids.

    Private attributes, methods such as ``format`` or ``mro``, objects instead of plain values,
    or output and numbers beyond the limits.
    """

    code = "template_security"


class TemplateLimitError(TemplateSecurityError):
    """A template went past a rendering limit (size, work, loop iterations, depth or time).

    The limits are checked while the template renders, before a string or list is built, so
    a hostile template fails fast without taking memory or CPU; `csdesk.replies.RenderLimits`
    lists them.

    Attributes:
        limit: The name of the limit (``max_value``, ``max_iterations``, ``max_seconds``, …).
    """

    code = "template_limit"

    def __init__(
        self,
        message: str,
        *,
        limit: str = "",
        template: str = "<string>",
        line: int | None = None,
    ) -> None:
        super().__init__(message, template=template, line=line)
        self.limit = limit

    def located(
        self, template: str, line: int | None = None, detail: str | None = None
    ) -> TemplateLimitError:
        """The same error for another template id, line or detail."""
        return TemplateLimitError(
            self.detail if detail is None else detail,
            limit=self.limit,
            template=template,
            line=line or self.line,
        )


class CalendarError(CsdeskError, ValueError):
    """A business calendar cannot answer (no open time at all within 30 years, …)."""

    code = "calendar_error"


class CalendarCoverageError(CalendarError, LookupError):
    """A date falls in a year the calendar's holiday data does not cover.

    Attributes:
        day: The date asked about.
        first_year: The first year covered.
        last_year: The last year covered.
    """

    code = "calendar_coverage"

    def __init__(self, calendar: str, day: object, first_year: int, last_year: int) -> None:
        super().__init__(
            f"{calendar} has official holiday data for {first_year}-{last_year} only, not for "
            f"{day}; csdesk will not guess a year's holidays and make-up days before the notice "
            "is published (add them with holidays= and makeup_workdays=, or update csdesk)"
        )
        self.day = day
        self.first_year = first_year
        self.last_year = last_year


class PolicyError(CsdeskError, ValueError):
    """A policy (return window, timers, …) failed to load or validate.

    Attributes:
        source: Where the policy came from (a preset name or a file path), when known.
        errors: One `FieldError` per problem, each naming the offending key.
    """

    code = "invalid_policy"

    def __init__(
        self, message: str, *, source: str | None = None, errors: Iterable[FieldError] = ()
    ) -> None:
        super().__init__(message)
        self.source = source
        self.errors: tuple[FieldError, ...] = tuple(errors)


class UnknownPresetError(PolicyError, LookupError):
    """No built-in preset has this name.

    Attributes:
        name: The name asked for.
        known: The names that exist.
    """

    code = "unknown_preset"

    def __init__(self, kind: str, name: str, known: Iterable[str]) -> None:
        self.name = name
        self.known = tuple(sorted(known))
        super().__init__(
            f"no {kind} preset named {name!r}; the built-in ones are {', '.join(self.known)}"
        )


class LedgerError(CsdeskError, ValueError):
    """A payment-ledger entry that would break the ledger's rules (e.g. nothing to settle)."""

    code = "ledger_error"


class OverRefundError(LedgerError):
    """A refund asks for more than the tender has left to refund.

    Attributes:
        scope: What was short: ``"payment P-1"`` or ``"order SO-1"``.
        requested: The amount asked for.
        refundable: What can still be refunded there.
    """

    code = "over_refund"

    def __init__(self, scope: str, *, requested: object, refundable: object) -> None:
        super().__init__(
            f"{scope}: cannot refund {requested}; {refundable} is refundable "
            "(captured, less refunds succeeded or in progress and chargebacks)"
        )
        self.scope = scope
        self.requested = requested
        self.refundable = refundable


class IdempotencyConflictError(CsdeskError, ValueError):
    """An idempotency key was reused for a command with different parameters.

    Attributes:
        key: The key.
        existing: The ids of what the key's first command created.
    """

    code = "idempotency_conflict"

    def __init__(self, key: str, existing: Iterable[str]) -> None:
        self.key = key
        self.existing = tuple(existing)
        super().__init__(
            f"idempotency key {key!r} was already used for a different request (it created "
            f"{', '.join(self.existing) or 'nothing'}); use a new key for a new request"
        )


class WorkflowError(CsdeskError, ValueError):
    """The base of the errors a workflow command raises; the model is left unchanged.

    Attributes:
        workflow: The workflow's name (``"order"``, ``"aftersale"``).
        entity_id: The id of the entity the command was for.
        event: The event that was sent.
        state: The entity's state when the command was refused.
    """

    code = "workflow_error"

    def __init__(
        self, message: str, *, workflow: str, entity_id: str, event: str, state: str
    ) -> None:
        super().__init__(message)
        self.workflow = workflow
        self.entity_id = entity_id
        self.event = event
        self.state = state


class InvalidTransitionError(WorkflowError):
    """The event cannot happen in the entity's current state.

    Attributes:
        reason: ``"unknown_event"`` (the workflow has no such event), ``"no_transition"`` (none
            from this state) or ``"guard_failed"`` (there is one, but its conditions do not hold).
        allowed: The events that can happen now, guards evaluated.
    """

    code = "invalid_transition"

    def __init__(
        self,
        *,
        workflow: str,
        entity_id: str,
        event: str,
        state: str,
        reason: str,
        allowed: Iterable[str],
    ) -> None:
        self.reason = reason
        self.allowed = tuple(allowed)
        why = {
            "unknown_event": f"the {workflow} workflow has no event {event!r}",
            "no_transition": f"no transition for {event!r} from {state!r}",
            "guard_failed": f"the conditions for {event!r} from {state!r} do not hold",
        }[reason]
        allowed_text = ", ".join(self.allowed) or "none"
        super().__init__(
            f"{workflow} {entity_id}: cannot {event!r} while {state!r}: {why}; "
            f"allowed now: {allowed_text}",
            workflow=workflow,
            entity_id=entity_id,
            event=event,
            state=state,
        )


class TransitionRejectedError(WorkflowError):
    """A business rule refused the command, with the reason.

    Attributes:
        reason: Why, in words for the agent ("a reason is required to reject").
    """

    code = "transition_rejected"

    def __init__(
        self, reason: str, *, workflow: str, entity_id: str, event: str, state: str
    ) -> None:
        self.reason = reason
        super().__init__(
            f"{workflow} {entity_id}: {event!r} refused while {state!r}: {reason}",
            workflow=workflow,
            entity_id=entity_id,
            event=event,
            state=state,
        )


class CorruptStateError(WorkflowError):
    """The stored state is not a state of the workflow (a bad row, a renamed state).

    Attributes:
        value: The stored value.
        states: The workflow's states.
    """

    code = "corrupt_state"

    def __init__(
        self, value: object, *, workflow: str, entity_id: str, event: str, states: Iterable[str]
    ) -> None:
        self.value = value
        self.states = tuple(states)
        super().__init__(
            f"{workflow} {entity_id} has stored state {value!r}, which is not a state of the "
            f"{workflow} workflow ({', '.join(self.states)}); repair the row before sending "
            f"{event!r}",
            workflow=workflow,
            entity_id=entity_id,
            event=event,
            state=str(value),
        )


class ConcurrencyConflictError(CsdeskError, RuntimeError):
    """Another writer changed the entity since it was loaded; nothing was written.

    Attributes:
        kind: The entity kind.
        entity_id: Its id.
        expected_version: The version this writer loaded.
    """

    code = "concurrency_conflict"

    def __init__(self, kind: str, entity_id: str, expected_version: int) -> None:
        super().__init__(
            f"{kind} {entity_id} is no longer at version {expected_version}: another writer "
            "committed first; reload it and decide again"
        )
        self.kind = kind
        self.entity_id = entity_id
        self.expected_version = expected_version


class BudgetExceededError(CsdeskError, RuntimeError):
    """Granting would take a budget, cap or daily limit past its limit; nothing was spent.

    Raised when the decision was taken on counts that another grant has since used up.

    Attributes:
        pool: The counter that is full, e.g. ``"budget:goodwill"`` or ``"agent:a-7"``.
        period: Its period, e.g. ``"2026-11"``.
        limit: The limit (an amount or a count).
        used: What was already used.
        requested: What this grant asked for.
    """

    code = "budget_exceeded"

    def __init__(
        self, pool: str, period: str, *, limit: object, used: object, requested: object
    ) -> None:
        super().__init__(
            f"{pool} ({period}): granting {requested} would pass the limit of {limit} "
            f"({used} already used); decide again to get an offer that fits"
        )
        self.pool = pool
        self.period = period
        self.limit = limit
        self.used = used
        self.requested = requested


class ApprovalRequiredError(CsdeskError, PermissionError):
    """A decision that needs a person's approval was granted without one of the right role.

    Attributes:
        required_role: The least role that may approve it.
        given_role: The approver's role, or ``None`` when no approver was given.
    """

    code = "approval_required"

    def __init__(self, decision: str, required_role: str, given_role: str | None) -> None:
        who = f"an approver with role {given_role!r}" if given_role else "no approver"
        super().__init__(
            f"decision {decision} needs approval by {required_role!r} or above, and {who} was "
            "given; ask that role to approve it"
        )
        self.required_role = required_role
        self.given_role = given_role


class StorageError(CsdeskError, RuntimeError):
    """The database did not do what csdesk asked; nothing csdesk wrote in that transaction stays.

    Unreachable, a lock wait that timed out, a schema missing or older than this csdesk, or a
    driver error: the message says which, never with the driver's traceback.

    Attributes:
        dialect: The database kind (``sqlite``, ``postgresql``, ``mysql``).
        operation: What csdesk was doing (``load``, ``save``, ``upgrade``, …).
        transient: The database gave up on this transaction for now (a deadlock, a lock wait
            that timed out, a serialization failure, SQLite busy): the same call may well
            succeed if made again.
    """

    code = "storage_error"

    def __init__(
        self, message: str, *, dialect: str, operation: str, transient: bool = False
    ) -> None:
        super().__init__(message)
        self.dialect = dialect
        self.operation = operation
        self.transient = transient


class IntegrationError(CsdeskError, RuntimeError):
    """A call to another system (the shop's API, a webhook subscriber) did not succeed.

    Attributes:
        method: The HTTP method, when the call was HTTP.
        url: The URL called (without credentials).
    """

    code = "integration_error"

    def __init__(self, message: str, *, method: str | None = None, url: str | None = None) -> None:
        super().__init__(message)
        self.method = method
        self.url = url


class RemoteAnswerError(IntegrationError):
    """The remote system answered, but not with what its API promises; it may have acted.

    HTML, broken JSON, a redirect, a refund without its fields or with an unknown status.

    Attributes:
        status: The HTTP status of the answer.
        detail: What was wrong, with the start of the body (customer data masked).
    """

    code = "remote_answer"

    def __init__(self, method: str, url: str, status: int, *, detail: str) -> None:
        super().__init__(
            f"{method} {url} answered HTTP {status} with something csdesk cannot read: {detail}",
            method=method,
            url=url,
        )
        self.status = status
        self.detail = detail


class RemoteRejectedError(IntegrationError):
    """The remote system answered with a client error (4xx other than 429): retrying is useless.

    Attributes:
        status: The HTTP status.
        remote_code: The error code in the answer's JSON body, when it had one.
        detail: What the server said (its ``message``, or the start of the body).
    """

    code = "remote_rejected"

    def __init__(
        self,
        method: str,
        url: str,
        status: int,
        *,
        remote_code: str | None = None,
        detail: str = "",
    ) -> None:
        said = f" ({remote_code})" if remote_code else ""
        super().__init__(
            f"{method} {url} was refused with HTTP {status}{said}: {detail or 'no detail'}",
            method=method,
            url=url,
        )
        self.status = status
        self.remote_code = remote_code
        self.detail = detail


class RemoteUnavailableError(IntegrationError):
    """The remote system could not be reached or kept failing (5xx, 429, timeouts) after retries.

    The request may or may not have taken effect; repeat it with the same idempotency key.

    Attributes:
        attempts: How many attempts were made.
        last: What the last attempt saw (``HTTP 503``, ``ReadTimeout``…).
    """

    code = "remote_unavailable"

    def __init__(self, method: str, url: str, *, attempts: int, last: str) -> None:
        super().__init__(
            f"{method} {url} failed {attempts} time(s), the last with {last}; it may have taken "
            "effect: repeat it with the same idempotency key",
            method=method,
            url=url,
        )
        self.attempts = attempts
        self.last = last


class MissingDependencyError(CsdeskError, ImportError):
    """An optional part csdesk needs for this call is not installed.

    Attributes:
        dependency: What is missing (a Python package or a program, such as ``dot``).
        install: How to install it (an extra of csdesk, or a system package).
    """

    code = "missing_dependency"

    def __init__(self, message: str, *, dependency: str, install: str) -> None:
        super().__init__(message)
        self.dependency = dependency
        self.install = install


class WebhookSignatureError(CsdeskError, ValueError):
    """A webhook's signature header is missing, malformed, wrong or too old.

    Attributes:
        reason: ``missing``, ``malformed``, ``mismatch`` or ``stale``.
    """

    code = "webhook_signature"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def all_error_classes() -> list[type[CsdeskError]]:
    """Every error class in the tree, root first, in definition order of the subclasses."""
    found: list[type[CsdeskError]] = []
    pending: list[type[CsdeskError]] = [CsdeskError]
    while pending:
        cls = pending.pop(0)
        if cls not in found:
            found.append(cls)
            pending.extend(cls.__subclasses__())
    return found
