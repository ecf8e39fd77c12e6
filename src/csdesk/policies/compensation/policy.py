"""A compensation policy as data: rules, offers, caps, budgets, authority and anti-abuse signals.

Everything is checked when the policy loads, and every error names the key: a condition's field
must exist on every incident kind its rule applies to, its operator must suit the field's type and
its value must be of that type (``"incident.days_lat"`` or ``days_late ge "x"`` fail at load, not
at the first late parcel). Conditions are compiled once into small functions; `decide` only calls
them.

Two legal lines are drawn here, not left to the policy's author:

* An offer has no field that could put an obligation on the customer, and a file that tries
  (``requires = "delete the review"``) or whose label reads like a review inducement is refused.
* A rule that can apply to a review must require ``incident.root_cause_confirmed`` to be true:
  recovery is for the problem a review revealed, never for the review.
"""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from csdesk._checks import checked
from csdesk._model import ConfigModel
from csdesk.decision import Policy, load_policy
from csdesk.models import CustomerTier
from csdesk.money import Money, Rounding, currency_digits
from csdesk.policies.compensation.incidents import (
    INCIDENT_CLASSES,
    STATUTORY_KINDS,
    Agent,
    CustomerSnapshot,
    IncidentKind,
    OrderSnapshot,
    Role,
)
from csdesk.replies.lint import INDUCEMENT_PHRASES

__all__ = [
    "AmountSpec",
    "AuthorityTier",
    "Budget",
    "Cap",
    "CompensationPolicy",
    "Group",
    "Instrument",
    "OfferSpec",
    "Rule",
    "RuleCondition",
    "Signal",
    "Step",
    "compensation_policy",
]

FieldType = Literal["int", "bool", "money", "text", "set"]
Getter = Callable[[Any, Agent], Any]


def _no_float(value: object) -> object:
    if isinstance(value, float):
        raise ValueError(
            f'{value!r} is a float; write amounts and rates as strings such as "{value}" so '
            "they stay exact"
        )
    return value


Exact = Annotated[Decimal, BeforeValidator(_no_float)]
"""A decimal from TOML: a string (``"12.50"``) or an integer, never a float."""


class Instrument(StrEnum):
    """How compensation is given."""

    CASH_REFUND = "cash_refund"
    COUPON_NO_THRESHOLD = "coupon_no_threshold"
    COUPON_THRESHOLD = "coupon_threshold"
    FREE_SHIPPING = "free_shipping"
    POINTS = "points"
    MEMBERSHIP_UPGRADE = "membership_upgrade"
    GIFT = "gift"


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

_Scalar = Annotated[int | bool | str, BeforeValidator(_no_float)]


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


class Step(ConfigModel):
    """One row of a lookup table: from ``at`` upwards, ``amount``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    at: Exact
    amount: Exact = Field(ge=0)


class AmountSpec(ConfigModel):
    """How much: exactly one of ``fixed``, ``pct`` of a money field, or a lookup ``table``.

    Then ``min`` and ``max`` clamp the raw amount, and it is rounded with ``rounding`` (the
    policy's by default) to ``round_to`` (the currency's minor unit by default; ``"1"`` gives
    whole yuan).

    Examples::

        { fixed = "10" }
        { pct = "5", of = "order.item_paid", min = "5", max = "30" }
        { by = "incident.days_late", steps = [{ at = 1, amount = "5" }, { at = 3, amount = "10" }] }
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    fixed: Exact | None = Field(default=None, ge=0)
    pct: Exact | None = Field(default=None, gt=0, le=100)
    of: str | None = None
    by: str | None = None
    steps: tuple[Step, ...] = ()
    min: Exact | None = Field(default=None, ge=0)
    max: Exact | None = Field(default=None, ge=0)
    rounding: Rounding | None = None
    round_to: Exact | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_form(self) -> AmountSpec:
        forms = [
            name
            for name, present in (
                ("fixed", self.fixed is not None),
                ("pct", self.pct is not None or self.of is not None),
                ("table", self.by is not None or bool(self.steps)),
            )
            if present
        ]
        if len(forms) != 1:
            raise ValueError(
                "give exactly one of fixed, pct + of, or by + steps"
                + (f" (got {' and '.join(forms)})" if forms else "")
            )
        if forms == ["pct"] and (self.pct is None or self.of is None):
            raise ValueError("a percentage needs both pct and of (a money field)")
        if forms == ["table"]:
            if self.by is None or not self.steps:
                raise ValueError("a table needs by (a field) and at least one step")
            ats = [step.at for step in self.steps]
            if ats != sorted(set(ats)):
                raise ValueError("table steps must be in strictly increasing order of at")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min {self.min} is above max {self.max}")
        return self


