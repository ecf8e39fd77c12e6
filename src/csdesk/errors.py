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
    │   └── InvalidOrderError                      invalid_order
    ├── MoneyError (ValueError)                    money_error
    │   ├── FloatNotAllowedError (TypeError)       float_not_allowed
    │   ├── InvalidAmountError                     invalid_amount
    │   ├── UnknownCurrencyError (LookupError)     unknown_currency
    │   ├── CurrencyMismatchError                  currency_mismatch
    │   ├── PrecisionError                         money_precision
    │   └── AllocationError                        invalid_allocation
    └── UnknownLocaleError (ValueError, LookupError)  unknown_locale

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

if TYPE_CHECKING:
    import pydantic

__all__ = [
    "AllocationError",
    "CsdeskError",
    "CurrencyMismatchError",
    "FieldError",
    "FloatNotAllowedError",
    "InvalidAmountError",
    "InvalidInputError",
    "InvalidOrderError",
    "MoneyError",
    "NaiveDatetimeError",
    "PrecisionError",
    "QuantityError",
    "UnknownCurrencyError",
    "UnknownLocaleError",
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
        return FieldError(loc, cause.message, cause.code)
    if detail["type"] == "timezone_aware":
        message = (
            "naive datetime (no time zone); pass a timezone-aware datetime, "
            "e.g. datetime(2026, 3, 1, 9, 0, tzinfo=ZoneInfo('Asia/Shanghai'))"
        )
        return FieldError(loc, message, NaiveDatetimeError.code)
    return FieldError(loc, str(detail["msg"]), str(detail["type"]))


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
