"""The rule language of compensation policies: conditions on fields, checked and compiled at load.

A condition is ``{ field = "incident.days_late", op = "ge", value = 1 }``. `compile_condition`
resolves the field against the incident kinds its rule applies to (its type and allowed values come
from the incident models), checks the operator and the value against that type, and returns a
`Compiled` test: a getter and a predicate, so `decide` only calls small functions. Every mistake
is a ``ValueError`` naming the field, which the policy turns into a `PolicyError` with the key.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from enum import StrEnum
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from csdesk._model import ConfigModel
from csdesk.errors import InvalidInputError
from csdesk.money import Money
from csdesk.policies.compensation.incidents import (
    INCIDENT_CLASSES,
    Agent,
    CustomerSnapshot,
    IncidentKind,
    OrderSnapshot,
    Role,
)

__all__ = [
    "Compiled",
    "FieldType",
    "Getter",
    "Operator",
    "RuleCondition",
    "compile_condition",
    "no_float",
    "resolve_field",
]

FieldType = Literal["int", "bool", "money", "text", "set"]
Getter = Callable[[Any, Agent], Any]


def no_float(value: object) -> object:
    """Refuse a float where an exact number is meant (a ``BeforeValidator``)."""
    if isinstance(value, float):
        raise ValueError(
            f'{value!r} is a float; write amounts and rates as strings such as "{value}" so '
            "they stay exact"
        )
    return value


Operator = Literal[
    "eq", "ne", "lt", "le", "gt", "ge", "in", "not_in", "between", "is_null", "contains",
    "not_contains",
]  # fmt: skip
_ORDERED_OPS = {"lt", "le", "gt", "ge", "between"}
_SET_OPS = {"contains", "not_contains"}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
_SYMBOL = {"eq": "=", "ne": "≠", "lt": "<", "le": "≤", "gt": ">", "ge": "≥"}

_Scalar = Annotated[int | bool | str, BeforeValidator(no_float)]


class RuleCondition(ConfigModel):
    """One test on one field: ``{ field = "incident.days_late", op = "ge", value = 1 }``.

    Fields are dotted paths into the incident (``incident.*``), its order and customer snapshots
    (``order.*``, ``customer.*``) and the deciding agent (``agent.role``). The operators are a
    closed set: ``eq ne lt le gt ge`` (ordering only on numbers and amounts), ``in not_in`` (a
    list), ``between`` (``[low, high]``, both included), ``is_null`` (``true`` or ``false``) and
    ``contains not_contains`` (on sets such as ``customer.risk_flags``). Amounts are written as
    strings in the policy's currency.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    field: str = Field(pattern=r"^(incident|order|customer|agent)\.[a-z0-9_]+$")
    op: Operator
    value: _Scalar | list[_Scalar] | None = None

    def describe(self) -> str:
        """``incident.days_late ≥ 1``."""
        symbol = _SYMBOL.get(self.op, self.op.replace("_", " "))
        return f"{self.field} {symbol} {_show(self.value)}"


def _show(value: object) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# -- fields -----------------------------------------------------------------------------------


def _field_type(annotation: Any) -> FieldType | None:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _field_type(get_args(annotation)[0])
    if origin in (Union, UnionType):
        types = {_field_type(arg) for arg in get_args(annotation) if arg is not type(None)}
        return types.pop() if len(types) == 1 else None
    if origin is Literal:
        return "text"
    if origin in (frozenset, tuple, set):
        return "set"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is Money:
        return "money"
    if annotation is str or (isinstance(annotation, type) and issubclass(annotation, StrEnum)):
        return "text"
    return None


def _choices(annotation: Any) -> tuple[str, ...] | None:
    origin = get_origin(annotation)
    if origin is Annotated:
        return _choices(get_args(annotation)[0])
    if origin in (Union, UnionType):
        for arg in get_args(annotation):
            found = _choices(arg)
            if found:
                return found
        return None
    if origin is Literal:
        return tuple(str(a) for a in get_args(annotation))
    if isinstance(annotation, type) and issubclass(annotation, StrEnum):
        return tuple(m.value for m in annotation)
    return None


_SKIP = {"id", "occurred_at", "order", "customer", "placed_at", "received"}


def _model_fields(model: type[BaseModel]) -> dict[str, tuple[FieldType, tuple[str, ...] | None]]:
    found: dict[str, tuple[FieldType, tuple[str, ...] | None]] = {}
    for name, info in model.model_fields.items():
        kind = _field_type(info.annotation)
        if name not in _SKIP and kind is not None:
            found[name] = (kind, _choices(info.annotation))
    return found


_ORDER_FIELDS = _model_fields(OrderSnapshot)
_CUSTOMER_FIELDS = _model_fields(CustomerSnapshot)
_INCIDENT_FIELDS = {kind: _model_fields(cls) for kind, cls in INCIDENT_CLASSES.items()}
_RECEIVED = re.compile(r"^received_(\d{1,3})d_(amount|count)$")


