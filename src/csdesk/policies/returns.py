"""Return windows: whether a line can still be returned, until when, and on what legal basis.

`return_window` is pure: the order's facts, the line, a `ReturnPolicy` and ``now`` in; a
`ReturnWindow` out, with its status, its end, the statutory basis, any exclusion and the steps that
led there. Built-in presets (`return_policy`): ``cn_consumer_law``, ``cn_platform``, ``eu_crd``,
``uk_ccr`` and ``generic``, each with ``source`` and ``as_of``.

Every window is counted in whole local days: the period starts at 00:00 on the day after the
anchor (sign-off, possession or delivery) and ends at 00:00 after its last day. That is the CN
Interim Measures' rule (art. 10 of the 2020 text) and the EU's (Regulation 1182/71 art. 3(1)).
A last day on a statutory rest day moves to the next working day where the law says so
(``roll_over``): China's statutory calendar for the CN 7 days (Civil Code art. 203), the consumer's
member state's Saturdays, Sundays and public holidays for the EU 14 days (Regulation 1182/71
art. 3(4)); never the shop's opening hours.

Examples:
    >>> from datetime import datetime
    >>> from zoneinfo import ZoneInfo
    >>> shanghai = ZoneInfo("Asia/Shanghai")
    >>> policy = return_policy("cn_consumer_law")
    >>> window_end(datetime(2026, 3, 3, 15, 0, tzinfo=shanghai), policy, zone=shanghai)
    datetime.datetime(2026, 3, 11, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))

    Signed on Sunday 1 March, the 7th day is Sunday 8 March, a rest day: the window runs through
    Monday 9 March.

    >>> window_end(datetime(2026, 3, 1, 15, 0, tzinfo=shanghai), policy, zone=shanghai)
    datetime.datetime(2026, 3, 10, 0, 0, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import cache
from typing import Any, ClassVar, Literal, Self
from zoneinfo import ZoneInfo

from pydantic import AwareDatetime, Field, model_validator

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk.calendars import WeekdayCalendar, WorkingDayCalendar
from csdesk.calendars.statutory import RestDays, china_rest_days, public_holidays
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
    "rest_days",
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
            (EU, UK), ``delivery``, or ``sale`` (the payment: 三包 counts "自售出之日起").
        days: The period's length in whole days, counted from the day after the anchor.
        exchange_days: A longer period for exchanges (换货), where the rules give one (三包:
            15 days to exchange against 7 to return); ``None``: the same ``days``.
        counts_from: ``next_day``: whole days from 00:00 on the day after the anchor (the law's
            count: CN Interim Measures art. 10, Regulation 1182/71 art. 3(1); Taobao's 168 hours
            "from 00:00 the day after sign-off" too); ``anchor``: ``days`` × 24 hours from the
            anchor's instant (a platform that counts from the sign-off itself), with no
            roll-over and no extension.
        not_informed_extension_months: Extra months when the customer was not told of the right
            (EU art. 10, UK reg. 31: 12).
        informed_late_days: When the information comes late, the period ends this many days after
            it was received (EU art. 10(2), UK reg. 31: 14), if that is earlier.
        roll_over: Whether a last day on a rest day moves to the next working day, and on which
            calendar: ``cn_statutory`` (China's statutory calendar, Civil Code art. 203),
            ``public_holidays`` (Saturdays, Sundays and public holidays of the consumer's country:
            Regulation 1182/71 art. 3(4)) or ``none``.
        holiday_country: The country whose public holidays count, when the caller names none
            (ISO 3166-1 alpha-2; the consumer's member state for EU law).
        holiday_subdivision: Its region, where holidays differ (``BE`` for Berlin).
        excluded_categories: Goods categories never returnable without reason, with the rule
            that says so.
        confirmed_exclusions: Whether goods the customer confirmed as non-returnable at purchase
            are excluded (CN Interim Measures art. 7 and art. 20(2)).
        time_zone: The zone days are counted in when the caller does not give one.
    """

    basis: StatutoryBasis
    anchor: Literal["sign_off", "possession", "delivery", "sale"]
    days: int = Field(gt=0, le=3650)
    exchange_days: int | None = Field(default=None, gt=0, le=3650)
    counts_from: Literal["next_day", "anchor"] = "next_day"
    not_informed_extension_months: int = Field(default=0, ge=0, le=24)
    informed_late_days: int | None = Field(default=None, gt=0)
    roll_over: Literal["none", "cn_statutory", "public_holidays"] = "none"
    holiday_country: str | None = Field(default=None, min_length=2, max_length=2)
    holiday_subdivision: str | None = None
    excluded_categories: dict[str, str] = Field(default_factory=dict)
    confirmed_exclusions: bool = False
    time_zone: str | None = None

    @model_validator(mode="after")
    def _hours_alone(self) -> Self:
        if self.counts_from == "anchor" and (
            self.roll_over != "none" or self.not_informed_extension_months
        ):
            raise ValueError(
                "counts_from = 'anchor' counts hours from the anchor: it takes roll_over = "
                "'none' and no not_informed_extension_months"
            )
        return self


