"""Decide what to offer for an incident, and grant it at most once.

`decide` runs the stages of `csdesk.policies.compensation.stages` (legal triage, eligibility,
amounts, stacking, caps, budgets, anti-abuse, authority) over an immutable draft and returns a
`Decision` in the decision envelope: the answer (status, offers, who must approve), the policy it
was decided under, the trace of every stage with the values it used, the inputs' hash and the
instant. `grant` spends the decision's counters in a `BudgetStore` once per idempotency key.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import ClassVar

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk._telemetry import count, metering
from csdesk.decision import Decided, PolicyRef
from csdesk.errors import ApprovalRequiredError, InvalidInputError
from csdesk.money import Money
from csdesk.policies.compensation import stages
from csdesk.policies.compensation.budget import BudgetStore, Charge
from csdesk.policies.compensation.incidents import Agent, Incident, IncidentKind, Role
from csdesk.policies.compensation.offers import Offer, Status, StatutoryClaim
from csdesk.policies.compensation.policy import CompensationPolicy

__all__ = ["Decision", "decide", "grant", "period_key"]


class Decision(Decided):
    """What the policy decided for one incident, in the decision envelope.

    Attributes:
        status: `Status` (the answer).
        offers: What is offered (empty when rejected or statutory).
        required_role: Who must approve (``needs_approval``), handle the claim (``statutory``) or
            check the evidence (``needs_evidence``); ``None`` when auto-approved or rejected.
        evidence_required: What the customer is asked to show first.
        statutory: The statutory claim's amount, for ``statutory`` decisions.
        idempotency_key: From the incident's id: deciding again gives the same key, and
            `grant` spends under it once.
        agent: Who decided.
        day: The decision's local day in the policy's zone (daily caps and authority).
        charges: What `grant` will move in the budget store (budget pools, per-kind daily caps).
        capped: A cap or a budget reduced or removed an offer.
    """

    answer_field: ClassVar[str] = "status"

    policy: PolicyRef
    incident_id: str
    kind: IncidentKind
    status: Status
    offers: tuple[Offer, ...]
    required_role: Role | None
    evidence_required: tuple[str, ...]
    statutory: StatutoryClaim | None
    idempotency_key: str
    agent: Agent
    currency: str
    day: str
    charges: tuple[Charge, ...] = ()
    capped: bool = False

    @property
    def total(self) -> Money:
        """The offers' total value."""
        total = Money.zero(self.currency)
        for offer in self.offers:
            total = total + offer.value
        return total


@checked
def period_key(period: str, moment: datetime) -> str:
    """The label of the ``day`` / ``week`` / ``month`` / ``year`` that ``moment`` falls in.

    Examples:
        >>> from datetime import datetime, timezone
        >>> at = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
        >>> [period_key(p, at) for p in ("day", "week", "month", "year")]
        ['2026-11-23', '2026-W48', '2026-11', '2026']
    """
    return stages.period_key(period, moment)


@checked
def decide(
    incident: Incident,
    *,
    policy: CompensationPolicy,
    agent: Agent,
    now: datetime,
    budget: BudgetStore | None = None,
) -> Decision:
    """Decide what to offer for ``incident`` under ``policy``, acting as ``agent``, at ``now``.

    Args:
        incident: What happened, with snapshots of the order and the customer.
        policy: The compensation policy.
        agent: Who decides (their role sets the authority).
        now: When the decision is taken (coupon validity, daily and monthly periods); aware.
        budget: The counters for budget pools, per-kind daily caps and the agent's daily
            authority. Without one those counters read zero (fine for a single decision in a test;
            a shop passes its store).

    Raises:
        InvalidInputError: the incident is in another currency than the policy, or a customer
            window the policy reads is missing from the snapshot.
        NaiveDatetimeError: ``now`` is naive.

    Examples:
        >>> from datetime import datetime, timezone
        >>> from csdesk.policies.compensation import Agent, compensation_policy, parse_incident
        >>> incident = parse_incident({
        ...     "kind": "late_delivery", "id": "inc-1", "days_late": 3,
        ...     "occurred_at": "2026-03-05T10:00:00+08:00",
        ...     "order": {"id": "SO-1", "paid_total": {"amount": "136.50", "currency": "CNY"},
        ...               "item_paid": {"amount": "128.50", "currency": "CNY"},
        ...               "shipping_paid": {"amount": "8.00", "currency": "CNY"}},
        ...     "customer": {"id": "C-1",
        ...                  "received": {"30": {"amount": {"amount": "0", "currency": "CNY"}}}},
        ... })
        >>> decision = decide(incident, policy=compensation_policy("shop_standard"),
        ...                   agent=Agent(id="bot", role="bot"),
        ...                   now=datetime(2026, 3, 5, 3, 0, tzinfo=timezone.utc))
        >>> decision.status.value, [(o.instrument.value, str(o.value)) for o in decision.offers]
        ('auto_approved', [('coupon_no_threshold', '10.00 CNY')])
    """
    require_aware(now, "now")
    if incident.order.currency != policy.currency:
        raise InvalidInputError(
            f"incident {incident.id} is in {incident.order.currency} and policy {policy.id} in "
            f"{policy.currency}; use a policy in the order's currency"
        )
    plan = stages.plan(policy)
    local = now.astimezone(plan.zone)
    day = local.date().isoformat()  # period_key("day", local)
    context = stages.Context(
        policy, plan, incident, incident.kind, agent, budget, now, local, day, plan.zero
    )
    draft = stages.Draft(context)
    for stage in stages.STAGES:
        draft = stage(draft)
        if draft.status is not None:  # settled
            break
    return _decision(draft)


def _decision(draft: stages.Draft) -> Decision:
    assert draft.status is not None
    context = draft.context
    incident, agent, policy = context.incident, context.agent, context.policy
    granted = draft.status not in (Status.REJECTED, Status.STATUTORY)
    if granted and metering():
        for offer in draft.offers:
            count("csdesk.compensation.granted", offer.value.minor_units,
                  {"csdesk.instrument": offer.instrument.value, "csdesk.currency":
                   offer.value.currency, "csdesk.category": str(incident.kind)},
                  unit="{minor_unit}")  # fmt: skip
    return Decision.assembled(
        {  # every field, in the class's order
            "policy": context.plan.ref,
            "trace": draft.trace,
            "decided_at": context.now,
            "incident_id": incident.id,
            "kind": context.kind,
            "status": draft.status,
            "offers": draft.offers if granted else (),
            "required_role": draft.required,
            "evidence_required": draft.evidence if granted else (),
            "statutory": draft.statutory,
            "idempotency_key": stages.decision_key(incident.id),
            "agent": agent,
            "currency": policy.currency,
            "day": context.day,
            "charges": draft.charges if granted else (),
            "capped": draft.capped,
        },
        inputs=(incident, agent.id, agent.role.value),
    )


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
    if decision.policy.hash != policy.policy_hash:
        raise InvalidInputError(
            f"decision {decision.idempotency_key} was taken under policy {decision.policy.id} "
            f"{decision.policy.version}, not this one; grant it with the policy that decided it"
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
    tier = stages.authority_tier(policy, granter.role)
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
