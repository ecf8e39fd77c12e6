"""SLA: business calendars with China's make-up working days (调休)."""

from csdesk.sla.calendar import WEEKDAYS, BusinessCalendar
from csdesk.sla.china import CHINA_NOTICES, china_calendar, china_days
from csdesk.sla.promises import Promise, promise

__all__ = [
    "CHINA_NOTICES",
    "WEEKDAYS",
    "BusinessCalendar",
    "Promise",
    "china_calendar",
    "china_days",
    "promise",
]
