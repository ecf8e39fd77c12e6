"""SLA: business calendars with China's make-up working days (调休), SLA clocks and promises."""

from csdesk.sla.calendar import WEEKDAYS, BusinessCalendar
from csdesk.sla.china import CHINA_NOTICES, china_calendar, china_days
from csdesk.sla.clocks import (
    Escalation,
    SlaPolicy,
    SlaReport,
    SlaStatus,
    SlaTarget,
    select_policy,
    sla_report,
)
from csdesk.sla.metrics import Attainment, ServiceMetrics, service_metrics
from csdesk.sla.promises import Promise, promise

__all__ = [
    "CHINA_NOTICES",
    "WEEKDAYS",
    "Attainment",
    "BusinessCalendar",
    "Escalation",
    "Promise",
    "ServiceMetrics",
    "SlaPolicy",
    "SlaReport",
    "SlaStatus",
    "SlaTarget",
    "china_calendar",
    "china_days",
    "promise",
    "select_policy",
    "service_metrics",
    "sla_report",
]
