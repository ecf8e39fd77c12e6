"""Hypothesis: add and between are inverses, add is monotonic, and both agree with brute force."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csdesk import InvalidInputError, NaiveDatetimeError
from csdesk.sla import WEEKDAYS, BusinessCalendar

ZONES = ["UTC", "Asia/Shanghai", "America/Los_Angeles", "Europe/London"]
BASE = date(2026, 3, 1)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    weekly: dict[str, list[tuple[str, str]]] = {}
    for day in WEEKDAYS:
        intervals = []
        for _ in range(draw(st.integers(0, 2))):
            start = draw(st.integers(0, 23 * 4)) * 15
            length = draw(st.integers(1, 12 * 4)) * 15
            end = (start + length) % (24 * 60)
            intervals.append(
                (f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}")
            )
        weekly[day] = intervals
    if not any(weekly.values()):
        weekly["mon"] = [("09:00", "17:00")]
    holidays = draw(
        st.lists(st.integers(0, 40).map(lambda n: BASE + timedelta(days=n)), max_size=4)
    )
    makeup = draw(
        st.dictionaries(
            st.integers(0, 40).map(lambda n: BASE + timedelta(days=n)),
            st.sampled_from(WEEKDAYS),
            max_size=2,
        )
    )
    makeup = {day: weekday for day, weekday in makeup.items() if day not in holidays}
    zone = draw(st.sampled_from(ZONES))
    tz = ZoneInfo(zone)
    leaves: list[tuple[datetime, datetime]] = []
    for _ in range(draw(st.integers(0, 2))):
        begin = datetime(2026, 3, 1, tzinfo=tz) + timedelta(
            minutes=15 * draw(st.integers(0, 40 * 96))
        )
        leaves.append((begin, begin + timedelta(minutes=15 * draw(st.integers(1, 64)))))
    return BusinessCalendar(
        tz=zone, weekly=weekly, holidays=holidays, makeup_workdays=makeup, leaves=leaves
    )


instants = st.integers(0, 30 * 96).map(
    lambda quarter: datetime(2026, 3, 2, tzinfo=ZoneInfo("UTC")) + timedelta(minutes=15 * quarter)
)
durations = st.integers(0, 60 * 4).map(lambda quarter: timedelta(minutes=15 * quarter))


@settings(max_examples=150, deadline=None)
@given(cal=calendars(), start=instants, duration=durations)
def test_between_inverts_add(cal: BusinessCalendar, start: datetime, duration: timedelta) -> None:
    end = cal.add(start, duration)
    assert end >= start
    assert cal.between(start, end) == duration
    back = cal.subtract(end, duration)
    assert cal.between(back, end) == duration


@settings(max_examples=100, deadline=None)
@given(cal=calendars(), start=instants, a=durations, b=durations)
def test_add_is_monotonic(
    cal: BusinessCalendar, start: datetime, a: timedelta, b: timedelta
) -> None:
    small, large = sorted((a, b))
    assert cal.add(start, small) <= cal.add(start, large)


def brute_between(cal: BusinessCalendar, start: datetime, end: datetime) -> timedelta:
    """Minute by minute, in real (UTC) time: count the minutes whose start is open."""
    minutes = 0
    moment = start.astimezone(ZoneInfo("UTC"))  # aware local + timedelta is wall-clock time
    while moment < end:
        minutes += cal.is_open(moment)
        moment += timedelta(minutes=1)
    return timedelta(minutes=minutes)


@settings(max_examples=40, deadline=None)
@given(cal=calendars(), start=instants, hours=st.integers(0, 60))
def test_between_agrees_with_brute_force(
    cal: BusinessCalendar, start: datetime, hours: int
) -> None:
    end = start + timedelta(hours=hours)
    assert cal.between(start, end) == brute_between(cal, start, end)


def test_brute_force_on_dst_days() -> None:
    la = ZoneInfo("America/Los_Angeles")
    cal = BusinessCalendar(
        tz="America/Los_Angeles", weekly={"sun": [("00:30", "04:15"), ("22:00", "02:30")]}
    )
    for day in (datetime(2026, 3, 7, tzinfo=la), datetime(2026, 10, 31, tzinfo=la)):
        assert cal.between(day, day + timedelta(days=3)) == brute_between(
            cal, day, day + timedelta(days=3)
        )


def test_bad_input() -> None:
    with pytest.raises(InvalidInputError, match="IANA"):
        BusinessCalendar(tz="Mars/Base", weekly={})
    with pytest.raises(InvalidInputError, match="mon"):
        BusinessCalendar(tz="UTC", weekly={"monday": [("09:00", "17:00")]})
    with pytest.raises(InvalidInputError, match="HH:MM"):
        BusinessCalendar(tz="UTC", weekly={"mon": [("9am", "17:00")]})
    with pytest.raises(InvalidInputError, match="24:00"):
        BusinessCalendar(tz="UTC", weekly={"mon": [("09:00", "24:30")]})
    cal = BusinessCalendar(tz="UTC", weekly={"mon": [("09:00", "17:00")]})
    with pytest.raises(NaiveDatetimeError):
        cal.add(datetime(2026, 3, 2, 9), timedelta(hours=1))


def test_a_calendar_with_no_hours_says_so() -> None:
    from csdesk import CalendarError

    cal = BusinessCalendar(tz="UTC", weekly={})
    with pytest.raises(CalendarError, match="no open time"):
        cal.add(datetime(2026, 3, 2, tzinfo=ZoneInfo("UTC")), timedelta(hours=1))


def test_far_spans_extend_the_index() -> None:
    cal = BusinessCalendar(
        tz="Asia/Shanghai", weekly={d: [("09:00", "18:00")] for d in WEEKDAYS[:5]}
    )
    start = datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("Asia/Shanghai"))
    later = cal.add(start, timedelta(hours=9 * 5 * 52 * 3))  # three years of weeks
    assert cal.between(start, later) == timedelta(hours=9 * 5 * 52 * 3)
    assert cal.subtract(later, timedelta(hours=9 * 5 * 52 * 3)) == start
    earlier = cal.subtract(start, timedelta(hours=9 * 5 * 52 * 2))
    assert cal.between(earlier, start) == timedelta(hours=9 * 5 * 52 * 2)
