"""Instant approval of after-sale requests (自动审核) and express refunds (极速退款), as data.

The seeds' lesson plan: "符合一定条件的订单可以自动审核完成退换货" — orders that meet set
conditions are approved for return or exchange automatically. `decide_approval` reads an
`ApprovalRequest` (the amount, reason, category, customer tier and history, return rate and risk
flags the host knows) against an `ApprovalPolicy` (ordered rules, first match wins) and answers
with one `ApprovalOutcome`, in the decision envelope with its trace:

- ``approve``: approve at once (the goods come back as the case type says);
- ``refund_only``: approve and refund without the goods coming back (仅退款, low-value items);
- ``require_evidence``: ask the customer for photos or a video first;
- ``human``: an agent decides (the default when no rule matches, and always on a risk flag the
  policy names).

**Express refund** (极速退款): for trusted customers, the money goes back when the return is
handed to the carrier rather than when it arrives. The policy's `ExpressRefund` says who is
trusted (tiers, orders, return rate), the most per case, how many express refunds a customer may
have with goods still on the way, and the shop's total per day; `ApprovalDecision.express` says
whether this case gets it and the trace says why not when it does not. If the goods have not
arrived ``return_within_days`` after the refund, `express_overdue` finds the case: the host
escalates it to a person (a carrier claim or a charge to the customer), and while it is open the
customer has an express refund outstanding, which (with the default limit of one) blocks the next.
`csdesk.workflows.ApproveCase` takes the decision: a ``refund_only`` outcome lets the customer keep
the goods, and an express approval requests the refund when the return ships.

Examples:
    >>> from datetime import datetime, timezone
    >>> from csdesk.money import Money
    >>> now = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)
    >>> request = ApprovalRequest(case_type="return_and_refund", reason="no_reason",
    ...                           amount=Money("59.00", "CNY"), customer_tier="gold", orders=12,
    ...                           return_rate="0.05")
    >>> decision = decide_approval(request, approval_policy("shop_default"), now=now)
    >>> decision.outcome, decision.rule, decision.express
    (<ApprovalOutcome.APPROVE: 'approve'>, 'small_no_reason', True)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import cache
from typing import Annotated, Any, ClassVar

from pydantic import AwareDatetime, BeforeValidator, ConfigDict, Field, model_validator

from csdesk._checks import checked
from csdesk._model import ConfigModel, CsdeskModel, require_aware
from csdesk.decision import Decided, Policy, Step, load_policy, step
from csdesk.errors import InvalidInputError
from csdesk.models import AfterSaleCase, CaseState, CaseType, CustomerTier
from csdesk.money import Money
from csdesk.policies.compensation.rules import no_float

__all__ = [
    "ApprovalConditions",
    "ApprovalDecision",
    "ApprovalOutcome",
    "ApprovalPolicy",
    "ApprovalRequest",
    "ApprovalRule",
    "ExpressRefund",
    "approval_policy",
    "decide_approval",
    "express_overdue",
]


Rate = Annotated[Decimal, BeforeValidator(no_float), Field(ge=0, le=1)]
"""A share from 0 to 1, exact: a float is refused."""


class ApprovalOutcome(StrEnum):
    """What the approval policy says to do with an after-sale request."""

    APPROVE = "approve"
    REFUND_ONLY = "refund_only"
    REQUIRE_EVIDENCE = "require_evidence"
    HUMAN = "human"


class ApprovalConditions(ConfigModel):
    """What a request must be for a rule to apply; every condition given must hold.

    Attributes:
        case_types: The case types it covers (``return_and_refund``, ``refund_only``, …).
        reasons: The customer's reason codes it covers (``no_reason``, ``damaged``, …).
        categories: The goods' categories it covers (the host's names).
        customer_tiers: The customer tiers it covers.
        max_amount: The most the request may be worth, one amount per currency; a request in a
            currency with no amount here does not match.
        min_orders: The customer's completed orders, at least.
        max_refunds: The customer's refunds within the policy's history window, at most.
        max_return_rate: The customer's return rate (returned units / bought units), at most.
        shipped: Whether the goods must have shipped (``False``: unshipped only).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    case_types: tuple[CaseType, ...] | None = None
    reasons: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    customer_tiers: tuple[CustomerTier, ...] | None = None
    max_amount: tuple[Money, ...] | None = None
    min_orders: int | None = Field(default=None, ge=0)
    max_refunds: int | None = Field(default=None, ge=0)
    max_return_rate: Rate | None = None
    shipped: bool | None = None


