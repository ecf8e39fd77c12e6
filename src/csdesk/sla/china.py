"""China's official days off and make-up working days (调休), 2018-2026, as a data pack.

Each year comes from the State Council General Office's notice on that year's holiday arrangements
(国务院办公厅关于××年部分节假日安排的通知), with its reference in `CHINA_NOTICES`. The pack lives in
``csdesk/sla/data/china.json``; the test suite compares it, day by day, with chinese-calendar and
python-holidays. A year without a published notice is never guessed: asking about it raises
`csdesk.errors.CalendarCoverageError`.

Examples:
    >>> from datetime import date
    >>> office = {day: [("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}
    >>> cal = china_calendar(weekly=office)
    >>> cal.is_working_day(date(2026, 9, 20)), cal.is_working_day(date(2026, 10, 5))
    (True, False)
    >>> cal.working_days_between(date(2025, 12, 31), date(2026, 12, 31))
    248
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from functools import cache
from importlib import resources
from typing import Any

from csdesk._checks import checked
from csdesk.sla.calendar import BusinessCalendar

__all__ = ["CHINA_NOTICES", "china_calendar", "china_days"]


@cache
def _pack() -> dict[str, Any]:
    text = (resources.files("csdesk.sla") / "data" / "china.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def china_days() -> tuple[frozenset[date], frozenset[date], tuple[int, int]]:
    """All official days off, all make-up working days, and the (first, last) year covered."""
    off: set[date] = set()
    work: set[date] = set()
    for entry in _pack()["years"].values():
        for period in entry["days_off"]:
            day, last = date.fromisoformat(period["first"]), date.fromisoformat(period["last"])
            while day <= last:
                off.add(day)
                day += timedelta(days=1)
        work.update(date.fromisoformat(text) for text in entry["makeup_workdays"])
    years = sorted(int(year) for year in _pack()["years"])
    return frozenset(off), frozenset(work), (years[0], years[-1])


CHINA_NOTICES: Mapping[int, str] = {
    int(year): entry["notice"] for year, entry in _pack()["years"].items()
}
"""The notice behind each covered year."""


@checked
def china_calendar(
    *,
    weekly: Mapping[str, Sequence[tuple[str, str]]],
    tz: str = "Asia/Shanghai",
    makeup_as: str = "mon",
    holidays: Sequence[date] = (),
    leaves: Sequence[Any] = (),
) -> BusinessCalendar:
    """A `BusinessCalendar` with China's official days off and make-up working days.

    Args:
        weekly: The shop's weekly hours.
        tz: The zone the hours are in.
        makeup_as: Whose weekday hours a make-up working day uses (a Sunday worked "as" a
            Monday); ``"mon"`` by default.
        holidays: The shop's own extra closed days.
        leaves: Partial closures, as aware ``(start, end)`` pairs.
    """
    off, work, years = china_days()
    return BusinessCalendar(
        tz=tz,
        weekly=weekly,
        holidays=off | set(holidays),
        makeup_workdays=dict.fromkeys(work, makeup_as),
        leaves=leaves,
        coverage=years,
        name="China calendar",
    )
