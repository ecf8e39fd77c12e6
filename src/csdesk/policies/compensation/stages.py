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
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

from csdesk.decision import Step, step
from csdesk.errors import InvalidInputError
from csdesk.money import Money
from csdesk.policies.compensation.budget import BudgetStore, Charge, Usage
from csdesk.policies.compensation.incidents import (
    STATUTORY_KINDS,
    Agent,
    FoodSafetyClaim,
    FraudClaim,
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
)

__all__ = [
    "STAGES",
    "Draft",
    "abuse",
    "amounts",
    "authority",
    "authority_tier",
    "budgets",
    "caps",
    "eligibility",
    "key",
    "period_key",
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


class Draft(NamedTuple):
    """A decision in progress; each stage returns a new one.

    Attributes:
        policy, incident, agent, store: What is decided, under what, by whom, with which counters.
        now: The decision's instant; ``local`` the same in the policy's zone; ``day`` its date.
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

    policy: CompensationPolicy
    incident: Any
    agent: Agent
    store: BudgetStore | None
    now: datetime
    local: datetime
    day: str
    zero: Money
    matched: tuple[Rule, ...] = ()
    valued: tuple[tuple[Rule, Money], ...] = ()
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

    def usage(self, pool: str, period: str) -> Usage:
        """What the store says ``pool`` used in ``period`` (zero without a store)."""
        return self.store.usage(pool, period) if self.store is not None else Usage()


def key(*parts: str) -> str:
    """An idempotency key from the incident's id (and a rule's)."""
    return hashlib.sha256("\x1f".join(("csdesk.compensation", *parts)).encode()).hexdigest()[:32]


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
    incident, policy = draft.incident, draft.policy
    if incident.kind in STATUTORY_KINDS:
        assert isinstance(incident, FraudClaim | FoodSafetyClaim)
        claim = statutory_claim(incident)
        found = [
            step(
                "triage",
                "triage.statutory",
                law=claim.law,
                formula=claim.formula,
                role=policy.statutory_role.value,
                amount=claim.amount,
            )
        ]
        if incident.customer.risk_flags:
            flags = sorted(incident.customer.risk_flags)
            found.append(step("abuse", "abuse.statutory", flags=flags))
        return draft._replace(
            trace=(*draft.trace, *found),
            status=Status.STATUTORY,
            required=policy.statutory_role,
            statutory=claim,
        )
    if isinstance(incident, Review):
        if not incident.root_cause_confirmed:
            unconfirmed = step("triage", "triage.review_unconfirmed", negative=incident.negative)
            return draft._replace(trace=(*draft.trace, unconfirmed), status=Status.REJECTED)
        assert incident.root_cause is not None
        confirmed = step("triage", "triage.review_confirmed", cause=incident.root_cause.value)
        return draft._replace(trace=(*draft.trace, confirmed))
    return draft


# 2 ----------------------------------------------------------------------------------------------


def eligibility(draft: Draft) -> Draft:
    """Every rule for the kind, matched or skipped, with each condition's actual value."""
    incident, agent = draft.incident, draft.agent
    rules = draft.policy.rules_by_kind[incident.kind]
    found: list[Step] = []
    matched: list[Rule] = []
    if not rules:
        found.append(step("eligibility", "rule.none", kind=incident.kind.value))
    for rule, conditions in rules:
        results = []
        holds = True
        for condition in conditions:
            ok, actual = condition.test(incident, agent)
            results.append({"condition": condition.text, "actual": actual, "ok": ok})
            holds = holds and ok
        code = "rule.matched" if holds else "rule.skipped"
        found.append(step("eligibility", code, rule=rule.id, conditions=results))
        if holds:
            matched.append(rule)
    return draft._replace(matched=tuple(matched), trace=(*draft.trace, *found))


# 3 ----------------------------------------------------------------------------------------------


def amounts(draft: Draft) -> Draft:
    """Each matched rule's amount: computed, clamped, rounded once."""
    found: list[Step] = []
    valued = tuple((rule, _amount(draft, rule, found)) for rule in draft.matched)
    return draft._replace(valued=valued, trace=(*draft.trace, *found))


