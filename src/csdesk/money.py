"""Exact money: `Money`, the currency's minor unit, and splits that conserve totals.

An amount is a `decimal.Decimal` with an ISO 4217 currency code checked against Babel's CLDR data.
The minor unit comes from CLDR too (JPY 0, CNY 2, BHD 3), never from ``/ 100``. Floats are refused
everywhere: they cannot hold 0.1 exactly, and a library that guesses what ``0.1`` meant is a library
that loses cents.

Splitting money conserves it to the minor unit:

* `allocate` splits a total in proportion to weights by the largest-remainder method;
* `prorate` gives the share of a line for some of its units with cumulative rounding, so refunding
  every unit of a line, in any order of partial refunds, returns exactly what was paid.

Examples:
    >>> from csdesk import Money, allocate
    >>> Money("0.1", "CNY") + Money("0.2", "CNY") == Money("0.3", "CNY")
    True
    >>> allocate(Money("100.00", "CNY"), [1, 1, 1])
    [Money('33.34', 'CNY'), Money('33.33', 'CNY'), Money('33.33', 'CNY')]
"""

from __future__ import annotations

import decimal
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_HALF_EVEN, Decimal
from functools import reduce
from math import lcm
from typing import TYPE_CHECKING, Any, Final, Literal, TypeAlias

from babel.numbers import format_currency, get_currency_precision, list_currencies

from csdesk._locale import get_locale
from csdesk.errors import (
    AllocationError,
    CurrencyMismatchError,
    FloatNotAllowedError,
    InvalidAmountError,
    InvalidInputError,
    MoneyError,
    PrecisionError,
    QuantityError,
    UnknownCurrencyError,
)

if TYPE_CHECKING:
    from babel import Locale
    from pydantic import GetCoreSchemaHandler, GetJsonSchemaHandler
    from pydantic.json_schema import JsonSchemaValue
    from pydantic_core import CoreSchema

__all__ = [
    "MAX_AMOUNT",
    "ROUNDING_MODES",
    "AmountLike",
    "Money",
    "Rounding",
    "allocate",
    "currency_digits",
    "prorate",
    "prorate_many",
    "sum_money",
]

AmountLike: TypeAlias = Decimal | int | str
"""What `Money` accepts as an amount: a `Decimal`, an `int` or a numeric string; never a float."""

Rounding: TypeAlias = Literal[
    "ROUND_HALF_EVEN",
    "ROUND_HALF_UP",
    "ROUND_HALF_DOWN",
    "ROUND_UP",
    "ROUND_DOWN",
    "ROUND_CEILING",
    "ROUND_FLOOR",
    "ROUND_05UP",
]
"""A rounding mode, named as in the `decimal` module."""

ROUNDING_MODES: Final[frozenset[str]] = frozenset(Rounding.__args__)  # type: ignore[attr-defined]
"""Every accepted rounding mode name."""

MAX_AMOUNT: Final = Decimal(10) ** 18
"""Amounts are strictly between ``-MAX_AMOUNT`` and ``MAX_AMOUNT`` (10**18), in every currency.

That is a billion billion: more than any order, refund or budget in any currency (10**18 VND is
about 40 trillion USD), and it leaves room in `decimal`'s 28 significant digits for three minor
digits and millions of additions, so a sum is never rounded silently. Anything beyond is refused
with `csdesk.errors.InvalidAmountError`, never carried as a rounded or non-finite number.
"""

_EXPONENT_LIMIT: Final = 17  # adjusted() of the largest allowed amount, 999…9 × 10**17
# Additions and subtractions must be exact and bounded: an inexact sum (more than 28 significant
# digits) or one beyond MAX_AMOUNT raises instead of rounding. Multiplication and division may
# round (a third is a third), but never overflow or divide by zero silently.
_EXACT: Final = decimal.Context(
    prec=28,
    Emax=_EXPONENT_LIMIT,
    Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow, decimal.Inexact],
)
_BOUNDED: Final = decimal.Context(
    prec=28,
    Emax=_EXPONENT_LIMIT,
    Emin=-999_999,
    traps=[decimal.InvalidOperation, decimal.DivisionByZero, decimal.Overflow],
)
_exact_add: Final = _EXACT.add
_exact_subtract: Final = _EXACT.subtract
_bounded_multiply: Final = _BOUNDED.multiply
_bounded_divide: Final = _BOUNDED.divide
_DIGITS_ONLY: Final = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)", re.ASCII)
_KNOWN_CURRENCIES: Final[frozenset[str]] = frozenset(list_currencies())
_DIGITS: dict[str, int] = {}
_QUANTUM: dict[str, Decimal] = {}
_SCALE: dict[str, int] = {}
_new_object = object.__new__