class ApprovalRule(ConfigModel):
    """One rule: when its conditions hold, its outcome applies (the first matching rule wins).

    Attributes:
        id: A stable name, recorded on the decision.
        when: The conditions.
        outcome: What to do.
        why: Why the shop decided so, for the agent reading the trace.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[a-z0-9_\-]+$")
    when: ApprovalConditions = ApprovalConditions()
    outcome: ApprovalOutcome
    why: str = ""


class ExpressRefund(ConfigModel):
    """Express refund (极速退款): refund when the return ships, for trusted customers.

    Attributes:
        customer_tiers: Tiers that can have it.
        min_orders: Completed orders a customer needs.
        max_return_rate: The highest return rate a customer may have.
        max_amount: The most per case, one amount per currency (none: no express refund in that
            currency).
        per_customer_open: How many express refunds a customer may have whose goods have not
            arrived yet (this one not counted).
        per_day: The shop's total of express refunds per day, one amount per currency.
        return_within_days: Days after the refund for the goods to arrive; then
            `express_overdue` finds the case.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    customer_tiers: tuple[CustomerTier, ...] = Field(min_length=1)
    min_orders: int = Field(default=0, ge=0)
    max_return_rate: Rate = Decimal(1)
    max_amount: tuple[Money, ...] = Field(min_length=1)
    per_customer_open: int = Field(default=1, ge=0)
    per_day: tuple[Money, ...] = Field(min_length=1)
    return_within_days: int = Field(default=15, gt=0)


class ApprovalPolicy(Policy):
    """The shop's approval rules as data (kind ``approval``).

    Attributes:
        rules: Ordered; the first whose conditions hold decides.
        otherwise: The outcome when no rule matches.
        human_on_flags: Risk flags that send any request to a person, before the rules.
        history_days: The window of the customer history the host counts (``refunds``).
        express: Express refund settings; ``None``: the shop offers none.
    """

    rules: tuple[ApprovalRule, ...] = ()
    otherwise: ApprovalOutcome = ApprovalOutcome.HUMAN
    human_on_flags: tuple[str, ...] = ()
    history_days: int = Field(default=90, gt=0)
    express: ExpressRefund | None = None

    @model_validator(mode="after")
    def _unique_rules(self) -> ApprovalPolicy:
        ids = [rule.id for rule in self.rules]
        twice = sorted({rule_id for rule_id in ids if ids.count(rule_id) > 1})
        if twice:
            raise ValueError(f"rule ids must be unique; repeated: {', '.join(twice)}")
        return self


class ApprovalRequest(CsdeskModel):
    """An after-sale request and what the host knows about it and its customer.

    Attributes:
        amount: What the request would refund.
        orders: The customer's completed orders.
        refunds: The customer's refunds within the policy's ``history_days``.
        return_rate: Returned units / bought units, 0 to 1 (``None``: not known).
        risk_flags: The host's risk flags (``new_device``, ``address_mismatch``, …).
        express_open: The customer's express refunds whose goods have not arrived.
        express_today: The shop's express refunds today so far, in the request's currency.
    """

    case_type: CaseType
    reason: str = Field(min_length=1)
    amount: Money
    category: str | None = None
    customer_tier: CustomerTier = CustomerTier.REGULAR
    orders: int = Field(default=0, ge=0)
    refunds: int = Field(default=0, ge=0)
    return_rate: Rate | None = None
    risk_flags: frozenset[str] = frozenset()
    shipped: bool | None = None
    express_open: int = Field(default=0, ge=0)
    express_today: Money | None = None

    @classmethod
    def for_case(cls, case: AfterSaleCase, *, amount: Money, **facts: Any) -> ApprovalRequest:
        """A request for a filed case: its type, reason and shipping state, plus ``facts``."""
        return cls(
            case_type=case.type,
            reason=case.reason,
            amount=amount,
            shipped=case.shipped_before,
            **facts,
        )


class ApprovalDecision(Decided):
    """The answer of `decide_approval`, in the decision envelope.

    Attributes:
        outcome: What to do.
        rule: The rule that decided (``None``: a risk flag or no rule matched).
        express: Refund when the return ships (极速退款); only with ``approve``.
        return_by: With ``express``: the goods must arrive by then, else `express_overdue`
            finds the case. Counted from ``decided_at``.
    """

    answer_field: ClassVar[str] = "outcome"

    outcome: ApprovalOutcome
    rule: str | None = None
    express: bool = False
    return_by: AwareDatetime | None = None


def _amount_within(amount: Money, limits: tuple[Money, ...]) -> Money | None:
    """The limit in the amount's currency when the amount is within it, else ``None``."""
    for limit in limits:
        if limit.currency == amount.currency:
            return limit if amount <= limit else None
    return None


def _failed_condition(request: ApprovalRequest, when: ApprovalConditions) -> str | None:
    """The first condition of ``when`` that ``request`` does not meet, by name."""
    checks: list[tuple[str, bool]] = [
        ("case_types", when.case_types is None or request.case_type in when.case_types),
        ("reasons", when.reasons is None or request.reason in when.reasons),
        ("categories", when.categories is None or request.category in when.categories),
        (
            "customer_tiers",
            when.customer_tiers is None or request.customer_tier in when.customer_tiers,
        ),
        (
            "max_amount",
            when.max_amount is None or _amount_within(request.amount, when.max_amount) is not None,
        ),
        ("min_orders", when.min_orders is None or request.orders >= when.min_orders),
        ("max_refunds", when.max_refunds is None or request.refunds <= when.max_refunds),
        (
            "max_return_rate",
            when.max_return_rate is None
            or (request.return_rate is not None and request.return_rate <= when.max_return_rate),
        ),
        ("shipped", when.shipped is None or request.shipped is when.shipped),
    ]
    return next((name for name, held in checks if not held), None)


