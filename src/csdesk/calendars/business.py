"""Business calendars: weekly hours, holidays, make-up working days (调休) and leaves, in an IANA zone.

`BusinessCalendar` answers "what time is it plus 4 working hours?" and "how much working time lies
between these two instants?" in O(log n) of the span: it keeps a lazily built, lazily extended
index of the open intervals (as UTC microseconds) with prefix sums of their lengths, so adding 2000
business hours costs about what adding 8 does.

Conventions, the same everywhere in csdesk:

* **Landing on a closing time** gives that closing time (the earliest instant), not the next
  opening: 11:00 + 1 h with lunch at 12:00 is 12:00. `next_open` gives the other view.
* **Subtracting to an opening** gives the opening time.
* **Zero**: ``add(t, 0)`` is the next business instant at or after ``t``.
* ``between(a, b)`` is zero when ``b <= a``.
* **DST never raises**: a local time that does not exist moves forward by the gap, an ambiguous one
  takes its first occurrence, and an interval that vanishes in a gap counts nothing.
* Intervals belong to the local day they start on: a night shift starting on a holiday is closed,
  one starting the evening before runs through. Overlapping intervals count once.

Examples:
    >>> from datetime import date, datetime, timedelta
    >>> from zoneinfo import ZoneInfo
    >>> shanghai = ZoneInfo("Asia/Shanghai")
    >>> office = {day: [("09:00", "12:00"), ("13:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}
    >>> cal = BusinessCalendar(tz="Asia/Shanghai", weekly=office)
    >>> cal.add(datetime(2026, 3, 6, 16, 0, tzinfo=shanghai), timedelta(hours=4))  # a Friday
    datetime.datetime(2026, 3, 9, 11, 0, tzinfo=zoneinfo.ZoneInfo(key='Asia/Shanghai'))
    >>> cal.between(datetime(2026, 3, 6, 11, 0, tzinfo=shanghai), datetime(2026, 3, 9, 10, 0, tzinfo=shanghai))
    datetime.timedelta(seconds=25200)
"""  # noqa: E501

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Final

from csdesk._checks import checked
from csdesk._model import require_aware
from csdesk._zones import get_zone
from csdesk.errors import CalendarCoverageError, CalendarError, InvalidInputError

__all__ = ["WEEKDAYS", "BusinessCalendar"]

WEEKDAYS: Final[tuple[str, ...]] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO: Final = timedelta(microseconds=1)
_CHUNK_DAYS: Final = 400
_MAX_SEARCH_DAYS: Final = 366 * 30


def _days(values: Iterable[object], what: str) -> list[date]:
    """``values`` as dates; a string, a datetime or anything else is refused, never ignored."""
    if isinstance(values, str | bytes):
        raise InvalidInputError(f"{what} is a collection of dates, got a string")
    found = []
    for value in values:
        if not isinstance(value, date) or isinstance(value, datetime):
            raise InvalidInputError(
                f"{what}: {value!r} is not a date; pass datetime.date objects "
                "(date.fromisoformat('2026-10-01') for text)"
            )
        found.append(value)
    return found


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // _MICRO


def _parse_clock(text: str, where: str) -> tuple[int, int]:
    try:
        hours, minutes = (int(part) for part in text.split(":"))
    except (ValueError, AttributeError):
        raise InvalidInputError(f"{where}: {text!r} is not a HH:MM time") from None
    if not (0 <= hours <= 24 and 0 <= minutes < 60) or (hours == 24 and minutes):
        raise InvalidInputError(f"{where}: {text!r} is not between 00:00 and 24:00")
    return hours, minutes


