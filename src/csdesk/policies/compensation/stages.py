"""The stages of a compensation decision, one function each, over an immutable `Draft`.

`decide` runs them in order; a stage that settles the decision (a statutory claim, a review with no
confirmed cause, nothing left to offer) marks the draft ``done`` and the rest are skipped:

1. `triage`: statutory claims (消费者权益保护法 art. 55 ¶1; 食品安全法 art. 148 ¶2) go to a person
   with the statutory amount shown; a review with no confirmed root cause gets nothing.
2. `eligibility`: every rule for the incident's kind, every condition with the value it read.
3. `amounts`: fixed, a percentage of a money field, or a lookup table; clamped; rounded once with
   the policy's rounding, so the amount shown is the amount granted.
4. `stacking`: in each group the first or the largest matching rule wins; across groups the
   winners add up (``sum``) or only the largest stays (``max``).
5. `caps`: per order (a share of what was paid), per customer over rolling windows (from the
   snapshot), per kind per day (from the `BudgetStore`): offers shrink to what is left, or go.
6. `budgets`: budget pools per period, from the `BudgetStore`.
7. `abuse`: signals downgrade the instrument, ask for evidence or send the decision to a person;
   they never reject, and never touch a statutory claim.
8. `authority`: within the agent's per-offer and daily limits, auto-approved; otherwise the least
   role whose limit covers it must approve.

Each stage adds `csdesk.decision.Step` s with the values it used and no text: the words come from
`csdesk.replies.explain`, only when someone reads them.

The stages read the policy through its `Plan`: the policy compiled once, when it first decides,
into what each incident kind needs (its rules with their conditions and amounts worked out as far
as they can be without an incident, its caps, the authority tiers as money). What is left for a
decision is what depends on the incident, which keeps a decision to tens of microseconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from typing import Any, NamedTuple

from csdesk._model import assemble
from csdesk.decision import Step, step_from
from csdesk.errors import InvalidInputError
from csdesk.money import Money
from csdesk.policies.compensation.budget import BudgetStore, Charge, Usage
from csdesk.policies.compensation.incidents import (
    STATUTORY_KINDS,
    Agent,
    FoodSafetyClaim,
    FraudClaim,
    IncidentKind,
    Review,
    Role,
)
from csdesk.policies.compensation.offers import Offer, Status, StatutoryClaim, statutory_claim
from csdesk.policies.compensation.policy import (
    _NO_AMOUNT,
    AmountSpec,
    AuthorityTier,
    CompensationPolicy,
    Instrument,
    Rule,
    Signal,
)
from csdesk.policies.compensation.rules import Compiled, Getter

__all__ = [
    "STAGES",
    "CapPlan",
    "Context",
    "Draft",
    "Plan",
    "RulePlan",
    "abuse",
    "amounts",
    "authority",
    "authority_tier",
    "budgets",
    "caps",
    "decision_key",
    "eligibility",
    "key",
    "period_key",
    "plan",
    "stacking",
    "triage",
]

_REDUCIBLE = frozenset(
    {
        Instrument.CASH_REFUND,
        Instrument.COUPON_NO_THRESHOLD,
        Instrument.COUPON_THRESHOLD,
        Instrument.POINTS,
    }
)
_VALIDITY = frozenset(
    {
        Instrument.COUPON_NO_THRESHOLD,
        Instrument.COUPON_THRESHOLD,
        Instrument.FREE_SHIPPING,
        Instrument.POINTS,
    }
)
_DOWNGRADE_FROM = {
    Instrument.COUPON_THRESHOLD: 3,
    Instrument.COUPON_NO_THRESHOLD: 2,
    Instrument.POINTS: 1,
    Instrument.FREE_SHIPPING: 1,
    Instrument.CASH_REFUND: 4,
}
_ONE = Decimal(1)


# -- the policy compiled --------------------------------------------------------------------------

Amount = Callable[[Any, Agent], tuple[Money, Step]]
"""A rule's amount for an incident (read by ``agent``): the rounded value and its trace step."""


