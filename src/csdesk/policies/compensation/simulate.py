"""Replay history against a policy: what it would have cost, and where two versions differ.

`simulate` streams incidents in the order they happened, decides each one, and grants it (as if
every approval and every piece of evidence had come), keeping the counters a real desk would keep:
budgets and daily caps in a `MemoryBudgetStore`, and each customer's and each order's compensation
so far, which replaces the snapshots' historical figures (the history under *this* policy is what
its caps must see). `compare` runs two policies over one stream in one pass. `review_analysis`
counts neutral and negative reviews by root cause, product and month, as the seeds' desks do.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from csdesk._checks import checked
from csdesk.errors import BudgetExceededError, InvalidInputError
from csdesk.money import Money
from csdesk.policies.compensation.budget import MemoryBudgetStore
from csdesk.policies.compensation.decide import Decision, decide, grant
from csdesk.policies.compensation.incidents import Agent, Incident, Received, Review, Role
from csdesk.policies.compensation.offers import Status
from csdesk.policies.compensation.policy import CompensationPolicy

__all__ = [
    "Bucket",
    "PolicyComparison",
    "ReviewAnalysis",
    "SimulationReport",
    "compare",
    "review_analysis",
    "simulate",
]


@dataclass(slots=True)
class Bucket:
    """How many, and how much."""

    count: int = 0
    amount: Decimal = Decimal(0)

    def add(self, amount: Decimal, count: int = 1) -> None:
        """Count one more (or ``count`` more) worth ``amount``."""
        self.count += count
        self.amount += amount


@dataclass
class SimulationReport:
    """What a policy would have granted over a stream of incidents.

    Amounts are in the policy's currency; ``money(bucket)`` turns a bucket's amount into `Money`.
    Every incident counts once in ``statuses`` and ``by_kind``; offers count in ``by_rule`` and
    ``by_instrument``; granted decisions count in ``by_month`` and ``granted``.
    """

    policy_id: str
    policy_version: str
    currency: str
    incidents: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    granted: Bucket = field(default_factory=Bucket)
    by_rule: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    by_instrument: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    by_kind: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    by_month: dict[str, Bucket] = field(default_factory=lambda: defaultdict(Bucket))
    capped: int = 0
    approvals: Counter[str] = field(default_factory=Counter)
    evidence: int = 0
    over_limit_at_grant: int = 0
    statutory: Bucket = field(default_factory=Bucket)
    per_customer: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    def money(self, amount: Decimal) -> Money:
        """``amount`` as `Money` in the policy's currency."""
        return Money(amount, self.currency).quantize()

    def customer_distribution(self) -> dict[str, Money | int]:
        """Customers compensated and what each received: mean, median, p90, p99, max."""
        values = sorted(v for v in self.per_customer.values() if v > 0)
        if not values:
            zero = Money.zero(self.currency)
            return {
                "customers": 0,
                "mean": zero,
                "p50": zero,
                "p90": zero,
                "p99": zero,
                "max": zero,
            }

        def pick(q: float) -> Money:
            index = min(len(values) - 1, int(q * len(values)))
            return Money(values[index], self.currency)

        mean = (sum(values, Decimal(0)) / len(values)).quantize(Decimal("0.01"))
        return {
            "customers": len(values),
            "mean": Money(mean, self.currency).quantize(),
            "p50": Money(statistics.median_low(values), self.currency),
            "p90": pick(0.9),
            "p99": pick(0.99),
            "max": Money(values[-1], self.currency),
        }

    def summary(self) -> dict[str, Any]:
        """The headline figures, JSON-ready."""
        return {
            "policy": f"{self.policy_id} {self.policy_version}",
            "incidents": self.incidents,
            "granted": {
                "count": self.granted.count,
                "amount": str(self.money(self.granted.amount)),
            },
            "statuses": dict(sorted(self.statuses.items())),
            "capped": self.capped,
            "approvals": dict(sorted(self.approvals.items())),
            "evidence": self.evidence,
            "over_limit_at_grant": self.over_limit_at_grant,
            "statutory": {
                "count": self.statutory.count,
                "amount": str(self.money(self.statutory.amount)),
            },
        }

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (amounts as strings)."""

        def table(buckets: Mapping[str, Bucket]) -> dict[str, dict[str, Any]]:
            return {
                key: {"count": b.count, "amount": str(self.money(b.amount))}
                for key, b in sorted(buckets.items())
            }

        distribution = {
            key: str(value) if isinstance(value, Money) else value
            for key, value in self.customer_distribution().items()
        }
        return {
            **self.summary(),
            "by_rule": table(self.by_rule),
            "by_instrument": table(self.by_instrument),
            "by_kind": table(self.by_kind),
            "by_month": table(self.by_month),
            "per_customer": distribution,
        }


class _History:
    """Compensation granted so far under the simulated policy, per customer and per order."""

    def __init__(self, windows: frozenset[int]) -> None:
        self.windows = sorted(windows)
        self.longest = timedelta(days=max(windows)) if windows else timedelta(0)
        # Only customers and orders that were granted something have an entry: memory follows
        # the grants in the windows, not the number of customers or orders seen.
        self.customers: dict[str, deque[tuple[datetime, Decimal]]] = {}
        self.orders: dict[str, Decimal] = {}

    def snapshot(self, incident: Any, currency: str) -> Any:
        customer = incident.customer
        received = dict(customer.received)
        if self.windows:
            entries = self.customers.get(customer.id) or deque()
            now = incident.occurred_at
            while entries and entries[0][0] <= now - self.longest:
                entries.popleft()
            if not entries:
                self.customers.pop(customer.id, None)
            for days in self.windows:
                start = now - timedelta(days=days)
                inside = [amount for at, amount in entries if at > start]
                received[days] = Received(
                    amount=Money(sum(inside, Decimal(0)), currency), count=len(inside)
                )
            customer = customer.model_copy(update={"received": received})
        order = incident.order.model_copy(
            update={"compensated": Money(self.orders.get(incident.order.id, 0), currency)}
        )
        return incident.model_copy(update={"customer": customer, "order": order})

    def record(self, incident: Any, amount: Decimal) -> None:
        if self.windows:
            self.customers.setdefault(incident.customer.id, deque()).append(
                (incident.occurred_at, amount)
            )
        self.orders[incident.order.id] = self.orders.get(incident.order.id, Decimal(0)) + amount


class _Run:
    """One policy's simulation, fed one incident at a time."""

    def __init__(self, policy: CompensationPolicy, agent: Agent) -> None:
        self.policy = policy
        self.agent = agent
        self.store = MemoryBudgetStore()
        self.history = _History(policy.customer_windows)
        self.report = SimulationReport(policy.id, policy.version, policy.currency)
        self.approvers = {role: Agent(id=f"simulated-{role.value}", role=role) for role in Role}

    def feed(self, incident: Any) -> Decision:
        policy, report = self.policy, self.report
        seen = self.history.snapshot(incident, policy.currency)
        decision = decide(
            seen, policy=policy, agent=self.agent, budget=self.store, now=incident.occurred_at
        )
        report.incidents += 1
        report.statuses[decision.status.value] += 1
        kind = report.by_kind[incident.kind.value]
        kind.count += 1
        if decision.capped:
            report.capped += 1
        if decision.status is Status.STATUTORY:
            assert decision.statutory is not None
            report.statutory.add(decision.statutory.amount.amount)
            return decision
        if decision.status is Status.REJECTED:
            return decision
        approver = None
        if decision.status is not Status.AUTO_APPROVED:
            assert decision.required_role is not None
            approver = self.approvers[decision.required_role]
            if decision.status is Status.NEEDS_EVIDENCE:
                report.evidence += 1
            else:
                report.approvals[decision.required_role.value] += 1
        try:
            grant(decision, self.store, policy, approved_by=approver)
        except BudgetExceededError:
            report.over_limit_at_grant += 1
            return decision
        total = decision.total.amount
        self.history.record(incident, total)
        kind.amount += total
        report.granted.add(total)
        report.by_month[incident.occurred_at.astimezone(policy.zone).strftime("%Y-%m")].add(total)
        report.per_customer[incident.customer.id] += total
        for offer in decision.offers:
            report.by_rule[offer.rule_id].add(offer.value.amount)
            report.by_instrument[offer.instrument.value].add(offer.value.amount)
        return decision


