"""The China calendar drives the working-day timers and the CN return-window roll-over."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

from csdesk.policies import WorkingDayCalendar, return_policy, timer_preset
from csdesk.policies.returns import window_end
from csdesk.sla import china_calendar
from csdesk.workflows import deadlines
from tests.factories import paid_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
CHINA = china_calendar(
    weekly={d: [("09:00", "18:00")] for d in ("mon", "tue", "wed", "thu", "fri")}
)


def test_it_is_a_working_day_calendar() -> None:
    assert isinstance(CHINA, WorkingDayCalendar)


def test_ship_by_counts_china_working_days() -> None:
    order = paid_order()
    order.paid_at = datetime(2026, 9, 30, 10, 0, tzinfo=SHANGHAI)
    preset = timer_preset("generic").model_copy(update={"time_zone": "Asia/Shanghai"})
    (ship_by,) = [d for d in deadlines(order, preset, CHINA) if d.kind == "ship_by"]
    # 2 working days after 09-30: 10-08 (Thu) and 10-09 (Fri)
    assert ship_by.due_at == datetime(2026, 10, 9, 10, 0, tzinfo=SHANGHAI)


def test_cn_return_window_rolls_off_the_holiday() -> None:
    # Signed 2026-09-24: the 7th day is 10-01, a statutory holiday; the window runs to 10-08.
    signed = datetime(2026, 9, 24, 12, 0, tzinfo=SHANGHAI)
    end = window_end(signed, return_policy("cn_consumer_law"), zone=SHANGHAI)
    assert end.date() == date(2026, 10, 9)