class RulePlan:
    """A rule ready to decide with: its compiled conditions, its amount, its offer's fixed fields.

    Attributes:
        rule: The rule itself; ``id`` and ``group`` its own.
        conditions: Its conditions, compiled.
        amount: Computes the rounded amount and its step (`Amount`); fixed amounts and table rows
            are rounded once, here.
        minimum: The amount's ``min``, below which a cap may not shrink the offer.
    """

    __slots__ = (
        "amount",
        "conditions",
        "gift_sku",
        "group",
        "id",
        "instrument",
        "label",
        "minimum",
        "points",
        "protection_days",
        "rule",
        "threshold",
        "upgrade_to",
        "valid_for",
    )

    def __init__(
        self,
        policy: CompensationPolicy,
        rule: Rule,
        conditions: tuple[Compiled, ...],
        zero: Money,
    ) -> None:
        spec = rule.offer
        self.rule = rule
        self.id = rule.id
        self.group = rule.group
        self.conditions = conditions
        self.instrument = spec.instrument
        self.minimum = spec.amount.min if spec.amount is not None else None
        self.amount = _amount(policy, rule, policy.amount_getters.get(rule.id), zero)
        self.threshold = policy.money(spec.threshold) if spec.threshold is not None else None
        self.points = policy.points_per_unit if spec.instrument is Instrument.POINTS else None
        self.upgrade_to = spec.upgrade_to.value if spec.upgrade_to else None
        self.gift_sku = spec.gift_sku
        self.protection_days = spec.protection_days
        self.label = spec.label
        self.valid_for = None
        if spec.valid_days is not None and spec.instrument in _VALIDITY:
            self.valid_for = timedelta(days=spec.valid_days)


class Plan:
    """A policy compiled once for deciding: what each incident kind needs, prepared.

    Attributes:
        rules: Per kind, its rules (`RulePlan`), in policy order; ``by_id`` all of them by id.
        hits: Each group's hit policy (``first`` or ``max``).
        caps: Per kind, the caps that can apply to it (`CapPlan`), in policy order.
        budgets: The budget pools: id, period, amount, its counter's name, the instruments it
            covers (``None``: all) and its amount as money.
        signals: The anti-abuse signals with their compiled conditions.
        tiers: Per role, its authority tier with its per-offer and daily limits as money.
        zero: Zero in the policy's currency; ``zone`` its time zone; ``ref`` its `PolicyRef`.
    """

    __slots__ = (
        "budgets",
        "by_id",
        "caps",
        "hits",
        "ref",
        "rules",
        "signals",
        "tiers",
        "zero",
        "zone",
    )

    def __init__(self, policy: CompensationPolicy) -> None:
        zero = self.zero = Money.zero(policy.currency)
        self.zone = policy.zone
        self.ref = policy.ref
        self.by_id = {
            rule.id: RulePlan(policy, rule, conditions, zero)
            for rule, conditions in policy.compiled_rules
        }
        self.rules = {
            kind: tuple(self.by_id[rule.id] for rule, _ in pairs)
            for kind, pairs in policy.rules_by_kind.items()
        }
        self.hits = policy.group_hits

        self.caps: dict[IncidentKind, tuple[CapPlan, ...]] = {
            kind: tuple(
                CapPlan(
                    _CAP_SCOPES[cap.scope],
                    cap.id,
                    policy.money(cap.max_amount) if cap.max_amount is not None else None,
                    cap.max_amount,
                    cap.max_count,
                    cap.max_share,
                    cap.window_days,
                    f"cap:{cap.id}",
                    cap.max_share * 100 if cap.max_share is not None else Decimal(0),
                )
                for cap in policy.caps
                if cap.scope in ("order", "customer") or kind in cap.kinds
            )
            for kind in IncidentKind
        }
        self.budgets: tuple[tuple[str, str, Decimal, str, frozenset[Instrument] | None, Money], ...]
        self.budgets = tuple(
            (
                budget.id,
                budget.period,
                budget.amount,
                f"budget:{budget.id}",
                frozenset(budget.instruments) if budget.instruments else None,
                policy.money(budget.amount),
            )
            for budget in policy.budgets
        )
        self.signals = policy.compiled_signals
        self.tiers: dict[Role, tuple[AuthorityTier, Money, Money | None]] = {
            tier.role: (
                tier,
                policy.money(tier.max_per_offer),
                policy.money(tier.max_per_day) if tier.max_per_day is not None else None,
            )
            for tier in policy.tiers
        }


_PLANS: dict[int, tuple[CompensationPolicy, Plan]] = {}


def plan(policy: CompensationPolicy) -> Plan:
    """The `Plan` of ``policy``, compiled on its first decision and kept (policies are frozen)."""
    cached = _PLANS.get(id(policy))
    if cached is not None and cached[0] is policy:
        return cached[1]
    made = Plan(policy)
    if len(_PLANS) >= 256:
        _PLANS.pop(next(iter(_PLANS)))
    # The entry holds the policy, so its id cannot be reused while the plan is cached.
    _PLANS[id(policy)] = (policy, made)
    return made