def _amount(draft: Draft, rule: Rule, found: list[Step]) -> Money:
    spec = rule.offer.amount
    if spec is None:
        found.append(step("amount", "amount.none", rule=rule.id))
        return draft.zero
    policy = draft.policy
    raw, how = _raw(spec, policy.amount_getters.get(rule.id), draft.incident, draft.agent)
    clamped = raw
    if spec.min is not None and clamped < spec.min:
        clamped = spec.min
    if spec.max is not None and clamped > spec.max:
        clamped = spec.max
    rounding = spec.rounding or policy.rounding
    quantum = spec.round_to if spec.round_to is not None else Decimal(1).scaleb(-draft.zero.digits)
    rounded = (clamped / quantum).quantize(Decimal(1), rounding=rounding) * quantum
    value = Money(rounded, policy.currency).quantize(rounding)
    found.append(
        step(
            "amount",
            "amount",
            rule=rule.id,
            **how,
            raw=raw,
            low=spec.min,
            high=spec.max,
            clamped=clamped,
            rounding=rounding if (spec.round_to is not None or value.amount != clamped) else None,
            round_to=spec.round_to,
            value=value,
        )
    )
    return value


def _raw(
    spec: AmountSpec, get: Callable[[Any, Agent], Any] | None, incident: Any, agent: Agent
) -> tuple[Decimal, dict[str, Any]]:
    if spec.fixed is not None:
        return spec.fixed, {"form": "fixed"}
    assert get is not None  # the policy compiled the field's getter at load
    if spec.pct is not None and spec.of is not None:
        base = get(incident, agent)
        return spec.pct * base.amount / 100, {"form": "pct", "pct": spec.pct, "base": base}
    assert spec.by is not None
    value = get(incident, agent)
    number = value.amount if isinstance(value, Money) else Decimal(value)
    chosen = None
    for row in spec.steps:
        if number >= row.at:
            chosen = row
    if chosen is None:
        below = {"form": "below", "by": spec.by, "number": number, "at": spec.steps[0].at}
        return Decimal(0), below
    table = {"form": "table", "by": spec.by, "number": number, "at": chosen.at}
    return chosen.amount, table


# 4 ----------------------------------------------------------------------------------------------


def stacking(draft: Draft) -> Draft:
    """Group winners (first or largest), then ``sum`` or ``max`` across groups; offers made."""
    valued = draft.valued
    winners: dict[str, tuple[Rule, Money]] = {}
    hits = draft.policy.group_hits
    for rule, value in valued:
        current = winners.get(rule.group)
        if current is None or (hits[rule.group] == "max" and value > current[1]):
            winners[rule.group] = (rule, value)
    found: list[Step] = []
    for group, (rule, value) in winners.items():
        contenders = sum(1 for r, _ in valued if r.group == group)
        if contenders > 1:
            found.append(
                step(
                    "stacking",
                    f"group.{hits[group]}",
                    group=group,
                    rule=rule.id,
                    value=value,
                    contenders=contenders,
                )
            )
    chosen = list(winners.values())
    if draft.policy.stacking == "max" and len(chosen) > 1:
        best = max(chosen, key=lambda pair: pair[1])
        found.append(
            step("stacking", "stacking.max", rule=best[0].id, value=best[1], groups=len(chosen))
        )
        chosen = [best]
    offers = tuple(
        _offer(draft, rule, value)
        for rule, value in chosen
        if value > draft.zero or rule.offer.instrument in _NO_AMOUNT
    )
    return draft._replace(offers=offers, trace=(*draft.trace, *found))


def _offer(draft: Draft, rule: Rule, value: Money) -> Offer:
    policy, spec = draft.policy, rule.offer
    points = None
    if spec.instrument is Instrument.POINTS:
        points = int(value.amount * policy.points_per_unit)
    valid_until = None
    if spec.valid_days is not None and spec.instrument in _VALIDITY:
        valid_until = draft.now + timedelta(days=spec.valid_days)
    return Offer.made(
        rule_id=rule.id,
        group=rule.group,
        instrument=spec.instrument,
        value=value,
        key=key(draft.incident.id, rule.id),
        threshold=policy.money(spec.threshold) if spec.threshold is not None else None,
        points=points,
        upgrade_to=spec.upgrade_to.value if spec.upgrade_to else None,
        gift_sku=spec.gift_sku,
        protection_days=spec.protection_days,
        valid_until=valid_until,
        label=spec.label,
    )


# 5 and 6 ----------------------------------------------------------------------------------------