def currency_digits(currency: str) -> int:
    """The number of minor-unit digits of an ISO 4217 currency, from CLDR.

    Raises:
        UnknownCurrencyError: the code is not a known ISO 4217 code.

    Examples:
        >>> [currency_digits(c) for c in ("JPY", "CNY", "BHD")]
        [0, 2, 3]
    """
    try:
        return _DIGITS[currency]
    except (KeyError, TypeError):
        _check_currency(currency)
        return _DIGITS[currency]


def _check_currency(currency: object) -> str:
    if type(currency) is str and currency in _DIGITS:
        return currency
    if not isinstance(currency, str) or currency not in _KNOWN_CURRENCIES:
        raise UnknownCurrencyError(currency)
    digits = get_currency_precision(currency)
    _QUANTUM[currency] = Decimal(1).scaleb(-digits)
    _SCALE[currency] = 10**digits
    _DIGITS[currency] = digits
    return currency


def _check_rounding(rounding: str) -> str:
    if not isinstance(rounding, str) or rounding not in ROUNDING_MODES:
        raise InvalidInputError(
            f"unknown rounding mode {rounding!r}; use one of {', '.join(sorted(ROUNDING_MODES))}"
        )
    return rounding


def _beyond(value: object, what: str) -> InvalidAmountError:
    return InvalidAmountError(
        f"{what} is beyond the largest amount csdesk carries (10**18 in magnitude); "
        "check the units (minor units given as major?)",
        value=value,
    )


def _arithmetic(operation: str, signal: decimal.DecimalException, *operands: object) -> MoneyError:
    """The csdesk error for a `decimal` signal raised by Money arithmetic."""
    if isinstance(signal, decimal.Overflow):
        why = "the result is beyond 10**18 in magnitude (MAX_AMOUNT)"
    elif isinstance(signal, decimal.Inexact):
        why = (
            "the exact result needs more than 28 significant digits; quantize the operands "
            "first rather than let the sum be rounded silently"
        )
    else:
        why = "division by zero or an undefined result"
    return InvalidAmountError(f"cannot {operation} {' and '.join(map(str, operands))}: {why}",
                              value=operands)  # fmt: skip


def _to_decimal(value: object, *, what: str = "amount") -> Decimal:
    if type(value) is Decimal:
        result = value
    elif isinstance(value, float):
        raise FloatNotAllowedError(value, what=what)
    elif isinstance(value, bool):
        raise InvalidAmountError(f"{what} {value!r} is a bool, not a number", value=value)
    elif isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not _DIGITS_ONLY.fullmatch(text):
            shown = value if len(value) <= 40 else value[:40] + "…"
            raise InvalidAmountError(
                f"{what} {shown!r} is not a plain decimal; write ASCII digits with an optional "
                "sign and point, such as '12.30' (no exponent, separators or spaces inside)",
                value=shown,
            )
        result = Decimal(text)
    else:
        raise InvalidAmountError(
            f"{what} {value!r} ({type(value).__name__}) is not accepted; pass a decimal.Decimal, "
            "an int or a numeric string such as '12.30'",
            value=value,
        )
    if not result.is_finite():
        raise InvalidAmountError(f"{what} {value!r} is not a finite number", value=value)
    if result and result.adjusted() > _EXPONENT_LIMIT and what == "amount":
        raise _beyond(value, what)
    return result


def _make(amount: Decimal, currency: str) -> Money:
    # Arithmetic results come from already-valid operands, so they skip validation.
    money: Money = _new_object(Money)
    money._amount = amount
    money._currency = currency
    return money