def _amount(policy: CompensationPolicy, rule: Rule, get: Getter | None, zero: Money) -> Amount:
    """The rule's `Amount`: fixed amounts and table rows settled now, percentages per incident."""
    spec = rule.offer.amount
    rule_id = rule.id
    if spec is None:
        return lambda _incident, _agent: (
            zero,
            step_from("amount", "amount.none", {"rule": rule_id}),
        )
    settle = _settler(policy, spec, zero)
    low, high, round_to = spec.min, spec.max, spec.round_to

    def made(how: dict[str, Any], raw: Decimal, settled: tuple[Decimal, Money, str | None]) -> Step:
        clamped, value, rounding = settled
        return step_from(
            "amount",
            "amount",
            {
                "rule": rule_id,
                **how,
                "raw": raw,
                "low": low,
                "high": high,
                "clamped": clamped,
                "rounding": rounding,
                "round_to": round_to,
                "value": value,
            },
        )

    if spec.fixed is not None:
        fixed = settle(spec.fixed)
        shown = made({"form": "fixed"}, spec.fixed, fixed)
        return lambda _incident, _agent: (fixed[1], step_from("amount", "amount", {**shown.params}))
    assert get is not None  # the policy compiled the field's getter at load
    if spec.pct is not None and spec.of is not None:
        pct = spec.pct

        def percentage(incident: Any, agent: Agent) -> tuple[Money, Step]:
            base = get(incident, agent)
            raw = pct * base.amount / 100
            settled = settle(raw)
            return settled[1], made({"form": "pct", "pct": pct, "base": base}, raw, settled)

        return percentage
    assert spec.by is not None
    by, first = spec.by, spec.steps[0].at
    rows = [(row.at, row.amount, settle(row.amount)) for row in spec.steps]
    below = settle(Decimal(0))

    def table(incident: Any, agent: Agent) -> tuple[Money, Step]:
        value = get(incident, agent)
        number = value.amount if isinstance(value, Money) else Decimal(value)
        chosen = None
        for row in rows:
            if number >= row[0]:
                chosen = row
        if chosen is None:
            how = {"form": "below", "by": by, "number": number, "at": first}
            return below[1], made(how, Decimal(0), below)
        at, raw, settled = chosen
        return settled[1], made(
            {"form": "table", "by": by, "number": number, "at": at}, raw, settled
        )

    return table


def _settler(
    policy: CompensationPolicy, spec: AmountSpec, zero: Money
) -> Callable[[Decimal], tuple[Decimal, Money, str | None]]:
    """Clamp and round a raw amount: (clamped, value, the rounding shown in the trace or None)."""
    low, high, currency = spec.min, spec.max, policy.currency
    rounding = spec.rounding or policy.rounding
    quantum = spec.round_to if spec.round_to is not None else _ONE.scaleb(-zero.digits)
    always = spec.round_to is not None

    def settle(raw: Decimal) -> tuple[Decimal, Money, str | None]:
        clamped = raw
        if low is not None and clamped < low:
            clamped = low
        if high is not None and clamped > high:
            clamped = high
        rounded = (clamped / quantum).quantize(_ONE, rounding=rounding) * quantum
        value = Money(rounded, currency).quantize(rounding)
        return clamped, value, rounding if (always or value.amount != clamped) else None

    return settle


# -- the draft ------------------------------------------------------------------------------------


class Context(NamedTuple):
    """What a decision is about, the same for every stage.

    Attributes:
        policy, plan: The policy and its `Plan`.
        incident, agent, store: What is decided, by whom, with which counters; ``kind`` the
            incident's kind.
        now: The decision's instant; ``local`` the same in the policy's zone; ``day`` its date.
        zero: Zero in the policy's currency.
    """

    policy: CompensationPolicy
    plan: Plan
    incident: Any
    kind: IncidentKind
    agent: Agent
    store: BudgetStore | None
    now: datetime
    local: datetime
    day: str
    zero: Money

    def usage(self, pool: str, period: str) -> Usage:
        """What the store says ``pool`` used in ``period`` (zero without a store)."""
        return self.store.usage(pool, period) if self.store is not None else _NO_USAGE


_NO_USAGE = Usage()
_VALUES: dict[Any, str] = {member: member.value for member in (*IncidentKind, *Role, *Status)}
"""Enum members' values (``member.value`` is a Python-level property; this is one lookup)."""


