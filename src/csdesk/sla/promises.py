"""Under-promise, over-deliver (降低承诺，提高交付): turn an internal estimate into a promise.

The seeds tell agents to quote the customer 1.5 to 2 times the expected time. `promise` stretches
the estimate by that factor on the shop's business calendar and rounds the result up to a time a
person would say: the next half hour when it is due within the next few working hours, otherwise
the close of business on the day it falls on.

Examples:
    >>> from datetime import datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> from csdesk.sla import BusinessCalendar
    >>> office = {d: [("09:00", "12:00"), ("13:30", "18:30")] for d in ("mon", "tue", "wed", "thu", "fri")}
    >>> cal = BusinessCalendar(tz="Asia/Shanghai", weekly=office)
    >>> now = datetime(2026, 3, 2, 10, 10, tzinfo=ZoneInfo("Asia/Shanghai"))
    >>> promise(now, timedelta(hours=1), calendar=cal).say_at.time()
    datetime.time(12, 0)
    >>> promise(now, timedelta(hours=6), calendar=cal, factor="2").say_at
    datetime.datetime(2026, 3, 3, 18, 30, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))
"""  # noqa: E501

from __future__ import annotations

import hashlib
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import ClassVar, Literal

from pydantic import AwareDatetime

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.calendars.business import BusinessCalendar
from csdesk.decision import Decided, PolicyRef, step
from csdesk.errors import InvalidInputError

__all__ = ["RULE", "Promise", "promise"]

_SAME_DAY = timedelta(hours=4)


RULE = PolicyRef(
    id="under_promise",
    version="1",
    hash=hashlib.sha256(b"under_promise:1:stretch 1-3 (default 1.5), round up").hexdigest(),
    source="seeds: 降低承诺，提高交付: quote the customer 1.5 to 2 times the expected time",
)
"""The rule every `Promise` is made under (it has no policy file: the factor is an argument)."""


class Promise(Decided):
    """What to tell the customer, and how it was reached, in the decision envelope.

    ``policy`` is `RULE`; ``decided_at`` is the start.

    Attributes:
        expected_at: When the work is expected done (the estimate on the calendar).
        stretched_at: The estimate × factor on the calendar.
        say_at: ``stretched_at`` rounded up to what a person would say.
        rounding: ``half_hour`` or ``close_of_business``.
        factor: The stretch applied.
        provisional: Counted on estimated holidays (a provisional calendar); it may move.
    """

    answer_field: ClassVar[str] = "say_at"

    expected_at: AwareDatetime
    stretched_at: AwareDatetime
    say_at: AwareDatetime
    rounding: Literal["half_hour", "close_of_business"]
    factor: Decimal
    provisional: bool = False


def _factor(value: Decimal | int | str) -> Decimal:
    if isinstance(value, float | bool):
        raise InvalidInputError(f"factor {value!r}: pass a Decimal, an int or a string like '1.5'")
    try:
        factor = Decimal(value)
    except (InvalidOperation, TypeError):
        raise InvalidInputError(f"factor {value!r} is not a number") from None
    if not Decimal(1) <= factor <= Decimal(3):
        raise InvalidInputError(f"factor {factor} is outside 1-3 (the seeds say 1.5-2)")
    return factor


def _close_of_business(calendar: BusinessCalendar, moment: datetime) -> datetime:
    local = moment.astimezone(calendar.zone)
    end_of_day = datetime.combine(local.date() + timedelta(days=1), time(0), tzinfo=calendar.zone)
    # The last closing time of that local day: step back from midnight to the last business instant.
    closing = calendar.subtract(end_of_day, timedelta(0))
    return max(closing, moment).astimezone(moment.tzinfo)


@checked
def promise(
    start: datetime,
    estimate: timedelta,
    *,
    calendar: BusinessCalendar,
    factor: Decimal | int | str = "1.5",
) -> Promise:
    """Stretch ``estimate`` (business time from ``start``) by ``factor`` and round it up.

    Raises:
        InvalidInputError: a factor outside 1-3, a float factor, or a negative estimate.
        NaiveDatetimeError: ``start`` has no time zone.
    """
    require_aware(start, "start")
    if estimate < timedelta(0):
        raise InvalidInputError(f"estimate {estimate} is negative")
    stretch = _factor(factor)
    expected = calendar.add(start, estimate)
    micros = Decimal(estimate // timedelta(microseconds=1)) * stretch
    stretched = calendar.add(start, timedelta(microseconds=int(micros.to_integral_value())))
    rounding: Literal["half_hour", "close_of_business"]
    if calendar.between(start, stretched) <= _SAME_DAY:
        local = stretched.astimezone(calendar.zone)
        floor = local.replace(minute=0 if local.minute < 30 else 30, second=0, microsecond=0)
        say_at = (floor if floor == local else floor + timedelta(minutes=30)).astimezone(
            start.tzinfo
        )
        rounding = "half_hour"
    else:
        say_at = _close_of_business(calendar, stretched)
        rounding = "close_of_business"
    estimated = calendar.is_provisional(start.date(), say_at.date())
    trace = [
        step("estimate", "promise.expected", estimate=estimate, expected=expected),
        step("stretch", "promise.stretched", factor=stretch, stretched=stretched),
        step("rounding", f"promise.{rounding}", say=say_at),
    ]
    if estimated:
        trace.append(step("rounding", "promise.provisional"))
    return Promise.made(
        expected_at=expected,
        stretched_at=stretched,
        say_at=say_at,
        rounding=rounding,
        factor=stretch,
        provisional=estimated,
        policy=RULE,
        trace=trace,
        decided_at=start,
        inputs=(start, estimate, stretch, expected, stretched),
    )