class Money:
    """An exact amount of one currency. Immutable and hashable.

    ``amount`` and ``currency`` are read-only; arithmetic returns new amounts. The class has
    ``__slots__`` and no per-instance dict, so it costs about what a tuple does in hot loops.

    Args:
        amount: A `Decimal`, an `int` or a numeric string. Floats are refused.
        currency: An ISO 4217 code in upper case, such as ``"CNY"``.

    Raises:
        FloatNotAllowedError: the amount is a float.
        InvalidAmountError: the amount is not a finite number.
        UnknownCurrencyError: the currency is not a known ISO 4217 code.

    Examples:
        >>> price = Money("349.99", "CNY")
        >>> price * 5 - Money("524.98", "CNY")
        Money('1224.97', 'CNY')
        >>> (price / 3).quantize()
        Money('116.66', 'CNY')
    """

    __slots__ = ("_amount", "_currency")

    _amount: Decimal
    _currency: str

    def __init__(self, amount: AmountLike, currency: str) -> None:
        if (
            type(amount) is not Decimal
            or not amount.is_finite()
            or (amount and amount.adjusted() > _EXPONENT_LIMIT)
        ):
            amount = _to_decimal(amount)
        if type(currency) is not str or currency not in _DIGITS:
            _check_currency(currency)
        self._amount = amount
        self._currency = currency

    @property
    def amount(self) -> Decimal:
        """The amount, exactly as given or computed (not rounded)."""
        return self._amount

    @property
    def currency(self) -> str:
        """The ISO 4217 currency code."""
        return self._currency

    @classmethod
    def zero(cls, currency: str) -> Money:
        """Zero in ``currency``, at its minor-unit precision (``0.00`` for CNY)."""
        return _make(_QUANTUM[_check_currency(currency)] * 0, currency)

    @classmethod
    def from_minor(cls, units: int, currency: str) -> Money:
        """The amount that is ``units`` minor units of ``currency`` (fen, cents, fils).

        Examples:
            >>> Money.from_minor(12250, "CNY"), Money.from_minor(12250, "JPY")
            (Money('122.50', 'CNY'), Money('12250', 'JPY'))
        """
        if type(units) is int and currency in _QUANTUM:
            return _make(Decimal(units) * _QUANTUM[currency], currency)
        if isinstance(units, bool) or not isinstance(units, int):
            raise InvalidAmountError(f"minor units must be an int, got {units!r}", value=units)
        digits = currency_digits(currency)
        return _make(Decimal(units).scaleb(-digits), currency)

    @property
    def digits(self) -> int:
        """The number of minor-unit digits of this currency."""
        return _DIGITS[self._currency]

    @property
    def is_zero(self) -> bool:
        """Whether the amount is zero."""
        return not self._amount

    @property
    def is_quantized(self) -> bool:
        """Whether the amount is a whole number of minor units."""
        amount = self._amount
        return amount == amount.quantize(_QUANTUM[self._currency], rounding=ROUND_HALF_EVEN)

    @property
    def minor_units(self) -> int:
        """The amount as an integer number of minor units.

        Raises:
            PrecisionError: the amount is not a whole number of minor units; quantize it first.
        """
        numerator, denominator = self._amount.as_integer_ratio()
        units, remainder = divmod(numerator * _SCALE[self._currency], denominator)
        if remainder:
            digits = _DIGITS[self._currency]
            raise PrecisionError(self._amount, self._currency, digits, what="amount")
        return units

    def quantize(self, rounding: Rounding = "ROUND_HALF_EVEN") -> Money:
        """Round to the currency's minor unit with the named rounding mode.

        Examples:
            >>> Money("2.345", "CNY").quantize(), Money("2.345", "CNY").quantize("ROUND_HALF_UP")
            (Money('2.34', 'CNY'), Money('2.35', 'CNY'))
            >>> Money("2.5", "JPY").quantize()
            Money('2', 'JPY')
        """
        if type(rounding) is not str or rounding not in ROUNDING_MODES:
            _check_rounding(rounding)
        money: Money = _new_object(Money)
        money._amount = self._amount.quantize(_QUANTUM[self._currency], rounding=rounding)
        money._currency = self._currency
        return money

    def format(
        self,
        locale: str | Locale = "en",
        *,
        style: Literal["symbol", "code", "name", "plain"] = "symbol",
    ) -> str:
        r"""Format for people with Babel's CLDR data. Never rounds.

        Args:
            locale: A locale tag or Babel ``Locale``; parsed once and cached.
            style: ``symbol`` (¥1,234.50), ``code`` (CNY 1,234.50), ``name`` (1,234.50人民币) or
                ``plain`` (1,234.50: the locale's number with the currency's digits, for tables).

        Raises:
            PrecisionError: the amount is finer than the minor unit; quantize it first, choosing
                the rounding mode, rather than let a formatter pick one silently.
            UnknownLocaleError: the locale is unknown.

        Examples:
            >>> Money("1234.5", "CNY").format("zh-CN")
            '¥1,234.50'
            >>> Money("1234.5", "CNY").format("en-US", style="code")
            'CNY\xa01,234.50'
            >>> Money("-1234.5", "CNY").format("de-DE", style="plain")
            '-1.234,50'
        """
        if not self.is_quantized:
            raise PrecisionError(self._amount, self._currency, self.digits, what="amount")
        parsed = get_locale(locale)
        if style == "name":
            return format_currency(self._amount, self._currency, locale=parsed, format_type="name")
        if style == "symbol":
            return format_currency(self._amount, self._currency, locale=parsed)
        standard = parsed.currency_formats["standard"].pattern
        if style == "plain":
            plain = standard.replace("¤", "").strip("\xa0 ")
            return format_currency(self._amount, self._currency, plain, locale=parsed)
        text = format_currency(
            self._amount, self._currency, standard.replace("¤", "¤¤"), locale=parsed
        )
        return _space_code(text, self._currency)

    def __add__(self, other: Money) -> Money:
        if type(other) is not Money:
            return NotImplemented
        if self._currency != other._currency:
            raise CurrencyMismatchError(self._currency, other._currency, operation="add")
        amount, added = self._amount, other._amount
        # Adding a zero of the same quantum gives the other amount exactly (the sign of a zero
        # sum aside, hence the non-zero condition): no new object, as Money is immutable.
        if not added and amount and added.same_quantum(amount):
            return self
        if not amount and added and amount.same_quantum(added):
            return other
        try:
            total = _exact_add(amount, added)
        except decimal.DecimalException as signal:
            raise _arithmetic("add", signal, self, other) from None
        money: Money = _new_object(Money)  # _make, inlined: amounts are added in hot loops
        money._amount = total
        money._currency = self._currency
        return money

    def __radd__(self, other: int) -> Money:
        # Lets the builtin sum() start from 0; any other left operand is refused.
        if type(other) is int and other == 0:
            return self
        return NotImplemented

    def __sub__(self, other: Money) -> Money:
        if type(other) is not Money:
            return NotImplemented
        if self._currency != other._currency:
            raise CurrencyMismatchError(self._currency, other._currency, operation="subtract")
        amount, taken = self._amount, other._amount
        if not taken and amount and taken.same_quantum(amount):  # minus a zero: itself, exactly
            return self
        try:
            difference = _exact_subtract(amount, taken)
        except decimal.DecimalException as signal:
            raise _arithmetic("subtract", signal, self, other) from None
        money: Money = _new_object(Money)  # _make, inlined: amounts are subtracted in hot loops
        money._amount = difference
        money._currency = self._currency
        return money

    def __mul__(self, factor: int | Decimal) -> Money:
        if type(factor) is not int and (type(factor) is not Decimal or not factor.is_finite()):
            if isinstance(factor, Money):
                return NotImplemented
            factor = _to_decimal(factor, what="factor")
        try:
            return _make(_bounded_multiply(self._amount, factor), self._currency)
        except decimal.DecimalException as signal:
            raise _arithmetic("multiply", signal, self, factor) from None

    __rmul__ = __mul__

    def __truediv__(self, divisor: int | Decimal) -> Money:
        if type(divisor) is not int and (type(divisor) is not Decimal or not divisor.is_finite()):
            if isinstance(divisor, Money):
                return NotImplemented
            divisor = _to_decimal(divisor, what="divisor")
        try:
            return _make(_bounded_divide(self._amount, divisor), self._currency)
        except decimal.DecimalException as signal:
            raise _arithmetic("divide", signal, self, divisor) from None

    def ratio(self, other: Money) -> Decimal:
        """``self / other`` as a plain `Decimal`, for amounts in the same currency.

        Raises:
            CurrencyMismatchError: the currencies differ.
            InvalidAmountError: ``other`` is zero.
        """
        if type(other) is not Money:
            raise InvalidAmountError(
                f"ratio takes Money, got {type(other).__name__}", value=type(other).__name__
            )
        if self._currency != other._currency:
            raise CurrencyMismatchError(self._currency, other._currency, operation="divide")
        try:
            return decimal.getcontext().divide(self._amount, other._amount)
        except decimal.DecimalException as signal:
            raise _arithmetic("divide", signal, self, other) from None

    def __neg__(self) -> Money:
        return _make(-self._amount, self._currency)

    def __pos__(self) -> Money:
        return self

    def __abs__(self) -> Money:
        return _make(abs(self._amount), self._currency)

    def __bool__(self) -> bool:
        return bool(self._amount)

    def __eq__(self, other: object) -> bool:
        if type(other) is not Money:
            return NotImplemented
        return self._amount == other._amount and self._currency == other._currency

    def __hash__(self) -> int:
        return hash((self._amount, self._currency))

    def __lt__(self, other: Money) -> bool:
        if type(other) is not Money:
            return NotImplemented
        if self._currency != other._currency:
            raise CurrencyMismatchError(self._currency, other._currency, operation="compare")
        return self._amount < other._amount

    def __le__(self, other: Money) -> bool:
        if type(other) is not Money:
            return NotImplemented
        if self._currency != other._currency:
            raise CurrencyMismatchError(self._currency, other._currency, operation="compare")
        return self._amount <= other._amount

    def __gt__(self, other: Money) -> bool:
        if type(other) is not Money:
            return NotImplemented
        if self._currency != other._currency:
            raise CurrencyMismatchError(self._currency, other._currency, operation="compare")
        return self._amount > other._amount

    def __ge__(self, other: Money) -> bool:
        if type(other) is not Money:
            return NotImplemented
        if self._currency != other._currency:
            raise CurrencyMismatchError(self._currency, other._currency, operation="compare")
        return self._amount >= other._amount

    def __reduce__(self) -> tuple[Callable[[str, str], Money], tuple[str, str]]:
        return (Money, (str(self._amount), self._currency))

    def __copy__(self) -> Money:
        return self

    def __deepcopy__(self, memo: dict[int, object]) -> Money:
        return self

    def __repr__(self) -> str:
        return f"Money({str(self._amount)!r}, {self._currency!r})"

    def __str__(self) -> str:
        return f"{self._amount} {self._currency}"

    def to_dict(self) -> dict[str, str]:
        """The JSON form: ``{"amount": "12.30", "currency": "CNY"}``, the amount as a string."""
        return {"amount": str(self._amount), "currency": self._currency}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Money:
        """Build from the JSON form; the inverse of `to_dict`.

        Raises:
            InvalidAmountError: the mapping lacks ``amount`` or ``currency``, or has other keys.
        """
        if not isinstance(data, Mapping) or set(data) != {"amount", "currency"}:
            raise InvalidAmountError(
                f"money must be a mapping with exactly the keys 'amount' and 'currency', "
                f"got {data!r}",
                value=data,
            )
        return cls(data["amount"], data["currency"])

    @classmethod
    def _validate(cls, value: object) -> Money:
        if type(value) is cls:
            return value
        if isinstance(value, Mapping):
            return cls.from_dict(value)
        if isinstance(value, float):
            raise FloatNotAllowedError(value, what="amount")
        raise InvalidAmountError(
            f"expected Money or {{'amount': '12.30', 'currency': 'CNY'}}, got {value!r}",
            value=value,
        )

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: type[Any], handler: GetCoreSchemaHandler
    ) -> CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_plain_validator_function(
            cls._validate,
            serialization=core_schema.plain_serializer_function_ser_schema(
                cls.to_dict, when_used="always"
            ),
        )

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return {
            "title": "Money",
            "type": "object",
            "properties": {
                "amount": {
                    "type": "string",
                    "pattern": r"^-?\d+(\.\d+)?$",
                    "description": "The amount as a decimal string; never a JSON number.",
                    "examples": ["12.30"],
                },
                "currency": {
                    "type": "string",
                    "pattern": "^[A-Z]{3}$",
                    "description": "ISO 4217 currency code.",
                    "examples": ["CNY"],
                },
            },
            "required": ["amount", "currency"],
            "additionalProperties": False,
        }