class Draft(NamedTuple):
    """A decision in progress; each stage returns a new one (`but`).

    Attributes:
        context: What is decided, under what, by whom (`Context`).
        matched: The rules whose conditions held, in policy order.
        valued: The matched rules with their rounded amounts.
        offers: What is on offer so far.
        charges: What `grant` will move in the store.
        trace: The steps so far.
        capped: A cap or a budget reduced or removed an offer.
        evidence: What the customer is asked to show first.
        required: Who must approve (or handle, or check).
        status: Set by the stage that settles the decision (``done``).
        statutory: The statutory claim, for statutory incidents.
    """

    context: Context
    matched: tuple[RulePlan, ...] = ()
    valued: tuple[tuple[RulePlan, Money], ...] = ()
    offers: tuple[Offer, ...] = ()
    charges: tuple[Charge, ...] = ()
    trace: tuple[Step, ...] = ()
    capped: bool = False
    evidence: tuple[str, ...] = ()
    required: Role | None = None
    status: Status | None = None
    statutory: StatutoryClaim | None = None

    @property
    def done(self) -> bool:
        """Whether a stage settled the decision."""
        return self.status is not None

    def but(self, **changes: Any) -> Draft:
        """A copy with ``changes`` (a cheaper ``_replace``)."""
        values = list(self)
        for name, value in changes.items():
            values[_FIELD_INDEX[name]] = value
        return _new_draft(Draft, values)


_FIELD_INDEX = {name: index for index, name in enumerate(Draft._fields)}
_new_draft = tuple.__new__


def key(*parts: str) -> str:
    """An idempotency key from the incident's id (and a rule's)."""
    return _sha256((_KEY_PREFIX + "\x1f".join(parts)).encode()).hexdigest()[:32]


def _offer_key(incident_id: str, rule_id: str) -> str:
    """``key(incident_id, rule_id)``, without the tuple and the join (one per offer made)."""
    return _sha256(f"{_KEY_PREFIX}{incident_id}\x1f{rule_id}".encode()).hexdigest()[:32]


def decision_key(incident_id: str) -> str:
    """``key(incident_id)``, likewise (one per decision)."""
    return _sha256((_KEY_PREFIX + incident_id).encode()).hexdigest()[:32]


_KEY_PREFIX = "csdesk.compensation\x1f"
_sha256 = hashlib.sha256


def period_key(period: str, moment: datetime) -> str:
    """The label of the ``day`` / ``week`` / ``month`` / ``year`` that ``moment`` falls in."""
    if period == "day":
        return moment.date().isoformat()
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{moment.year}-{moment.month:02d}"
    return str(moment.year)


def _total(offers: tuple[Offer, ...] | list[Offer], zero: Money) -> Money:
    if len(offers) == 1:
        return offers[0].value
    total = zero
    for offer in offers:
        total = total + offer.value
    return total


# 1 ----------------------------------------------------------------------------------------------


def triage(draft: Draft) -> Draft:
    """Statutory claims go to a person; a review needs a confirmed root cause."""
    incident, policy = draft.context.incident, draft.context.policy
    if incident.kind in STATUTORY_KINDS:
        assert isinstance(incident, FraudClaim | FoodSafetyClaim)
        claim = statutory_claim(incident)
        found = [
            step_from(
                "triage",
                "triage.statutory",
                {
                    "law": claim.law,
                    "formula": claim.formula,
                    "role": policy.statutory_role.value,
                    "amount": claim.amount,
                },
            )
        ]
        if incident.customer.risk_flags:
            flags = sorted(incident.customer.risk_flags)
            found.append(step_from("abuse", "abuse.statutory", {"flags": flags}))
        return draft.but(
            trace=(*draft.trace, *found),
            status=Status.STATUTORY,
            required=policy.statutory_role,
            statutory=claim,
        )
    if isinstance(incident, Review):
        if not incident.root_cause_confirmed:
            unconfirmed = step_from(
                "triage", "triage.review_unconfirmed", {"negative": incident.negative}
            )
            return draft.but(trace=(*draft.trace, unconfirmed), status=Status.REJECTED)
        assert incident.root_cause is not None
        cause = incident.root_cause.value
        confirmed = step_from("triage", "triage.review_confirmed", {"cause": cause})
        return draft.but(trace=(*draft.trace, confirmed))
    return draft


# 2 ----------------------------------------------------------------------------------------------


