"""Statutory rest days: the calendar the law counts periods on, whatever the shop's hours are.

A consumer's period that ends on a rest day moves to the next working day, by law, not by the
shop's opening hours: a shop open seven days still gives a customer whose last day is a Sunday
until Monday. Two rules ship:

* `china_rest_days`: China's statutory calendar (Civil Code art. 203 as courts apply it to the
  7-day return): weekends are rest days unless the State Council made them make-up working days,
  and the official public holidays are rest days. From csdesk's official data pack; past its last
  year the holidays are estimated (the ``holidays`` package) and every answer says
  ``provisional``.
* `public_holidays`: Saturdays, Sundays and the public holidays of a country (and subdivision)
  from the ``holidays`` package: what Regulation (EEC, Euratom) No 1182/71 art. 3(4) counts for
  EU periods, on the calendar of the consumer's member state.

Examples:
    >>> from datetime import date
    >>> china = china_rest_days()
    >>> china.rest_reason(date(2026, 10, 1)), china.rest_reason(date(2026, 10, 8))
    ('public holiday', None)
    >>> berlin = public_holidays("DE", "BE")
    >>> berlin.rest_reason(date(2026, 4, 3)), berlin.rest_reason(date(2026, 4, 7))
    ('Good Friday', None)
    >>> berlin.next_working_day(date(2026, 4, 3))
    datetime.date(2026, 4, 7)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import cache
from typing import Any

from csdesk._checks import checked
from csdesk.calendars.business import BusinessCalendar
from csdesk.calendars.china import china_days
from csdesk.errors import InvalidInputError

__all__ = ["RestDays", "china_rest_days", "country_calendar", "public_holidays"]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True)
class RestDays:
    """Which days the law treats as rest days, and why.

    Attributes:
        name: What the calendar is (``"China statutory calendar"``, ``"public holidays DE-BE"``).
        source: The rule and the data it follows.
    """

    name: str
    source: str
    _reason: Any = field(repr=False, compare=False)
    _provisional: Any = field(repr=False, compare=False, default=None)

    def rest_reason(self, day: date) -> str | None:
        """Why ``day`` is a rest day (``"Sunday"``, a holiday's name), or ``None`` if it is not."""
        found: str | None = self._reason(day)
        return found

    def is_rest_day(self, day: date) -> bool:
        """Whether ``day`` is a rest day."""
        return self._reason(day) is not None

    def is_provisional(self, *days: date) -> bool:
        """Whether any of ``days`` is judged on estimated holidays (past the official data)."""
        return self._provisional is not None and any(self._provisional(d) for d in days)

    def next_working_day(self, day: date) -> date:
        """``day`` if it is a working day, else the first working day after it."""
        for _ in range(60):  # no rest spell is two months long
            if self._reason(day) is None:
                return day
            day += timedelta(days=1)
        raise InvalidInputError(f"{self.name}: no working day within 60 days of {day}")


@checked
@cache
def china_rest_days() -> RestDays:
    """China's statutory rest days: weekends not made working days, and official holidays."""
    off, work, (first, last) = china_days()

    def reason(day: date) -> str | None:
        if first <= day.year <= last:
            if day in off:
                return "public holiday"
            if day in work:
                return None  # a make-up working day
        elif day in _china_estimates(day.year):
            return "public holiday (estimated)"
        return _WEEKDAYS[day.weekday()] if day.weekday() >= 5 else None

    return RestDays(
        name="China statutory calendar",
        source=(
            "Civil Code of the PRC art. 203 (a period's last day on a statutory holiday moves to "
            "the day after the holiday); State Council holiday notices "
            f"{first}-{last} (csdesk's data pack), estimated by the holidays package after that"
        ),
        _reason=reason,
        _provisional=lambda day: not first <= day.year <= last,
    )


@cache
def _china_estimates(year: int) -> frozenset[date]:
    import holidays as holidays_package

    return frozenset(holidays_package.country_holidays("CN", years=year))


@checked
@cache
def public_holidays(country: str, subdivision: str | None = None) -> RestDays:
    """Saturdays, Sundays and the public holidays of ``country`` (ISO 3166-1 alpha-2).

    Args:
        country: The consumer's country, e.g. ``"DE"``.
        subdivision: Its state or region where holidays differ (``"BE"`` for Berlin), as the
            ``holidays`` package names them.

    Raises:
        InvalidInputError: the ``holidays`` package does not know the country or subdivision.
    """
    import holidays as holidays_package

    code = country.strip().upper()
    known = holidays_package.list_supported_countries()
    if code not in known:
        raise InvalidInputError(
            f"no public holidays for country {country!r}: give an ISO 3166-1 alpha-2 code the "
            "holidays package knows (DE, FR, IT, ES, NL, …)"
        )
    if subdivision is not None and subdivision not in known[code]:
        raise InvalidInputError(
            f"{code} has no subdivision {subdivision!r}; known: {', '.join(known[code])}"
        )
    calendar = holidays_package.country_holidays(code, subdiv=subdivision)

    def reason(day: date) -> str | None:
        if day.weekday() >= 5:
            return _WEEKDAYS[day.weekday()]
        named = calendar.get(day)
        return str(named) if named else None

    where = code + (f"-{subdivision}" if subdivision else "")
    return RestDays(
        name=f"public holidays {where}",
        source=(
            "Regulation (EEC, Euratom) No 1182/71 art. 3(4) and 2(2): Saturdays, Sundays and the "
            f"public holidays of {where} (the holidays package)"
        ),
        _reason=reason,
    )


@checked
def country_calendar(
    *,
    tz: str,
    weekly: Mapping[str, Sequence[tuple[str, str]]],
    country: str,
    subdivision: str | None = None,
    years: tuple[int, int],
    name: str | None = None,
) -> BusinessCalendar:
    """A `csdesk.calendars.BusinessCalendar` closed on the public holidays of ``country``.

    For a team outside China (the China pack is `csdesk.calendars.china_calendar`): the weekly
    hours in ``tz``, and the public holidays of ``country`` (and ``subdivision``) from the
    ``holidays`` package for each year of ``years`` (first, last). Asking about a date outside
    those years raises `csdesk.errors.CalendarCoverageError` rather than guessing.

    Raises:
        InvalidInputError: an unknown country or subdivision, or ``years`` not (first, last).
    """
    import holidays as holidays_package

    public_holidays(country, subdivision)  # checks the country and subdivision
    first, last = years
    if not (isinstance(first, int) and isinstance(last, int)) or not 1900 < first <= last < 2200:
        raise InvalidInputError(f"years is (first, last), such as (2025, 2027), got {years!r}")
    days = holidays_package.country_holidays(
        country.strip().upper(), subdiv=subdivision, years=range(first, last + 1)
    )
    label = name or f"{country.upper()}{'-' + subdivision if subdivision else ''} public holidays"
    return BusinessCalendar(
        tz=tz, weekly=weekly, holidays=sorted(days), coverage=(first, last), name=label
    )