class _Fitting:
    """Offers shrinking under limits, with the steps that say how (used by caps and budgets)."""

    __slots__ = ("capped", "draft", "found", "offers")

    def __init__(self, draft: Draft) -> None:
        self.draft = draft
        self.offers = list(draft.offers)
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
        zero = self.draft.zero
        concerned = [o for o in self.offers if applies is None or o.instrument in applies]
        before = _total(concerned, zero)
        if before <= allowance:
            left = allowance if allowance > zero else zero
            self.found.append(
                step(stage, f"{stage}.ok", name=name, detail=detail, before=before, left=left)
            )
            return
        self.capped = True
        left = max(allowance, zero)
        kept: list[Offer] = []
        for offer in self.offers:
            if applies is not None and offer.instrument not in applies:
                kept.append(offer)
            elif offer.value <= left:
                kept.append(offer)
                left = left - offer.value
            elif offer.instrument in _REDUCIBLE and left > zero and self._above_min(offer, left):
                kept.append(self._reduced(offer, left))
                left = zero
        self.offers = kept
        after = _total([o for o in kept if applies is None or o.instrument in applies], zero)
        code = f"{stage}.reduced" if after > zero else f"{stage}.exhausted"
        self.found.append(step(stage, code, name=name, detail=detail, before=before, after=after))

    def count(self, name: str, detail: dict[str, Any], used: int, limit: int) -> None:
        """Drop every offer when a count limit is reached."""
        if used + 1 <= limit:
            self.found.append(
                step("caps", "caps.count_ok", name=name, detail=detail, used=used, limit=limit)
            )
            return
        self.capped = True
        self.offers = []
        self.found.append(
            step("caps", "caps.count_exhausted", name=name, detail=detail, used=used, limit=limit)
        )

    def _above_min(self, offer: Offer, left: Money) -> bool:
        spec = self.draft.policy.rules_by_id[offer.rule_id].offer.amount
        return spec is None or spec.min is None or left.amount >= spec.min

    def _reduced(self, offer: Offer, value: Money) -> Offer:
        points = None
        if offer.instrument is Instrument.POINTS:
            points = int(value.amount * self.draft.policy.points_per_unit)
        return offer.but(value=value, points=points)

    def into(self, draft: Draft, charges: tuple[Charge, ...]) -> Draft:
        return draft._replace(
            offers=tuple(self.offers),
            charges=charges,
            capped=draft.capped or self.capped,
            trace=(*draft.trace, *self.found),
        )


def caps(draft: Draft) -> Draft:
    """Per-order, per-customer and per-kind-per-day caps, in policy order."""
    if not draft.offers:
        return draft
    policy, incident, day = draft.policy, draft.incident, draft.day
    fitting = _Fitting(draft)
    charges = list(draft.charges)
    for cap in policy.caps:
        if not fitting.offers:
            break
        if cap.scope == "order":
            assert cap.max_share is not None
            order = incident.order
            limit = Money(order.paid_total.amount * cap.max_share, policy.currency).quantize(
                "ROUND_DOWN"
            )
            if cap.max_amount is not None:
                limit = min(limit, policy.money(cap.max_amount))
            already = order.already_compensated
            detail = {
                "scope": "order",
                "share": cap.max_share * 100,
                "paid": order.paid_total,
                "limit": limit,
                "already": already,
            }
            fitting.fit(limit - already, "caps", cap.id, detail)
        elif cap.scope == "customer":
            assert cap.window_days is not None
            window = incident.customer.window(cap.window_days)
            if window is None:
                raise InvalidInputError(
                    f"policy {policy.id} caps compensation over {cap.window_days} days "
                    f"(cap {cap.id}), but customer {incident.customer.id}'s snapshot has no "
                    f"{cap.window_days}-day window; give received[{cap.window_days}]"
                )
            if cap.max_count is not None:
                detail = {"scope": "customer_count", "days": cap.window_days}
                fitting.count(cap.id, detail, window.count, cap.max_count)
            if fitting.offers and cap.max_amount is not None:
                limit = policy.money(cap.max_amount)
                received = window.amount.quantize()
                detail = {
                    "scope": "customer",
                    "days": cap.window_days,
                    "limit": limit,
                    "received": received,
                }
                fitting.fit(limit - window.amount, "caps", cap.id, detail)
        elif incident.kind in cap.kinds:
            pool = f"cap:{cap.id}"
            used = draft.usage(pool, day)
            kind = incident.kind.value
            if cap.max_count is not None:
                detail = {"scope": "kind_count", "kind": kind, "day": day}
                fitting.count(cap.id, detail, used.count, cap.max_count)
            if fitting.offers and cap.max_amount is not None:
                limit = policy.money(cap.max_amount)
                given = policy.money(used.amount)
                detail = {"scope": "kind", "kind": kind, "day": day, "limit": limit, "given": given}
                fitting.fit(limit - given, "caps", cap.id, detail)
            if fitting.offers:
                charges.append(
                    Charge(
                        pool,
                        day,
                        _total(fitting.offers, draft.zero).amount,
                        limit_amount=cap.max_amount,
                        limit_count=cap.max_count,
                    )
                )
    return fitting.into(draft, tuple(charges))


def budgets(draft: Draft) -> Draft:
    """Budget pools per period: offers shrink to what is left; the pools' charges recorded."""
    if not draft.offers or not draft.policy.budgets:
        return draft
    return _budgets(draft)