def eligibility(draft: Draft) -> Draft:
    """Every rule for the kind, matched or skipped, with each condition's actual value."""
    context = draft.context
    incident, agent = context.incident, context.agent
    rules = context.plan.rules[context.kind]
    if not rules:
        none = step_from("eligibility", "rule.none", {"kind": _VALUES[context.kind]})
        return draft.but(matched=(), trace=(*draft.trace, none))
    found: list[Step] = []
    matched: list[RulePlan] = []
    for rule in rules:
        results = []
        holds = True
        for condition in rule.conditions:
            actual = condition.get(incident, agent)
            ok = condition.predicate(actual)
            results.append({"condition": condition.text, "actual": actual, "ok": ok})
            holds = holds and ok
        code = "rule.matched" if holds else "rule.skipped"
        found.append(step_from("eligibility", code, {"rule": rule.id, "conditions": results}))
        if holds:
            matched.append(rule)
    return draft.but(matched=tuple(matched), trace=(*draft.trace, *found))


# 3 ----------------------------------------------------------------------------------------------


def amounts(draft: Draft) -> Draft:
    """Each matched rule's amount: computed, clamped, rounded once."""
    if not draft.matched:
        return draft.but(valued=())
    incident, agent = draft.context.incident, draft.context.agent
    valued = []
    found = []
    for rule in draft.matched:
        value, made = rule.amount(incident, agent)
        valued.append((rule, value))
        found.append(made)
    return draft.but(valued=tuple(valued), trace=(*draft.trace, *found))


# 4 ----------------------------------------------------------------------------------------------


def stacking(draft: Draft) -> Draft:
    """Group winners (first or largest), then ``sum`` or ``max`` across groups; offers made."""
    context, valued = draft.context, draft.valued
    if len(valued) == 1:  # most incidents: one rule matched, nothing to stack
        rule, value = valued[0]
        if value > context.zero or rule.instrument in _NO_AMOUNT:
            return draft.but(offers=(_offer(context, rule, value),))
        return draft.but(offers=())
    found: list[Step] = []
    chosen = _stacked(context, valued, found) if valued else []
    zero = context.zero
    offers = tuple(
        _offer(context, rule, value)
        for rule, value in chosen
        if value > zero or rule.instrument in _NO_AMOUNT
    )
    return draft.but(offers=offers, trace=(*draft.trace, *found) if found else draft.trace)


def _stacked(
    context: Context, valued: tuple[tuple[RulePlan, Money], ...], found: list[Step]
) -> list[tuple[RulePlan, Money]]:
    winners: dict[str, tuple[RulePlan, Money]] = {}
    hits = context.plan.hits
    for rule, value in valued:
        current = winners.get(rule.group)
        if current is None or (hits[rule.group] == "max" and value > current[1]):
            winners[rule.group] = (rule, value)
    for group, (rule, value) in winners.items():
        contenders = sum(1 for r, _ in valued if r.group == group)
        if contenders > 1:
            found.append(
                step_from(
                    "stacking",
                    f"group.{hits[group]}",
                    {"group": group, "rule": rule.id, "value": value, "contenders": contenders},
                )
            )
    chosen = list(winners.values())
    if context.policy.stacking == "max" and len(chosen) > 1:
        best = max(chosen, key=lambda pair: pair[1])
        found.append(
            step_from(
                "stacking",
                "stacking.max",
                {"rule": best[0].id, "value": best[1], "groups": len(chosen)},
            )
        )
        chosen = [best]
    return chosen


def _offer(context: Context, rule: RulePlan, value: Money) -> Offer:
    valid_for = rule.valid_for
    return assemble(
        Offer,
        {
            "rule_id": rule.id,
            "group": rule.group,
            "instrument": rule.instrument,
            "value": value,
            "key": _offer_key(context.incident.id, rule.id),
            "threshold": rule.threshold,
            "points": int(value.amount * rule.points) if rule.points is not None else None,
            "upgrade_to": rule.upgrade_to,
            "gift_sku": rule.gift_sku,
            "protection_days": rule.protection_days,
            "valid_until": context.now + valid_for if valid_for is not None else None,
            "label": rule.label,
        },
    )


# 5 and 6 ----------------------------------------------------------------------------------------


