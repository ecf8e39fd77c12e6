"""The China data pack against chinese-calendar and python-holidays, day by day."""

from __future__ import annotations

from datetime import date, timedelta

import chinese_calendar
import holidays
import pytest

from csdesk import CalendarCoverageError
from csdesk.sla import CHINA_NOTICES, china_calendar, china_days

OFFICE = {day: [("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}
YEARS = range(2018, 2027)


@pytest.mark.parametrize("year", YEARS)
def test_every_day_agrees_with_both_libraries(year: int) -> None:
    cal = china_calendar(weekly=OFFICE)
    cn_holidays = holidays.country_holidays("CN", years=year)
    day = date(year, 1, 1)
    mismatches = []
    while day.year == year:
        ours = cal.is_working_day(day)
        if ours != chinese_calendar.is_workday(day) or ours != cn_holidays.is_working_day(day):
            mismatches.append(day)
        day += timedelta(days=1)
    assert mismatches == []


def test_every_year_has_its_notice() -> None:
    assert sorted(CHINA_NOTICES) == list(YEARS)
    assert "国办发明电〔2024〕12号" in CHINA_NOTICES[2025]
    assert all("部分节假日安排的通知" in notice for notice in CHINA_NOTICES.values())


def test_make_up_days_are_weekends_and_days_off_include_them() -> None:
    off, work, coverage = china_days()
    assert coverage == (2018, 2026)
    assert all(day.weekday() >= 5 for day in work)
    assert not off & work


@pytest.mark.parametrize("day", [date(2027, 1, 4), date(2017, 12, 29)])
def test_unpublished_years_raise(day: date) -> None:
    with pytest.raises(CalendarCoverageError) as caught:
        china_calendar(weekly=OFFICE).is_working_day(day)
    assert (caught.value.first_year, caught.value.last_year) == (2018, 2026)


def test_arithmetic_that_crosses_out_of_coverage_raises() -> None:
    from datetime import datetime
    from zoneinfo import ZoneInfo

    cal = china_calendar(weekly=OFFICE)
    late = datetime(2026, 12, 30, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert cal.add(late, timedelta(hours=9)) == late + timedelta(days=1)
    with pytest.raises(CalendarCoverageError):
        cal.add(late, timedelta(hours=40))