def _ordered(incidents: Iterable[Incident]) -> Iterable[Any]:
    last: datetime | None = None
    for position, incident in enumerate(incidents, start=1):
        if last is not None and incident.occurred_at < last:
            raise InvalidInputError(
                f"incident {incident.id} (#{position}) happened before the one above it; "
                "simulate replays history in order: sort the incidents by occurred_at"
            )
        last = incident.occurred_at
        yield incident


@checked
def simulate(
    policy: CompensationPolicy, incidents: Iterable[Incident], *, agent: Agent | None = None
) -> SimulationReport:
    """What ``policy`` would have granted over ``incidents`` (in the order they happened).

    Args:
        policy: The policy to replay.
        incidents: Any iterable, read once (a generator over a file is fine).
        agent: Who decides first; a bot by default. Decisions above its authority are counted
            under ``approvals`` and granted as if the required role had approved them.

    Raises:
        InvalidInputError: the incidents are out of order, or one is in another currency.
    """
    run = _Run(policy, agent or Agent(id="simulated-bot", role=Role.BOT))
    for incident in _ordered(incidents):
        run.feed(incident)
    return run.report


@dataclass
class PolicyComparison:
    """Two policies over the same incidents, side by side.

    ``differing`` counts incidents whose offers (instrument and amount) or status differ;
    ``examples`` keeps the first few ids of them.
    """

    a: SimulationReport
    b: SimulationReport
    differing: int = 0
    examples: list[str] = field(default_factory=list)

    def rows(self) -> list[tuple[str, str, str, str]]:
        """``(measure, a, b, b − a)`` rows for a table."""
        a, b = self.a, self.b

        def money_row(name: str, x: Decimal, y: Decimal) -> tuple[str, str, str, str]:
            delta = y - x
            sign = "+" if delta > 0 else ""
            return (name, str(a.money(x)), str(b.money(y)), f"{sign}{b.money(delta)}")

        def count_row(name: str, x: int, y: int) -> tuple[str, str, str, str]:
            return (name, str(x), str(y), f"{y - x:+d}")

        rows = [
            count_row("incidents", a.incidents, b.incidents),
            money_row("granted", a.granted.amount, b.granted.amount),
            count_row("decisions granted", a.granted.count, b.granted.count),
        ]
        for status in sorted(set(a.statuses) | set(b.statuses)):
            rows.append(count_row(f"status {status}", a.statuses[status], b.statuses[status]))
        rows.append(count_row("hit a cap", a.capped, b.capped))
        for kind in sorted(set(a.by_kind) | set(b.by_kind)):
            rows.append(money_row(f"kind {kind}", a.by_kind[kind].amount, b.by_kind[kind].amount))
        for instrument in sorted(set(a.by_instrument) | set(b.by_instrument)):
            rows.append(
                money_row(
                    f"instrument {instrument}",
                    a.by_instrument[instrument].amount,
                    b.by_instrument[instrument].amount,
                )
            )
        for month in sorted(set(a.by_month) | set(b.by_month)):
            rows.append(
                money_row(f"month {month}", a.by_month[month].amount, b.by_month[month].amount)
            )
        rows.append(count_row("incidents decided differently", 0, self.differing))
        return rows

    def to_dict(self) -> dict[str, Any]:
        """Both reports and the difference count, JSON-ready."""
        return {
            "a": self.a.to_dict(),
            "b": self.b.to_dict(),
            "differing": self.differing,
            "examples": self.examples,
        }