class _Fitting:
    """Offers shrinking under limits, with the steps that say how (used by caps and budgets)."""

    __slots__ = ("capped", "context", "found", "offers", "total", "zero")

    def __init__(self, draft: Draft) -> None:
        self.context = context = draft.context
        self.zero = context.zero
        self.offers = offers = list(draft.offers)
        self.total = _total(offers, context.zero)  # of all the offers, kept up to date
        self.found: list[Step] = []
        self.capped = False

    def fit(
        self,
        allowance: Money,
        stage: str,
        name: str,
        detail: dict[str, Any],
        applies: frozenset[Instrument] | None = None,
    ) -> None:
        """Shrink or drop offers (those ``applies`` to) so their total fits ``allowance``."""
        zero, offers = self.zero, self.offers
        if applies is None:
            before = self.total
        else:
            before = _total([o for o in offers if o.instrument in applies], zero)
        if before <= allowance:
            left = allowance if allowance > zero else zero
            params = {"name": name, "detail": detail, "before": before, "left": left}
            self.found.append(step_from(stage, _OK[stage], params))
            return
        self.capped = True
        left = max(allowance, zero)
        kept: list[Offer] = []
        for offer in offers:
            if applies is not None and offer.instrument not in applies:
                kept.append(offer)
            elif offer.value <= left:
                kept.append(offer)
                left = left - offer.value
            elif offer.instrument in _REDUCIBLE and left > zero and self._above_min(offer, left):
                kept.append(self._reduced(offer, left))
                left = zero
        self.offers = kept
        self.total = _total(kept, zero)
        after = _total([o for o in kept if applies is None or o.instrument in applies], zero)
        code = f"{stage}.reduced" if after > zero else f"{stage}.exhausted"
        params = {"name": name, "detail": detail, "before": before, "after": after}
        self.found.append(step_from(stage, code, params))

    def count(self, name: str, detail: dict[str, Any], used: int, limit: int) -> None:
        """Drop every offer when a count limit is reached."""
        params = {"name": name, "detail": detail, "used": used, "limit": limit}
        if used + 1 <= limit:
            self.found.append(step_from("caps", "caps.count_ok", params))
            return
        self.capped = True
        self.offers = []
        self.total = self.zero
        self.found.append(step_from("caps", "caps.count_exhausted", params))

    def _above_min(self, offer: Offer, left: Money) -> bool:
        minimum = self.context.plan.by_id[offer.rule_id].minimum
        return minimum is None or left.amount >= minimum

    def _reduced(self, offer: Offer, value: Money) -> Offer:
        points = None
        if offer.instrument is Instrument.POINTS:
            points = int(value.amount * self.context.policy.points_per_unit)
        return offer.but(value=value, points=points)

    def into(self, draft: Draft, charges: tuple[Charge, ...]) -> Draft:
        return draft.but(
            offers=tuple(self.offers) if self.capped else draft.offers,
            charges=charges,
            capped=draft.capped or self.capped,
            trace=(*draft.trace, *self.found),
        )


_OK = {"caps": "caps.ok", "budget": "budget.ok"}


class CapPlan(NamedTuple):
    """A cap ready to apply: how (``apply``), and the cap's values read once from the policy."""

    apply: Callable[[Context, _Fitting, CapPlan, list[Charge]], None]
    id: str
    limit: Money | None
    """``max_amount`` as money, or ``None``."""
    max_amount: Decimal | None
    max_count: int | None
    max_share: Decimal | None
    days: int | None
    """A customer cap's window."""
    pool: str
    """The counter of a per-kind daily cap."""
    share: Decimal
    """An order cap's share, in per cent (for the trace)."""


def caps(draft: Draft) -> Draft:
    """Per-order, per-customer and per-kind-per-day caps, in policy order."""
    if not draft.offers:
        return draft
    context = draft.context
    applying = context.plan.caps[context.kind]
    if not applying:
        return draft
    fitting = _Fitting(draft)
    charges = list(draft.charges)
    for cap in applying:
        if not fitting.offers:
            break
        cap.apply(context, fitting, cap, charges)
    return fitting.into(draft, tuple(charges))


def _order_cap(context: Context, fitting: _Fitting, cap: CapPlan, _charges: list[Charge]) -> None:
    order = context.incident.order
    assert cap.max_share is not None
    paid = order.paid_total
    share = paid.amount * cap.max_share  # a share of a valid amount: within Money's bounds
    limit = Money(share.quantize(context.zero.amount, rounding=ROUND_DOWN), paid.currency)
    if cap.limit is not None:
        limit = min(limit, cap.limit)
    already = order.compensated if order.compensated is not None else context.zero
    detail = {
        "scope": "order",
        "share": cap.share,
        "paid": paid,
        "limit": limit,
        "already": already,
    }
    fitting.fit(limit - already, "caps", cap.id, detail)