def _space_code(text: str, code: str) -> str:
    # CLDR's currencySpacing: a letter code next to a digit gets a no-break space between them.
    at = text.find(code)
    end = at + len(code)
    if end < len(text) and text[end].isdigit():
        text = text[:end] + "\xa0" + text[end:]
    if at > 0 and text[at - 1].isdigit():
        text = text[:at] + "\xa0" + text[at:]
    return text


def _weight_value(total: Money, weight: object, index: int) -> int | Decimal:
    kind = type(weight)
    if kind is int:
        value: int | Decimal = weight  # type: ignore[assignment]
    elif kind is Decimal or kind is Money:
        if kind is Money:
            if weight._currency != total._currency:  # type: ignore[attr-defined]
                raise CurrencyMismatchError(total._currency, weight._currency, operation="weigh")  # type: ignore[attr-defined]
            value = weight._amount  # type: ignore[attr-defined]
        else:
            value = weight  # type: ignore[assignment]
        if not value.is_finite():  # type: ignore[union-attr]
            raise AllocationError(f"weight {index} is {weight!r}; weights must be finite")
    elif isinstance(weight, float):
        raise FloatNotAllowedError(weight, what=f"weight {index}")
    else:
        raise AllocationError(f"weight {index} is {weight!r}; weights are ints, Decimals or Money")
    if value < 0:
        raise AllocationError(f"weight {index} is {weight!r}; weights must be >= 0")
    return value


