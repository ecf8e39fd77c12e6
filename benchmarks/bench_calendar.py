"""BusinessCalendar against businesstimedelta on the same calendar.

Mon-Fri 09:00-12:00 and 13:00-18:00 in UTC (8 h a day), with China's weekday days off as holidays
(~19 a year); start Monday 2025-03-03 10:30. businesstimedelta gets its fastest setup
(a HolidayRule built from a set). Both are warmed up first; csdesk's index is built once, lazily,
and reused, which is the point of it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta

import pytz
from businesstimedelta import BusinessTimeDelta, HolidayRule, LunchTimeRule, Rules, WorkDayRule

from benchmarks._runner import Case, Result, measure, report
from csdesk.sla import BusinessCalendar

START = datetime(2025, 3, 3, 10, 30, tzinfo=UTC)


def _holidays() -> set[date]:
    # The research's workload: python-holidays' China days off, Mon-Fri, 2024-2030 (a list that
    # ends earlier makes businesstimedelta crash: seppemans/businesstimedelta#8).
    import holidays

    china = holidays.country_holidays("CN", years=range(2024, 2031))
    return {d for d in china if d.weekday() < 5}


def _ours_add(cal: BusinessCalendar, hours: int) -> Callable[[], object]:
    return lambda: cal.add(START, timedelta(hours=hours))


def _theirs_add(naive: datetime, delta: BusinessTimeDelta) -> Callable[[], object]:
    return lambda: pytz.utc.localize(naive) + delta


def _ours_between(cal: BusinessCalendar, end: datetime) -> Callable[[], object]:
    return lambda: cal.between(START, end)


def _theirs_between(rules: Rules, end: datetime) -> Callable[[], object]:
    return lambda: rules.difference(START, end)


def cases() -> list[Case]:
    holidays = _holidays()
    weekly = {
        d: [("09:00", "12:00"), ("13:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")
    }
    cal = BusinessCalendar(tz="UTC", weekly=weekly, holidays=holidays)
    days = [0, 1, 2, 3, 4]
    rules = Rules(
        [
            WorkDayRule(start_time=time(9), end_time=time(18), working_days=days, tz=pytz.utc),
            LunchTimeRule(start_time=time(12), end_time=time(13), working_days=days, tz=pytz.utc),
            HolidayRule(holidays, tz=pytz.utc),
        ]
    )
    naive = START.replace(tzinfo=None)
    result = []
    for hours in (8, 80, 2000):
        delta = BusinessTimeDelta(rules, hours=hours)
        ours, theirs = cal.add(START, timedelta(hours=hours)), pytz.utc.localize(naive) + delta
        assert ours == theirs, (hours, ours, theirs)
        result.append(
            Case(
                f"add {hours} h",
                _ours_add(cal, hours),
                _theirs_add(naive, delta),
                number=200 if hours < 2000 else 20,
            )
        )
    for span in (1, 30, 730):
        end = START + timedelta(days=span)
        ours_d = cal.between(START, end)
        theirs_d = rules.difference(START, end)
        assert ours_d == timedelta(hours=theirs_d.hours, seconds=theirs_d.seconds), span
        result.append(
            Case(
                f"between {span} days",
                _ours_between(cal, end),
                _theirs_between(rules, end),
                number=200 if span < 730 else 10,
            )
        )
    return result


def main() -> list[Result]:
    results = [measure(case, rounds=9) for case in cases()]
    report("Business time", "businesstimedelta", results)
    by_name = {r.name: r for r in results}
    speedup_8 = 1 / by_name["add 8 h"].ratio
    speedup_2000 = 1 / by_name["add 2000 h"].ratio
    own = by_name["add 2000 h"].csdesk_ns / by_name["add 8 h"].csdesk_ns
    print(
        f"add 8 h: {speedup_8:.0f}x faster (goal >= 10); add 2000 h: {speedup_2000:.0f}x faster "
        f"(goal >= 500); csdesk add(2000 h) / add(8 h) = {own:.2f} (goal <= 3)"
    )
    return results


if __name__ == "__main__":
    main()