def _customer_cap(
    context: Context, fitting: _Fitting, cap: CapPlan, _charges: list[Charge]
) -> None:
    customer, days = context.incident.customer, cap.days
    assert days is not None
    window = customer.received.get(days)
    if window is None:
        raise InvalidInputError(
            f"policy {context.policy.id} caps compensation over {days} days (cap {cap.id}), but "
            f"customer {customer.id}'s snapshot has no {days}-day window; give received[{days}]"
        )
    if cap.max_count is not None:
        detail = {"scope": "customer_count", "days": days}
        fitting.count(cap.id, detail, window.count, cap.max_count)
    if fitting.offers and cap.limit is not None:
        received = window.amount.quantize()
        detail = {"scope": "customer", "days": days, "limit": cap.limit, "received": received}
        fitting.fit(cap.limit - window.amount, "caps", cap.id, detail)


def _kind_cap(context: Context, fitting: _Fitting, cap: CapPlan, charges: list[Charge]) -> None:
    day = context.day
    used = context.usage(cap.pool, day)
    kind = _VALUES[context.kind]
    if cap.max_count is not None:
        counted: dict[str, Any] = {"scope": "kind_count", "kind": kind, "day": day}
        fitting.count(cap.id, counted, used.count, cap.max_count)
    if fitting.offers and cap.limit is not None:
        given = context.policy.money(used.amount) if context.store is not None else context.zero
        detail = {"scope": "kind", "kind": kind, "day": day, "limit": cap.limit, "given": given}
        fitting.fit(cap.limit - given, "caps", cap.id, detail)
    if fitting.offers:
        total = fitting.total.amount
        charges.append(
            Charge(cap.pool, day, total, limit_amount=cap.max_amount, limit_count=cap.max_count)
        )


_CAP_SCOPES = {"order": _order_cap, "customer": _customer_cap, "kind_per_day": _kind_cap}


def budgets(draft: Draft) -> Draft:
    """Budget pools per period: offers shrink to what is left; the pools' charges recorded."""
    if not draft.offers or not draft.context.plan.budgets:
        return draft
    return _budgets(draft)


def _budgets(draft: Draft) -> Draft:
    context = draft.context
    policy, zero, store = context.policy, context.zero, context.store
    fitting = _Fitting(draft)
    charges = (
        [c for c in draft.charges if not c.pool.startswith("budget:")] if draft.charges else []
    )
    for name, every, amount, pool, applies, limit in context.plan.budgets:
        period = period_key(every, context.local)
        used = zero if store is None else policy.money(store.usage(pool, period).amount)
        detail = {
            "scope": "budget",
            "period": every,
            "label": period,
            "limit": limit,
            "spent": used,
        }
        fitting.fit(limit - used, "budget", name, detail, applies)
        if applies is None:
            concerned = fitting.total
        else:
            concerned = _total([o for o in fitting.offers if o.instrument in applies], zero)
        if concerned > zero:
            charges.append(Charge(pool, period, concerned.amount, count=1, limit_amount=amount))
    return fitting.into(draft, tuple(charges))


# 7 ----------------------------------------------------------------------------------------------


def abuse(draft: Draft) -> Draft:
    """Signals downgrade the instrument, ask for evidence, or send it to a person."""
    context = draft.context
    signals = context.plan.signals
    if not draft.offers or not signals:
        return draft
    incident, agent = context.incident, context.agent
    fired = []
    for signal, conditions in signals:
        results = []
        holds = True
        for condition in conditions:
            actual = condition.get(incident, agent)
            ok = condition.predicate(actual)
            results.append({"condition": condition.text, "actual": actual, "ok": ok})
            holds = holds and ok
        if holds:
            fired.append((signal, results))
    if not fired:
        return draft
    return _abused(draft, fired)


def _abused(draft: Draft, fired: list[tuple[Signal, list[dict[str, Any]]]]) -> Draft:
    policy = draft.context.policy
    offers = list(draft.offers)
    evidence = list(draft.evidence)
    role = draft.required
    found: list[Step] = []
    downgraded = False
    for signal, shown in fired:
        if signal.action == "downgrade":
            changes = _downgrade(policy, signal, offers)
            downgraded = downgraded or bool(changes)
            params = {"signal": signal.id, "conditions": shown, "changes": changes}
            found.append(step_from("abuse", "abuse.downgrade", params))
        elif signal.action == "require_evidence":
            evidence.extend(e for e in signal.evidence if e not in evidence)
            params = {"signal": signal.id, "conditions": shown, "evidence": list(signal.evidence)}
            found.append(step_from("abuse", "abuse.evidence", params))
        else:
            role = signal.role if role is None or signal.role.rank > role.rank else role
            params = {"signal": signal.id, "conditions": shown, "role": signal.role.value}
            found.append(step_from("abuse", "abuse.review", params))
    checked = draft.but(
        offers=tuple(offers),
        evidence=tuple(evidence),
        required=role,
        trace=(*draft.trace, *found),
    )
    return _budgets(checked) if downgraded and draft.context.plan.budgets else checked


