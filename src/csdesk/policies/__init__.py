"""Pure decision functions and the policies (data) they read.

Policies are pydantic models loaded from TOML, JSON or dicts, validated at load with errors that
name the offending key, versioned and hashable. Built-in presets ship as TOML files with their
``source`` and ``as_of``.
"""

from csdesk.policies._base import Policy, load_policy
from csdesk.policies.arrival import ArrivalEstimate, ArrivalPreset, arrival_preset, estimate_arrival
from csdesk.policies.refunds import (
    LineRefund,
    QuoteStep,
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
from csdesk.policies.timers import TimerPreset, TimerSpec, timer_preset

__all__ = [
    "ArrivalEstimate",
    "ArrivalPreset",
    "LineRefund",
    "Policy",
    "QuoteStep",
    "RefundPolicy",
    "RefundQuote",
    "RefundReason",
    "ReturnPolicy",
    "ReturnWindow",
    "TenderShare",
    "TimerPreset",
    "TimerSpec",
    "WindowStatus",
    "WorkingDayCalendar",
    "arrival_preset",
    "estimate_arrival",
    "load_policy",
    "quote_refund",
    "refund_policy",
    "return_policy",
    "return_window",
    "timer_preset",
]
