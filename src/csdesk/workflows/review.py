"""Review-recovery cases (中差评处理): contact, find the cause, offer for it, end politely.

A neutral or negative review opens a case (`open_review_case`). The desk tries to reach the
customer within the policy's limits — phone first, a few attempts, a gap between them, never in
the customer's quiet hours (`csdesk.policies.review_recovery`) — confirms the problem behind the
review, and offers compensation only for that problem, through the compensation decision
(`csdesk.policies.compensation.decide`, which refuses any offer conditional on the review:
网络反不正当竞争暂行规定 art. 9(5)). The case ends resolved, declined (the customer said no
firmly: thank them, note it, stop) or unreachable.

| command (event) | from → to |
|---|---|
| `LogContact` (``contact``) | open, contacting → contacting |
| `ConfirmCause` (``confirm_cause``) | open, contacting → same |
| `OfferCompensation` (``offer``) | contacting → contacting |
| `ResolveReview` (``resolve``) | contacting → resolved |
| `DeclineReview` (``decline``) | contacting → declined |
| `MarkUnreachable` (``give_up``) | open, contacting → unreachable |

The case is the review's record for analysis: `review_incident` makes the compensation
`Review` incident from it (for `decide` and `review_analysis`), and `recovery_report` counts
outcomes by cause, product and rating.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import median
from typing import Any, ClassVar, TypeVar

from pydantic import Field
from statemachine import State

from csdesk._checks import checked
from csdesk._model import CsdeskModel, require_aware
from csdesk.errors import InvalidInputError
from csdesk.events import Actor, DomainEvent
from csdesk.models import (
    Channel,
    ContactAttempt,
    ReviewCase,
    ReviewCaseState,
    RootCause,
)
from csdesk.policies.compensation.decide import Decision
from csdesk.policies.compensation.incidents import (
    CustomerSnapshot,
    IncidentKind,
    OrderSnapshot,
    Review,
)
from csdesk.policies.compensation.offers import Status
from csdesk.policies.review_recovery import ReviewRecoveryPolicy
from csdesk.workflows._engine import Command, Workflow, creation_event

EnumT = TypeVar("EnumT", bound=StrEnum)

__all__ = [
    "ConfirmCause",
    "DeclineReview",
    "LogContact",
    "MarkUnreachable",
    "OfferCompensation",
    "RecoveryReport",
    "ResolveReview",
    "ReviewCaseWorkflow",
    "next_contact_at",
    "open_review_case",
    "recovery_report",
    "review_contacts_due",
    "review_incident",
]


class LogContact(Command[ReviewCase]):
    """One attempt to reach the customer, within the policy's limits (no harassment).

    Refused when the attempts are used up, the last one was less than the policy's gap ago,
    it is the customer's quiet hours, the channel is not allowed, or the first attempt is not
    by the policy's first channel (phone first).
    """

    event = "contact"
    policy: ReviewRecoveryPolicy
    channel: Channel | str
    reached: bool
    note: str | None = Field(default=None, max_length=2000)


class ConfirmCause(Command[ReviewCase]):
    """The problem behind the review is confirmed (from the order's data or the customer)."""

    event = "confirm_cause"
    root_cause: RootCause | str
    note: str | None = Field(default=None, max_length=2000)


class OfferCompensation(Command[ReviewCase]):
    """Record the compensation offered for the confirmed cause: a decision for this case.

    The decision is the compensation policy's for the case's `review_incident` (its id is the
    case's); it must offer something. The decision itself refuses a rule conditional on the
    review; this command refuses an offer before the cause is confirmed.
    """

    event = "offer"
    decision: Decision


class ResolveReview(Command[ReviewCase]):
    """The customer was reached and the problem is dealt with."""

    event = "resolve"
    note: str | None = Field(default=None, max_length=2000)


class DeclineReview(Command[ReviewCase]):
    """The customer declined firmly: end politely, note it, contact no more."""

    event = "decline"
    note: str = Field(min_length=1, max_length=2000)


class MarkUnreachable(Command[ReviewCase]):
    """Close the case without reaching the customer: attempts used up, or the policy's days."""

    event = "give_up"
    policy: ReviewRecoveryPolicy


class ReviewCaseWorkflow(Workflow[ReviewCase]):
    """The review-recovery machine; states are `csdesk.models.ReviewCaseState` members."""

    workflow_name = "review_case"
    event_types: ClassVar[Mapping[str, str]] = {
        "contact": "review_case.contacted",
        "confirm_cause": "review_case.cause_confirmed",
        "offer": "review_case.offered",
        "resolve": "review_case.resolved",
        "decline": "review_case.declined",
        "give_up": "review_case.unreachable",
    }
    commands = (
        LogContact,
        ConfirmCause,
        OfferCompensation,
        ResolveReview,
        DeclineReview,
        MarkUnreachable,
    )

    open = State(value=ReviewCaseState.OPEN, initial=True)
    contacting = State(value=ReviewCaseState.CONTACTING)
    resolved = State(value=ReviewCaseState.RESOLVED, final=True)
    declined = State(value=ReviewCaseState.DECLINED, final=True)
    unreachable = State(value=ReviewCaseState.UNREACHABLE, final=True)

    contact = open.to(
        contacting, validators="_check_contact", on="_record_contact"
    ) | contacting.to(contacting, internal=True, validators="_check_contact", on="_record_contact")
    confirm_cause = open.to(
        open, internal=True, validators="_check_cause", on="_record_cause"
    ) | contacting.to(contacting, internal=True, validators="_check_cause", on="_record_cause")
    offer = contacting.to(contacting, internal=True, validators="_check_offer", on="_record_offer")
    resolve = contacting.to(resolved, validators="_check_reached", on="_record_end")
    decline = contacting.to(declined, validators="_check_reached", on="_record_end")
    give_up = open.to(unreachable, validators="_check_give_up", on="_record_end") | contacting.to(
        unreachable, validators="_check_give_up", on="_record_end"
    )

    def _enum(self, kind: type[EnumT], value: str, name: str) -> EnumT:
        try:
            return kind(value)
        except ValueError:
            allowed = ", ".join(member.value for member in kind)
            self.refuse(f"{name} {value!r} is not one of {allowed}")

    def _check_contact(self, command: LogContact, now: datetime) -> None:
        case, policy = self.model, command.policy
        channel = self._enum(Channel, command.channel, "channel")
        if len(case.attempts) >= policy.max_attempts:
            self.refuse(
                f"{len(case.attempts)} attempts made, the policy's limit is "
                f"{policy.max_attempts}: close the case as unreachable instead"
            )
        if channel not in policy.channels:
            allowed = ", ".join(c.value for c in policy.channels)
            self.refuse(f"channel {channel.value} is not allowed; the policy allows {allowed}")
        if not case.attempts and policy.first_channel not in (None, channel):
            assert policy.first_channel is not None
            self.refuse(f"the first attempt is by {policy.first_channel.value} (phone first)")
        if case.attempts:
            last = case.attempts[-1].at
            gap = timedelta(minutes=policy.min_gap_minutes)
            if now - last < gap:
                self.refuse(
                    f"the last attempt was at {last.isoformat()}; the next may be from "
                    f"{(last + gap).isoformat()} (no harassment)"
                )
        if policy.quiet(now, case.zone):
            self.refuse(
                f"it is the customer's quiet hours ({policy.quiet_start:%H:%M}–"
                f"{policy.quiet_end:%H:%M} in {case.zone}); the next attempt may be from "
                f"{policy.after_quiet(now, case.zone).isoformat()}"
            )

    def _record_contact(self, command: LogContact, actor: Actor, now: datetime) -> None:
        attempt = ContactAttempt(
            channel=Channel(command.channel),
            at=now,
            reached=command.reached,
            by=actor.id,
            note=command.note,
        )
        self.model.attempts = (*self.model.attempts, attempt)
        self.detail(
            channel=attempt.channel, reached=attempt.reached, attempt=len(self.model.attempts)
        )

    def _check_cause(self, command: ConfirmCause) -> None:
        self._enum(RootCause, command.root_cause, "root_cause")

    def _record_cause(self, command: ConfirmCause, actor: Actor, now: datetime) -> None:
        case = self.model
        case.root_cause = RootCause(command.root_cause)
        case.cause_confirmed_at = now
        case.cause_confirmed_by = actor.id
        self.detail(root_cause=case.root_cause)

    def _check_offer(self, command: OfferCompensation) -> None:
        case, decision = self.model, command.decision
        if case.root_cause is None:
            self.refuse(
                "confirm the root cause first: compensation is for the problem, never for the "
                "review (网络反不正当竞争暂行规定 art. 9(5))"
            )
        if decision.kind is not IncidentKind.REVIEW or decision.incident_id != case.id:
            self.refuse(
                f"the decision is for {decision.kind.value} incident {decision.incident_id}, "
                f"not for this case's review incident {case.id} (use review_incident)"
            )
        if decision.status is Status.REJECTED or not decision.offers:
            self.refuse(f"the decision offers nothing ({decision.status.value})")
        if case.compensation_key is not None:
            self.refuse(f"compensation was offered already ({case.compensation_key})")

    def _record_offer(self, command: OfferCompensation) -> None:
        decision = command.decision
        self.model.compensation_key = decision.idempotency_key
        self.detail(
            compensation_key=decision.idempotency_key,
            status=decision.status,
            offers=[offer.value for offer in decision.offers],
        )

    def _check_reached(self) -> None:
        if not self.model.reached:
            self.refuse(
                "the customer has not been reached: only a reached customer resolves or "
                "declines; close it as unreachable instead"
            )

    def _check_give_up(self, command: MarkUnreachable, now: datetime) -> None:
        case, policy = self.model, command.policy
        if case.reached:
            self.refuse("the customer was reached: resolve or decline the case instead")
        used_up = len(case.attempts) >= policy.max_attempts
        waited = now - case.opened_at >= timedelta(days=policy.give_up_after_days)
        if not (used_up or waited):
            self.refuse(
                f"{len(case.attempts)} of {policy.max_attempts} attempts made and the case is "
                f"younger than {policy.give_up_after_days} days: keep trying"
            )

    def _record_end(self, command: Command[ReviewCase], now: datetime) -> None:
        case = self.model
        case.ended_at = now
        note = getattr(command, "note", None)
        if note is not None:
            case.outcome_note = note
        self.detail(attempts=len(case.attempts), root_cause=case.root_cause)


@checked
def open_review_case(
    *,
    id: str,
    review_id: str,
    order_id: str,
    customer_id: str,
    rating: int,
    posted_at: datetime,
    actor: Actor,
    now: datetime,
    sku: str | None = None,
    zone: str = "Asia/Shanghai",
) -> tuple[ReviewCase, list[DomainEvent]]:
    """Open a review-recovery case for a neutral (3) or negative (1–2) review.

    Raises:
        InvalidInputError: a rating above 3 (a good review needs no recovery), a naive time,
            an unknown zone.
    """
    require_aware(now, "now")
    case = ReviewCase(
        id=id,
        review_id=review_id,
        order_id=order_id,
        customer_id=customer_id,
        rating=rating,
        posted_at=posted_at,
        opened_at=now,
        sku=sku,
        zone=zone,
        version=1,
    )
    created = creation_event(
        "review_case.opened",
        case,
        kind=ReviewCaseWorkflow.workflow_name,
        actor=actor,
        now=now,
        payload={
            "to": "open",
            "rating": case.rating,
            "sku": case.sku,
            "review_id": case.review_id,
        },
    )
    return case, [created]


@checked
def next_contact_at(
    case: ReviewCase, policy: ReviewRecoveryPolicy, now: datetime
) -> datetime | None:
    """The earliest instant from ``now`` at which the next attempt is allowed, or ``None``.

    ``None`` when the case has ended or its attempts are used up. Otherwise the later of ``now``
    and the last attempt plus the policy's gap, moved past the customer's quiet hours.
    """
    require_aware(now, "now")
    if case.state not in (ReviewCaseState.OPEN, ReviewCaseState.CONTACTING):
        return None
    if len(case.attempts) >= policy.max_attempts:
        return None
    at = now
    if case.attempts:
        at = max(at, case.attempts[-1].at + timedelta(minutes=policy.min_gap_minutes))
    return policy.after_quiet(at, case.zone)


@checked
def review_contacts_due(
    cases: Iterable[ReviewCase], policy: ReviewRecoveryPolicy, now: datetime
) -> list[ReviewCase]:
    """Open cases with no attempt yet whose first contact is due (act fast), oldest first."""
    require_aware(now, "now")
    late = timedelta(hours=policy.first_contact_hours)
    due = [
        case
        for case in cases
        if case.state is ReviewCaseState.OPEN and not case.attempts and case.posted_at + late <= now
    ]
    return sorted(due, key=lambda case: (case.posted_at, case.id))


@checked
def review_incident(
    case: ReviewCase, *, order: OrderSnapshot, customer: CustomerSnapshot
) -> Review:
    """The compensation `Review` incident of a case: for `decide` and `review_analysis`.

    Its id is the case's, it occurred when the review was posted, and its root cause is
    confirmed only once the case recorded it (`ConfirmCause`).
    """
    return Review(
        id=case.id,
        occurred_at=case.posted_at,
        order=order,
        customer=customer,
        rating=case.rating,
        sku=case.sku,
        root_cause=case.root_cause,
        root_cause_confirmed=case.root_cause is not None,
    )


class RecoveryReport(CsdeskModel):
    """How review recovery went (who, why, which product): counts over cases.

    Attributes:
        cases: Cases counted.
        negative, neutral: By rating (1–2, 3).
        by_outcome: Cases per state (``resolved``, ``declined``, ``unreachable``, ``open``,
            ``contacting``).
        by_cause: Cases per confirmed root cause (``unconfirmed`` when none).
        by_sku: Cases per product (``unknown`` when none).
        reached_share: Ended cases in which the customer was reached, over ended cases.
        median_attempts: Attempts per ended case, the median.
        median_first_contact_hours: From the review to the first attempt, the median.
        repeat_customers: Customers with more than one case, and how many.
    """

    cases: int
    negative: int
    neutral: int
    by_outcome: dict[str, int]
    by_cause: dict[str, int]
    by_sku: dict[str, int]
    reached_share: float | None
    median_attempts: float | None
    median_first_contact_hours: float | None
    repeat_customers: dict[str, int]


@checked
def recovery_report(cases: Iterable[ReviewCase]) -> RecoveryReport:
    """Count review-recovery cases by outcome, cause, product and rating.

    Raises:
        InvalidInputError: an item is not a `ReviewCase`.
    """
    listed = list(cases)
    for item in listed:
        if not isinstance(item, ReviewCase):
            raise InvalidInputError(f"recovery_report counts ReviewCase, got {type(item).__name__}")
    ended = [c for c in listed if c.ended_at is not None]
    first_hours = [
        (c.attempts[0].at - c.posted_at).total_seconds() / 3600 for c in listed if c.attempts
    ]
    customers = Counter(c.customer_id for c in listed)
    counts: dict[str, Any] = {
        "by_outcome": Counter(c.state.value for c in listed),
        "by_cause": Counter(c.root_cause.value if c.root_cause else "unconfirmed" for c in listed),
        "by_sku": Counter(c.sku or "unknown" for c in listed),
    }
    return RecoveryReport(
        cases=len(listed),
        negative=sum(1 for c in listed if c.negative),
        neutral=sum(1 for c in listed if not c.negative),
        by_outcome=dict(sorted(counts["by_outcome"].items())),
        by_cause=dict(counts["by_cause"].most_common()),
        by_sku=dict(counts["by_sku"].most_common()),
        reached_share=sum(1 for c in ended if c.reached) / len(ended) if ended else None,
        median_attempts=float(median(len(c.attempts) for c in ended)) if ended else None,
        median_first_contact_hours=float(median(first_hours)) if first_hours else None,
        repeat_customers={k: v for k, v in sorted(customers.items()) if v > 1},
    )