def _downgrade(
    policy: CompensationPolicy, signal: Signal, offers: list[Offer]
) -> list[dict[str, str]]:
    """Downgrade ``offers`` in place to the signal's instrument; what changed."""
    target = signal.downgrade_to
    assert target is not None
    changes = []
    for index, offer in enumerate(offers):
        if _DOWNGRADE_FROM.get(offer.instrument, 0) > _DOWNGRADE_FROM.get(target, 0):
            points = None
            if target is Instrument.POINTS:
                points = int(offer.value.amount * policy.points_per_unit)
            offers[index] = offer.but(
                instrument=target,
                threshold=policy.money(signal.threshold) if signal.threshold else None,
                points=points,
            )
            changes.append(
                {"rule": offer.rule_id, "from": offer.instrument.value, "to": target.value}
            )
    return changes


# 8 ----------------------------------------------------------------------------------------------


def authority_tier(policy: CompensationPolicy, role: Role) -> AuthorityTier | None:
    """The policy's authority tier for ``role``, if it has one."""
    for tier in policy.tiers:
        if tier.role is role:
            return tier
    return None


def authority(draft: Draft) -> Draft:
    """Within the agent's limits, or the least role that may approve; then the status."""
    context, offers = draft.context, draft.offers
    if not offers:
        rejected = step_from("result", "result.rejected", {"matched": len(draft.matched)})
        return draft.but(trace=(*draft.trace, rejected), status=Status.REJECTED, required=None)
    policy, agent, zero = context.policy, context.agent, context.zero
    if len(offers) == 1:
        biggest = total = offers[0].value
    else:
        biggest = max(o.value for o in offers)
        total = _total(offers, zero)
    tier, per_offer, per_day = context.plan.tiers.get(agent.role, _NO_TIER)
    if per_offer is None:
        per_offer = zero
    used = zero
    if context.store is not None:
        used = policy.money(context.store.usage(f"agent:{agent.id}", context.day).amount)
    within_offer = biggest <= per_offer
    within_day = per_day is None or used + total <= per_day
    limits = {
        "role": _VALUES[agent.role],
        "has_tier": tier is not None,
        "per_offer": per_offer,
        "per_day": per_day,
        "used": used,
        "biggest": biggest,
        "total": total,
    }
    found: list[Step] = []
    required: Role | None = None
    if within_offer and within_day and tier is not None:
        found.append(step_from("authority", "authority.ok", limits))
    else:
        required, above_all = _approver(policy, agent, biggest)
        why = "per_offer" if not within_offer else "daily"
        limits.update(required=_VALUES[required], why=why, above_all=above_all)
        found.append(step_from("authority", "authority.exceeded", limits))
    review = draft.required
    if review is not None and (required is None or review.rank > required.rank):
        required = review
    if draft.evidence:
        status = Status.NEEDS_EVIDENCE
        required = required or _least_person(policy)
    elif required is not None:
        status = Status.NEEDS_APPROVAL
    else:
        status = Status.AUTO_APPROVED
    result = {
        "role": _VALUES[required] if required else None,
        "total": total,
        "offers": len(offers),
    }
    found.append(step_from("result", _RESULT[status], result))
    return draft.but(trace=(*draft.trace, *found), status=status, required=required)


_NO_TIER: tuple[None, None, None] = (None, None, None)
_RESULT = {status: f"result.{status.value}" for status in Status}


def _approver(policy: CompensationPolicy, agent: Agent, biggest: Money) -> tuple[Role, bool]:
    """The least role above ``agent`` whose per-offer limit covers ``biggest``; above them all?"""
    for candidate in policy.tiers:
        if candidate.role.rank > agent.role.rank and biggest.amount <= candidate.max_per_offer:
            return candidate.role, False
    required = policy.tiers[-1].role
    if required.rank <= agent.role.rank:
        required = Role.SUPERVISOR
    return required, True


def _least_person(policy: CompensationPolicy) -> Role:
    for tier in policy.tiers:
        if tier.role is not Role.BOT:
            return tier.role
    return Role.AGENT


STAGES: tuple[Callable[[Draft], Draft], ...] = (
    triage,
    eligibility,
    amounts,
    stacking,
    caps,
    budgets,
    abuse,
    authority,
)
"""The stages in order; `decide` stops after the one that settles the decision."""
