"""Complaint tiering: severity × urgency → priority, tier, route, response level, with the reasons.

`assess` is pure and deterministic. Signals in (a `Complaint`, the customer, the order, the recent
complaints); a `TierAssessment` out, with every rule that fired and the signal it read. The rules
are data (`TieringPolicy`, TOML presets ``seeds`` and ``itil``):

* **Severity** S1–S4 (impact): safety or health risk and regulatory channels (12315, consumer
  association, platform arbitration) S1; public exposure (media, social posts), money at stake
  above a threshold, fraud or chargeback S2; order failures (late, wrong, damaged, refund overdue)
  S3; enquiries S4. Keywords in the text add their own level; VIP tiers raise impact.
* **Urgency** U1–U3: a statutory or platform deadline within the next working day, perishable goods
  or a blocked customer U1; a deadline within three days or strongly negative sentiment U2.
* **Priority** P1–P5 from the matrix; a second complaint on the same order or issue within the
  window raises it one step, a third escalates the tier and the owner (ISO 10002's frequency).
* **Tier** (普通 / 紧急 / 严重), route and response level follow the priority.

Examples:
    >>> from datetime import datetime, timezone
    >>> now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    >>> complaint = Complaint(id="CP-1", received_at=now, text="再不处理我就打12315投诉！",
    ...                       days_late=3)
    >>> result = assess(complaint, policy=tiering_policy("seeds"), now=now)
    >>> result.tier, result.priority, result.route
    (<Tier.URGENT: 'urgent'>, <TicketPriority.P2: 'P2'>, <Route.SUPERVISOR: 'supervisor'>)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from functools import cache
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, ConfigDict, Field, field_validator

from csdesk._checks import checked
from csdesk._model import ConfigModel, CsdeskModel, require_aware
from csdesk.calendars import WorkingDayCalendar, provisional
from csdesk.decision import Decided, Policy, Step, load_policy, step
from csdesk.errors import InvalidInputError
from csdesk.models import Customer, CustomerTier, Order, TicketCategory, TicketPriority
from csdesk.money import Money

__all__ = [
    "ROUTE_GROUPS",
    "Complaint",
    "KeywordRule",
    "PublicChannel",
    "RegulatoryDeadline",
    "Route",
    "Tier",
    "TierAssessment",
    "TieringPolicy",
    "assess",
    "first_group",
    "normalise",
    "tiering_policy",
]

Severity = Literal["S1", "S2", "S3", "S4"]
Urgency = Literal["U1", "U2", "U3"]
Priority = TicketPriority
_SEVERITIES: tuple[Severity, ...] = ("S1", "S2", "S3", "S4")
_URGENCIES: tuple[Urgency, ...] = ("U1", "U2", "U3")
_PRIORITIES: tuple[TicketPriority, ...] = tuple(TicketPriority)


class Tier(StrEnum):
    """The seeds' complaint tiers: 普通 / 紧急 / 严重."""

    ORDINARY = "ordinary"
    URGENT = "urgent"
    SERIOUS = "serious"


class Route(StrEnum):
    """Who owns the complaint."""

    AGENT = "after_sales_agent"
    SUPERVISOR = "supervisor"
    DIRECTOR = "director_task_force"


class PublicChannel(StrEnum):
    """Where else the customer went: regulators, associations, media, platforms."""

    HOTLINE_12315 = "12315"
    CONSUMER_ASSOCIATION = "consumer_association"
    PLATFORM_ARBITRATION = "platform_arbitration"
    MEDIA = "media"
    SOCIAL_POST = "social_post"


class Complaint(CsdeskModel):
    """A complaint and the signals the host knows about it; every signal is optional.

    Attributes:
        issue: A key for "the same issue" in repeat detection (``"late_delivery"``).
        money_at_stake: What the customer stands to lose or claims.
        statutory_deadline_at: The nearest statutory or platform deadline on the case.
        sentiment: The host's sentiment score, -1 (angry) to 1.
        sku, batch, carrier, shop: Keys for crisis detection.
    """

    id: str = Field(min_length=1)
    received_at: AwareDatetime
    text: str = ""
    category: TicketCategory = TicketCategory.COMPLAINT_SUGGESTION
    customer_id: str | None = None
    order_id: str | None = None
    issue: str | None = None
    safety_risk: bool = False
    public_channel: PublicChannel | None = None
    money_at_stake: Money | None = None
    fraud_suspected: bool = False
    chargeback: bool = False
    days_late: int = Field(default=0, ge=0)
    wrong_item: bool = False
    damaged: bool = False
    refund_overdue_days: int = Field(default=0, ge=0)
    statutory_deadline_at: AwareDatetime | None = None
    perishable: bool = False
    customer_blocked: bool = False
    sentiment: float | None = Field(default=None, ge=-1, le=1)
    sku: str | None = None
    batch: str | None = None
    carrier: str | None = None
    shop: str | None = None