class ReturnWindow(Decided):
    """The answer of `return_window`, in the decision envelope (`csdesk.decision.Decided`).

    Attributes:
        status: ``open``, ``closed``, ``not_started`` (goods not yet received) or ``excluded``.
        starts_at: 00:00 local on the day after the anchor, when known.
        ends_at: The first instant outside the window (00:00 after the last day), when known.
        last_day: The window's last local day, for messages ("closed on 2026-03-08").
        exclusion: Why the line is excluded, with the rule, when it is.
        provisional: The window's days were counted on estimated holidays (past the official
            data); the last day may move when the official notice is published.
        rolled_over: Why the last day moved (``"2026-03-21 is a Saturday"``), if it did.
    """

    answer_field: ClassVar[str] = "status"

    status: WindowStatus
    basis: StatutoryBasis
    starts_at: AwareDatetime | None = None
    ends_at: AwareDatetime | None = None
    last_day: date | None = None
    exclusion: str | None = None
    provisional: bool = False
    rolled_over: str | None = None

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


def rest_days(
    policy: ReturnPolicy, *, country: str | None = None, subdivision: str | None = None
) -> RestDays | None:
    """The statutory calendar ``policy`` rolls a last day over on, or ``None`` if it does not.

    Raises:
        InvalidInputError: a ``public_holidays`` policy and no country, from the caller or the
            policy.
    """
    if policy.roll_over == "cn_statutory":
        return china_rest_days()
    if policy.roll_over == "public_holidays":
        where = country or policy.holiday_country
        if not where:
            raise InvalidInputError(
                f"{policy.id} moves a last day off the consumer's public holidays: pass "
                "country='DE' (and subdivision='BE' where holidays differ by region)"
            )
        return public_holidays(where, subdivision if country else policy.holiday_subdivision)
    return None


def _roll(day: date, rest: RestDays | None) -> tuple[date, str | None, bool]:
    """``day``, or the next working day when it is a rest day; why it moved; estimated?"""
    if rest is None:
        return day, None, False
    why = rest.rest_reason(day)
    if why is None:
        return day, None, rest.is_provisional(day)
    moved = rest.next_working_day(day)
    spell = [day + timedelta(days=n) for n in range((moved - day).days + 1)]
    return (
        moved,
        f"{day} is a rest day ({why}) on the {rest.name}: moved to {moved}",
        (rest.is_provisional(*spell)),
    )


@dataclass(frozen=True)
class _End:
    ends: datetime
    last_day: date
    rolled_over: str | None
    provisional: bool


def _window(
    anchor: datetime,
    policy: ReturnPolicy,
    zone: ZoneInfo,
    informed: bool,
    informed_at: datetime | None,
    rest: RestDays | None,
    days: int,
) -> _End:
    if policy.counts_from == "anchor":  # days × 24 real hours from the instant
        end = (anchor.astimezone(UTC) + timedelta(hours=24 * days)).astimezone(zone)
        return _End(end, (end - timedelta(microseconds=1)).date(), None, False)
    first_day = anchor.astimezone(zone).date() + timedelta(days=1)
    last_day, rolled, estimated = _roll(first_day + timedelta(days=days - 1), rest)
    end = _midnight(last_day + timedelta(days=1), zone)
    if not informed and policy.not_informed_extension_months:
        # The extension ends 12 months after the initial period's end (art. 10(1)), itself
        # rolled off a rest day; late information ends it 14 days after (art. 10(2)).
        later, why, unsure = _roll(
            _add_months(last_day, policy.not_informed_extension_months), rest
        )
        extended = _midnight(later + timedelta(days=1), zone)
        if informed_at is not None and policy.informed_late_days:
            require_aware(informed_at, "informed_at")
            told = informed_at.astimezone(zone).date()
            early, early_why, early_unsure = _roll(
                told + timedelta(days=policy.informed_late_days), rest
            )
            if _midnight(early + timedelta(days=1), zone) < extended:
                extended, why, unsure = (
                    _midnight(early + timedelta(days=1), zone),
                    early_why,
                    early_unsure,
                )
        if extended > end:
            end, rolled, estimated = extended, why, unsure
    return _End(end, (end - timedelta(days=1)).date(), rolled, estimated)