class BusinessCalendar:
    """Working time in one IANA time zone.

    Args:
        tz: The IANA zone the hours are in, such as ``"Asia/Shanghai"``.
        weekly: Open intervals per weekday (``mon`` … ``sun``), each ``("HH:MM", "HH:MM")``;
            ``"24:00"`` is allowed, and an interval whose end is not after its start runs past
            midnight into the next day.
        holidays: Local dates closed all day.
        makeup_workdays: Dates worked with the hours of the weekday given (调休): a Sunday worked
            as a Monday is ``{date(2026, 9, 20): "mon"}``. They win over ``holidays``.
        leaves: Partial closures as ``(start, end)`` aware instants.
        coverage: The first and last year the holiday data is known for; asking about a date
            outside raises `CalendarCoverageError` instead of guessing.
        name: A label for messages.
        provisional_years: Years whose holidays are estimates, not official data; results
            computed on their days say so (see `is_provisional`).

    Raises:
        InvalidInputError: an unknown zone, weekday key or time, or a naive leave.
    """

    @checked
    def __init__(
        self,
        *,
        tz: str,
        weekly: Mapping[str, Sequence[tuple[str, str]]],
        holidays: Iterable[date] = (),
        makeup_workdays: Mapping[date, str] | None = None,
        leaves: Iterable[tuple[datetime, datetime]] = (),
        coverage: tuple[int, int] | None = None,
        name: str = "calendar",
        provisional_years: frozenset[int] = frozenset(),
    ) -> None:
        self.zone = get_zone(tz)
        self.name = name
        if coverage is not None and not (
            isinstance(coverage, tuple)
            and len(coverage) == 2
            and all(type(year) is int for year in coverage)
            and coverage[0] <= coverage[1]
        ):
            raise InvalidInputError("coverage is (first_year, last_year), e.g. (2018, 2026)")
        self.coverage = coverage
        if not all(type(year) is int for year in provisional_years):
            raise InvalidInputError("provisional_years is a set of years (ints)")
        self.provisional_years: frozenset[int] = frozenset(provisional_years)
        self._weekly = self._parse_weekly(weekly)
        self.holidays: frozenset[date] = frozenset(_days(holidays, "holidays"))
        self.makeup_workdays: dict[date, str] = dict(makeup_workdays or {})
        for day, template in self.makeup_workdays.items():
            _days([day], "makeup_workdays")
            if template not in WEEKDAYS:
                raise InvalidInputError(f"makeup_workdays[{day}]: {template!r} is not mon..sun")
            if day in self.holidays:
                raise InvalidInputError(f"{day} is both a holiday and a make-up working day")
        self._leaves = _union(self._parse_leaves(leaves))
        # The index: merged open intervals [starts[i], ends[i]) in UTC microseconds, with the
        # business time before each (cum_before) and up to its end (cum_end), for local days
        # [first_day, end_day).
        self._first_day: date | None = None
        self._end_day: date | None = None
        self._safe_low = self._safe_high = 0
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._cum_before: list[int] = []
        self._cum_end: list[int] = []

    # construction ------------------------------------------------------------------------------

    @staticmethod
    def _parse_weekly(
        weekly: Mapping[str, Sequence[tuple[str, str]]],
    ) -> dict[str, tuple[tuple[time, int], ...]]:
        parsed: dict[str, tuple[tuple[time, int], ...]] = {}
        for key, intervals in weekly.items():
            if key not in WEEKDAYS:
                raise InvalidInputError(f"weekly: {key!r} is not one of {', '.join(WEEKDAYS)}")
            rows: list[tuple[time, int]] = []
            for start_text, end_text in intervals:
                sh, sm = _parse_clock(start_text, f"weekly[{key}]")
                eh, em = _parse_clock(end_text, f"weekly[{key}]")
                start, end = sh * 60 + sm, eh * 60 + em
                if start == 24 * 60:
                    raise InvalidInputError(f"weekly[{key}]: an interval cannot start at 24:00")
                length = end - start if end > start else end + 24 * 60 - start
                rows.append((time(sh, sm), length))
            parsed[key] = tuple(rows)
        return parsed

    @staticmethod
    def _parse_leaves(leaves: Iterable[tuple[datetime, datetime]]) -> list[tuple[int, int]]:
        parsed = []
        for leave in leaves:
            if not (isinstance(leave, tuple | list) and len(leave) == 2):
                raise InvalidInputError("each leave is a (start, end) pair of aware datetimes")
            start, end = leave
            require_aware(start, "leaves start")
            require_aware(end, "leaves end")
            if end <= start:
                raise InvalidInputError(
                    f"a leave ends ({end.isoformat()}) before it starts ({start.isoformat()})"
                )
            parsed.append((_micros(start), _micros(end)))
        return parsed

    # days --------------------------------------------------------------------------------------

    def is_provisional(self, *moments: date) -> bool:
        """Whether these days, or the span between them, touch a year of estimated holidays.

        See ``provisional=True`` of `csdesk.calendars.china_calendar`.
        """
        if not self.provisional_years or not moments:
            return False
        years = [moment.year for moment in moments]
        return any(year in self.provisional_years for year in range(min(years), max(years) + 1))

    def _check_coverage(self, day: date) -> None:
        if self.coverage and not self.coverage[0] <= day.year <= self.coverage[1]:
            first, last = self.coverage
            raise CalendarCoverageError(self.name, day, first, last)

    def _template(self, day: date) -> tuple[tuple[time, int], ...]:
        self._check_coverage(day)
        key = self.makeup_workdays.get(day)
        if key is None:
            if day in self.holidays:
                return ()
            key = WEEKDAYS[day.weekday()]
        return self._weekly.get(key, ())

    @checked
    def is_working_day(self, day: date, /) -> bool:
        """Whether ``day`` (a local date) has any opening hours.

        Raises:
            CalendarCoverageError: the day is outside the holiday data's years.
        """
        return bool(self._template(day))

    @checked
    def add_working_days(self, day: date, count: int, /) -> date:
        """The working day ``count`` working days after ``day`` (before it when negative).

        ``count == 0`` returns ``day`` itself.
        """
        step = 1 if count >= 0 else -1
        remaining = abs(count)
        searched = 0
        while remaining:
            day += timedelta(days=step)
            searched += 1
            if searched > _MAX_SEARCH_DAYS:
                raise CalendarError(f"{self.name}: no working day within 30 years of {day}")
            if self.is_working_day(day):
                remaining -= 1
        return day

    @checked
    def working_days_between(self, start: date, end: date, *, include_start: bool = False) -> int:
        """Working days in ``(start, end]``, or ``[start, end]`` with ``include_start``.

        Negative when ``end`` is before ``start``.
        """
        if end < start:
            return -self.working_days_between(end, start, include_start=include_start)
        first = start if include_start else start + timedelta(days=1)
        return sum(
            1
            for offset in range((end - first).days + 1)
            if self.is_working_day(first + timedelta(days=offset))
        )

    # the index ---------------------------------------------------------------------------------

    def _day_intervals(self, day: date) -> list[tuple[int, int]]:
        intervals = []
        for clock, minutes in self._template(day):
            start = datetime.combine(day, clock, tzinfo=self.zone)  # fold=0: first occurrence
            local_end = datetime.combine(day, clock) + timedelta(minutes=minutes)
            end = local_end.replace(tzinfo=self.zone)
            # A local time that does not exist converts forward by the gap (zoneinfo, fold=0);
            # an interval that vanishes in a gap comes out empty and counts nothing.
            s, e = _micros(start), _micros(end)
            if e > s:
                intervals.append((s, e))
        return intervals

    def _build(self, first_day: date, end_day: date) -> None:
        raw: list[tuple[int, int]] = []
        day = first_day
        while day < end_day:
            raw.extend(self._day_intervals(day))
            day += timedelta(days=1)
        raw.sort()
        merged: list[list[int]] = []
        for s, e in raw:
            if merged and s <= merged[-1][1]:
                merged[-1][1] = max(merged[-1][1], e)
            else:
                merged.append([s, e])
        pieces = _subtract(merged, self._leaves)
        starts, ends, before, after = [], [], [], []
        total = 0
        for s, e in pieces:
            starts.append(s)
            ends.append(e)
            before.append(total)
            total += e - s
            after.append(total)
        self._first_day, self._end_day = first_day, end_day
        self._starts, self._ends, self._cum_before, self._cum_end = starts, ends, before, after
        # Instants whose local day has the index's margin (a day before, two after) on both
        # sides, in UTC microseconds, an hour inside for safety around DST: queries between them
        # need no conversion to local days at all.
        hour = 3_600_000_000
        self._safe_low = self._midnight(first_day + timedelta(days=1)) + hour
        self._safe_high = self._midnight(end_day - timedelta(days=1)) - hour

    def _midnight(self, day: date) -> int:
        return _micros(datetime.combine(day, time(0), tzinfo=self.zone))

    def _local_day(self, micros: int) -> date:
        return (_EPOCH + timedelta(microseconds=micros)).astimezone(self.zone).date()

    def _ensure(self, low: date, high: date) -> None:
        """Make the index cover local days [low, high], growing geometrically when it extends."""
        low, high = low - timedelta(days=1), high + timedelta(days=2)
        if self._first_day is not None and self._end_day is not None:
            if self._first_day <= low and high <= self._end_day:
                return
            span = timedelta(days=max((self._end_day - self._first_day).days, _CHUNK_DAYS))
            low = min(low, self._first_day - span) if low < self._first_day else self._first_day
            high = max(high, self._end_day + span) if high > self._end_day else self._end_day
        else:
            high = max(high, low + timedelta(days=_CHUNK_DAYS))
        if self.coverage:
            low = max(low, date(self.coverage[0], 1, 1))
            high = min(high, date(self.coverage[1] + 1, 1, 1))
        self._build(low, high)

    def _covering(self, *moments: int) -> None:
        if self._safe_low <= min(moments) and max(moments) < self._safe_high:
            return  # inside the index, margins included: nothing to check or build
        days = [self._local_day(m) for m in moments]
        for day in (min(days), max(days)):
            self._check_coverage(day)
        self._ensure(min(days), max(days))

    def _business_before(self, micros: int) -> int:
        """Business microseconds from the index's start up to the instant ``micros``."""
        i = bisect_right(self._starts, micros) - 1
        if i < 0:
            return 0
        return self._cum_before[i] + min(micros, self._ends[i]) - self._starts[i]

    # the public arithmetic ----------------------------------------------------------------------

    def _out(self, micros: int, like: datetime) -> datetime:
        return (_EPOCH + timedelta(microseconds=micros)).astimezone(like.tzinfo)

    @checked
    def between(self, start: datetime, end: datetime) -> timedelta:
        """Business time between two instants; zero when ``end <= start``."""
        a, b = _micros(require_aware(start, "start")), _micros(require_aware(end, "end"))
        if b <= a:
            return timedelta(0)
        self._covering(a, b)
        return timedelta(microseconds=self._business_before(b) - self._business_before(a))

    @checked
    def is_open(self, moment: datetime) -> bool:
        """Whether ``moment`` falls in an open interval (opening included, closing excluded)."""
        m = _micros(require_aware(moment, "moment"))
        self._covering(m)
        i = bisect_right(self._starts, m) - 1
        return i >= 0 and m < self._ends[i]

    @checked
    def next_open(self, moment: datetime) -> datetime:
        """``moment`` if open, else the next opening time."""
        m = _micros(require_aware(moment, "moment"))
        self._covering(m)
        while True:
            i = bisect_right(self._starts, m) - 1
            if i >= 0 and m < self._ends[i]:
                return moment
            if i + 1 < len(self._starts):
                return self._out(self._starts[i + 1], moment)
            self._grow_forward(moment)

    def _grow_forward(self, moment: datetime) -> None:
        assert self._end_day is not None
        assert self._first_day is not None
        if (self._end_day - moment.astimezone(self.zone).date()).days > _MAX_SEARCH_DAYS:
            raise CalendarError(f"{self.name}: no open time within 30 years of {moment}")
        self._check_coverage(self._end_day)
        self._ensure(self._first_day, self._end_day + timedelta(days=_CHUNK_DAYS))

    def _grow_backward(self, moment: datetime) -> None:
        assert self._end_day is not None
        assert self._first_day is not None
        if (moment.astimezone(self.zone).date() - self._first_day).days > _MAX_SEARCH_DAYS:
            raise CalendarError(f"{self.name}: no open time within 30 years before {moment}")
        self._check_coverage(self._first_day - timedelta(days=1))
        self._ensure(self._first_day - timedelta(days=_CHUNK_DAYS), self._end_day)

    @checked
    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The earliest instant at which ``duration`` of business time has passed since ``start``.

        Negative durations subtract. Landing exactly on a closing time gives the closing time.
        """
        if duration < timedelta(0):
            return self.subtract(start, -duration)
        a = _micros(require_aware(start, "start"))
        if not duration:
            return self.next_open(start)
        need = duration // _MICRO
        self._covering(a)
        while True:
            target = self._business_before(a) + need
            j = bisect_left(self._cum_end, target)
            if j < len(self._cum_end):
                return self._out(self._starts[j] + target - self._cum_before[j], start)
            self._grow_forward(start)

    @checked
    def subtract(self, start: datetime, duration: timedelta) -> datetime:
        """The latest instant from which ``duration`` of business time runs to ``start``.

        Landing exactly on an opening time gives the opening time.
        """
        if duration < timedelta(0):
            return self.add(start, -duration)
        a = _micros(require_aware(start, "start"))
        need = duration // _MICRO
        self._covering(a)
        while True:
            target = self._business_before(a) - need
            if target >= 0 and self._starts:
                j = bisect_right(self._cum_before, target) - 1
                result = self._starts[j] + target - self._cum_before[j]
                if result <= a:
                    return self._out(result, start)
                if j > 0:  # ``start`` is closed and nothing is subtracted: the previous close
                    return self._out(self._ends[j - 1], start)
            self._grow_backward(start)

    def __repr__(self) -> str:
        return f"BusinessCalendar(name={self.name!r}, tz={self.zone.key!r})"


def _union(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans merged, sorted: a closure inside a closure stays closed.

    `_subtract` looks only at the leave that starts last before an interval; nested leaves
    (an outage inside a week's closure) would hide the outer one from it.
    """
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _subtract(
    intervals: list[list[int]], leaves: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    if not leaves:
        return [(s, e) for s, e in intervals]
    result: list[tuple[int, int]] = []
    for s, e in intervals:
        pieces = [(s, e)]
        first = bisect_left(leaves, (s, s)) - 1
        for ls, le in leaves[max(first, 0) :]:
            if ls >= e:
                break
            pieces = [
                piece
                for ps, pe in pieces
                for piece in ((ps, min(pe, ls)), (max(ps, le), pe))
                if piece[1] > piece[0]
            ]
        result.extend(pieces)
    return result
