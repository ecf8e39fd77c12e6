from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from csdesk import InvalidInputError, NaiveDatetimeError
from csdesk.calendars import WeekdayCalendar
from csdesk.policies import arrival_preset, estimate_arrival

SHANGHAI = ZoneInfo("Asia/Shanghai")
FRIDAY_EVENING = datetime(2026, 9, 25, 20, 0, tzinfo=SHANGHAI)


def test_every_method_has_a_source() -> None:
    preset = arrival_preset()
    assert preset.as_of == date(2026, 8, 21)
    assert {"alipay", "wechat_pay", "card", "card_debit", "card_credit", "store_credit"} <= set(
        preset.methods
    )
    assert all(timing.source for timing in preset.methods.values())
    assert "banks" in preset.note.lower()


def test_wallet_card_and_store_credit() -> None:
    assert estimate_arrival("store_credit", FRIDAY_EVENING, zone="Asia/Shanghai").latest == date(
        2026, 9, 25
    )
    wallet = estimate_arrival("wechat_pay", FRIDAY_EVENING, zone="Asia/Shanghai")
    assert (wallet.earliest, wallet.latest) == (date(2026, 9, 25), date(2026, 9, 28))
    card = estimate_arrival("card", FRIDAY_EVENING, zone="Asia/Shanghai")
    assert (card.earliest, card.latest) == (date(2026, 10, 2), date(2026, 10, 9))


def test_a_holiday_calendar_pushes_the_dates() -> None:
    golden_week = WeekdayCalendar(holidays=[date(2026, 10, day) for day in range(1, 8)])
    card = estimate_arrival("card", FRIDAY_EVENING, golden_week, zone="Asia/Shanghai")
    assert card.latest == date(2026, 10, 16)


def test_dates_are_in_the_customers_zone() -> None:
    utc_late = datetime(2026, 9, 25, 20, 0, tzinfo=ZoneInfo("UTC"))  # Saturday 04:00 in Shanghai
    assert estimate_arrival("alipay", utc_late, zone="Asia/Shanghai").earliest == date(2026, 9, 26)
    assert estimate_arrival("alipay", utc_late, zone="UTC").earliest == date(2026, 9, 25)


def test_unknown_method_and_naive_time() -> None:
    with pytest.raises(InvalidInputError, match="known"):
        estimate_arrival("cheque", FRIDAY_EVENING, zone="Asia/Shanghai")
    with pytest.raises(NaiveDatetimeError):
        estimate_arrival("card", datetime(2026, 9, 25), zone="Asia/Shanghai")