def _budgets(draft: Draft) -> Draft:
    policy = draft.policy
    fitting = _Fitting(draft)
    charges = [c for c in draft.charges if not c.pool.startswith("budget:")]
    for budget in policy.budgets:
        applies = frozenset(budget.instruments) if budget.instruments else None
        pool = f"budget:{budget.id}"
        period = period_key(budget.period, draft.local)
        used = policy.money(draft.usage(pool, period).amount)
        limit = policy.money(budget.amount)
        detail = {
            "scope": "budget",
            "period": budget.period,
            "label": period,
            "limit": limit,
            "spent": used,
        }
        fitting.fit(limit - used, "budget", budget.id, detail, applies)
        concerned = _total(
            [o for o in fitting.offers if applies is None or o.instrument in applies], draft.zero
        )
        if concerned > draft.zero:
            charges.append(
                Charge(pool, period, concerned.amount, count=1, limit_amount=budget.amount)
            )
    return fitting.into(draft, tuple(charges))


# 7 ----------------------------------------------------------------------------------------------


def abuse(draft: Draft) -> Draft:
    """Signals downgrade the instrument, ask for evidence, or send it to a person."""
    policy, incident, agent = draft.policy, draft.incident, draft.agent
    if not draft.offers or not policy.compiled_signals:
        return draft
    offers = list(draft.offers)
    evidence = list(draft.evidence)
    role = draft.required
    found: list[Step] = []
    downgraded = False
    for signal, conditions in policy.compiled_signals:
        results = [(c.text, *c.test(incident, agent)) for c in conditions]
        if not all(ok for _, ok, _ in results):
            continue
        shown = [{"condition": text, "actual": actual, "ok": ok} for text, ok, actual in results]
        if signal.action == "downgrade":
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
            downgraded = downgraded or bool(changes)
            found.append(
                step(
                    "abuse", "abuse.downgrade", signal=signal.id, conditions=shown, changes=changes
                )
            )
        elif signal.action == "require_evidence":
            evidence.extend(e for e in signal.evidence if e not in evidence)
            found.append(
                step(
                    "abuse",
                    "abuse.evidence",
                    signal=signal.id,
                    conditions=shown,
                    evidence=list(signal.evidence),
                )
            )
        else:
            role = signal.role if role is None or signal.role.rank > role.rank else role
            found.append(
                step(
                    "abuse",
                    "abuse.review",
                    signal=signal.id,
                    conditions=shown,
                    role=signal.role.value,
                )
            )
    checked = draft._replace(
        offers=tuple(offers),
        evidence=tuple(evidence),
        required=role,
        trace=(*draft.trace, *found),
    )
    return _budgets(checked) if downgraded and policy.budgets else checked


# 8 ----------------------------------------------------------------------------------------------


def authority_tier(policy: CompensationPolicy, role: Role) -> AuthorityTier | None:
    """The policy's authority tier for ``role``, if it has one."""
    for tier in policy.tiers:
        if tier.role is role:
            return tier
    return None


def authority(draft: Draft) -> Draft:
    """Within the agent's limits, or the least role that may approve; then the status."""
    policy, agent, offers = draft.policy, draft.agent, draft.offers
    if not offers:
        rejected = step("result", "result.rejected", matched=len(draft.matched))
        return draft._replace(trace=(*draft.trace, rejected), status=Status.REJECTED, required=None)
    biggest = max(o.value for o in offers)
    total = _total(offers, draft.zero)
    tier = authority_tier(policy, agent.role)
    per_offer = policy.money(tier.max_per_offer) if tier else draft.zero
    per_day = policy.money(tier.max_per_day) if tier and tier.max_per_day is not None else None
    used = policy.money(draft.usage(f"agent:{agent.id}", draft.day).amount)
    within_offer = biggest <= per_offer
    within_day = per_day is None or used + total <= per_day
    limits = {
        "role": agent.role.value,
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
        found.append(step("authority", "authority.ok", **limits))
    else:
        for candidate in policy.tiers:
            if candidate.role.rank > agent.role.rank and biggest.amount <= candidate.max_per_offer:
                required = candidate.role
                break
        above_all = required is None
        if required is None:
            required = policy.tiers[-1].role
            if required.rank <= agent.role.rank:
                required = Role.SUPERVISOR
        why = "per_offer" if not within_offer else "daily"
        found.append(
            step(
                "authority",
                "authority.exceeded",
                **limits,
                required=required.value,
                why=why,
                above_all=above_all,
            )
        )
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
    found.append(
        step(
            "result",
            f"result.{status.value}",
            role=required.value if required else None,
            total=total,
            offers=len(offers),
        )
    )
    return draft._replace(trace=(*draft.trace, *found), status=status, required=required)


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
