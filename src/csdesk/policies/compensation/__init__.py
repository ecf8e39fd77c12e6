"""Compensation policy: decide what to offer, within authority and budget, explain it, simulate it.

The desk compensates for problems that are the shop's to own: a late parcel, a stock-out
cancellation, a damaged item, the problem a negative review revealed. A `CompensationPolicy` (TOML)
says what each incident earns; `decide` runs the pipeline (legal triage, eligibility, amount,
stacking, caps and budgets, anti-abuse, authority) and returns a `Decision` with its trace;
`grant` spends the budget once per idempotency key; `simulate` and `compare` replay history
against one policy or two.

Examples:
    >>> from csdesk.policies.compensation import compensation_policy
    >>> [rule.id for rule in compensation_policy("shop_standard").rules][:3]
    ['late_delivery_coupon', 'late_shipment_coupon', 'stockout_coupon']
"""

from csdesk.policies.compensation.budget import BudgetStore, Charge, MemoryBudgetStore, Usage
from csdesk.policies.compensation.decide import Decision, decide, grant, period_key
from csdesk.policies.compensation.incidents import (
    Agent,
    CustomerSnapshot,
    DamagedItem,
    FalseShipment,
    Fault,
    FoodSafetyClaim,
    FraudClaim,
    Incident,
    IncidentKind,
    LateDelivery,
    LateShipment,
    OrderSnapshot,
    OutOfStockCancel,
    PriceDrop,
    Received,
    Review,
    Role,
    RootCause,
    ServiceFailure,
    SystemFaultCancel,
    WrongItem,
    parse_incident,
)
from csdesk.policies.compensation.offers import Offer, Status, StatutoryClaim, statutory_claim
from csdesk.policies.compensation.policy import (
    AmountSpec,
    AuthorityTier,
    Budget,
    Cap,
    CompensationPolicy,
    Group,
    Instrument,
    OfferSpec,
    Rule,
    RuleCondition,
    Signal,
    TableRow,
    compensation_policy,
)
from csdesk.policies.compensation.simulate import (
    PolicyComparison,
    ReviewAnalysis,
    SimulationReport,
    compare,
    review_analysis,
    simulate,
)

__all__ = [
    "Agent",
    "AmountSpec",
    "AuthorityTier",
    "Budget",
    "BudgetStore",
    "Cap",
    "Charge",
    "CompensationPolicy",
    "CustomerSnapshot",
    "DamagedItem",
    "Decision",
    "FalseShipment",
    "Fault",
    "FoodSafetyClaim",
    "FraudClaim",
    "Group",
    "Incident",
    "IncidentKind",
    "Instrument",
    "LateDelivery",
    "LateShipment",
    "MemoryBudgetStore",
    "Offer",
    "OfferSpec",
    "OrderSnapshot",
    "OutOfStockCancel",
    "PolicyComparison",
    "PriceDrop",
    "Received",
    "Review",
    "ReviewAnalysis",
    "Role",
    "RootCause",
    "Rule",
    "RuleCondition",
    "ServiceFailure",
    "Signal",
    "SimulationReport",
    "Status",
    "StatutoryClaim",
    "SystemFaultCancel",
    "TableRow",
    "Usage",
    "WrongItem",
    "compare",
    "compensation_policy",
    "decide",
    "grant",
    "parse_incident",
    "period_key",
    "review_analysis",
    "simulate",
    "statutory_claim",
]