def _express(request: ApprovalRequest, express: ExpressRefund, trace: list[Step]) -> bool:
    """Whether the request gets an express refund; a step says why or why not."""
    if request.case_type is not CaseType.RETURN_AND_REFUND:
        refusal: tuple[str, dict[str, Any]] = ("no_return", {"case_type": request.case_type})
    elif request.customer_tier not in express.customer_tiers:
        refusal = ("tier", {"customer_tier": request.customer_tier})
    elif request.orders < express.min_orders:
        refusal = ("orders", {"orders": request.orders, "needed": express.min_orders})
    elif request.return_rate is None or request.return_rate > express.max_return_rate:
        refusal = ("return_rate", {"rate": request.return_rate, "limit": express.max_return_rate})
    elif _amount_within(request.amount, express.max_amount) is None:
        refusal = ("amount", {"amount": request.amount})
    elif request.express_open >= express.per_customer_open:
        refusal = ("open", {"open": request.express_open, "limit": express.per_customer_open})
    else:
        currency = request.amount.currency
        spent = request.express_today or Money.zero(currency)
        room = next((m for m in express.per_day if m.currency == currency), None)
        if room is None or spent.currency != currency or spent + request.amount > room:
            refusal = ("per_day", {"today": spent, "amount": request.amount})
        else:
            trace.append(step("express", "approval.express", days=express.return_within_days))
            return True
    code, params = refusal
    trace.append(step("express", f"approval.express_refused.{code}", **params))
    return False


@checked
def decide_approval(
    request: ApprovalRequest, policy: ApprovalPolicy, *, now: datetime
) -> ApprovalDecision:
    """Decide an after-sale request under the shop's approval policy, with the trace.

    Risk flags the policy names send the request to a person first; then the first rule whose
    conditions all hold decides (the trace names, for each rule passed over, the condition that
    failed); else the policy's ``otherwise``. An approval of a return may also be an express
    refund (`ExpressRefund`).
    """
    require_aware(now, "now")
    trace: list[Step] = []
    outcome, rule_id = policy.otherwise, None
    flagged = sorted(request.risk_flags & set(policy.human_on_flags))
    if flagged:
        trace.append(step("risk", "approval.risk_flags", flags=flagged))
        outcome = ApprovalOutcome.HUMAN
    else:
        for rule in policy.rules:
            failed = _failed_condition(request, rule.when)
            if failed is None:
                outcome, rule_id = rule.outcome, rule.id
                trace.append(step("rules", "approval.rule", rule=rule.id, outcome=outcome,
                                  why=rule.why))  # fmt: skip
                break
            trace.append(step("rules", "approval.rule_skipped", rule=rule.id, condition=failed))
        else:
            trace.append(step("rules", "approval.otherwise", outcome=outcome))
    express = False
    if outcome is ApprovalOutcome.APPROVE and policy.express is not None:
        express = _express(request, policy.express, trace)
    return_by = None
    if express and policy.express is not None:
        return_by = now + timedelta(days=policy.express.return_within_days)
    return ApprovalDecision.made(
        policy=policy.ref,
        trace=trace,
        decided_at=now,
        inputs=(request,),
        outcome=outcome,
        rule=rule_id,
        express=express,
        return_by=return_by,
    )


@checked
def express_overdue(
    cases: Iterable[AfterSaleCase], *, days: int, now: datetime
) -> list[AfterSaleCase]:
    """The express-refunded cases whose goods have not arrived ``days`` after the refund.

    A case counts while the goods are still expected (in transit), its express refund requested
    (``express_refunded_at``, set when the return shipped) at least ``days`` ago; oldest first.
    Escalate each to a person: a claim on the carrier, or recovering the money from the
    customer. While it is open the customer has an express refund outstanding (the host counts
    them in `ApprovalRequest.express_open`), which blocks the next one under the default limit.

    Raises:
        InvalidInputError: ``days`` is not positive.
    """
    require_aware(now, "now")
    if days <= 0:
        raise InvalidInputError(f"days must be positive, got {days}")
    waiting = {CaseState.AWAITING_RETURN, CaseState.RETURN_IN_TRANSIT}
    overdue = [
        case
        for case in cases
        if case.express_refunded_at is not None
        and case.state in waiting
        and now - case.express_refunded_at >= timedelta(days=days)
    ]
    return sorted(overdue, key=lambda case: (case.express_refunded_at or now, case.id))


@checked
@cache
def approval_policy(name: str) -> ApprovalPolicy:
    """A built-in approval preset: ``shop_default`` (a shop's typical instant-approval rules)."""
    return load_policy(ApprovalPolicy, name, kind="approval")
