"""Timer presets: how long each step of an order or an after-sale case may take, as data.

Presets (`timer_preset`): ``generic``, ``cn_platform``, ``eu_crd`` and ``uk_ccr``, each timer with
its own ``source``. `csdesk.workflows.timers` turns them into absolute deadlines.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cache
from typing import Literal, Self
from zoneinfo import ZoneInfo

from pydantic import ConfigDict, Field, model_validator

from csdesk._checks import checked
from csdesk._model import ConfigModel
from csdesk.calendars import WorkingDayCalendar
from csdesk.decision import Policy, load_policy

__all__ = ["TimerPreset", "TimerSpec", "timer_preset"]


class TimerSpec(ConfigModel):
    """One timer: how long, and what happens at expiry.

    Attributes:
        minutes, hours, days: Calendar time, added up.
        working_days: Working days instead, counted on the shop's calendar; the deadline is at
            the same local time of day.
        on_expiry: The event the scheduler fires when the deadline passes (``"expire"``,
            ``"auto_confirm"``, ``"auto_approve"``, ``"escalate"``, ``"cancel"``,
            ``"auto_receive"``), or ``"notify"`` (tell a person, no transition), or
            ``"mark_overdue"`` (a statutory right does not lapse: flag it, move nothing).
        source: Where the number comes from.
        starts: What starts an after-sale timer, where the law says so: ``requested`` (the
            withdrawal notice: EU/UK ship-back and EU refund), ``approved``, ``return_shipped``,
            ``received`` (CN refund: receipt of the returned goods), or ``received_or_proof``
            (whichever came first). Default: the step before it in the workflow.
        end_of_day: ``days`` end at the end of the N-th day (00:00 after it) in the preset's
            zone, counted from the day after the start, as statutes count days; without it the
            deadline is the start plus N × 24 hours.
        withhold_until: The deadline is never before this event (EU art. 13(3): the trader may
            withhold the refund until it has the goods or proof of sending).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    minutes: int = Field(default=0, ge=0)
    hours: int = Field(default=0, ge=0)
    days: int = Field(default=0, ge=0)
    working_days: int = Field(default=0, ge=0)
    on_expiry: str = Field(min_length=1)
    source: str = Field(min_length=1)
    starts: (
        Literal["requested", "approved", "return_shipped", "received", "received_or_proof"] | None
    ) = None
    end_of_day: bool = False
    withhold_until: Literal["received", "received_or_proof"] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        calendar_time = self.minutes or self.hours or self.days
        if bool(calendar_time) == bool(self.working_days):
            raise ValueError("give either working_days or minutes/hours/days, and not zero")
        if self.end_of_day and (not self.days or self.minutes or self.hours):
            raise ValueError("end_of_day counts whole days: give days only")
        return self

    def due(self, start: datetime, *, zone: ZoneInfo, calendar: WorkingDayCalendar) -> datetime:
        """The deadline for a timer started at ``start``."""
        if self.end_of_day:
            last_day = start.astimezone(zone).date() + timedelta(days=self.days)
            return datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone)
        if self.working_days:
            local = start.astimezone(zone)
            day = calendar.add_working_days(local.date(), self.working_days)
            return datetime.combine(day, time(local.hour, local.minute, local.second), tzinfo=zone)
        return start + timedelta(days=self.days, hours=self.hours, minutes=self.minutes)


class TimerPreset(Policy):
    """The timers of one market or platform, as data (section 8.7 of the research).

    ``respond_by_return`` overrides ``respond_by`` for cases that send goods back (a platform
    gives the seller longer to answer a return than a refund-only request), and
    ``respond_by_unshipped`` for refund-only requests filed before the order shipped (a platform
    answers those sooner). ``pay_difference_by`` gives the customer of an exchange whose new
    goods cost more that long to pay the difference (from the request). A timer left out does
    not run.
    """

    time_zone: str = "UTC"
    pay_by: TimerSpec | None = None
    ship_by: TimerSpec | None = None
    auto_confirm: TimerSpec | None = None
    after_sale: TimerSpec | None = None
    respond_by: TimerSpec | None = None
    respond_by_return: TimerSpec | None = None
    respond_by_unshipped: TimerSpec | None = None
    revise_by: TimerSpec | None = None
    ship_back_by: TimerSpec | None = None
    receive_by: TimerSpec | None = None
    refund_by: TimerSpec | None = None
    pay_difference_by: TimerSpec | None = None


@checked
@cache
def timer_preset(name: str) -> TimerPreset:
    """A built-in timer preset by name.

    Raises:
        UnknownPresetError: no preset has that name.
    """
    return load_policy(TimerPreset, name, kind="timers")