def _shape(decision: Decision) -> tuple[object, ...]:
    return (
        decision.status,
        tuple((o.instrument, o.value.amount) for o in decision.offers),
    )


@checked
def compare(
    a: CompensationPolicy,
    b: CompensationPolicy,
    incidents: Iterable[Incident],
    *,
    agent: Agent | None = None,
) -> PolicyComparison:
    """Simulate two policies over one stream of incidents, in one pass.

    Raises:
        InvalidInputError: the policies are in different currencies, or as for `simulate`.
    """
    if a.currency != b.currency:
        raise InvalidInputError(
            f"policy {a.id} is in {a.currency} and {b.id} in {b.currency}; compare policies "
            "in one currency"
        )
    who = agent or Agent(id="simulated-bot", role=Role.BOT)
    first, second = _Run(a, who), _Run(b, who)
    comparison = PolicyComparison(first.report, second.report)
    for incident in _ordered(incidents):
        one, two = first.feed(incident), second.feed(incident)
        if _shape(one) != _shape(two):
            comparison.differing += 1
            if len(comparison.examples) < 10:
                comparison.examples.append(incident.id)
    return comparison


@dataclass
class ReviewAnalysis:
    """Neutral and negative reviews: who, why, which product, when (the seeds' 中差评分析)."""

    total: int = 0
    negative: int = 0
    neutral: int = 0
    confirmed: int = 0
    by_cause: Counter[str] = field(default_factory=Counter)
    by_sku: Counter[str] = field(default_factory=Counter)
    by_month: Counter[str] = field(default_factory=Counter)
    by_sku_cause: Counter[tuple[str, str]] = field(default_factory=Counter)
    repeat_customers: Counter[str] = field(default_factory=Counter)

    def top(self, n: int = 5) -> list[tuple[str, str, int]]:
        """The ``n`` most frequent (product, cause) pairs: what to fix first."""
        return [(sku, cause, count) for (sku, cause), count in self.by_sku_cause.most_common(n)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready counts."""
        return {
            "total": self.total,
            "negative": self.negative,
            "neutral": self.neutral,
            "confirmed": self.confirmed,
            "by_cause": dict(self.by_cause.most_common()),
            "by_sku": dict(self.by_sku.most_common()),
            "by_month": dict(sorted(self.by_month.items())),
            "top": [list(row) for row in self.top()],
            "repeat_customers": sum(1 for c in self.repeat_customers.values() if c > 1),
        }


@checked
def review_analysis(
    incidents: Iterable[Incident], *, time_zone: str = "Asia/Shanghai"
) -> ReviewAnalysis:
    """Count the review incidents among ``incidents`` by root cause, product and month.

    Unconfirmed causes count as ``"unconfirmed"``; a review's product is its ``sku``, else the
    order's first SKU, else ``"unknown"``.
    """
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(time_zone)
    analysis = ReviewAnalysis()
    for incident in incidents:
        if not isinstance(incident, Review):
            continue
        analysis.total += 1
        if incident.negative:
            analysis.negative += 1
        else:
            analysis.neutral += 1
        cause = "unconfirmed"
        if incident.root_cause_confirmed and incident.root_cause is not None:
            analysis.confirmed += 1
            cause = incident.root_cause.value
        sku = incident.sku or (incident.order.skus[0] if incident.order.skus else "unknown")
        analysis.by_cause[cause] += 1
        analysis.by_sku[sku] += 1
        analysis.by_sku_cause[(sku, cause)] += 1
        analysis.by_month[incident.occurred_at.astimezone(zone).strftime("%Y-%m")] += 1
        analysis.repeat_customers[incident.customer.id] += 1
    return analysis
