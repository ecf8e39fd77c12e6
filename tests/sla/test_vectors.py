"""Test vectors ported from the peers' public test suites and the official China notices.

Each vector names its source. csdesk's conventions (earliest instant at a closing time, opening time
when subtracting to an opening, zero for reversed ranges) decide the expected value where the peers
disagree; those vectors say what the peer returns.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from csdesk.sla import BusinessCalendar, china_calendar

UTC = ZoneInfo("UTC")
SHANGHAI = ZoneInfo("Asia/Shanghai")
LA = ZoneInfo("America/Los_Angeles")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def week(
    *intervals: tuple[str, str], days: tuple[str, ...] = WEEKDAYS
) -> dict[str, list[tuple[str, str]]]:
    return {day: list(intervals) for day in days}


CALENDARS: dict[str, Callable[[], BusinessCalendar]] = {
    "9-17": lambda: BusinessCalendar(tz="UTC", weekly=week(("09:00", "17:00"))),
    "9-18 lunch": lambda: BusinessCalendar(
        tz="UTC", weekly=week(("09:00", "12:00"), ("13:00", "18:00"))
    ),
    "9-18 lunch CA": lambda: BusinessCalendar(
        tz="UTC", weekly=week(("09:00", "12:00"), ("13:00", "18:00")), holidays=[date(2015, 12, 25)]
    ),
    "santiago": lambda: BusinessCalendar(
        tz="America/Santiago", weekly=week(("09:00", "12:00"), ("13:00", "18:00"))
    ),
    "long lunch": lambda: BusinessCalendar(
        tz="UTC", weekly=week(("09:00", "12:00"), ("14:00", "17:00"))
    ),
    "night": lambda: BusinessCalendar(tz="UTC", weekly=week(("22:00", "06:00"))),
    "night, Fri off": lambda: BusinessCalendar(
        tz="UTC", weekly=week(("22:00", "06:00")), holidays=[date(2026, 3, 6)]
    ),
    "24h": lambda: BusinessCalendar(
        tz="UTC", weekly=week(("00:00", "24:00"), days=(*WEEKDAYS, "sat", "sun"))
    ),
    "overlap": lambda: BusinessCalendar(
        tz="UTC", weekly=week(("08:00", "16:00"), ("12:00", "20:00"))
    ),
    "odoo": lambda: BusinessCalendar(
        tz="UTC",
        weekly={
            **week(("09:00", "12:00"), ("13:00", "18:00"), days=("mon", "tue", "wed", "thu")),
            "fri": [("09:00", "13:00")],
        },
    ),
    "leave": lambda: BusinessCalendar(
        tz="UTC",
        weekly=week(("09:00", "18:00")),
        leaves=[(datetime(2026, 3, 4, 14, tzinfo=UTC), datetime(2026, 3, 4, 16, tzinfo=UTC))],
    ),
    "la sunday": lambda: BusinessCalendar(
        tz="America/Los_Angeles", weekly={"sun": [("02:30", "03:15")]}
    ),
    "la sunday night": lambda: BusinessCalendar(
        tz="America/Los_Angeles", weekly={"sun": [("00:00", "04:00")]}
    ),
    "la sunday 0230": lambda: BusinessCalendar(
        tz="America/Los_Angeles", weekly={"sun": [("02:30", "05:00")]}
    ),
    "la fallback": lambda: BusinessCalendar(
        tz="America/Los_Angeles", weekly={"sun": [("00:00", "03:00")]}
    ),
    "china 9-18": lambda: china_calendar(weekly=week(("09:00", "18:00"))),
    "china lunch": lambda: china_calendar(weekly=week(("09:00", "12:00"), ("13:30", "18:30"))),
}


def u(year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def cn(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=SHANGHAI)


def la(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=LA)


def H(hours: float) -> timedelta:  # noqa: N802 - reads like a unit in the table
    return timedelta(hours=hours)


BTD = "seppemans/businesstimedelta businesstimedelta/test/businesstimedelta_tests.py"
PD = "pandas-dev/pandas pandas/tests/tseries/offsets/test_business_hour.py, apply_cases"
ODOO = "odoo/odoo addons/resource tests; Odoo Helpdesk SLA deadline (research §1.3-1.4)"
BIZ = "zendesk/biz spec/calculation (research §1.4)"
CN25 = "国办发明电〔2024〕12号 (2025 holiday notice)"
CN26 = "State Council notice of 2025-11-04 (2026 holiday notice)"

# (id, source, calendar, operation, arguments, expected)
VECTORS: list[tuple[str, str, str, str, tuple[Any, ...], Any]] = [
    (
        "btd-01",
        f"{BTD} test_add_less_than_one_period",
        "9-17",
        "add",
        (u(2016, 1, 23, 13, 14), H(2)),
        u(2016, 1, 25, 11),
    ),
    (
        "btd-02",
        f"{BTD} test_add_exactly_one_period",
        "9-17",
        "add",
        (u(2016, 1, 22, 9), H(8)),
        u(2016, 1, 22, 17),
    ),
    (
        "btd-03",
        f"{BTD} test_add_more_than_one_period",
        "9-17",
        "add",
        (u(2016, 1, 23, 13, 14), H(12)),
        u(2016, 1, 26, 13),
    ),
    (
        "btd-04",
        f"{BTD} test_subtract_less_than_one_period",
        "9-17",
        "subtract",
        (u(2016, 1, 25, 11, 14), H(2)),
        u(2016, 1, 25, 9, 14),
    ),
    (
        "btd-05",
        f"{BTD} test_subtract_exactly_one_period",
        "9-17",
        "subtract",
        (u(2016, 1, 22, 18), H(8)),
        u(2016, 1, 22, 9),
    ),
    (
        "btd-06",
        f"{BTD} test_subtract_more_than_one_period",
        "9-17",
        "subtract",
        (u(2016, 1, 25, 11, 14), H(8)),
        u(2016, 1, 22, 11, 14),
    ),
    (
        "btd-07",
        f"{BTD} ReadmeTest.test_readme",
        "9-18 lunch",
        "between",
        (u(2016, 1, 18, 9), u(2016, 1, 25, 9)),
        H(40),
    ),
    (
        "btd-08",
        f"{BTD} ReadmeTest.test_readme",
        "9-18 lunch",
        "add",
        (u(2016, 1, 18, 9), H(40)),
        u(2016, 1, 22, 18),
    ),
    (
        "btd-09",
        f"{BTD} ReadmeTest.test_readme",
        "9-18 lunch",
        "subtract",
        (u(2016, 1, 25, 9), H(40)),
        u(2016, 1, 18, 9),
    ),
    (
        "btd-10",
        f"{BTD} ReadmeTest.test_readme (CA holidays: 2015-12-25)",
        "9-18 lunch CA",
        "between",
        (u(2015, 12, 21, 9), u(2015, 12, 28, 9)),
        H(32),
    ),
    (
        "btd-11",
        f"{BTD} ReadmeTest.test_readme_localized",
        "santiago",
        "between",
        (la(2016, 1, 18, 9), la(2016, 1, 18, 18)),
        H(4),
    ),
    ("pd-01", PD, "9-17", "add", (u(2014, 7, 1, 11), H(1)), u(2014, 7, 1, 12)),
    ("pd-02", PD, "9-17", "add", (u(2014, 7, 1, 13), H(1)), u(2014, 7, 1, 14)),
    ("pd-03", PD, "9-17", "add", (u(2014, 7, 1, 15), H(1)), u(2014, 7, 1, 16)),
    ("pd-04", PD, "9-17", "add", (u(2014, 7, 1, 19), H(1)), u(2014, 7, 2, 10)),
    (
        "pd-05",
        f"{PD} (pandas: 2014-07-02 09:00, the next opening)",
        "9-17",
        "add",
        (u(2014, 7, 1, 16), H(1)),
        u(2014, 7, 1, 17),
    ),
    ("pd-06", PD, "9-17", "add", (u(2014, 7, 1, 16, 30, 15), H(1)), u(2014, 7, 2, 9, 30, 15)),
    ("pd-07", PD, "9-17", "add", (u(2014, 7, 1, 17), H(1)), u(2014, 7, 2, 10)),
    ("pd-08", PD, "9-17", "add", (u(2014, 7, 2, 11), H(1)), u(2014, 7, 2, 12)),
    ("pd-09", PD, "9-17", "add", (u(2014, 7, 4, 15), H(1)), u(2014, 7, 4, 16)),
    (
        "pd-10",
        f"{PD} (pandas: 2014-07-07 09:00)",
        "9-17",
        "add",
        (u(2014, 7, 4, 16), H(1)),
        u(2014, 7, 4, 17),
    ),
    ("pd-11", PD, "9-17", "add", (u(2014, 7, 5, 15), H(1)), u(2014, 7, 7, 10)),
    ("pd-12", PD, "9-17", "add", (u(2014, 7, 4, 16, 30), H(1)), u(2014, 7, 7, 9, 30)),
    ("pd-13", f"{PD} BusinessHour(4)", "9-17", "add", (u(2014, 7, 1, 11), H(4)), u(2014, 7, 1, 15)),
    (
        "pd-14",
        f"{PD} BusinessHour(4) (pandas: 2014-07-02 09:00)",
        "9-17",
        "add",
        (u(2014, 7, 1, 13), H(4)),
        u(2014, 7, 1, 17),
    ),
    (
        "pd-15",
        f"{PD} BusinessHour(-1)",
        "9-17",
        "subtract",
        (u(2014, 7, 1, 11), H(1)),
        u(2014, 7, 1, 10),
    ),
    (
        "pd-16",
        f"{PD} BusinessHour(-1)",
        "9-17",
        "subtract",
        (u(2014, 7, 1, 10), H(1)),
        u(2014, 7, 1, 9),
    ),
    (
        "pd-17",
        f"{PD} BusinessHour(-1)",
        "9-17",
        "subtract",
        (u(2014, 7, 1, 19), H(1)),
        u(2014, 7, 1, 16),
    ),
    (
        "pd-18",
        f"{PD} BusinessHour(-1)",
        "9-17",
        "subtract",
        (u(2014, 7, 2, 9), H(1)),
        u(2014, 7, 1, 16),
    ),
    (
        "pd-19",
        f"{PD} BusinessHour(-1)",
        "9-17",
        "subtract",
        (u(2014, 7, 7, 9, 30), H(1)),
        u(2014, 7, 4, 16, 30),
    ),
    (
        "pd-20",
        f"{PD} BusinessHour(-1) at an opening (pandas #29901: previous close)",
        "9-17",
        "subtract",
        (u(2014, 7, 7, 10), H(1)),
        u(2014, 7, 7, 9),
    ),
    (
        "pd-21",
        "research §1.4 pd-11 (lunch 12:00-14:00; pandas: 14:00)",
        "long lunch",
        "add",
        (u(2014, 7, 1, 11), H(1)),
        u(2014, 7, 1, 12),
    ),
    (
        "pd-22",
        "research §1.4 pd-11, the other view",
        "long lunch",
        "next_open",
        (u(2014, 7, 1, 12),),
        u(2014, 7, 1, 14),
    ),
    (
        "pd-23",
        f"{PD} zero offset (pandas #49835: n=0 does not move an open time)",
        "9-17",
        "add",
        (u(2014, 7, 1, 11), H(0)),
        u(2014, 7, 1, 11),
    ),
    (
        "odoo-01",
        f"{ODOO}: 8 h from Thu 10:00, pure business time",
        "odoo",
        "add",
        (u(2026, 3, 5, 10), H(8)),
        u(2026, 3, 6, 10),
    ),
    (
        "odoo-02",
        f"{ODOO}: 8 h from Mon 12:30 (lunch), pure business time",
        "odoo",
        "add",
        (u(2026, 3, 2, 12, 30), H(8)),
        u(2026, 3, 3, 12),
    ),
    ("odoo-03", f"{ODOO}: week total", "odoo", "between", (u(2026, 3, 2), u(2026, 3, 9)), H(36)),
    (
        "odoo-05",
        f"{ODOO}: zero snaps forward to the next opening",
        "odoo",
        "add",
        (u(2026, 3, 6, 15), H(0)),
        u(2026, 3, 9, 9),
    ),
    (
        "odoo-14",
        f"{ODOO}: reversed range is zero",
        "odoo",
        "between",
        (u(2026, 3, 3, 17), u(2026, 3, 3, 10)),
        H(0),
    ),
    (
        "odoo-22",
        f"{ODOO}: overlapping attendances count once (biz double-counts: 32 h)",
        "overlap",
        "between",
        (u(2026, 3, 2), u(2026, 3, 4)),
        H(24),
    ),
    (
        "odoo-23",
        f"{ODOO}: get_work_hours_count with a leave",
        "leave",
        "between",
        (u(2026, 3, 4, 9), u(2026, 3, 4, 18)),
        H(7),
    ),
    (
        "odoo-24",
        f"{ODOO}: plan_hours with compute_leaves=True",
        "leave",
        "add",
        (u(2026, 3, 4, 9), H(6)),
        u(2026, 3, 4, 17),
    ),
    (
        "biz-03",
        f"{BIZ}: zero after a close moves to the next opening",
        "9-17",
        "add",
        (u(2026, 3, 6, 18), H(0)),
        u(2026, 3, 9, 9),
    ),
    (
        "biz-04",
        f"{BIZ}: zero before an opening moves back to the previous close",
        "9-17",
        "subtract",
        (u(2026, 3, 9, 8), H(0)),
        u(2026, 3, 6, 17),
    ),
    (
        "biz-11",
        f"{BIZ}: an interval inside the DST gap counts nothing",
        "la sunday",
        "between",
        (la(2006, 4, 2), la(2006, 4, 3)),
        H(0),
    ),
    (
        "dst-01",
        "research §1.4: spring forward, 00:00-04:00 local is 3 real hours",
        "la sunday night",
        "between",
        (la(2006, 4, 2), la(2006, 4, 3)),
        H(3),
    ),
    (
        "dst-02",
        "research §1.4: a start in the gap moves forward (02:30 → 03:30)",
        "la sunday 0230",
        "between",
        (la(2006, 4, 2), la(2006, 4, 3)),
        timedelta(hours=1, minutes=30),
    ),
    (
        "dst-03",
        "research §1.4: fall back, 00:00-03:00 local is 4 real hours",
        "la fallback",
        "between",
        (la(2006, 10, 29), la(2006, 10, 30)),
        H(4),
    ),
    (
        "dst-04",
        "research §1.4: add across the doubled hour",
        "la fallback",
        "add",
        (la(2006, 10, 29), H(4)),
        la(2006, 10, 29, 3),
    ),
    (
        "night-01",
        "research §4: businesstimedelta ignores a shift in progress (it gives Mon 20:00)",
        "night",
        "add",
        (u(2026, 3, 6, 23), H(1)),
        u(2026, 3, 7, 0),
    ),
    (
        "night-02",
        "research §1.3: overnight intervals split at midnight",
        "night",
        "between",
        (u(2026, 3, 6, 21), u(2026, 3, 7, 7)),
        H(8),
    ),
    (
        "night-03",
        "intervals belong to the day they start: Friday's shift is closed",
        "night, Fri off",
        "between",
        (u(2026, 3, 5, 21), u(2026, 3, 7, 7)),
        H(8),
    ),
    (
        "night-04",
        "next opening after the weekend",
        "night",
        "next_open",
        (u(2026, 3, 7, 6),),
        u(2026, 3, 9, 22),
    ),
    (
        "24h-01",
        "zendesk/biz README: 24:00 allowed",
        "24h",
        "add",
        (u(2026, 3, 2, 10), H(48)),
        u(2026, 3, 4, 10),
    ),
    (
        "24h-02",
        "zendesk/biz README: 24:00 allowed",
        "24h",
        "between",
        (u(2026, 3, 6, 12), u(2026, 3, 9, 12)),
        H(72),
    ),
    (
        "lunch-01",
        "lunch break skipped",
        "9-18 lunch",
        "add",
        (u(2026, 3, 2, 11), H(3)),
        u(2026, 3, 2, 15),
    ),
    (
        "lunch-02",
        "closing time at the lunch break",
        "9-18 lunch",
        "add",
        (u(2026, 3, 2, 11), H(1)),
        u(2026, 3, 2, 12),
    ),
    (
        "lunch-03",
        "inside the lunch break",
        "9-18 lunch",
        "is_open",
        (u(2026, 3, 2, 12, 30),),
        False,
    ),
    (
        "cn-01",
        f"{CN26}: 2026-09-30 17:00 + 4 working hours falls due on 10-08",
        "china 9-18",
        "add",
        (cn(2026, 9, 30, 17), H(4)),
        cn(2026, 10, 8, 12),
    ),
    (
        "cn-02",
        f"{CN26}: 09-20 (Sun) is a make-up working day",
        "china 9-18",
        "is_working_day",
        (date(2026, 9, 20),),
        True,
    ),
    (
        "cn-03",
        f"{CN25}: 10-11 (Sat) is a make-up working day",
        "china 9-18",
        "is_working_day",
        (date(2025, 10, 11),),
        True,
    ),
    (
        "cn-04",
        f"{CN26}: 02-23 (Mon) is off (Spring Festival)",
        "china 9-18",
        "is_working_day",
        (date(2026, 2, 23),),
        False,
    ),
    (
        "cn-05",
        f"{CN25}: 10-08 (Wed) is off (National Day)",
        "china 9-18",
        "is_working_day",
        (date(2025, 10, 8),),
        False,
    ),
    (
        "cn-06",
        f"{CN25}: 248 working days",
        "china 9-18",
        "working_days_between",
        (date(2024, 12, 31), date(2025, 12, 31)),
        248,
    ),
    (
        "cn-07",
        f"{CN26}: 248 working days",
        "china 9-18",
        "working_days_between",
        (date(2025, 12, 31), date(2026, 12, 31)),
        248,
    ),
    (
        "cn-08",
        f"{CN26}: 01-04 (Sun) make-up day",
        "china 9-18",
        "is_working_day",
        (date(2026, 1, 4),),
        True,
    ),
    (
        "cn-09",
        f"{CN26}: 02-14 and 02-28 (Sat) make-up days",
        "china 9-18",
        "working_days_between",
        (date(2026, 2, 13), date(2026, 2, 28)),
        6,
    ),
    (
        "cn-10",
        f"{CN26}: Labour Day 05-01..05-05, make-up 05-09",
        "china 9-18",
        "add_working_days",
        (date(2026, 4, 30), 1),
        date(2026, 5, 6),
    ),
    (
        "cn-11",
        f"{CN26}: make-up Saturday 05-09 counts",
        "china 9-18",
        "add_working_days",
        (date(2026, 5, 8), 1),
        date(2026, 5, 9),
    ),
    (
        "cn-12",
        f"{CN25}: Spring Festival 01-28..02-04, make-up 01-26 and 02-08",
        "china 9-18",
        "add_working_days",
        (date(2025, 1, 27), 1),
        date(2025, 2, 5),
    ),
    (
        "cn-13",
        f"{CN25}: back over Spring Festival",
        "china 9-18",
        "add_working_days",
        (date(2025, 2, 5), -2),
        date(2025, 1, 26),
    ),
    (
        "cn-14",
        f"{CN25}: Labour Day 05-01..05-05, make-up 04-27 (Sun)",
        "china 9-18",
        "is_working_day",
        (date(2025, 4, 27),),
        True,
    ),
    (
        "cn-15",
        f"{CN25}: Dragon Boat 05-31..06-02",
        "china 9-18",
        "is_working_day",
        (date(2025, 6, 2),),
        False,
    ),
    (
        "cn-16",
        f"{CN26}: Mid-Autumn 09-25 (Fri) off",
        "china 9-18",
        "is_working_day",
        (date(2026, 9, 25),),
        False,
    ),
    (
        "cn-17",
        f"{CN26}: National Day eve, 2 hours before 18:30 with lunch",
        "china lunch",
        "add",
        (cn(2026, 9, 30, 17), H(2)),
        cn(2026, 10, 8, 9, 30),
    ),
    (
        "cn-18",
        f"{CN26}: the make-up Saturday 10-10 is worked",
        "china lunch",
        "between",
        (cn(2026, 10, 10), cn(2026, 10, 11)),
        H(8),
    ),
    (
        "cn-19",
        "国办发明电〔2017〕12号: 2018-02-11 (Sun) make-up day (workalendar tests/test_asia.py)",
        "china 9-18",
        "is_working_day",
        (date(2018, 2, 11),),
        True,
    ),
    (
        "cn-20",
        "国办发明电〔2018〕15号 + 〔2019〕2号: 2019-05-05 (Sun) make-up day (holidays #3293)",
        "china 9-18",
        "is_working_day",
        (date(2019, 5, 5),),
        True,
    ),
    (
        "cn-21",
        "国办发明电〔2020〕1号: Spring Festival extended to 2020-02-02",
        "china 9-18",
        "is_working_day",
        (date(2020, 1, 31),),
        False,
    ),
    (
        "cn-22",
        "国办发明电〔2023〕7号: 2024-02-18 (Sun) make-up day",
        "china 9-18",
        "is_working_day",
        (date(2024, 2, 18),),
        True,
    ),
    (
        "wk-01",
        "workalendar tests: include_start counts the start day",
        "china 9-18",
        "working_days_between",
        (date(2026, 3, 2), date(2026, 3, 6)),
        4,
    ),
    (
        "wk-02",
        "workalendar tests: include_start counts the start day",
        "china 9-18",
        "working_days_between_inclusive",
        (date(2026, 3, 2), date(2026, 3, 6)),
        5,
    ),
]


@pytest.mark.parametrize(
    ("case", "source", "calendar", "operation", "arguments", "expected"),
    VECTORS,
    ids=[vector[0] for vector in VECTORS],
)
def test_vector(
    case: str, source: str, calendar: str, operation: str, arguments: tuple[Any, ...], expected: Any
) -> None:
    cal = CALENDARS[calendar]()
    if operation == "working_days_between_inclusive":
        result = cal.working_days_between(*arguments, include_start=True)
    else:
        result = getattr(cal, operation)(*arguments)
    assert result == expected, f"{case} ({source}): got {result!r}"
    if isinstance(result, datetime):
        assert result.tzinfo is arguments[0].tzinfo


def test_there_are_at_least_sixty_vectors_with_sources() -> None:
    assert len(VECTORS) >= 60
    assert all(source for _, source, *_ in VECTORS)
