"""Pure decision functions and the policies (data) they read.

Policies are pydantic models loaded from TOML, JSON or dicts, validated at load with errors that
name the offending key, versioned and hashable. Built-in presets ship as TOML files with their
``source`` and ``as_of``.
"""

from csdesk.decision import Policy, load_policy
from csdesk.policies.approval import (
    ApprovalDecision,
    ApprovalOutcome,
    ApprovalPolicy,
    ApprovalRequest,
    approval_policy,
    decide_approval,
    express_overdue,
)
from csdesk.policies.arrival import ArrivalEstimate, ArrivalPreset, arrival_preset, estimate_arrival
from csdesk.policies.crisis import CrisisDetector, CrisisIncident, CrisisPolicy, IncidentChange
from csdesk.policies.exchanges import ExchangeQuote, quote_exchange
from csdesk.policies.price_protection import (
    PricePoint,
    PriceProtectionClaim,
    PriceProtectionPolicy,
    claim_price_protection,
    price_protection_policy,
)
from csdesk.policies.refunds import (
    LineRefund,
    Refunded,
    RefundPolicy,
    RefundQuote,
    RefundReason,
    TenderShare,
    quote_refund,
    refund_policy,
)
from csdesk.policies.returns import (
    ReturnPolicy,
    ReturnWindow,
    WindowStatus,
    WorkingDayCalendar,
    return_policy,
    return_window,
)
from csdesk.policies.review_recovery import ReviewRecoveryPolicy, review_recovery_policy
from csdesk.policies.tiering import (
    Complaint,
    PublicChannel,
    Route,
    Tier,
    TierAssessment,
    TieringPolicy,
    assess,
    first_group,
    tiering_policy,
)
from csdesk.policies.timers import TimerPreset, TimerSpec, timer_preset

__all__ = [
    "ApprovalDecision",
    "ApprovalOutcome",
    "ApprovalPolicy",
    "ApprovalRequest",
    "ArrivalEstimate",
    "ArrivalPreset",
    "Complaint",
    "CrisisDetector",
    "CrisisIncident",
    "CrisisPolicy",
    "ExchangeQuote",
    "IncidentChange",
    "LineRefund",
    "Policy",
    "PricePoint",
    "PriceProtectionClaim",
    "PriceProtectionPolicy",
    "PublicChannel",
    "RefundPolicy",
    "RefundQuote",
    "RefundReason",
    "Refunded",
    "ReturnPolicy",
    "ReturnWindow",
    "ReviewRecoveryPolicy",
    "Route",
    "TenderShare",
    "Tier",
    "TierAssessment",
    "TieringPolicy",
    "TimerPreset",
    "TimerSpec",
    "WindowStatus",
    "WorkingDayCalendar",
    "approval_policy",
    "arrival_preset",
    "assess",
    "claim_price_protection",
    "decide_approval",
    "estimate_arrival",
    "express_overdue",
    "first_group",
    "load_policy",
    "price_protection_policy",
    "quote_exchange",
    "quote_refund",
    "refund_policy",
    "return_policy",
    "return_window",
    "review_recovery_policy",
    "tiering_policy",
    "timer_preset",
]
