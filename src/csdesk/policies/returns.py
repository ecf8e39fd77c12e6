"""Return windows: whether a line can still be returned, until when, and on what legal basis.

`return_window` is pure: the order's facts, the line, a `ReturnPolicy` and ``now`` in; a
`ReturnWindow` out, with its status, its end, the statutory basis, any exclusion and the steps that
led there. Built-in presets (`return_policy`): ``cn_consumer_law``, ``cn_platform``, ``eu_crd``,
``uk_ccr`` and ``generic``, each with ``source`` and ``as_of``.

Every window is counted in whole local days in the shop's time zone: the period starts at 00:00 on
the day after the anchor (sign-off, possession or delivery) and ends at 00:00 after its last day.
That is the CN Interim Measures' rule (art. 13) and the EU's (Regulation 1182/71 on periods).

Examples:
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> shanghai = ZoneInfo("Asia/Shanghai")
    >>> policy = return_policy("cn_consumer_law")
    >>> window_end(datetime(2026, 3, 1, 15, 0, tzinfo=shanghai), policy, zone=shanghai)
    datetime.datetime(2026, 3, 9, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.calendars import WeekdayCalendar, WorkingDayCalendar, provisional
from csdesk.decision import Decided, Policy, load_policy, step
from csdesk.errors import InvalidInputError
from csdesk.models import Order, OrderLine, StatutoryBasis

__all__ = [
    "ReturnPolicy",
    "ReturnWindow",
    "StatutoryBasis",
    "WeekdayCalendar",
    "WindowStatus",
    "WorkingDayCalendar",
    "return_policy",
    "return_window",
    "window_end",
]


class WindowStatus(StrEnum):
    """Where a line stands against its return window."""

    NOT_STARTED = "not_started"
    OPEN = "open"
    CLOSED = "closed"
    EXCLUDED = "excluded"


class ReturnPolicy(Policy):
    """A return window as data.

    Attributes:
        basis: The statutory basis a return under this policy has (``none`` for a shop's own).
        anchor: What starts the period: ``sign_off`` (CN), ``possession`` of the last item
            (EU, UK) or ``delivery``.
        days: The period's length in whole days, counted from the day after the anchor.
        not_informed_extension_months: Extra months when the customer was not told of the right
            (EU art. 10, UK reg. 31: 12).
        informed_late_days: When the information comes late, the period ends this many days after
            it was received (EU art. 10(2), UK reg. 31: 14), if that is earlier.
        roll_over_non_working_last_day: A last day that is not a working day moves to the next
            working day (CN courts apply the Civil Code rule; needs a calendar).
        excluded_categories: Goods categories never returnable without reason, with the rule
            that says so.
        confirmed_exclusions: Whether goods the customer confirmed as non-returnable at purchase
            are excluded (CN Interim Measures art. 7 and 10).
        time_zone: The zone days are counted in when the caller does not give one.
    """

    basis: StatutoryBasis
    anchor: Literal["sign_off", "possession", "delivery"]
    days: int = Field(gt=0, le=3650)
    not_informed_extension_months: int = Field(default=0, ge=0, le=24)
    informed_late_days: int | None = Field(default=None, gt=0)
    roll_over_non_working_last_day: bool = False
    excluded_categories: dict[str, str] = Field(default_factory=dict)
    confirmed_exclusions: bool = False
    time_zone: str | None = None


class ReturnWindow(Decided):
    """The answer of `return_window`, in the decision envelope (`csdesk.decision.Decided`).

    Attributes:
        status: ``open``, ``closed``, ``not_started`` (goods not yet received) or ``excluded``.
        starts_at: 00:00 local on the day after the anchor, when known.
        ends_at: The first instant outside the window (00:00 after the last day), when known.
        last_day: The window's last local day, for messages ("closed on 2026-03-08").
        exclusion: Why the line is excluded, with the rule, when it is.
        provisional: The window's days were counted on estimated holidays (a provisional
            calendar); the last day may move when the official notice is published.
    """

    answer_field: ClassVar[str] = "status"

    status: WindowStatus
    basis: StatutoryBasis
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    last_day: date | None = None
    exclusion: str | None = None
    provisional: bool = False

    @property
    def is_open(self) -> bool:
        """Whether a return may be requested now."""
        return self.status is WindowStatus.OPEN


@checked
@cache
def return_policy(name: str) -> ReturnPolicy:
    """A built-in return policy preset by name.

    Raises:
        UnknownPresetError: no preset has that name.
    """
    return load_policy(ReturnPolicy, name, kind="returns")


def _add_months(day: date, months: int) -> date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    for candidate in (day.day, 30, 29, 28):
        try:
            return date(year, month, min(day.day, candidate))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has a 28th")  # pragma: no cover


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


@checked
def window_end(
    anchor: datetime,
    policy: ReturnPolicy,
    *,
    zone: ZoneInfo,
    informed: bool = True,
    informed_at: datetime | None = None,
    calendar: WorkingDayCalendar | None = None,
) -> datetime:
    """The first instant after the window that ``anchor`` (sign-off, possession…) opens."""
    require_aware(anchor, "anchor")
    first_day = anchor.astimezone(zone).date() + timedelta(days=1)
    last_day = first_day + timedelta(days=policy.days - 1)
    if policy.roll_over_non_working_last_day and calendar is not None:
        while not calendar.is_working_day(last_day):
            last_day += timedelta(days=1)
    end = _midnight(last_day + timedelta(days=1), zone)
    if not informed and policy.not_informed_extension_months:
        extended = _midnight(
            _add_months(last_day, policy.not_informed_extension_months) + timedelta(days=1), zone
        )
        if informed_at is not None and policy.informed_late_days:
            require_aware(informed_at, "informed_at")
            told = informed_at.astimezone(zone).date()
            extended = min(
                extended, _midnight(told + timedelta(days=policy.informed_late_days + 1), zone)
            )
        end = max(end, extended)
    return end


def _exclusion(line: OrderLine, policy: ReturnPolicy) -> str | None:
    if line.category and line.category in policy.excluded_categories:
        return f"{line.category}: {policy.excluded_categories[line.category]}"
    if policy.confirmed_exclusions and line.non_returnable_confirmed:
        return (
            "the customer confirmed at purchase that these goods are not returnable without reason"
        )
    return None


@checked
def return_window(
    order: Order,
    line: OrderLine | str,
    *,
    policy: ReturnPolicy,
    now: datetime,
    zone: str | None = None,
    informed: bool = True,
    informed_at: datetime | None = None,
    calendar: WorkingDayCalendar | None = None,
) -> ReturnWindow:
    """Whether ``line`` of ``order`` can be returned at ``now`` under ``policy``, and until when.

    Args:
        order: The order; its sign-off (or its parcels' delivery) anchors the window.
        line: The line or its id.
        policy: A `ReturnPolicy`, e.g. ``return_policy("cn_consumer_law")``.
        now: The current time, timezone-aware.
        zone: The shop's IANA time zone, in which days are counted (default: the policy's).
        informed: Whether the customer was told of the right (EU/UK extend the window if not).
        informed_at: When the information was given late, if it was.
        calendar: Working days, for policies that move a last day off a holiday.

    Raises:
        NaiveDatetimeError: ``now`` has no time zone.
        InvalidInputError: no zone given and the policy has none; or no such line.
    """
    require_aware(now, "now")
    chosen = order.line(line) if isinstance(line, str) else line
    tz = _zone(zone or policy.time_zone)
    envelope: dict[str, Any] = {
        "basis": policy.basis,
        "policy": policy.ref,
        "decided_at": now,
        "inputs": (order, chosen.id, tz.key, informed, informed_at),
    }
    trace = [step("window", "returns.policy", days=policy.days, anchor=policy.anchor)]
    excluded = _exclusion(chosen, policy)
    if excluded is not None:
        trace.append(step("window", "returns.excluded", line=chosen.id, why=excluded))
        return ReturnWindow.made(
            status=WindowStatus.EXCLUDED, exclusion=excluded, trace=trace, **envelope
        )
    anchor = order.delivered_at
    if anchor is None:
        trace.append(step("window", "returns.not_started"))
        return ReturnWindow.made(status=WindowStatus.NOT_STARTED, trace=trace, **envelope)
    starts = _midnight(anchor.astimezone(tz).date() + timedelta(days=1), tz)
    ends = window_end(
        anchor, policy, zone=tz, informed=informed, informed_at=informed_at, calendar=calendar
    )
    trace.append(step("window", "returns.anchor", anchor=policy.anchor, at=anchor.astimezone(tz)))
    if not informed and policy.not_informed_extension_months:
        trace.append(
            step("window", "returns.not_informed", months=policy.not_informed_extension_months)
        )
    # Signed for today, the count starts tomorrow, but a request today is already in time.
    status = WindowStatus.OPEN if now < ends else WindowStatus.CLOSED
    last_day = (ends - timedelta(days=1)).date()
    estimated = policy.roll_over_non_working_last_day and provisional(
        calendar, starts.date(), last_day
    )
    if estimated:
        trace.append(step("window", "returns.provisional", last_day=last_day))
    trace.append(
        step("window", "returns.window", starts=starts, ends=ends, status=status.value, now=now)
    )
    return ReturnWindow.made(
        status=status,
        starts_at=starts,
        ends_at=ends,
        last_day=last_day,
        trace=trace,
        provisional=estimated,
        **envelope,
    )


def _zone(name: str | None) -> ZoneInfo:
    if not name:
        raise InvalidInputError(
            "no time zone to count days in: pass zone='Europe/Berlin' (the shop's IANA zone) or "
            "use a policy with time_zone"
        )
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError) as error:
        raise InvalidInputError(f"unknown IANA time zone {name!r}") from error
