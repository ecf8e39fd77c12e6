"""SLA: business calendars with China's make-up working days (调休), SLA clocks and promises."""

from csdesk.calendars.business import WEEKDAYS, BusinessCalendar
from csdesk.calendars.china import (
    CHINA_CALENDAR_ENV,
    CHINA_NOTICES,
    ChinaCoverage,
    ChinaYear,
    china_calendar,
    china_coverage,
    china_days,
    load_china_year,
)
from csdesk.sla.clocks import (
    Escalation,
    SlaPolicy,
    SlaReport,
    SlaStatus,
    SlaTarget,
    select_policy,
    sla_report,
)
from csdesk.sla.handover import HandoverLine, HandoverReport, handover_report
from csdesk.sla.metrics import Attainment, ServiceMetrics, service_metrics
from csdesk.sla.outage import BacklogItem, apology_batch, outage_backlog
from csdesk.sla.promises import Promise, promise
from csdesk.sla.satisfaction import (
    Csat,
    RepeatContacts,
    TransferStats,
    csat,
    repeat_contacts,
    transfer_stats,
)

__all__ = [
    "CHINA_CALENDAR_ENV",
    "CHINA_NOTICES",
    "WEEKDAYS",
    "Attainment",
    "BacklogItem",
    "BusinessCalendar",
    "ChinaCoverage",
    "ChinaYear",
    "Csat",
    "Escalation",
    "HandoverLine",
    "HandoverReport",
    "Promise",
    "RepeatContacts",
    "ServiceMetrics",
    "SlaPolicy",
    "SlaReport",
    "SlaStatus",
    "SlaTarget",
    "TransferStats",
    "apology_batch",
    "china_calendar",
    "china_coverage",
    "china_days",
    "csat",
    "handover_report",
    "load_china_year",
    "outage_backlog",
    "promise",
    "repeat_contacts",
    "select_policy",
    "service_metrics",
    "sla_report",
    "transfer_stats",
]
