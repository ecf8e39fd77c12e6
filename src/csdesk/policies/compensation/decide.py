"""Decide what to offer for an incident, and grant it at most once.

The pipeline, each step recorded in the decision's trace:

0. **Legal triage.** Statutory claims (fraud: 消费者权益保护法 art. 55 ¶1; food safety: 食品安全法
   art. 148 ¶2) go to a person with the statutory amount shown; no goodwill replaces them. A
   review with no confirmed root cause gets nothing: recovery is for a problem, never a review.
1. **Eligibility.** Every rule for the incident's kind, every condition with the value it read.
2. **Amount.** Fixed, a percentage of a money field, or a lookup table; clamped; rounded once with
   the policy's rounding, so the amount shown is the amount granted.
3. **Stacking.** In each group the first or the largest matching rule wins; across groups the
   winners add up (``sum``) or only the largest stays (``max``).
4. **Caps and budgets.** Per order (a share of what was paid), per customer over rolling windows
   (from the snapshot), per kind per day and budget pools (from the `BudgetStore`): offers shrink
   to what is left, or go.
5. **Anti-abuse.** Signals downgrade the instrument, ask for evidence or send the decision to a
   person; they never reject, and never touch a statutory claim.
6. **Authority.** Within the agent's per-offer and daily limits: auto-approved; otherwise the least
   role whose limit covers it must approve.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Any

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.errors import ApprovalRequiredError, InvalidInputError
from csdesk.money import Money
from csdesk.policies.compensation.budget import BudgetStore, Charge, Usage
from csdesk.policies.compensation.incidents import (
    STATUTORY_KINDS,
    Agent,
    FoodSafetyClaim,
    FraudClaim,
    Incident,
    IncidentKind,
    Review,
    Role,
)
from csdesk.policies.compensation.policy import (
    AmountSpec,
    AuthorityTier,
    CompensationPolicy,
    Instrument,
    Rule,
)

__all__ = [
    "Decision",
    "Offer",
    "Status",
    "StatutoryClaim",
    "TraceStep",
    "decide",
    "grant",
    "period_key",
    "statutory_claim",
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


class Status(StrEnum):
    """What happens next."""

    AUTO_APPROVED = "auto_approved"
    NEEDS_APPROVAL = "needs_approval"
    NEEDS_EVIDENCE = "needs_evidence"
    REJECTED = "rejected"
    STATUTORY = "statutory"


@dataclass(frozen=True, slots=True)
class Offer:
    """One thing offered, with its amount already rounded by the policy.

    Attributes:
        rule_id: The rule that offered it.
        instrument: How it is given.
        value: What it is worth (the coupon's face value, the cash, the points' money value, the
            shipping or gift cost); zero for a membership upgrade.
        threshold: A threshold coupon's minimum spend.
        points: Points granted, for a points offer.
        valid_until: When a coupon, free shipping or points stop being usable.
        key: An idempotency key from the incident and the rule: create the coupon or the refund
            with it and a retry never grants twice.
    """

    rule_id: str
    group: str
    instrument: Instrument
    value: Money
    key: str
    threshold: Money | None = None
    points: int | None = None
    upgrade_to: str | None = None
    gift_sku: str | None = None
    valid_until: datetime | None = None
    label: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "rule_id": self.rule_id,
            "group": self.group,
            "instrument": self.instrument.value,
            "value": self.value.to_dict(),
            "key": self.key,
            "threshold": self.threshold.to_dict() if self.threshold else None,
            "points": self.points,
            "upgrade_to": self.upgrade_to,
            "gift_sku": self.gift_sku,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "label": self.label,
        }


@dataclass(frozen=True, slots=True)
class TraceStep:
    """One line of a decision's trace.

    Attributes:
        stage: ``triage``, ``eligibility``, ``amount``, ``stacking``, ``caps``, ``budget``,
            ``abuse``, ``authority`` or ``result``.
        code: What happened, e.g. ``rule.matched``, ``cap.reduced`` (``explain`` words it).
        text: The step in English, with every number it used.
        params: The step's values, for `Decision.explain` and for machines.
    """

    stage: str
    code: str
    text: str
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StatutoryClaim:
    """The amount a statute sets, shown to the person who handles the claim.

    Attributes:
        law: The provision, e.g. ``消费者权益保护法 art. 55 ¶1``.
        formula: How the amount comes out, e.g. ``3 × 200.00 = 600.00; minimum 500.00``.
        computed: The multiple of the price (or loss).
        minimum: The statutory floor.
        amount: The larger of the two: what the consumer may claim on top of a refund.
        source: Where the numbers come from.
    """

    law: str
    formula: str
    computed: Money
    minimum: Money
    amount: Money
    source: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "law": self.law,
            "formula": self.formula,
            "computed": self.computed.to_dict(),
            "minimum": self.minimum.to_dict(),
            "amount": self.amount.to_dict(),
            "source": self.source,
        }


_CPL_55 = (
    "消费者权益保护法 art. 55 ¶1",
    "消费者权益保护法 (2013 amendment) art. 55 ¶1: fraud in providing goods or services: at the "
    "consumer's request, additional compensation of three times the price paid; less than 500 "
    "yuan becomes 500 yuan, unless another law provides otherwise",
)
_FOOD_148 = (
    "食品安全法 art. 148 ¶2",
    "食品安全法 (2021 amendment) art. 148 ¶2: food not meeting safety standards: besides damages, "
    "ten times the price or three times the loss; less than 1000 yuan becomes 1000 yuan (except "
    "label or instruction flaws that neither affect safety nor mislead)",
)


@checked
def statutory_claim(incident: FraudClaim | FoodSafetyClaim) -> StatutoryClaim:
    """The statutory amount of a fraud or food-safety claim (Chinese law, amounts in CNY).

    Examples:
        >>> from datetime import datetime, timezone
        >>> from csdesk.policies.compensation import parse_incident
        >>> order = {"id": "SO-1", "paid_total": {"amount": "200", "currency": "CNY"},
        ...          "item_paid": {"amount": "200", "currency": "CNY"},
        ...          "shipping_paid": {"amount": "0", "currency": "CNY"}}
        >>> claim = parse_incident({"kind": "fraud_claim", "id": "i-1", "order": order,
        ...     "customer": {"id": "C-1"}, "occurred_at": "2026-03-01T10:00:00+08:00",
        ...     "price_paid": {"amount": "200", "currency": "CNY"}})
        >>> statutory_claim(claim).formula
        '3 × 200.00 = 600.00; minimum 500.00 → 600.00'
    """
    currency = incident.price_paid.currency
    if currency != "CNY":
        raise InvalidInputError(
            f"statutory amounts under Chinese law are in CNY; this claim is in {currency}"
        )
    price = incident.price_paid
    if isinstance(incident, FraudClaim):
        law, source = _CPL_55
        computed = price * 3
        minimum = Money(500, currency)
        formula = f"3 × {price.quantize().amount} = {computed.quantize().amount}"
    else:
        law, source = _FOOD_148
        computed = price * 10
        formula = f"10 × {price.quantize().amount} = {computed.quantize().amount}"
        if incident.loss is not None:
            by_loss = incident.loss * 3
            formula += f", 3 × loss {incident.loss.quantize().amount} = {by_loss.quantize().amount}"
            computed = max(computed, by_loss)
        minimum = Money(1000, currency)
    amount = max(computed, minimum)
    formula += f"; minimum {minimum.quantize().amount} → {amount.quantize().amount}"
    return StatutoryClaim(
        law, formula, computed.quantize(), minimum.quantize(), amount.quantize(), source
    )


@dataclass(frozen=True, slots=True)
class Decision:
    """What the policy decided for one incident, and why.

    Attributes:
        status: `Status`.
        offers: What is offered (empty when rejected or statutory).
        required_role: Who must approve (``needs_approval``), handle the claim (``statutory``) or
            check the evidence (``needs_evidence``); ``None`` when auto-approved or rejected.
        evidence_required: What the customer is asked to show first.
        statutory: The statutory claim's amount, for ``statutory`` decisions.
        reasons: Short reasons for the status (no rule matched, which cap, which signal).
        trace: Every step, with the numbers it used.
        idempotency_key: From the incident's id: deciding again gives the same key, and
            `grant` spends under it once.
        input_hash: SHA-256 of the incident and the agent (a property, computed when read).
        charges: What `grant` will move in the budget store (budget pools, per-kind daily caps).
    """

    incident_id: str
    kind: IncidentKind
    status: Status
    offers: tuple[Offer, ...]
    required_role: Role | None
    evidence_required: tuple[str, ...]
    statutory: StatutoryClaim | None
    reasons: tuple[str, ...]
    trace: tuple[TraceStep, ...]
    policy_id: str
    policy_version: str
    policy_hash: str
    idempotency_key: str
    decided_at: datetime
    agent: Agent
    currency: str
    day: str
    charges: tuple[Charge, ...] = ()
    capped: bool = False
    inputs: tuple[Any, Agent] | None = field(default=None, repr=False, compare=False)

    @property
    def input_hash(self) -> str:
        """SHA-256 of the incident (its canonical JSON) and the agent; computed when asked."""
        assert self.inputs is not None
        return _input_hash(*self.inputs)

    @property
    def total(self) -> Money:
        """The offers' total value."""
        total = Money.zero(self.currency)
        for offer in self.offers:
            total = total + offer.value
        return total

    def explain(self, locale: str = "en") -> str:
        """The decision as an agent reads it: status, offers, then each step of the trace.

        Chinese (``zh``, ``zh-CN``, ``zh-Hans``…) and English wording; other locales fall back to
        English. Amounts are formatted for the locale and never rounded again.
        """
        from csdesk.policies.compensation.explain import explain

        return explain(self, locale)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (amounts as ``{"amount": "10.00", "currency": "CNY"}``)."""
        return {
            "incident_id": self.incident_id,
            "kind": self.kind.value,
            "status": self.status.value,
            "offers": [offer.to_dict() for offer in self.offers],
            "total": self.total.to_dict(),
            "required_role": self.required_role.value if self.required_role else None,
            "evidence_required": list(self.evidence_required),
            "statutory": self.statutory.to_dict() if self.statutory else None,
            "reasons": list(self.reasons),
            "trace": [{"stage": s.stage, "code": s.code, "text": s.text} for s in self.trace],
            "policy": {
                "id": self.policy_id,
                "version": self.policy_version,
                "hash": self.policy_hash,
            },
            "input_hash": self.input_hash,
            "idempotency_key": self.idempotency_key,
            "decided_at": self.decided_at.isoformat(),
            "agent": {"id": self.agent.id, "role": self.agent.role.value},
            "capped": self.capped,
        }


def _key(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(("csdesk.compensation", *parts)).encode()).hexdigest()[:32]


@checked
def period_key(period: str, moment: datetime) -> str:
    """The label of the ``day`` / ``week`` / ``month`` / ``year`` that ``moment`` falls in.

    Examples:
        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
        >>> [period_key(p, at) for p in ("day", "week", "month", "year")]
        ['2026-11-23', '2026-W48', '2026-11', '2026']
    """
    if period == "day":
        return moment.date().isoformat()
    if period == "week":
        year, week, _ = moment.isocalendar()
        return f"{year}-W{week:02d}"
    if period == "month":
        return f"{moment.year}-{moment.month:02d}"
    return str(moment.year)


class _Pipeline:
    """One decision in progress."""

    __slots__ = (
        "agent",
        "capped",
        "incident",
        "money",
        "policy",
        "reasons",
        "store",
        "trace",
        "zero",
    )

    def __init__(
        self, policy: CompensationPolicy, incident: Any, agent: Agent, store: BudgetStore | None
    ) -> None:
        self.policy = policy
        self.incident = incident
        self.agent = agent
        self.store = store
        self.trace: list[TraceStep] = []
        self.reasons: list[str] = []
        self.capped = False
        self.zero = Money.zero(policy.currency)

    def step(self, stage: str, code: str, text: str, **params: Any) -> None:
        self.trace.append(TraceStep(stage, code, text, params))

    # 1 + 2 ------------------------------------------------------------------------------------

    def eligible(self) -> list[tuple[Rule, Money]]:
        matched: list[tuple[Rule, Money]] = []
        incident, agent = self.incident, self.agent
        rules = self.policy.rules_by_kind[incident.kind]
        if not rules:
            self.step("eligibility", "rule.none", f"no rule applies to {incident.kind.value}")
        for rule, conditions in rules:
            results = [(c, *c.test(incident, agent)) for c in conditions]
            shown = "; ".join(
                f"{c.text} (actual {_actual(actual)}) {'✓' if ok else '✗'}"
                for c, ok, actual in results
            )
            if all(ok for _, ok, _ in results):
                self.step(
                    "eligibility",
                    "rule.matched",
                    f"rule {rule.id} matched: {shown or 'no conditions'}",
                    rule=rule.id,
                    conditions=shown,
                )
                matched.append((rule, self.amount(rule)))
            else:
                self.step(
                    "eligibility",
                    "rule.skipped",
                    f"rule {rule.id} did not match: {shown}",
                    rule=rule.id,
                    conditions=shown,
                )
        return matched

    def amount(self, rule: Rule) -> Money:
        spec = rule.offer.amount
        if spec is None:
            self.step(
                "amount",
                "amount.none",
                f"{rule.id}: no amount (a membership upgrade)",
                rule=rule.id,
            )
            return self.zero
        policy = self.policy
        getter = policy.amount_getters.get(rule.id)
        raw, shown = _raw(spec, getter, self.incident, self.agent)
        clamped = raw
        if spec.min is not None and clamped < spec.min:
            clamped = spec.min
        if spec.max is not None and clamped > spec.max:
            clamped = spec.max
        if spec.min is not None or spec.max is not None:
            low = _num(spec.min) if spec.min is not None else "0"
            high = _num(spec.max) if spec.max is not None else "∞"
            shown += f" → clamp [{low}, {high}] → {_num(clamped)}"
        rounding = spec.rounding or policy.rounding
        quantum = (
            spec.round_to if spec.round_to is not None else Decimal(1).scaleb(-self.zero.digits)
        )
        rounded = (clamped / quantum).quantize(Decimal(1), rounding=rounding) * quantum
        value = Money(rounded, policy.currency).quantize(rounding)
        shown += f" → {value.amount}"
        if spec.round_to is not None or value.amount != clamped:
            shown += f" ({rounding}" + (f" to {_num(spec.round_to)})" if spec.round_to else ")")
        self.step("amount", "amount", f"{rule.id}: {shown}", rule=rule.id, steps=shown, value=value)
        return value

    # 3 ----------------------------------------------------------------------------------------

    def stack(self, matched: list[tuple[Rule, Money]]) -> list[tuple[Rule, Money]]:
        winners: dict[str, tuple[Rule, Money]] = {}
        hits = self.policy.group_hits
        for rule, value in matched:
            current = winners.get(rule.group)
            if current is None or (hits[rule.group] == "max" and value > current[1]):
                winners[rule.group] = (rule, value)
        for group, (rule, value) in winners.items():
            contenders = sum(1 for r, _ in matched if r.group == group)
            if contenders > 1:
                self.step(
                    "stacking",
                    f"group.{hits[group]}",
                    f"group {group} ({hits[group]}): {rule.id} wins with {value} of {contenders}",
                    group=group,
                    rule=rule.id,
                    value=value,
                )
        chosen = list(winners.values())
        if self.policy.stacking == "max" and len(chosen) > 1:
            best = max(chosen, key=lambda pair: pair[1])
            self.step(
                "stacking",
                "stacking.max",
                f"stacking max: only {best[0].id} ({best[1]}) of {len(chosen)} groups' winners",
                rule=best[0].id,
                value=best[1],
            )
            chosen = [best]
        return chosen

    # 4 ----------------------------------------------------------------------------------------

    def fit(
        self,
        offers: list[Offer],
        allowance: Money,
        stage: str,
        name: str,
        detail: str,
        applies: frozenset[Instrument] | None = None,
    ) -> list[Offer]:
        """Shrink or drop offers (those ``applies`` to) so their total fits ``allowance``."""
        if applies is None:
            before = _total(offers, self.zero)
        else:
            before = _total([o for o in offers if o.instrument in applies], self.zero)
        if before <= allowance:
            left = allowance if allowance > self.zero else self.zero
            self.step(
                stage,
                f"{stage}.ok",
                f"{name}: {detail}; {before} offered fits {left} left",
                name=name,
                detail=detail,
                before=before,
                left=left,
            )
            return offers
        self.capped = True
        left = max(allowance, self.zero)
        kept: list[Offer] = []
        for offer in offers:
            if applies is not None and offer.instrument not in applies:
                kept.append(offer)
            elif offer.value <= left:
                kept.append(offer)
                left = left - offer.value
            elif (
                offer.instrument in _REDUCIBLE and left > self.zero and self._above_min(offer, left)
            ):
                kept.append(self._reduced(offer, left))
                left = self.zero
        after = sum(
            (o.value for o in kept if applies is None or o.instrument in applies), self.zero
        )
        code = f"{stage}.reduced" if after > self.zero else f"{stage}.exhausted"
        verb = f"reduced to {after}" if after > self.zero else "nothing left to offer"
        self.step(
            stage,
            code,
            f"{name}: {detail}; {before} offered, {verb}",
            name=name,
            detail=detail,
            before=before,
            after=after,
        )
        self.reasons.append(f"{name}: {verb}")
        return kept

    def _above_min(self, offer: Offer, left: Money) -> bool:
        spec = self.policy.rules_by_id[offer.rule_id].offer.amount
        return spec is None or spec.min is None or left.amount >= spec.min

    def _reduced(self, offer: Offer, value: Money) -> Offer:
        points = None
        if offer.instrument is Instrument.POINTS:
            points = int(value.amount * self.policy.points_per_unit)
        return _replace(offer, value=value, points=points)

    def count_cap(
        self, offers: list[Offer], name: str, detail: str, used: int, limit: int
    ) -> list[Offer]:
        if used + 1 <= limit:
            self.step(
                "caps",
                "caps.count_ok",
                f"{name}: {detail}; {used} of {limit} used",
                name=name,
                detail=detail,
                used=used,
                limit=limit,
            )
            return offers
        self.capped = True
        self.step(
            "caps",
            "caps.count_exhausted",
            f"{name}: {detail}; {used} of {limit} used, nothing left to offer",
            name=name,
            detail=detail,
            used=used,
            limit=limit,
        )
        self.reasons.append(f"{name}: {used} of {limit} compensations used")
        return []

    def usage(self, pool: str, period: str) -> Usage:
        return self.store.usage(pool, period) if self.store is not None else Usage()


def _total(offers: list[Offer], zero: Money) -> Money:
    if len(offers) == 1:
        return offers[0].value
    total = zero
    for offer in offers:
        total = total + offer.value
    return total


def _replace(offer: Offer, **changes: Any) -> Offer:
    values = {name: getattr(offer, name) for name in Offer.__slots__}
    values.update(changes)
    return Offer(**values)


def _num(value: Decimal) -> str:
    text = format(value, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def _actual(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(value)) + "}"
    if value is None:
        return "none"
    return str(value)


def _raw(
    spec: AmountSpec, get: Callable[[Any, Agent], Any] | None, incident: Any, agent: Agent
) -> tuple[Decimal, str]:
    if spec.fixed is not None:
        return spec.fixed, f"fixed {_num(spec.fixed)}"
    assert get is not None  # the policy compiled the field's getter at load
    if spec.pct is not None and spec.of is not None:
        base = get(incident, agent)
        raw = spec.pct * base.amount / 100
        return raw, f"{_num(spec.pct)}% × {base.amount} = {_num(raw)}"
    assert spec.by is not None
    value = get(incident, agent)
    number = value.amount if isinstance(value, Money) else Decimal(value)
    chosen = None
    for row in spec.steps:
        if number >= row.at:
            chosen = row
    if chosen is None:
        return Decimal(
            0
        ), f"{spec.by} {_num(number)}: below the first row (at {_num(spec.steps[0].at)}) → 0"
    return (
        chosen.amount,
        f"{spec.by} {_num(number)} → row at ≥ {_num(chosen.at)}: {_num(chosen.amount)}",
    )


def _make_offer(
    policy: CompensationPolicy, rule: Rule, value: Money, incident: Any, now: datetime
) -> Offer:
    spec = rule.offer
    threshold = Money(spec.threshold, policy.currency) if spec.threshold is not None else None
    points = None
    if spec.instrument is Instrument.POINTS:
        points = int(value.amount * policy.points_per_unit)
    valid_until = None
    if spec.valid_days is not None and spec.instrument in _VALIDITY:
        valid_until = now + timedelta(days=spec.valid_days)
    return Offer(
        rule_id=rule.id,
        group=rule.group,
        instrument=spec.instrument,
        value=value,
        key=_key(incident.id, rule.id),
        threshold=threshold,
        points=points,
        upgrade_to=spec.upgrade_to.value if spec.upgrade_to else None,
        gift_sku=spec.gift_sku,
        valid_until=valid_until,
        label=spec.label,
    )


def _tier(policy: CompensationPolicy, role: Role) -> AuthorityTier | None:
    for tier in policy.tiers:
        if tier.role is role:
            return tier
    return None


@checked
def decide(
    policy: CompensationPolicy,
    incident: Incident,
    *,
    agent: Agent,
    budget: BudgetStore | None = None,
    now: datetime | None = None,
) -> Decision:
    """Decide what to offer for ``incident`` under ``policy``, acting as ``agent``.

    Args:
        policy: The compensation policy.
        incident: What happened, with snapshots of the order and the customer.
        agent: Who decides (their role sets the authority).
        budget: The counters for budget pools, per-kind daily caps and the agent's daily
            authority. Without one those counters read zero (fine for a single decision in a test;
            a shop passes its store).
        now: When the decision is taken (coupon validity, daily and monthly periods); defaults to
            the current time. Must be aware.

    Raises:
        InvalidInputError: the incident is in another currency than the policy, or a customer
            window the policy reads is missing from the snapshot.
        NaiveDatetimeError: ``now`` is naive.

    Examples:
        >>> from datetime import datetime, timezone
        >>> from csdesk.policies.compensation import Agent, compensation_policy, parse_incident
        >>> policy = compensation_policy("shop_standard")
        >>> incident = parse_incident({
        ...     "kind": "late_delivery", "id": "inc-1", "days_late": 3,
        ...     "occurred_at": "2026-03-05T10:00:00+08:00",
        ...     "order": {"id": "SO-1", "paid_total": {"amount": "136.50", "currency": "CNY"},
        ...               "item_paid": {"amount": "128.50", "currency": "CNY"},
        ...               "shipping_paid": {"amount": "8.00", "currency": "CNY"}},
        ...     "customer": {"id": "C-1",
        ...                  "received": {"30": {"amount": {"amount": "0", "currency": "CNY"}}}},
        ... })
        >>> decision = decide(policy, incident, agent=Agent(id="bot", role="bot"),
        ...                   now=datetime(2026, 3, 5, 3, 0, tzinfo=timezone.utc))
        >>> decision.status.value, [(o.instrument.value, str(o.value)) for o in decision.offers]
        ('auto_approved', [('coupon_no_threshold', '10.00 CNY')])
    """
    when = datetime.now(UTC) if now is None else require_aware(now, "now")
    if incident.order.currency != policy.currency:
        raise InvalidInputError(
            f"incident {incident.id} is in {incident.order.currency} and policy {policy.id} in "
            f"{policy.currency}; use a policy in the order's currency"
        )
    local = when.astimezone(policy.zone)
    day = period_key("day", local)
    run = _Pipeline(policy, incident, agent, budget)
    common: dict[str, Any] = {
        "incident_id": incident.id,
        "kind": incident.kind,
        "policy_id": policy.id,
        "policy_version": policy.version,
        "policy_hash": policy.policy_hash,
        "inputs": (incident, agent),
        "idempotency_key": _key(incident.id),
        "decided_at": when,
        "agent": agent,
        "currency": policy.currency,
        "day": day,
    }

    # 0 legal triage
    if incident.kind in STATUTORY_KINDS:
        assert isinstance(incident, FraudClaim | FoodSafetyClaim)
        claim = statutory_claim(incident)
        run.step(
            "triage",
            "triage.statutory",
            f"statutory claim under {claim.law}: {claim.formula}; routed to "
            f"{policy.statutory_role.value}; no goodwill offer replaces it",
            law=claim.law,
            formula=claim.formula,
            role=policy.statutory_role.value,
            amount=claim.amount,
        )
        if incident.customer.risk_flags:
            flags = ", ".join(sorted(incident.customer.risk_flags))
            run.step(
                "abuse",
                "abuse.statutory",
                f"risk flags ({flags}) are noted for the handler; they never deny a "
                "statutory right",
                flags=flags,
            )
        return Decision(
            status=Status.STATUTORY,
            offers=(),
            required_role=policy.statutory_role,
            evidence_required=(),
            statutory=claim,
            reasons=(f"statutory claim: {claim.law}",),
            trace=tuple(run.trace),
            **common,
        )
    if isinstance(incident, Review):
        if not incident.root_cause_confirmed:
            run.step(
                "triage",
                "triage.review_unconfirmed",
                f"{'negative' if incident.negative else 'neutral'} review with no confirmed "
                "root cause: nothing is offered for a review itself; confirm the problem "
                "behind it first",
            )
            return Decision(
                status=Status.REJECTED,
                offers=(),
                required_role=None,
                evidence_required=(),
                statutory=None,
                reasons=("review without a confirmed root cause",),
                trace=tuple(run.trace),
                **common,
            )
        assert incident.root_cause is not None
        run.step(
            "triage",
            "triage.review_confirmed",
            f"review's root cause confirmed: {incident.root_cause.value}; recovery is for "
            "that problem, unconditional on the review",
            cause=incident.root_cause.value,
        )

    # 1-3 eligibility, amounts, stacking
    matched = run.eligible()
    chosen = run.stack(matched)
    offers = [
        _make_offer(policy, rule, value, incident, when)
        for rule, value in chosen
        if value > run.zero or rule.offer.instrument is Instrument.MEMBERSHIP_UPGRADE
    ]
    if not matched:
        run.reasons.append("no rule matched")

    # 4 caps and budgets
    charges: list[Charge] = []
    if offers:
        offers = _caps(run, offers, incident, day, charges)
    if offers:
        offers = _budgets(run, offers, local, charges, record=True)

    # 5 anti-abuse
    evidence: list[str] = []
    review_role: Role | None = None
    if offers:
        offers, evidence, review_role = _abuse(run, offers, local, charges)

    # 6 authority
    if not offers:
        run.step(
            "result",
            "result.rejected",
            "nothing to offer: " + "; ".join(run.reasons),
            reasons="; ".join(run.reasons),
        )
        return Decision(
            status=Status.REJECTED,
            offers=(),
            required_role=None,
            evidence_required=(),
            statutory=None,
            reasons=tuple(run.reasons),
            trace=tuple(run.trace),
            capped=run.capped,
            **common,
        )
    required = _authority(run, offers, day)
    if review_role is not None and (required is None or review_role.rank > required.rank):
        required = review_role
    if evidence:
        status = Status.NEEDS_EVIDENCE
        required = required or _least_person(policy)
    elif required is not None:
        status = Status.NEEDS_APPROVAL
    else:
        status = Status.AUTO_APPROVED
    total = _total(offers, run.zero)
    run.step(
        "result",
        f"result.{status.value}",
        f"{status.value}" + (f" ({required.value})" if required else "") + f": {total} in "
        f"{len(offers)} offer(s)",
        status=status.value,
        role=required.value if required else "",
        total=total,
    )
    return Decision(
        status=status,
        offers=tuple(offers),
        required_role=required,
        evidence_required=tuple(evidence),
        statutory=None,
        reasons=tuple(run.reasons),
        trace=tuple(run.trace),
        charges=tuple(charges),
        capped=run.capped,
        **common,
    )


def _least_person(policy: CompensationPolicy) -> Role:
    for tier in policy.tiers:
        if tier.role is not Role.BOT:
            return tier.role
    return Role.AGENT


def _input_hash(incident: Any, agent: Agent) -> str:
    digest = hashlib.sha256(incident.__pydantic_serializer__.to_json(incident))
    digest.update(b"\x1f" + agent.id.encode() + b"\x1f" + agent.role.value.encode())
    return digest.hexdigest()


def _caps(
    run: _Pipeline, offers: list[Offer], incident: Any, day: str, charges: list[Charge]
) -> list[Offer]:
    policy = run.policy
    for cap in policy.caps:
        if not offers:
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
            detail = (
                f"at most {_num(cap.max_share * 100)}% of {order.paid_total} paid = {limit}, "
                f"{already} already given"
            )
            offers = run.fit(offers, limit - already, "caps", cap.id, detail)
        elif cap.scope == "customer":
            assert cap.window_days is not None
            window = incident.customer.window(cap.window_days)
            if window is None:
                raise InvalidInputError(
                    f"policy {policy.id} caps compensation over {cap.window_days} days "
                    f"(cap {cap.id}), but customer {incident.customer.id}'s snapshot has no "
                    f"{cap.window_days}-day window; give received[{cap.window_days}]"
                )
            detail_base = f"customer over {cap.window_days} days"
            if cap.max_count is not None:
                offers = run.count_cap(offers, cap.id, detail_base, window.count, cap.max_count)
            if offers and cap.max_amount is not None:
                limit = policy.money(cap.max_amount)
                detail = f"{detail_base}: at most {limit}, {window.amount.quantize()} received"
                offers = run.fit(offers, limit - window.amount, "caps", cap.id, detail)
        elif incident.kind in cap.kinds:
            pool = f"cap:{cap.id}"
            used = run.usage(pool, day)
            detail_base = f"{incident.kind.value} per day ({day})"
            if cap.max_count is not None:
                offers = run.count_cap(offers, cap.id, detail_base, used.count, cap.max_count)
            if offers and cap.max_amount is not None:
                limit = policy.money(cap.max_amount)
                used_money = policy.money(used.amount)
                detail = f"{detail_base}: at most {limit}, {used_money} given"
                offers = run.fit(offers, limit - used_money, "caps", cap.id, detail)
            if offers:
                charges.append(
                    Charge(
                        pool,
                        day,
                        _total(offers, run.zero).amount,
                        limit_amount=cap.max_amount,
                        limit_count=cap.max_count,
                    )
                )
    return offers


def _budgets(
    run: _Pipeline, offers: list[Offer], local: datetime, charges: list[Charge], *, record: bool
) -> list[Offer]:
    policy = run.policy
    charges[:] = [c for c in charges if not c.pool.startswith("budget:")]
    for budget in policy.budgets:
        applies = frozenset(budget.instruments) if budget.instruments else None
        pool = f"budget:{budget.id}"
        period = period_key(budget.period, local)
        used = policy.money(run.usage(pool, period).amount)
        limit = policy.money(budget.amount)
        detail = f"{budget.period} budget {period}: {limit}, {used} spent"
        if record:
            offers = run.fit(offers, limit - used, "budget", budget.id, detail, applies)
        concerned = sum(
            (o.value for o in offers if applies is None or o.instrument in applies), run.zero
        )
        if concerned > run.zero:
            charges.append(
                Charge(pool, period, concerned.amount, count=1, limit_amount=budget.amount)
            )
    return offers


_DOWNGRADE_FROM = {
    Instrument.COUPON_THRESHOLD: 3,
    Instrument.COUPON_NO_THRESHOLD: 2,
    Instrument.POINTS: 1,
    Instrument.FREE_SHIPPING: 1,
    Instrument.CASH_REFUND: 4,
}


def _abuse(
    run: _Pipeline, offers: list[Offer], local: datetime, charges: list[Charge]
) -> tuple[list[Offer], list[str], Role | None]:
    policy, incident, agent = run.policy, run.incident, run.agent
    evidence: list[str] = []
    role: Role | None = None
    downgraded = False
    for signal, conditions in policy.compiled_signals:
        results = [(c, *c.test(incident, agent)) for c in conditions]
        if not all(ok for _, ok, _ in results):
            continue
        shown = "; ".join(f"{c.text} (actual {_actual(actual)})" for c, _, actual in results)
        if signal.action == "downgrade":
            target = signal.downgrade_to
            assert target is not None
            changed = []
            for index, offer in enumerate(offers):
                if _DOWNGRADE_FROM.get(offer.instrument, 0) > _DOWNGRADE_FROM.get(target, 0):
                    threshold = (
                        Money(signal.threshold, policy.currency) if signal.threshold else None
                    )
                    offers[index] = _replace(
                        offer,
                        instrument=target,
                        threshold=threshold,
                        points=int(offer.value.amount * policy.points_per_unit)
                        if target is Instrument.POINTS
                        else None,
                    )
                    changed.append(f"{offer.rule_id}: {offer.instrument.value} → {target.value}")
            if changed:
                downgraded = True
            text = "; ".join(changed) if changed else "nothing to downgrade"
            run.step(
                "abuse",
                "abuse.downgrade",
                f"signal {signal.id} ({shown}): {text}",
                signal=signal.id,
                conditions=shown,
                changes=text,
            )
            if changed:
                run.reasons.append(f"signal {signal.id}: instrument downgraded")
        elif signal.action == "require_evidence":
            evidence.extend(e for e in signal.evidence if e not in evidence)
            run.step(
                "abuse",
                "abuse.evidence",
                f"signal {signal.id} ({shown}): evidence needed first: "
                f"{', '.join(signal.evidence)}",
                signal=signal.id,
                conditions=shown,
                evidence=", ".join(signal.evidence),
            )
            run.reasons.append(f"signal {signal.id}: evidence needed")
        else:
            role = signal.role if role is None or signal.role.rank > role.rank else role
            run.step(
                "abuse",
                "abuse.review",
                f"signal {signal.id} ({shown}): a {signal.role.value} reviews it",
                signal=signal.id,
                conditions=shown,
                role=signal.role.value,
            )
            run.reasons.append(f"signal {signal.id}: review by {signal.role.value}")
    if downgraded and policy.budgets:
        offers = _budgets(run, offers, local, charges, record=True)
    return offers, evidence, role


def _authority(run: _Pipeline, offers: list[Offer], day: str) -> Role | None:
    policy, agent = run.policy, run.agent
    biggest = max(o.value for o in offers)
    total = _total(offers, run.zero)
    tier = _tier(policy, agent.role)
    per_offer = policy.money(tier.max_per_offer) if tier else run.zero
    per_day = policy.money(tier.max_per_day) if tier and tier.max_per_day is not None else None
    used = policy.money(run.usage(f"agent:{agent.id}", day).amount)
    within_offer = biggest <= per_offer
    within_day = per_day is None or used + total <= per_day
    limits = f"{agent.role.value} may grant {per_offer} per offer" + (
        f", {per_day} per day ({used} granted today)" if per_day is not None else ""
    )
    if tier is None:
        limits = f"{agent.role.value} has no authority in this policy"
    if within_offer and within_day and tier is not None:
        run.step(
            "authority",
            "authority.ok",
            f"{limits}: {biggest} largest, {total} in all: within",
            limits=limits,
            biggest=biggest,
            total=total,
        )
        return None
    required = None
    for candidate in policy.tiers:
        if candidate.role.rank > agent.role.rank and biggest.amount <= candidate.max_per_offer:
            required = candidate.role
            break
    note = ""
    if required is None:
        required = policy.tiers[-1].role
        if required.rank <= agent.role.rank:
            required = Role.SUPERVISOR
        note = "; above every tier's per-offer limit"
    why = "per-offer limit" if not within_offer else "daily limit"
    run.step(
        "authority",
        "authority.exceeded",
        f"{limits}: {biggest} largest, {total} in all: over the {why}; needs "
        f"{required.value}{note}",
        limits=limits,
        biggest=biggest,
        total=total,
        role=required.value,
        why=why,
    )
    run.reasons.append(f"over the {agent.role.value}'s {why}: needs {required.value}")
    return required


@checked
def grant(
    decision: Decision,
    store: BudgetStore,
    policy: CompensationPolicy,
    *,
    approved_by: Agent | None = None,
) -> bool:
    """Spend a decision's counters in ``store``, once: ``True`` the first time, ``False`` after.

    The host issues the coupons or refunds with each offer's ``key`` after this returns; a retry
    of the whole sequence spends nothing twice. An auto-approved decision is granted by its own
    agent; others need ``approved_by`` of at least ``required_role``, whose daily limit is then
    charged.

    Raises:
        ApprovalRequiredError: no approver, or one below the required role; nothing was spent.
        BudgetExceededError: another grant used the budget since the decision; nothing was spent.
        InvalidInputError: the decision is rejected, statutory, or from another policy.
    """
    if decision.status in (Status.REJECTED, Status.STATUTORY):
        raise InvalidInputError(
            f"decision {decision.idempotency_key} is {decision.status.value}: "
            "there is nothing to grant"
        )
    if decision.policy_hash != policy.policy_hash:
        raise InvalidInputError(
            f"decision {decision.idempotency_key} was taken under policy {decision.policy_id} "
            f"{decision.policy_version}, not this one; grant it with the policy that decided it"
        )
    granter = decision.agent
    if decision.status is not Status.AUTO_APPROVED:
        assert decision.required_role is not None
        if approved_by is None or approved_by.role.rank < decision.required_role.rank:
            raise ApprovalRequiredError(
                decision.idempotency_key,
                decision.required_role.value,
                approved_by.role.value if approved_by else None,
            )
        granter = approved_by
    tier = _tier(policy, granter.role)
    charges = list(decision.charges)
    charges.append(
        Charge(
            f"agent:{granter.id}",
            decision.day,
            decision.total.amount,
            limit_amount=tier.max_per_day if tier else Decimal(0),
        )
    )
    return store.commit(decision.idempotency_key, charges)
