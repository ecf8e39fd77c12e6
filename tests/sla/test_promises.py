from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from csdesk import InvalidInputError
from csdesk.sla import BusinessCalendar, china_calendar, promise

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = {d: [("09:00", "12:00"), ("13:30", "18:30")] for d in ("mon", "tue", "wed", "thu", "fri")}
CAL = BusinessCalendar(tz="Asia/Shanghai", weekly=OFFICE)
MONDAY = datetime(2026, 3, 2, 10, 10, tzinfo=SHANGHAI)


def test_short_estimates_round_up_to_the_half_hour() -> None:
    said = promise(MONDAY, timedelta(minutes=40), calendar=CAL)
    assert said.expected_at == datetime(2026, 3, 2, 10, 50, tzinfo=SHANGHAI)
    assert said.stretched_at == datetime(2026, 3, 2, 11, 10, tzinfo=SHANGHAI)
    assert said.say_at == datetime(2026, 3, 2, 11, 30, tzinfo=SHANGHAI)
    assert said.rounding == "half_hour"
    assert said.factor == Decimal("1.5")


def test_on_the_half_hour_stays() -> None:
    start = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
    assert promise(start, timedelta(hours=1), calendar=CAL).say_at.time().isoformat() == "10:30:00"


def test_long_estimates_promise_close_of_business() -> None:
    said = promise(MONDAY, timedelta(hours=8), calendar=CAL, factor=2)
    assert said.rounding == "close_of_business"
    assert said.say_at == datetime(2026, 3, 4, 18, 30, tzinfo=SHANGHAI)
    assert said.say_at >= said.stretched_at >= said.expected_at


def test_the_china_calendar_skips_national_day() -> None:
    cal = china_calendar(weekly=OFFICE)
    eve = datetime(2026, 9, 30, 16, 0, tzinfo=SHANGHAI)
    said = promise(eve, timedelta(hours=4), calendar=cal)
    assert said.say_at.date().isoformat() == "2026-10-08"


@pytest.mark.parametrize("factor", [1.5, "0.5", "4", "x", True])
def test_bad_factors(factor: object) -> None:
    with pytest.raises(InvalidInputError):
        promise(MONDAY, timedelta(hours=1), calendar=CAL, factor=factor)  # type: ignore[arg-type]


def test_negative_estimate() -> None:
    with pytest.raises(InvalidInputError):
        promise(MONDAY, timedelta(hours=-1), calendar=CAL)