_OBLIGATION_KEYS = re.compile(
    r"require|condition|obligat|must|unless|if_|review|rating|delete|remove|change|in_return",
)


class OfferSpec(ConfigModel):
    """What a rule offers. It has no field for anything the customer must do in return.

    Attributes:
        instrument: How it is given.
        amount: Its value (for points, the money value; for free shipping, the shipping cost the
            shop expects to absorb; for a gift, its cost). Not used by membership upgrades.
        threshold: A threshold coupon's minimum spend (满 ``threshold`` 减 amount).
        upgrade_to: The tier a membership upgrade gives.
        gift_sku: The gift.
        valid_days: How long a coupon, free shipping or points stay usable.
        label: A short name shown to agents (checked for review-inducement wording).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument: Instrument
    amount: AmountSpec | None = None
    threshold: Exact | None = Field(default=None, gt=0)
    upgrade_to: CustomerTier | None = None
    gift_sku: str | None = Field(default=None, min_length=1)
    valid_days: int | None = Field(default=None, gt=0, le=3660)
    label: str = ""

    @model_validator(mode="before")
    @classmethod
    def _no_obligation(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            for key in data:
                if (
                    isinstance(key, str)
                    and key not in cls.model_fields
                    and _OBLIGATION_KEYS.search(key.lower())
                ):
                    raise ValueError(
                        f"offer key {key!r}: an offer cannot put a condition or obligation on "
                        "the customer (such as changing or deleting a review); compensation "
                        "is unconditional (网络反不正当竞争暂行规定 art. 9(5), in force "
                        "2024-09-01)"
                    )
        return data

    @model_validator(mode="after")
    def _fits_instrument(self) -> OfferSpec:
        lowered = self.label.lower()
        for phrase in INDUCEMENT_PHRASES:
            if phrase.lower() in lowered:
                raise ValueError(
                    f"label {self.label!r} contains {phrase!r}: compensation may not reward or "
                    "ask for a review (网络反不正当竞争暂行规定 art. 9(5))"
                )
        needs_amount = self.instrument is not Instrument.MEMBERSHIP_UPGRADE
        if needs_amount and self.amount is None:
            raise ValueError(f"a {self.instrument.value} offer needs an amount")
        if self.instrument is Instrument.MEMBERSHIP_UPGRADE and self.upgrade_to is None:
            raise ValueError("a membership_upgrade offer needs upgrade_to")
        if self.instrument is Instrument.GIFT and self.gift_sku is None:
            raise ValueError("a gift offer needs gift_sku")
        if (self.instrument is Instrument.COUPON_THRESHOLD) != (self.threshold is not None):
            raise ValueError("threshold is given for, and only for, a coupon_threshold offer")
        if (
            self.threshold is not None
            and self.amount is not None
            and self.amount.max is not None
            and self.threshold <= self.amount.max
        ):
            raise ValueError(f"threshold {self.threshold} must be above the largest amount")
        return self


class Group(ConfigModel):
    """Rules in one group compete: ``first`` takes the first matching rule, ``max`` the largest."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    hit: Literal["first", "max"] = "first"
    description: str = ""