def resolve_field(
    path: str, kinds: tuple[IncidentKind, ...]
) -> tuple[FieldType, tuple[str, ...] | None, Getter, int | None]:
    """The field's type, its allowed values, a getter, and the customer window it reads."""
    scope, name = path.split(".", 1)
    if scope == "agent":
        if name != "role":
            raise ValueError(f"{path!r}: the agent has one field, agent.role")
        return "text", tuple(r.value for r in Role), lambda _i, agent: agent.role.value, None
    if scope == "order":
        if name not in _ORDER_FIELDS:
            raise ValueError(f"{path!r}: orders have {', '.join(sorted(_ORDER_FIELDS))}")
        if name == "compensated":
            return "money", None, lambda i, _a: i.order.already_compensated, None
        getter = operator.attrgetter(name)
        return (*_ORDER_FIELDS[name], lambda i, _a: getter(i.order), None)
    if scope == "customer":
        match = _RECEIVED.match(name)
        if match:
            days, what = int(match[1]), match[2]
            if not 0 < days <= 366:
                raise ValueError(f"{path!r}: windows are 1 to 366 days")
            return (
                "money" if what == "amount" else "int",
                None,
                _received_getter(days, what),
                days,
            )
        if name not in _CUSTOMER_FIELDS:
            known = [*sorted(_CUSTOMER_FIELDS), "received_<N>d_amount", "received_<N>d_count"]
            raise ValueError(f"{path!r}: customers have {', '.join(known)}")
        getter = operator.attrgetter(name)
        return (*_CUSTOMER_FIELDS[name], lambda i, _a: getter(i.customer), None)
    lacking = [k.value for k in kinds if name not in _INCIDENT_FIELDS[k]]
    if lacking:
        common = set.intersection(*(set(_INCIDENT_FIELDS[k]) for k in kinds))
        raise ValueError(
            f"{path!r}: not a field of {', '.join(lacking)} incidents; the fields these kinds "
            f"share are {', '.join(sorted(common))}"
        )
    first = _INCIDENT_FIELDS[kinds[0]][name]
    getter = operator.attrgetter(name)
    return (*first, lambda i, _a: getter(i), None)


def _received_getter(days: int, what: str) -> Getter:
    def get(incident: Any, _agent: Agent) -> Any:
        window = incident.customer.received.get(days)
        if window is None:
            raise InvalidInputError(
                f"the policy reads customer.received_{days}d_{what}, but the customer snapshot "
                f"has no {days}-day window; give received[{days}]"
            )
        return window.amount if what == "amount" else window.count

    return get


class Compiled:
    """A condition ready to run: ``test(incident, agent) -> (holds, actual value)``."""

    __slots__ = ("condition", "get", "predicate", "text", "window")

    def __init__(
        self,
        condition: RuleCondition,
        get: Getter,
        predicate: Callable[[Any], bool],
        window: int | None,
    ) -> None:
        self.condition = condition
        self.get = get
        self.predicate = predicate
        self.text = condition.describe()
        self.window = window

    def test(self, incident: Any, agent: Agent) -> tuple[bool, Any]:
        """Whether the condition holds, and the value it read."""
        actual = self.get(incident, agent)
        return self.predicate(actual), actual


def _convert(value: object, kind: FieldType, choices: tuple[str, ...] | None, currency: str) -> Any:
    if kind == "money":
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise ValueError(f'{value!r}: amounts are written as strings such as "10.00"')
        amount = Money(value, currency)
        if not amount.is_quantized:
            raise ValueError(f"{value!r} has more decimals than {currency} allows")
        return amount
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{value!r}: this field is a whole number")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ValueError(f"{value!r}: this field is true or false")
        return value
    if not isinstance(value, str):
        raise ValueError(f"{value!r}: this field is text")
    if choices is not None and value not in choices:
        raise ValueError(f"{value!r} is not one of {', '.join(choices)}")
    return value


def compile_condition(
    condition: RuleCondition, kinds: tuple[IncidentKind, ...], currency: str
) -> Compiled:
    """Check a condition against the fields of ``kinds`` and compile it.

    Raises:
        ValueError: an unknown field, an operator that does not suit it, a value of the wrong type.
    """
    kind, choices, get, window = resolve_field(condition.field, kinds)
    op, value = condition.op, condition.value
    where = f"{condition.field} {op}"
    predicate: Callable[[Any], bool]
    try:
        if op == "is_null":
            if not isinstance(value, bool):
                raise ValueError("is_null takes true or false")
            expect = value
            predicate = lambda actual: (actual is None) is expect  # noqa: E731
        elif op in _SET_OPS:
            if kind != "set":
                raise ValueError(f"{op} is for sets such as customer.risk_flags")
            if not isinstance(value, str):
                raise ValueError(f"{op} takes one text value")
            member = value
            negate = op == "not_contains"
            predicate = lambda actual: (member in actual) is not negate  # noqa: E731
        elif kind == "set":
            raise ValueError("sets take contains, not_contains or is_null")
        elif op in ("in", "not_in"):
            if not isinstance(value, list) or not value:
                raise ValueError(f"{op} takes a non-empty list")
            members = frozenset(_convert(v, kind, choices, currency) for v in value)
            negate = op == "not_in"
            predicate = lambda actual: (actual in members) is not negate  # noqa: E731
        elif op == "between":
            if kind not in ("int", "money"):
                raise ValueError("between is for numbers and amounts")
            if not isinstance(value, list) or len(value) != 2:
                raise ValueError("between takes [low, high]")
            low, high = (_convert(v, kind, choices, currency) for v in value)
            if low > high:
                raise ValueError(f"between [{value[0]}, {value[1]}]: low is above high")
            predicate = lambda actual: actual is not None and low <= actual <= high  # noqa: E731
        else:
            if op in _ORDERED_OPS and kind not in ("int", "money"):
                raise ValueError(f"{op} is for numbers and amounts, and this field is {kind}")
            if isinstance(value, list) or value is None:
                raise ValueError(f"{op} takes one value")
            expected = _convert(value, kind, choices, currency)
            compare = _COMPARE[op]
            if op in ("eq", "ne"):
                predicate = lambda actual: compare(actual, expected)  # noqa: E731
            else:
                predicate = lambda actual: actual is not None and compare(actual, expected)  # noqa: E731
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    return Compiled(condition, get, predicate, window)