@checked
def window_end(
    anchor: datetime,
    policy: ReturnPolicy,
    *,
    zone: ZoneInfo,
    informed: bool = True,
    informed_at: datetime | None = None,
    country: str | None = None,
    subdivision: str | None = None,
    rest_calendar: RestDays | None = None,
) -> datetime:
    """The first instant after the window that ``anchor`` (sign-off, possession…) opens.

    Args:
        anchor: What starts the period (aware).
        policy: The return policy.
        zone: The zone the days are counted in.
        informed: Whether the customer was told of the right.
        informed_at: When the information was given late, if it was.
        country: The consumer's country, for a policy that rolls over on public holidays.
        subdivision: Its region, where holidays differ.
        rest_calendar: The statutory rest days to roll a last day over on, instead of the
            policy's (a holiday declared at short notice; tests).
    """
    require_aware(anchor, "anchor")
    rest = rest_calendar or rest_days(policy, country=country, subdivision=subdivision)
    return _window(anchor, policy, zone, informed, informed_at, rest, policy.days).ends


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
    country: str | None = None,
    subdivision: str | None = None,
    purpose: Literal["return", "exchange"] = "return",
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
        country: The consumer's country (ISO 3166-1 alpha-2), for a policy that moves a last
            day off public holidays (``eu_crd``); default the policy's ``holiday_country``.
        subdivision: The consumer's region, where public holidays differ (``BE``: Berlin).
        purpose: ``exchange`` counts the policy's ``exchange_days`` when it has them.

    Raises:
        NaiveDatetimeError: ``now`` has no time zone.
        InvalidInputError: no zone given and the policy has none; no such line; or a policy
            that rolls over on public holidays and no country.
    """
    require_aware(now, "now")
    chosen = order.line(line) if isinstance(line, str) else line
    tz = _zone(zone or policy.time_zone)
    envelope: dict[str, Any] = {
        "basis": policy.basis,
        "policy": policy.ref,
        "decided_at": now,
        "inputs": (order, chosen.id, tz.key, informed, informed_at, country, subdivision, purpose),
    }
    rest = rest_days(policy, country=country, subdivision=subdivision)
    days = policy.days
    if purpose == "exchange" and policy.exchange_days is not None:
        days = policy.exchange_days
    trace = [step("window", "returns.policy", days=days, anchor=policy.anchor)]
    excluded = _exclusion(chosen, policy)
    if excluded is not None:
        trace.append(step("window", "returns.excluded", line=chosen.id, why=excluded))
        return ReturnWindow.made(
            status=WindowStatus.EXCLUDED, exclusion=excluded, trace=trace, **envelope
        )
    # CN: the sign-off of the parcel(s) that carried this line; EU/UK: the last parcel; 三包:
    # the sale (the payment).
    if policy.anchor == "sign_off":
        anchor = order.line_delivered_at(chosen.id)
    elif policy.anchor == "sale":
        anchor = order.paid_at
    else:
        anchor = order.delivered_at
    if anchor is None:
        trace.append(step("window", "returns.not_started"))
        return ReturnWindow.made(status=WindowStatus.NOT_STARTED, trace=trace, **envelope)
    starts = _midnight(anchor.astimezone(tz).date() + timedelta(days=1), tz)
    if policy.counts_from == "anchor":
        starts = anchor.astimezone(tz)
    counted = _window(anchor, policy, tz, informed, informed_at, rest, days)
    ends = counted.ends
    trace.append(step("window", "returns.anchor", anchor=policy.anchor, at=anchor.astimezone(tz)))
    if counted.rolled_over is not None and rest is not None:
        trace.append(
            step("window", "returns.rolled_over", why=counted.rolled_over, rule=rest.source)
        )
    if not informed and policy.not_informed_extension_months:
        trace.append(
            step("window", "returns.not_informed", months=policy.not_informed_extension_months)
        )
    # Signed for today, the count starts tomorrow, but a request today is already in time.
    status = WindowStatus.OPEN if now < ends else WindowStatus.CLOSED
    last_day = counted.last_day
    estimated = counted.provisional
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
        rolled_over=counted.rolled_over,
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