class Rule(ConfigModel):
    """When the conditions all hold for an incident of one of ``kinds``, offer ``offer``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    group: str
    kinds: tuple[IncidentKind, ...] = Field(min_length=1)
    when: tuple[RuleCondition, ...] = ()
    offer: OfferSpec
    source: str = Field(min_length=1)
    as_of: date
    note: str = ""


class Cap(ConfigModel):
    """A limit on what is offered.

    * ``scope = "order"``: all compensation on one order, including what it already received,
      at most ``max_share`` of what was paid (``"0.3"`` = 30 %).
    * ``scope = "customer"``: per customer over the last ``window_days`` days, at most
      ``max_amount`` and ``max_count`` compensations (read from the customer snapshot).
    * ``scope = "kind_per_day"``: per incident kind per day across all customers (counted in the
      budget store).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    scope: Literal["order", "customer", "kind_per_day"]
    max_share: Exact | None = Field(default=None, gt=0, le=1)
    window_days: int | None = Field(default=None, gt=0, le=366)
    max_amount: Exact | None = Field(default=None, ge=0)
    max_count: int | None = Field(default=None, ge=0)
    kinds: tuple[IncidentKind, ...] = ()
    source: str = ""

    @model_validator(mode="after")
    def _fits_scope(self) -> Cap:
        if self.scope == "order":
            if self.max_share is None or self.max_count is not None or self.window_days:
                raise ValueError("an order cap takes max_share (and optionally max_amount) only")
        else:
            if self.max_share is not None:
                raise ValueError(f"max_share is for order caps, not {self.scope}")
            if self.max_amount is None and self.max_count is None:
                raise ValueError(f"a {self.scope} cap needs max_amount, max_count or both")
        if (self.scope == "customer") != (self.window_days is not None):
            raise ValueError("window_days is given for, and only for, a customer cap")
        if self.scope == "kind_per_day" and not self.kinds:
            raise ValueError("a kind_per_day cap needs kinds")
        return self


class Budget(ConfigModel):
    """A pool of money for a period (``day``, ``week``, ``month``, ``year``).

    Its spending is kept in a `BudgetStore`; ``instruments`` limits which offers draw on it (all
    when empty).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    period: Literal["day", "week", "month", "year"]
    amount: Exact = Field(ge=0)
    instruments: tuple[Instrument, ...] = ()


class AuthorityTier(ConfigModel):
    """What one role may grant without asking anyone: per offer and per day."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: Role
    max_per_offer: Exact = Field(ge=0)
    max_per_day: Exact | None = Field(default=None, ge=0)


