"""When a refund shows up: typical times per payment method, on a working-day calendar.

Agents tell customers when the money arrives and that banks differ (the seeds ask for both).
`estimate_arrival` turns a refund's success time into a range of local dates, from a dated,
sourced preset of typical times per method.

Examples:
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> at = datetime(2026, 3, 6, 16, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # a Friday
    >>> estimate = estimate_arrival("card", at, zone="Asia/Shanghai")
    >>> estimate.earliest, estimate.latest
    (datetime.date(2026, 3, 13), datetime.date(2026, 3, 20))
    >>> estimate_arrival("alipay", at, zone="Asia/Shanghai").latest
    datetime.date(2026, 3, 9)
"""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from typing import ClassVar, Self

from pydantic import ConfigDict, Field, model_validator

from csdesk._checks import checked
from csdesk._model import ConfigModel, require_aware
from csdesk._zones import get_zone
from csdesk.calendars import WeekdayCalendar, WorkingDayCalendar, provisional
from csdesk.decision import Decided, Policy, load_policy, step
from csdesk.errors import InvalidInputError

__all__ = ["ArrivalEstimate", "ArrivalPreset", "MethodTiming", "arrival_preset", "estimate_arrival"]


class MethodTiming(ConfigModel):
    """How many working days a method takes, with where the numbers come from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_working_days: int = Field(ge=0)
    max_working_days: int = Field(ge=0)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.max_working_days < self.min_working_days:
            raise ValueError("max_working_days is less than min_working_days")
        return self


class ArrivalPreset(Policy):
    """Typical arrival times per payment method (keys are `PaymentMethod` values or variants)."""

    note: str = Field(min_length=1)
    methods: dict[str, MethodTiming]


@checked
@cache
def arrival_preset(name: str = "typical") -> ArrivalPreset:
    """A built-in arrival preset by name (``typical``)."""
    return load_policy(ArrivalPreset, name, kind="arrival")


class ArrivalEstimate(Decided):
    """When the money should show up, as local dates, with the caveat to tell the customer.

    Attributes:
        method: The payment method (or variant) the estimate is for.
        earliest: The first local day the money may show.
        latest: The last local day it should (the answer).
        note: The caveat to pass on (banks may take longer).
        source: Where the method's typical times come from.
        provisional: A day was counted on estimated holidays (a provisional calendar).
    """

    answer_field: ClassVar[str] = "latest"

    method: str
    earliest: date
    latest: date
    note: str
    source: str
    provisional: bool = False


def _add(calendar: WorkingDayCalendar, day: date, count: int) -> date:
    return calendar.add_working_days(day, count) if count else day


@checked
def estimate_arrival(
    method: str,
    succeeded_at: datetime,
    calendar: WorkingDayCalendar | None = None,
    *,
    zone: str,
    preset: ArrivalPreset | None = None,
) -> ArrivalEstimate:
    """The date range in which a refund that succeeded at ``succeeded_at`` reaches the customer.

    Args:
        method: A payment method (``alipay``, ``wechat_pay``, ``card``, ``store_credit``, …) or a
            variant from the preset (``alipay_bank_card``, ``card_credit``).
        succeeded_at: When the provider accepted the refund; timezone-aware.
        calendar: Working days (default Monday to Friday; pass the shop's business calendar for
            holidays and make-up days).
        zone: The customer's IANA time zone, in which the dates are given (no default: a
            refund to a customer in Urumqi or Berlin is not counted in Shanghai's days).
        preset: Typical times (default: the built-in ``typical``).

    Raises:
        InvalidInputError: the preset has no timing for ``method``.
        NaiveDatetimeError: ``succeeded_at`` has no time zone.
    """
    require_aware(succeeded_at, "succeeded_at")
    chosen = preset or arrival_preset()
    timing = chosen.methods.get(str(method))
    if timing is None:
        known = ", ".join(sorted(chosen.methods))
        raise InvalidInputError(f"no arrival time for method {method!r}; known: {known}")
    days = calendar or WeekdayCalendar()
    start = succeeded_at.astimezone(get_zone(zone)).date()
    earliest = _add(days, start, timing.min_working_days)
    latest = _add(days, start, timing.max_working_days)
    trace = [
        step(
            "arrival",
            "arrival.timing",
            method=str(method),
            start=start,
            low=timing.min_working_days,
            high=timing.max_working_days,
        )
    ]
    estimated = provisional(days, start, latest)
    if estimated:
        trace.append(step("arrival", "arrival.provisional"))
    return ArrivalEstimate.made(
        method=str(method),
        earliest=earliest,
        latest=latest,
        note=chosen.note,
        source=timing.source,
        provisional=estimated,
        policy=chosen.ref,
        trace=trace,
        decided_at=succeeded_at,
        inputs=(str(method), succeeded_at, zone),
    )