class KeywordRule(ConfigModel):
    """Words that, found in the normalised text, set a severity and/or urgency."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    words: tuple[str, ...] = Field(min_length=1)
    severity: Severity | None = None
    urgency: Urgency | None = None
    label: str = Field(min_length=1)

    @field_validator("words")
    @classmethod
    def _normalised(cls, words: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(normalise(word) for word in words)


class TieringPolicy(Policy):
    """The tiering rules as data.

    Attributes:
        matrix: Severity → urgency → priority.
        money_threshold: Money at stake at or above this is S2.
        keywords: Keyword rules, matched on NFKC-normalised, case-folded text.
        vip_impact: Severity steps added per customer tier.
        negative_sentiment: At or below this score, urgency is at least U2.
        repeat_window_days: How far back a complaint counts as a repeat.
        tiers: Priority → tier.
        routes: Tier → owner.
        response_levels: Tier → response level (1 to 3).
        accept_working_days, mediation_working_days: The SAMR clocks for 12315 complaints.
    """

    matrix: dict[Severity, dict[Urgency, Priority]]
    money_threshold: Money
    keywords: tuple[KeywordRule, ...] = ()
    vip_impact: dict[CustomerTier, int] = Field(default_factory=dict)
    negative_sentiment: float = Field(default=-0.6, ge=-1, le=1)
    repeat_window_days: int = Field(default=7, gt=0)
    tiers: dict[Priority, Tier]
    routes: dict[Tier, Route]
    response_levels: dict[Tier, int]
    accept_working_days: int = 7
    mediation_working_days: int = 45


@checked
@cache
def tiering_policy(name: str) -> TieringPolicy:
    """A built-in tiering preset: ``seeds`` (the source documents' desks) or ``itil``."""
    return load_policy(TieringPolicy, name, kind="tiering")


class RegulatoryDeadline(CsdeskModel):
    """A statutory clock on the complaint, counted in working days on the shop's calendar."""

    name: str
    due: datetime
    source: str
    provisional: bool = False


class TierAssessment(Decided):
    """The answer of `assess`, in the decision envelope: each rule that fired is a step."""

    answer_field: ClassVar[str] = "tier"

    complaint_id: str
    category: TicketCategory
    severity: Severity
    urgency: Urgency
    priority: TicketPriority
    tier: Tier
    route: Route
    response_level: int
    repeat_count: int
    deadlines: tuple[RegulatoryDeadline, ...] = ()


def normalise(text: str) -> str:
    """Full-width to half-width (NFKC) and case-folded, for keyword matching.

    Examples:
        >>> normalise("ＬＡＷＹＥＲ，１２３１５")
        'lawyer,12315'
    """
    return unicodedata.normalize("NFKC", text).casefold()


def _more_severe(a: Severity, b: Severity) -> Severity:
    return a if _SEVERITIES.index(a) <= _SEVERITIES.index(b) else b


def _more_urgent(a: Urgency, b: Urgency) -> Urgency:
    return a if _URGENCIES.index(a) <= _URGENCIES.index(b) else b


def _severity(
    complaint: Complaint, policy: TieringPolicy, text: str, trace: list[Step]
) -> Severity:
    base: Severity = "S4" if complaint.category is TicketCategory.PRODUCT_INQUIRY else "S3"
    found: list[tuple[Severity, str, dict[str, Any]]] = []
    if complaint.safety_risk:
        found.append(("S1", "tier.safety_risk", {}))
    if complaint.public_channel in {
        PublicChannel.HOTLINE_12315,
        PublicChannel.CONSUMER_ASSOCIATION,
        PublicChannel.PLATFORM_ARBITRATION,
    }:
        found.append(("S1", "tier.regulatory_channel", {"channel": complaint.public_channel.value}))
    elif complaint.public_channel is not None:
        found.append(("S2", "tier.public_channel", {"channel": complaint.public_channel.value}))
    money = complaint.money_at_stake
    threshold = policy.money_threshold
    if money is not None and money.currency == threshold.currency and money >= threshold:
        found.append(("S2", "tier.money_at_stake", {"amount": money, "threshold": threshold}))
    if complaint.fraud_suspected or complaint.chargeback:
        found.append(("S2", "tier.fraud_or_chargeback", {}))
    if complaint.days_late > 0:
        found.append(("S3", "tier.days_late", {"days": complaint.days_late}))
    if complaint.wrong_item:
        found.append(("S3", "tier.wrong_item", {}))
    if complaint.damaged:
        found.append(("S3", "tier.damaged", {}))
    if complaint.refund_overdue_days > 0:
        found.append(("S3", "tier.refund_overdue", {"days": complaint.refund_overdue_days}))
    for rule in policy.keywords:
        hit = next((word for word in rule.words if word in text), None)
        if hit is not None and rule.severity is not None:
            found.append((rule.severity, "tier.keyword", {"word": hit, "label": rule.label}))
    severity = base
    for level, code, params in found:
        severity = _more_severe(severity, level)
        trace.append(step("severity", code, level=level, **params))
    return severity


def _vip(
    severity: Severity, customer: Customer | None, policy: TieringPolicy, trace: list[Step]
) -> Severity:
    if customer is None:
        return severity
    steps = policy.vip_impact.get(customer.tier, 0)
    if not steps:
        return severity
    raised = _SEVERITIES[max(0, _SEVERITIES.index(severity) - steps)]
    trace.append(
        step(
            "severity", "tier.vip", customer_tier=customer.tier.value, before=severity, after=raised
        )
    )
    return raised


def _urgency(
    complaint: Complaint,
    policy: TieringPolicy,
    text: str,
    now: datetime,
    calendar: WorkingDayCalendar | None,
    trace: list[Step],
) -> Urgency:
    found: list[tuple[Urgency, str, dict[str, Any]]] = []
    deadline = complaint.statutory_deadline_at
    if deadline is not None:
        if calendar is not None:
            next_working = calendar.add_working_days(_local(now, calendar).date(), 1)
            within_one = _local(deadline, calendar).date() <= next_working
        else:
            within_one = deadline - now <= timedelta(days=1)
        if within_one:
            found.append(("U1", "tier.deadline_next_day", {"due": deadline}))
        elif deadline - now <= timedelta(days=3):
            found.append(("U2", "tier.deadline_three_days", {"due": deadline}))
    if complaint.perishable:
        found.append(("U1", "tier.perishable", {}))
    if complaint.customer_blocked:
        found.append(("U1", "tier.customer_blocked", {}))
    if complaint.sentiment is not None and complaint.sentiment <= policy.negative_sentiment:
        found.append(("U2", "tier.sentiment", {"sentiment": complaint.sentiment}))
    for rule in policy.keywords:
        hit = next((word for word in rule.words if word in text), None)
        if hit is not None and rule.urgency is not None:
            found.append((rule.urgency, "tier.keyword", {"word": hit, "label": rule.label}))
    urgency: Urgency = "U3"
    for level, code, params in found:
        urgency = _more_urgent(urgency, level)
        trace.append(step("urgency", code, level=level, **params))
    return urgency


def _repeats(complaint: Complaint, history: Sequence[Complaint], policy: TieringPolicy) -> int:
    since = complaint.received_at - timedelta(days=policy.repeat_window_days)
    count = 0
    for earlier in history:
        if earlier.id == complaint.id or not since <= earlier.received_at <= complaint.received_at:
            continue
        same_order = complaint.order_id is not None and earlier.order_id == complaint.order_id
        same_issue = (
            complaint.issue is not None
            and earlier.issue == complaint.issue
            and earlier.customer_id == complaint.customer_id
        )
        if same_order or same_issue:
            count += 1
    return count


def _local(moment: datetime, calendar: WorkingDayCalendar) -> datetime:
    """``moment`` in the calendar's zone (a calendar without one counts in the moment's own)."""
    zone = getattr(calendar, "zone", None)
    return moment.astimezone(zone) if isinstance(zone, tzinfo) else moment


def _deadlines(
    complaint: Complaint, policy: TieringPolicy, calendar: WorkingDayCalendar | None
) -> tuple[RegulatoryDeadline, ...]:
    if calendar is None or complaint.public_channel is not PublicChannel.HOTLINE_12315:
        return ()
    # Days are counted in the calendar's zone: the same instant gives the same deadline whatever
    # zone the received time was written in.
    received = _local(complaint.received_at, calendar)
    source = "SAMR Interim Measures for Handling Complaints and Reports"
    accept = calendar.add_working_days(received.date(), policy.accept_working_days)
    mediate = calendar.add_working_days(accept, policy.mediation_working_days)

    def end_of(day: date) -> datetime:
        return datetime.combine(day, time(23, 59, 59), tzinfo=received.tzinfo)

    return (
        RegulatoryDeadline(
            name="accept_by",
            due=end_of(accept),
            source=f"{source} art. 14: {policy.accept_working_days} working days",
            provisional=provisional(calendar, received.date(), accept),
        ),
        RegulatoryDeadline(
            name="mediation_by",
            due=end_of(mediate),
            source=f"{source} art. 21: {policy.mediation_working_days} working days",
            provisional=provisional(calendar, received.date(), mediate),
        ),
    )


@checked
def assess(
    complaint: Complaint,
    *,
    policy: TieringPolicy,
    now: datetime,
    customer: Customer | None = None,
    order: Order | None = None,
    history: Sequence[Complaint] = (),
    calendar: WorkingDayCalendar | None = None,
) -> TierAssessment:
    """Tier, prioritise and route one complaint, with the reasons.

    Args:
        complaint: The complaint and its signals.
        policy: The rules (`tiering_policy("seeds")`, or your own).
        now: The current time, timezone-aware.
        customer: The customer (VIP tiers raise impact).
        order: The order the complaint is about, if any (recorded in the reasons).
        history: The customer's and the order's recent complaints, for repeats.
        calendar: The shop's working days, for deadlines "within the next working day" and the
            SAMR clocks on 12315 complaints.
    """
    require_aware(now, "now")
    trace: list[Step] = []
    text = normalise(complaint.text)
    severity = _vip(_severity(complaint, policy, text, trace), customer, policy, trace)
    urgency = _urgency(complaint, policy, text, now, calendar, trace)
    priority = policy.matrix[severity][urgency]
    trace.append(
        step("priority", "tier.matrix", severity=severity, urgency=urgency, priority=priority.value)
    )
    repeats = _repeats(complaint, history, policy)
    if repeats >= 1:
        raised = _PRIORITIES[max(0, _PRIORITIES.index(priority) - 1)]
        trace.append(
            step(
                "priority",
                "tier.repeat_priority",
                nth=repeats + 1,
                days=policy.repeat_window_days,
                before=priority.value,
                after=raised.value,
            )
        )
        priority = raised
    tier = policy.tiers[priority]
    if repeats >= 2 and tier is not Tier.SERIOUS:
        escalated = Tier.URGENT if tier is Tier.ORDINARY else Tier.SERIOUS
        trace.append(
            step(
                "tier",
                "tier.repeat_tier",
                nth=repeats + 1,
                before=tier.value,
                after=escalated.value,
            )
        )
        tier = escalated
    if order is not None:
        trace.append(step("context", "tier.order", order=order.id))
    return TierAssessment.made(
        complaint_id=complaint.id,
        category=complaint.category,
        severity=severity,
        urgency=urgency,
        priority=priority,
        tier=tier,
        route=policy.routes[tier],
        response_level=policy.response_levels[tier],
        repeat_count=repeats,
        trace=trace,
        deadlines=_deadlines(complaint, policy, calendar),
        policy=policy.ref,
        decided_at=now,
        inputs=(complaint, customer, None if order is None else order.id, [h.id for h in history]),
    )


ROUTE_GROUPS: Mapping[Route, str] = {
    Route.AGENT: "after_sales",
    Route.SUPERVISOR: "supervisor",
    Route.DIRECTOR: "director",
}
"""The team each route starts a ticket in, by default (售后, 主管, the director's task force)."""


@checked
def first_group(
    assessment: TierAssessment,
    customer: Customer | None = None,
    *,
    groups: Mapping[Route, str] | None = None,
    vip_group: str | None = None,
    vip_tiers: Sequence[CustomerTier] = (CustomerTier.GOLD, CustomerTier.DIAMOND),
) -> str:
    """The team a complaint's ticket starts in: its route's, or the VIP lane's.

    A customer of a ``vip_tiers`` tier goes to ``vip_group`` (the VIP lane, when the shop has
    one), unless the route already asks for a supervisor or the director. Pass the result as
    ``open_ticket(..., group=first_group(assessment, customer))``.

    Raises:
        InvalidInputError: ``groups`` has no team for the assessment's route.
    """
    table = ROUTE_GROUPS if groups is None else groups
    if assessment.route not in table:
        raise InvalidInputError(f"no team for route {assessment.route.value!r} in groups")
    lane = customer is not None and customer.tier in vip_tiers and vip_group is not None
    if lane and assessment.route is Route.AGENT:
        assert vip_group is not None
        return vip_group
    return table[assessment.route]
