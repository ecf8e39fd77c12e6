"""The working-day interface policies and timers need from a business calendar.

`csdesk.calendars.BusinessCalendar` (China's make-up days, holidays, leaves) implements it; until a
shop passes one, `WeekdayCalendar` counts Monday to Friday, less the holidays it is given.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["WeekdayCalendar", "WorkingDayCalendar", "provisional"]


@runtime_checkable
class WorkingDayCalendar(Protocol):
    """Anything that knows which local dates are working days."""

    def is_working_day(self, day: date, /) -> bool:
        """Whether ``day`` is a working day."""
        ...

    def add_working_days(self, day: date, count: int, /) -> date:
        """The date ``count`` working days after ``day`` (before it when negative)."""
        ...


class WeekdayCalendar:
    """Monday to Friday are working days, except the holidays given.

    Examples:
        >>> calendar = WeekdayCalendar(holidays=[date(2026, 1, 1)])
        >>> calendar.add_working_days(date(2025, 12, 31), 2)  # Wed + 2, skipping New Year
        datetime.date(2026, 1, 5)
    """

    def __init__(self, holidays: Iterable[date] = ()) -> None:
        self._holidays = frozenset(holidays)

    def is_working_day(self, day: date, /) -> bool:
        """Whether ``day`` is Monday to Friday and not a holiday."""
        return day.weekday() < 5 and day not in self._holidays

    def add_working_days(self, day: date, count: int, /) -> date:
        """Step ``count`` working days from ``day``."""
        step = 1 if count >= 0 else -1
        remaining = abs(count)
        while remaining:
            day += timedelta(days=step)
            if self.is_working_day(day):
                remaining -= 1
        return day


def provisional(calendar: object, *days: date) -> bool:
    """Whether ``calendar`` estimates (rather than knows) the holidays of any of ``days``.

    True only for a calendar built with provisional years (`csdesk.calendars.china_calendar` with
    ``provisional=True``); every other calendar answers False.
    """
    check = getattr(calendar, "is_provisional", None)
    return bool(check(*days)) if callable(check) and days else False