class Signal(ConfigModel):
    """An anti-abuse signal and what it does when its conditions hold.

    ``downgrade`` swaps the instrument (cash to coupon, no-threshold to threshold coupon),
    ``require_evidence`` asks for ``evidence`` before anything is granted, ``human_review`` sends
    the decision to ``role``. None of them rejects, and none applies to a statutory claim.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9_]+$")
    when: tuple[RuleCondition, ...] = Field(min_length=1)
    action: Literal["downgrade", "require_evidence", "human_review"]
    downgrade_to: Instrument | None = None
    threshold: Exact | None = Field(default=None, gt=0)
    evidence: tuple[str, ...] = ()
    role: Role = Role.SENIOR_AGENT
    note: str = ""

    @model_validator(mode="after")
    def _fits_action(self) -> Signal:
        if (self.action == "downgrade") != (self.downgrade_to is not None):
            raise ValueError("downgrade_to is given for, and only for, a downgrade")
        if self.action == "require_evidence" and not self.evidence:
            raise ValueError("require_evidence needs evidence (e.g. ['photo'])")
        if (self.downgrade_to is Instrument.COUPON_THRESHOLD) != (self.threshold is not None):
            raise ValueError(
                "threshold is given for, and only for, a downgrade to coupon_threshold"
            )
        if self.downgrade_to in (Instrument.MEMBERSHIP_UPGRADE, Instrument.GIFT):
            raise ValueError("a downgrade goes to a money instrument, not to an upgrade or a gift")
        return self


# -- fields -------------------------------------------------------------------------------------


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


def _resolve(
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
            from csdesk.errors import InvalidInputError

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
    kind, choices, get, window = _resolve(condition.field, kinds)
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


# -- the policy ---------------------------------------------------------------------------------


class CompensationPolicy(Policy):
    """A shop's compensation policy. Load one with `compensation_policy` or `load_policy`.

    Attributes:
        currency: Every amount in the file, and every incident it decides, is in this currency.
        rounding: How computed amounts are rounded (``ROUND_HALF_UP`` unless said).
        time_zone: Where days, weeks and months (daily caps, budget periods) begin.
        stacking: ``sum`` grants every group's winner; ``max`` only the largest one.
        points_per_unit: Points given per unit of currency for ``points`` offers.
        statutory_role: Who handles statutory claims (never the bot).
    """

    currency: str
    rounding: Rounding = "ROUND_HALF_UP"
    time_zone: str = "Asia/Shanghai"
    stacking: Literal["sum", "max"] = "sum"
    points_per_unit: int = Field(default=100, gt=0)
    statutory_role: Role = Role.SUPERVISOR
    groups: tuple[Group, ...] = Field(min_length=1)
    rules: tuple[Rule, ...] = ()
    caps: tuple[Cap, ...] = ()
    budgets: tuple[Budget, ...] = ()
    authority: tuple[AuthorityTier, ...] = Field(min_length=1)
    signals: tuple[Signal, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CompensationPolicy:
        problems: list[str] = []
        try:
            digits = currency_digits(self.currency)
        except Exception as error:  # UnknownCurrencyError
            raise ValueError(f"currency: {error}") from None
        try:
            ZoneInfo(self.time_zone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(f"time_zone: unknown time zone {self.time_zone!r}")
        if self.statutory_role is Role.BOT:
            problems.append("statutory_role: statutory claims go to a person, not the bot")
        for name, items in (
            ("groups", self.groups),
            ("rules", self.rules),
            ("caps", self.caps),
            ("budgets", self.budgets),
            ("signals", self.signals),
        ):
            ids = [item.id for item in items]
            for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
                problems.append(f"{name}: id {duplicate!r} is used twice")
        groups = {g.id for g in self.groups}
        for index, rule in enumerate(self.rules):
            where = f"rules[{index}] ({rule.id})"
            if rule.group not in groups:
                problems.append(f"{where}.group: no group {rule.group!r}; declare it in [[groups]]")
            statutory = [k.value for k in rule.kinds if k in STATUTORY_KINDS]
            if statutory:
                problems.append(
                    f"{where}.kinds: {', '.join(statutory)} are statutory claims, routed to a "
                    "person with the statutory amount; no rule may turn them into goodwill"
                )
                continue
            for c_index, condition in enumerate(rule.when):
                try:
                    compile_condition(condition, rule.kinds, self.currency)
                except ValueError as error:
                    problems.append(f"{where}.when[{c_index}]: {error}")
            if IncidentKind.REVIEW in rule.kinds and not any(
                c.field == "incident.root_cause_confirmed" and c.op == "eq" and c.value is True
                for c in rule.when
            ):
                problems.append(
                    f"{where}: a rule for reviews must require "
                    '{ field = "incident.root_cause_confirmed", op = "eq", value = true }: '
                    "recovery is offered for the problem a review revealed, never for the review "
                    "(网络反不正当竞争暂行规定 art. 9(5))"
                )
            amount = rule.offer.amount
            if amount is not None:
                problems.extend(self._check_amount(f"{where}.offer.amount", amount, rule, digits))
        for index, cap in enumerate(self.caps):
            if cap.max_amount is not None and cap.max_amount.as_tuple().exponent < -digits:  # type: ignore[operator]
                problems.append(f"caps[{index}].max_amount: more decimals than {self.currency}")
        for index, signal in enumerate(self.signals):
            for c_index, condition in enumerate(signal.when):
                if condition.field.startswith("incident."):
                    problems.append(
                        f"signals[{index}].when[{c_index}]: signals read order.*, customer.* and "
                        "agent.* fields, which every incident has"
                    )
                    continue
                try:
                    compile_condition(condition, (IncidentKind.LATE_DELIVERY,), self.currency)
                except ValueError as error:
                    problems.append(f"signals[{index}].when[{c_index}]: {error}")
        ranks = sorted(self.authority, key=lambda tier: tier.role.rank)
        roles = [tier.role for tier in ranks]
        if len(set(roles)) != len(roles):
            problems.append("authority: each role is listed once")
        for lower, higher in itertools.pairwise(ranks):
            if higher.max_per_offer < lower.max_per_offer:
                problems.append(
                    f"authority: {higher.role.value} may grant less per offer than "
                    f"{lower.role.value}"
                )
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _check_amount(self, where: str, spec: AmountSpec, rule: Rule, digits: int) -> list[str]:
        problems = []
        for name in ("fixed", "min", "max", "round_to"):
            value = getattr(spec, name)
            if value is not None and value.as_tuple().exponent < -digits:
                problems.append(f"{where}.{name}: {value} has more decimals than {self.currency}")
        for name in ("of", "by"):
            path = getattr(spec, name)
            if path is None:
                continue
            try:
                kind, _, _, _ = _resolve(path, rule.kinds)
            except ValueError as error:
                problems.append(f"{where}.{name}: {error}")
                continue
            allowed = ("money",) if name == "of" else ("money", "int")
            if kind not in allowed:
                problems.append(
                    f"{where}.{name}: {path} is {kind}; it must be {' or '.join(allowed)}"
                )
        return problems

    # -- compiled views (policies are frozen, so these never go stale) --

    @cached_property
    def compiled_rules(self) -> tuple[tuple[Rule, tuple[Compiled, ...]], ...]:
        """Each rule with its compiled conditions, in file order."""
        return tuple(
            (rule, tuple(compile_condition(c, rule.kinds, self.currency) for c in rule.when))
            for rule in self.rules
        )

    @cached_property
    def rules_by_kind(self) -> dict[IncidentKind, tuple[tuple[Rule, tuple[Compiled, ...]], ...]]:
        """The compiled rules that can apply to each kind."""
        return {
            kind: tuple(pair for pair in self.compiled_rules if kind in pair[0].kinds)
            for kind in IncidentKind
        }

    @cached_property
    def rules_by_id(self) -> dict[str, Rule]:
        """The rules by id."""
        return {rule.id: rule for rule in self.rules}

    @cached_property
    def amount_getters(self) -> dict[str, Getter]:
        """For each rule whose amount reads a field (``of`` or ``by``), that field's getter."""
        found: dict[str, Getter] = {}
        for rule in self.rules:
            spec = rule.offer.amount
            path = spec.of or spec.by if spec is not None else None
            if path is not None:
                found[rule.id] = _resolve(path, rule.kinds)[2]
        return found

    @cached_property
    def compiled_signals(self) -> tuple[tuple[Signal, tuple[Compiled, ...]], ...]:
        """Each signal with its compiled conditions."""
        kinds = (IncidentKind.LATE_DELIVERY,)
        return tuple(
            (s, tuple(compile_condition(c, kinds, self.currency) for c in s.when))
            for s in self.signals
        )

    @cached_property
    def group_hits(self) -> dict[str, str]:
        """Each group's hit policy."""
        return {group.id: group.hit for group in self.groups}

    @cached_property
    def zone(self) -> ZoneInfo:
        """`time_zone` as a `ZoneInfo`."""
        return ZoneInfo(self.time_zone)

    @cached_property
    def tiers(self) -> tuple[AuthorityTier, ...]:
        """The authority tiers from the least to the most."""
        return tuple(sorted(self.authority, key=lambda tier: tier.role.rank))

    @cached_property
    def money_cache(self) -> dict[Decimal, Money]:
        """Amounts already turned into `Money` by `money`."""
        return {}

    def money(self, value: Decimal) -> Money:
        """``value`` in the policy's currency, quantized to its minor unit (cached)."""
        if type(value) is not Decimal:
            return Money(value, self.currency).quantize(self.rounding)
        cache = self.money_cache
        found = cache.get(value)
        if found is None:
            found = Money(value, self.currency).quantize(self.rounding)
            if len(cache) < 4096:
                cache[value] = found
        return found

    @cached_property
    def customer_windows(self) -> frozenset[int]:
        """The rolling windows (days) this policy reads from customer snapshots."""
        windows = {cap.window_days for cap in self.caps if cap.window_days is not None}
        for _, compiled in (*self.compiled_rules, *self.compiled_signals):
            windows.update(c.window for c in compiled if c.window is not None)
        return frozenset(windows)


@checked
def compensation_policy(source: str | Path | dict[str, Any]) -> CompensationPolicy:
    """Load a compensation policy: a built-in preset's name, a TOML or JSON file, or a mapping.

    The presets: ``shop_standard`` (the seeds' desk), ``taobao_late_shipment`` and
    ``tmall_late_shipment`` (platform numbers as quoted, verify before use),
    ``western_appeasement`` (a percentage ladder with approval above a limit).

    Raises:
        UnknownPresetError: no preset has that name.
        PolicyError: the data does not validate; the message names each offending key.

    Examples:
        >>> policy = compensation_policy("shop_standard")
        >>> policy.currency, [tier.role.value for tier in policy.tiers]
        ('CNY', ['bot', 'agent', 'supervisor'])
    """
    return load_policy(CompensationPolicy, source, kind="compensation")
