"""Time beside money: business calendars, working days and the official holiday data.

* `WorkingDayCalendar`: the protocol policies and timers count working days with;
  `WeekdayCalendar` is its simplest implementation (Monday to Friday, less given holidays).
* `BusinessCalendar`: weekly opening hours, holidays, make-up working days and leaves in an IANA
  zone, with business-time arithmetic (`add`, `subtract`, `between`) on a prefix-sum index.
* The China pack: the State Council's days off and make-up working days (调休) by year
  (`china_calendar`, `load_china_year`, `china_coverage`, the provisional mode).

Examples:
    >>> from datetime import date
    >>> WeekdayCalendar().add_working_days(date(2026, 3, 6), 1)
    datetime.date(2026, 3, 9)
"""

from csdesk.calendars.base import WeekdayCalendar, WorkingDayCalendar, provisional
from csdesk.calendars.business import WEEKDAYS, BusinessCalendar
from csdesk.calendars.china import (
    CHINA_CALENDAR_ENV,
    CHINA_NOTICES,
    ChinaCoverage,
    ChinaYear,
    DaysOff,
    china_calendar,
    china_coverage,
    china_days,
    load_china_year,
)
from csdesk.calendars.statutory import country_calendar

__all__ = [
    "CHINA_CALENDAR_ENV",
    "CHINA_NOTICES",
    "WEEKDAYS",
    "BusinessCalendar",
    "ChinaCoverage",
    "ChinaYear",
    "DaysOff",
    "WeekdayCalendar",
    "WorkingDayCalendar",
    "china_calendar",
    "china_coverage",
    "china_days",
    "country_calendar",
    "load_china_year",
    "provisional",
]
