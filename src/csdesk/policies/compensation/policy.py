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
import re
from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from enum import StrEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BeforeValidator, ConfigDict, Field, model_validator

from csdesk._checks import checked
from csdesk._model import ConfigModel
from csdesk._phrases import INDUCEMENT_PHRASES
from csdesk.decision import Policy, load_policy
from csdesk.models import CustomerTier
from csdesk.money import Money, Rounding, currency_digits
from csdesk.policies.compensation.incidents import (
    STATUTORY_KINDS,
    IncidentKind,
    Role,
)
from csdesk.policies.compensation.rules import (
    Compiled,
    Getter,
    RuleCondition,
    compile_condition,
    no_float,
    resolve_field,
)

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
    "TableRow",
    "compensation_policy",
]

Exact = Annotated[Decimal, BeforeValidator(no_float)]
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
    PRICE_PROTECTION = "price_protection"  # 延长保价: a longer price-protection window


_NO_AMOUNT = frozenset({Instrument.MEMBERSHIP_UPGRADE, Instrument.PRICE_PROTECTION})
"""Instruments with no money value: what they give is a tier or more days."""


class TableRow(ConfigModel):
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
    steps: tuple[TableRow, ...] = ()
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
        protection_days: For ``price_protection`` (延长保价, a late-delivery remedy): the days
            the order's price protection window grows by (`csdesk.policies.price_protection`).
        label: A short name shown to agents (checked for review-inducement wording).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    instrument: Instrument
    amount: AmountSpec | None = None
    threshold: Exact | None = Field(default=None, gt=0)
    upgrade_to: CustomerTier | None = None
    gift_sku: str | None = Field(default=None, min_length=1)
    valid_days: int | None = Field(default=None, gt=0, le=3660)
    protection_days: int | None = Field(default=None, gt=0, le=365)
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
        needs_amount = self.instrument not in _NO_AMOUNT
        if needs_amount and self.amount is None:
            raise ValueError(f"a {self.instrument.value} offer needs an amount")
        protection = self.instrument is Instrument.PRICE_PROTECTION
        if protection != (self.protection_days is not None):
            raise ValueError("protection_days is given for, and only for, a price_protection offer")
        if protection and self.amount is not None:
            raise ValueError("a price_protection offer extends a window: it has no amount")
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
        if self.downgrade_to in (
            Instrument.MEMBERSHIP_UPGRADE,
            Instrument.GIFT,
            Instrument.PRICE_PROTECTION,
        ):
            raise ValueError(
                "a downgrade goes to a money instrument, not to an upgrade, a gift or price "
                "protection"
            )
        return self


# -- the policy ---------------------------------------------------------------------------------


class CompensationPolicy(Policy):
    """A shop's compensation policy. Load one with `compensation_policy` or `load_policy`.

    Attributes:
        currency: Every amount in the file, and every incident it decides, is in this currency.
        rounding: How computed amounts are rounded (``ROUND_HALF_UP`` unless said).
        time_zone: Where days, weeks and months (daily caps, budget periods) begin; required (an
            IANA name such as ``"Asia/Shanghai"``), as no shop's day is assumed.
        stacking: ``sum`` grants every group's winner; ``max`` only the largest one.
        points_per_unit: Points given per unit of currency for ``points`` offers.
        statutory_role: Who handles statutory claims (never the bot).
    """

    currency: str
    rounding: Rounding = "ROUND_HALF_UP"
    time_zone: str
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
        """Every section checked, every problem reported at once (each names its key)."""
        digits = _digits(self.currency)
        problems = [
            *_check_header(self),
            *_check_ids(self),
            *_check_rules(self, digits),
            *_check_caps(self, digits),
            *_check_signals(self),
            *_check_authority(self),
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self

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
                found[rule.id] = resolve_field(path, rule.kinds)[2]
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


# -- one check per section of the policy (each returns its problems, each naming its key) --------


def _digits(currency: str) -> int:
    try:
        return currency_digits(currency)
    except Exception as error:  # UnknownCurrencyError
        raise ValueError(f"currency: {error}") from None


def _check_header(policy: CompensationPolicy) -> list[str]:
    problems = []
    try:
        ZoneInfo(policy.time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(f"time_zone: unknown time zone {policy.time_zone!r}")
    if policy.statutory_role is Role.BOT:
        problems.append("statutory_role: statutory claims go to a person, not the bot")
    return problems


def _check_ids(policy: CompensationPolicy) -> list[str]:
    problems = []
    for name in ("groups", "rules", "caps", "budgets", "signals"):
        ids = [item.id for item in getattr(policy, name)]
        for duplicate in sorted({i for i in ids if ids.count(i) > 1}):
            problems.append(f"{name}: id {duplicate!r} is used twice")
    return problems


def _check_rules(policy: CompensationPolicy, digits: int) -> list[str]:
    problems: list[str] = []
    groups = {g.id for g in policy.groups}
    for index, rule in enumerate(policy.rules):
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
                compile_condition(condition, rule.kinds, policy.currency)
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
        if rule.offer.amount is not None:
            problems.extend(_check_amount(policy, f"{where}.offer.amount", rule, digits))
    return problems


def _check_amount(policy: CompensationPolicy, where: str, rule: Rule, digits: int) -> list[str]:
    spec = rule.offer.amount
    assert spec is not None
    problems = []
    for name in ("fixed", "min", "max", "round_to"):
        value = getattr(spec, name)
        if value is not None and value.as_tuple().exponent < -digits:
            problems.append(f"{where}.{name}: {value} has more decimals than {policy.currency}")
    for name in ("of", "by"):
        path = getattr(spec, name)
        if path is None:
            continue
        try:
            kind, _, _, _ = resolve_field(path, rule.kinds)
        except ValueError as error:
            problems.append(f"{where}.{name}: {error}")
            continue
        allowed = ("money",) if name == "of" else ("money", "int")
        if kind not in allowed:
            problems.append(f"{where}.{name}: {path} is {kind}; it must be {' or '.join(allowed)}")
    return problems


def _check_caps(policy: CompensationPolicy, digits: int) -> list[str]:
    return [
        f"caps[{index}].max_amount: more decimals than {policy.currency}"
        for index, cap in enumerate(policy.caps)
        if cap.max_amount is not None and cap.max_amount.as_tuple().exponent < -digits  # type: ignore[operator]
    ]


def _check_signals(policy: CompensationPolicy) -> list[str]:
    problems = []
    for index, signal in enumerate(policy.signals):
        for c_index, condition in enumerate(signal.when):
            if condition.field.startswith("incident."):
                problems.append(
                    f"signals[{index}].when[{c_index}]: signals read order.*, customer.* and "
                    "agent.* fields, which every incident has"
                )
                continue
            try:
                compile_condition(condition, (IncidentKind.LATE_DELIVERY,), policy.currency)
            except ValueError as error:
                problems.append(f"signals[{index}].when[{c_index}]: {error}")
    return problems


def _check_authority(policy: CompensationPolicy) -> list[str]:
    problems = []
    ranks = sorted(policy.authority, key=lambda tier: tier.role.rank)
    roles = [tier.role for tier in ranks]
    if len(set(roles)) != len(roles):
        problems.append("authority: each role is listed once")
    for lower, higher in itertools.pairwise(ranks):
        if higher.max_per_offer < lower.max_per_offer:
            problems.append(
                f"authority: {higher.role.value} may grant less per offer than {lower.role.value}"
            )
    return problems


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
