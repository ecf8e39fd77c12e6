"""Leaves (partial closures) inside leaves: a closure inside a closure never re-opens hours.

Issue 17: a Monday-Friday closure plus a one-hour Tuesday outage counted 27 business hours that
week instead of 0: the outage hid the week's closure from the days after it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from csdesk.calendars import BusinessCalendar

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = {day: [("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}


def at(day: int, hour: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=SHANGHAI)  # 2026-03-09 is a Monday


def test_an_outage_inside_a_weeks_closure_keeps_the_week_closed() -> None:
    week = (at(9), at(14))
    outage = (at(10, 10), at(10, 11))
    calendar = BusinessCalendar(tz="Asia/Shanghai", weekly=OFFICE, leaves=[week, outage])
    assert calendar.between(at(9), at(16)) == timedelta(0)
    assert calendar.between(at(9), at(17)) == timedelta(hours=9)  # Monday 16th only
    alone = BusinessCalendar(tz="Asia/Shanghai", weekly=OFFICE, leaves=[outage])
    assert alone.between(at(9), at(14)) == timedelta(hours=44)


SPANS = st.tuples(st.integers(0, 6 * 24), st.integers(1, 72)).map(
    lambda s: (at(9) + timedelta(hours=s[0]), at(9) + timedelta(hours=s[0] + s[1]))
)


@settings(max_examples=200, deadline=None)
@given(leaves=st.lists(SPANS, max_size=5), more=SPANS)
def test_another_leave_never_adds_business_hours(
    leaves: list[tuple[datetime, datetime]], more: tuple[datetime, datetime]
) -> None:
    before = BusinessCalendar(tz="Asia/Shanghai", weekly=OFFICE, leaves=leaves)
    after = BusinessCalendar(tz="Asia/Shanghai", weekly=OFFICE, leaves=[*leaves, more])
    assert after.between(at(9), at(20)) <= before.between(at(9), at(20))