def _weight_numerators(total: Money, weights: Sequence[int | Decimal | Money]) -> list[int]:
    values = [_weight_value(total, weight, index) for index, weight in enumerate(weights)]
    if all(type(value) is int for value in values):
        return values  # type: ignore[return-value]
    fractions = [value.as_integer_ratio() for value in values]
    common = reduce(lcm, (denominator for _, denominator in fractions), 1)
    return [numerator * (common // denominator) for numerator, denominator in fractions]


def allocate(total: Money, weights: Sequence[int | Decimal | Money]) -> list[Money]:
    """Split ``total`` in proportion to ``weights``, conserving it to the minor unit.

    Largest-remainder (Hamilton) method in minor units: each part gets the floor of its exact
    share, then the minor units left over go one each to the largest remainders, ties to the lower
    index. The parts always sum to ``total`` exactly, each is within one minor unit of its exact
    share, and a zero weight always gets zero. A negative total is split as its absolute value and
    negated, so refunds and discounts split the same way.

    Args:
        total: The amount to split; a whole number of minor units.
        weights: Non-negative ints, Decimals or Money in ``total``'s currency; not all zero.

    Raises:
        PrecisionError: ``total`` is finer than the minor unit.
        AllocationError: no weights, a negative weight, or all weights zero.
        FloatNotAllowedError: a weight is a float.

    Examples:
        >>> allocate(Money("10", "JPY"), [1, 2])
        [Money('3', 'JPY'), Money('7', 'JPY')]
        >>> allocate(Money("0.05", "CNY"), [Decimal("1.5"), 0, Decimal("1.5")])
        [Money('0.03', 'CNY'), Money('0.00', 'CNY'), Money('0.02', 'CNY')]
    """
    if type(total) is not Money:
        raise InvalidAmountError(
            f"allocate splits a Money total, got {type(total).__name__}", value=type(total).__name__
        )
    if isinstance(weights, str | bytes) or not isinstance(weights, Sequence):
        raise AllocationError(f"weights must be a list, got {type(weights).__name__}")
    if not weights:
        raise AllocationError("no weights given; pass at least one weight")
    units = total.minor_units
    numerators = _weight_numerators(total, weights)
    weight_sum = sum(numerators)
    if weight_sum == 0:
        raise AllocationError(f"all {len(weights)} weights are zero; at least one must be > 0")
    magnitude = abs(units)
    parts: list[int] = []
    remainders: list[int] = []
    for numerator in numerators:
        share, remainder = divmod(magnitude * numerator, weight_sum)
        parts.append(share)
        remainders.append(remainder)
    leftover = magnitude - sum(parts)
    if leftover:
        order = sorted(range(len(parts)), key=lambda i: (-remainders[i], i))
        for index in order[:leftover]:
            parts[index] += 1
    currency = total._currency
    quantum = _QUANTUM[currency] if units >= 0 else -_QUANTUM[currency]
    return [_make(Decimal(part) * quantum, currency) for part in parts]


def _half_even(numerator: int, denominator: int) -> int:
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        return quotient + 1
    return quotient


def _round_ratio(numerator: int, denominator: int, rounding: str) -> int:
    """``numerator / denominator`` rounded to an integer with a `decimal` mode, exactly."""
    quotient, remainder = divmod(numerator, denominator)
    if remainder == 0:
        return quotient
    if rounding == "ROUND_HALF_EVEN":  # the default, in integers only
        return _half_even(numerator, denominator)
    twice = 2 * remainder
    # Only the fraction's position relative to one half decides the rounding, so a stand-in
    # fraction with the same position lets Decimal apply the named mode exactly.
    stand_in = "0.25" if twice < denominator else "0.5" if twice == denominator else "0.75"
    value = Decimal(quotient) + Decimal(stand_in)
    return int(value.quantize(Decimal(1), rounding=rounding))


def _check_counts(quantity: int, already: int, units: int) -> None:
    if not (type(quantity) is int and type(already) is int and type(units) is int):
        for name, value in (("quantity", quantity), ("already", already), ("units", units)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise QuantityError(f"{name} must be an int, got {value!r}")
    if quantity <= 0 or already < 0 or units < 0 or already + units > quantity:
        raise QuantityError(
            f"cannot prorate {units} unit(s) after {already} of {quantity}: need quantity > 0, "
            "already >= 0, units >= 0 and already + units <= quantity"
        )


def prorate(
    paid: Money,
    *,
    quantity: int,
    already: int,
    units: int,
    rounding: Rounding = "ROUND_HALF_EVEN",
) -> Money:
    """The share of ``paid`` for ``units`` more of a line's ``quantity`` units after ``already``.

    Cumulative rounding: ``round(paid × (already + units) / quantity) − round(paid × already /
    quantity)`` in minor units. Refunding every unit, in any sequence of partial refunds, sums to
    ``paid`` exactly, and each share is within one minor unit of its exact pro-rata value.

    Args:
        paid: What the whole line cost the customer; a whole number of minor units.
        quantity: The line's unit count (> 0).
        already: Units refunded before this one (>= 0).
        units: Units in this refund (>= 0; ``already + units <= quantity``).
        rounding: The rounding mode for the two cumulative amounts.

    Raises:
        QuantityError: the unit counts are out of range.
        PrecisionError: ``paid`` is finer than the minor unit.

    Examples:
        >>> paid = Money("1224.97", "CNY")  # 5 × 349.99 less 524.98 of discount
        >>> [prorate(paid, quantity=5, already=a, units=u) for a, u in ((0, 2), (2, 1), (3, 2))]
        [Money('489.99', 'CNY'), Money('244.99', 'CNY'), Money('489.99', 'CNY')]
    """
    _check_counts(quantity, already, units)
    mode = rounding if rounding == "ROUND_HALF_EVEN" else _check_rounding(rounding)
    total = paid.minor_units
    currency = paid._currency
    if not total:
        return _make(_QUANTUM[currency] * 0, currency)
    before = _round_ratio(total * already, quantity, mode)
    after = _round_ratio(total * (already + units), quantity, mode)
    return _make(Decimal(after - before) * _QUANTUM[currency], currency)


def prorate_many(
    amounts: Sequence[Money], *, quantity: int, already: int, units: int
) -> list[Money]:
    """`prorate` for several parts of one line at once (list price, discounts, shipping, tax).

    The counts are checked once; each amount must be a whole number of minor units, and the
    rounding is ``ROUND_HALF_EVEN``. Equal to ``[prorate(a, ...) for a in amounts]``, faster.

    Examples:
        >>> prorate_many([Money("1224.97", "CNY"), Money("0.05", "CNY")], quantity=5,
        ...              already=0, units=2)
        [Money('489.99', 'CNY'), Money('0.02', 'CNY')]
    """
    _check_counts(quantity, already, units)
    done = already + units
    result: list[Money] = []
    for amount in amounts:
        currency = amount._currency
        numerator, denominator = amount._amount.as_integer_ratio()
        total, remainder = divmod(numerator * _SCALE[currency], denominator)
        if remainder:
            raise PrecisionError(amount._amount, currency, _DIGITS[currency], what="amount")
        share = _half_even(total * done, quantity) - _half_even(total * already, quantity)
        result.append(_make(Decimal(share) * _QUANTUM[currency], currency))
    return result


def sum_money(amounts: Iterable[Money], currency: str) -> Money:
    """Add amounts of one currency, starting from zero in ``currency`` (so empty input is zero).

    Raises:
        CurrencyMismatchError: an amount is in another currency.
    """
    total = Money.zero(currency)
    for amount in amounts:
        total = total + amount
    return total
