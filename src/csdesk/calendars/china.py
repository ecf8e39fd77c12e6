"""China's official days off and make-up working days (调休), by year, from the official notices.

Each year comes from the State Council General Office's notice on that year's holiday arrangements
(国务院办公厅关于××年部分节假日安排的通知), with its reference in `CHINA_NOTICES`. csdesk ships
2018-2026 in ``csdesk/calendars/data/china.json``; the test suite compares them, day by day, with
chinese-calendar and python-holidays.

The notice for a year is published in the November before it. A year without one is never guessed:
asking about it raises `csdesk.errors.CalendarCoverageError`. When the notice is out and csdesk
has not shipped it yet, load it at run time, from a file or from data, with `load_china_year`
(validated: every day inside the year, make-up days on weekends and never also days off, a
plausible number of working days), or point ``CSDESK_CHINA_CALENDAR`` at a file or a folder of
them. `china_coverage` says, ahead of time, whether deadlines up to a date can be computed
(``csdesk calendar check --until DATE`` from a shell). Until then, `china_calendar` can run in
an explicit provisional mode: weekends plus the statutory holidays the ``holidays`` package
estimates, with every result computed on those days marked provisional.

Examples:
    >>> from datetime import date
    >>> office = {day: [("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}
    >>> cal = china_calendar(weekly=office)
    >>> cal.is_working_day(date(2026, 9, 20)), cal.is_working_day(date(2026, 10, 5))
    (True, False)
    >>> cal.working_days_between(date(2025, 12, 31), date(2026, 12, 31))
    248
"""

from __future__ import annotations

import json
import os
import threading
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from pydantic import ConfigDict, Field

from csdesk._checks import checked
from csdesk._model import ConfigModel
from csdesk.calendars.business import BusinessCalendar
from csdesk.errors import CalendarError, InvalidInputError, PolicyError

__all__ = [
    "CHINA_CALENDAR_ENV",
    "CHINA_NOTICES",
    "ChinaCoverage",
    "ChinaYear",
    "DaysOff",
    "china_calendar",
    "china_coverage",
    "china_days",
    "load_china_year",
]

CHINA_CALENDAR_ENV: Final = "CSDESK_CHINA_CALENDAR"
"""The environment variable naming a year file, or a folder of them, to load on first use."""

MIN_WORKING_DAYS: Final = 240
MAX_WORKING_DAYS: Final = 256
"""A year's working days must fall in this range (2018-2026 had 245 to 251)."""

PROVISIONAL_YEARS: Final = 2
"""How many years past the official data the provisional mode estimates."""


class DaysOff(ConfigModel):
    """One holiday period of a notice: its name and its first and last day off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    first: date
    last: date


class ChinaYear(ConfigModel):
    """One year's official arrangements, as the State Council's notice gives them.

    Attributes:
        year: The year the notice is for.
        notice: The notice's title (and date), for the trace.
        url: Where it was published.
        published: The day it was published.
        days_off: The holiday periods, each with its first and last day off.
        makeup_workdays: The weekend days worked in exchange (调休上班).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    year: int = Field(ge=2000, le=2100)
    notice: str = Field(min_length=1)
    url: str | None = None
    published: date | None = None
    days_off: tuple[DaysOff, ...] = Field(min_length=1)
    makeup_workdays: tuple[date, ...] = ()

    def off(self) -> frozenset[date]:
        """Every official day off of the year."""
        days: set[date] = set()
        for period in self.days_off:
            day = period.first
            while day <= period.last:
                days.add(day)
                day += timedelta(days=1)
        return frozenset(days)

    def working_days(self) -> int:
        """The year's working days: weekdays not off, plus make-up days."""
        off, worked = self.off(), set(self.makeup_workdays)
        day, end, count = date(self.year, 1, 1), date(self.year + 1, 1, 1), 0
        while day < end:
            if day in worked or (day.weekday() < 5 and day not in off):
                count += 1
            day += timedelta(days=1)
        return count

    def problems(self) -> list[str]:
        """What makes this year implausible (empty when it is fine)."""
        found: list[str] = []
        for period in self.days_off:
            if period.last < period.first:
                found.append(f"{period.name}: last day {period.last} is before {period.first}")
            for day in (period.first, period.last):
                if day.year != self.year:
                    found.append(f"{period.name}: {day} is not in {self.year}")
        off = self.off()
        for day in self.makeup_workdays:
            if day.year != self.year:
                found.append(f"make-up day {day} is not in {self.year}")
            if day.weekday() < 5:
                found.append(f"make-up day {day} is a weekday; make-up days are weekends worked")
            if day in off:
                found.append(f"{day} is both a day off and a make-up working day")
        if len(set(self.makeup_workdays)) != len(self.makeup_workdays):
            found.append("a make-up day is listed twice")
        if not found:
            count = self.working_days()
            if not MIN_WORKING_DAYS <= count <= MAX_WORKING_DAYS:
                found.append(
                    f"{count} working days is outside {MIN_WORKING_DAYS}-{MAX_WORKING_DAYS}; "
                    "check the dates"
                )
        return found


class _Registry:
    """The years known: the shipped pack, then years loaded at run time (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[int, ChinaYear] = {}
        self._env_done = False

    def years(self) -> dict[int, ChinaYear]:
        self._load_env()
        return {**_builtin(), **self._loaded}

    def check_order(self, year: ChinaYear) -> None:
        """Refuse a year that would leave a gap after the known ones."""
        known = self.years()
        if year.year not in known and year.year != max(known) + 1:
            raise CalendarError(
                f"load {max(known) + 1} before {year.year}: the official years must follow "
                f"each other (known up to {max(known)})"
            )

    def add(self, year: ChinaYear, *, replace: bool) -> None:
        with self._lock:
            known = {**_builtin(), **self._loaded}
            existing = known.get(year.year)
            if existing is not None and existing != year and not replace:
                raise CalendarError(
                    f"{year.year} is already known (from {existing.notice}); pass replace=True to "
                    "correct it"
                )
            if existing is None and known and year.year != max(known) + 1:
                raise CalendarError(
                    f"load {max(known) + 1} before {year.year}: the official years must follow "
                    f"each other (known up to {max(known)})"
                )
            self._loaded[year.year] = year
            china_days.cache_clear()

    def _load_env(self) -> None:
        if self._env_done:
            return
        self._env_done = True
        where = os.environ.get(CHINA_CALENDAR_ENV)
        if not where:
            return
        path = Path(where)
        files = sorted(p for p in path.iterdir() if p.suffix in (".toml", ".json")) if (
            path.is_dir()
        ) else [path]  # fmt: skip
        for file in sorted(files, key=lambda p: _year_of(p)):
            load_china_year(file)

    def reset(self) -> None:
        """Forget the years loaded at run time (for tests)."""
        with self._lock:
            self._loaded.clear()
            self._env_done = False
            china_days.cache_clear()


def _year_of(path: Path) -> int:
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    return int(digits) if digits else 0


@cache
def _builtin() -> dict[int, ChinaYear]:
    text = (resources.files("csdesk.calendars") / "data" / "china.json").read_text(encoding="utf-8")
    data: dict[str, Any] = json.loads(text)
    return {
        int(year): ChinaYear.model_validate({"year": int(year), **entry})
        for year, entry in data["years"].items()
    }


_REGISTRY: Final = _Registry()


@checked
def load_china_year(source: str | Path | Mapping[str, Any], *, replace: bool = False) -> ChinaYear:
    """Validate one year's official arrangements and use them from now on, in this process.

    ``source`` is a TOML or JSON file, or a mapping, with the keys of `ChinaYear`::

        year = 2027
        notice = "国务院办公厅关于2027年部分节假日安排的通知"
        url = "https://www.gov.cn/…"
        makeup_workdays = [2027-02-20, …]
        [[days_off]]
        name = "元旦"
        first = 2027-01-01
        last = 2027-01-01

    Years must follow the known ones (2027 after 2026). A calendar built before the load keeps
    its old data; build calendars after loading.

    Raises:
        PolicyError: the data does not validate or is implausible (each problem is listed).
        CalendarError: the year is already known with other days (pass ``replace=True`` to
            correct it), or it does not follow the known years.
    """
    where: str | None = None
    if isinstance(source, Mapping):
        data: Any = dict(source)
    else:
        where = str(source)
        data = _read(Path(source))
    if not isinstance(data, dict):
        raise PolicyError(f"{where or 'the data'}: a year is a table of keys", source=where)
    year = ChinaYear.model_validate(data)
    _REGISTRY.check_order(year)
    problems = year.problems()
    if problems:
        raise PolicyError(
            f"{where or 'the data'} for {year.year} is not plausible: " + "; ".join(problems),
            source=where,
        )
    _REGISTRY.add(year, replace=replace)
    return year


def _read(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError) as error:
        raise PolicyError(f"cannot read {path}: {error}", source=str(path)) from None
    try:
        return json.loads(text) if path.suffix == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, RecursionError) as error:
        raise PolicyError(f"{path} is not valid TOML or JSON: {error}", source=str(path)) from None


@cache
def china_days() -> tuple[frozenset[date], frozenset[date], tuple[int, int]]:
    """All official days off, all make-up working days, and the (first, last) year covered."""
    years = _REGISTRY.years()
    off: set[date] = set()
    work: set[date] = set()
    for entry in years.values():
        off |= entry.off()
        work |= set(entry.makeup_workdays)
    return frozenset(off), frozenset(work), (min(years), max(years))


def _notices() -> dict[int, str]:
    return {year: entry.notice for year, entry in _builtin().items()}


CHINA_NOTICES: Mapping[int, str] = _notices()
"""The notice behind each year csdesk ships."""


@dataclass(frozen=True)
class ChinaCoverage:
    """Whether the official data reaches a date, and what to do if not.

    Attributes:
        first_year: The first year covered.
        last_year: The last year covered.
        until: The date asked about.
        ok: Whether every day up to ``until`` is covered.
        missing_years: The years between the last covered one and ``until``.
        days_left: Days from ``today`` to the last covered day (negative once past it).
        message: What to do, in words.
    """

    first_year: int
    last_year: int
    until: date
    ok: bool
    missing_years: tuple[int, ...]
    days_left: int
    message: str


@checked
def china_coverage(until: date, *, today: date | None = None) -> ChinaCoverage:
    """Whether deadlines up to ``until`` can be computed on the China calendar.

    Call it from a daily job with ``until = today + the longest deadline you compute`` (45 working
    days for a 12315 complaint is about 65 days): it says in time that next year's notice must be
    loaded.

    Examples:
        >>> report = china_coverage(date(2027, 3, 1), today=date(2026, 11, 29))
        >>> report.ok, report.missing_years, report.days_left
        (False, (2027,), 32)
    """
    _, _, (first, last) = china_days()
    end = date(last, 12, 31)
    missing = tuple(range(last + 1, until.year + 1))
    left = (end - (today or until)).days
    if not missing:
        message = f"covered: official data {first}-{last} reaches {until}"
    else:
        message = (
            f"deadlines after {end} cannot be computed: load the State Council notice for "
            f"{', '.join(map(str, missing))} with load_china_year (or ${CHINA_CALENDAR_ENV}), "
            "or opt in to provisional=True"
        )
    return ChinaCoverage(first, last, until, not missing, missing, left, message)


@checked
def china_calendar(
    *,
    weekly: Mapping[str, Sequence[tuple[str, str]]],
    tz: str = "Asia/Shanghai",
    makeup_as: str = "mon",
    holidays: Sequence[date] = (),
    leaves: Sequence[Any] = (),
    provisional: bool = False,
) -> BusinessCalendar:
    """A `BusinessCalendar` with China's official days off and make-up working days.

    Args:
        weekly: The shop's weekly hours.
        tz: The zone the hours are in.
        makeup_as: Whose weekday hours a make-up working day uses (a Sunday worked "as" a
            Monday); ``"mon"`` by default.
        holidays: The shop's own extra closed days.
        leaves: Partial closures, as aware ``(start, end)`` pairs.
        provisional: Opt in to estimates for the two years after the official data: weekends
            and the statutory holidays the ``holidays`` package computes, no make-up days. The
            calendar's ``provisional_years`` lists them, and every SLA status, deadline, return
            window and regulatory deadline computed on one of their days says ``provisional``.
    """
    off, work, (first, last) = china_days()
    estimated: set[date] = set()
    years: tuple[int, ...] = ()
    if provisional:
        years = tuple(range(last + 1, last + 1 + PROVISIONAL_YEARS))
        estimated = _estimates(years)
    return BusinessCalendar(
        tz=tz,
        weekly=weekly,
        holidays=off | estimated | set(holidays),
        makeup_workdays=dict.fromkeys(work, makeup_as),
        leaves=leaves,
        coverage=(first, years[-1] if years else last),
        name="China calendar (provisional after " + str(last) + ")" if years else "China calendar",
        provisional_years=frozenset(years),
    )


def _estimates(years: Sequence[int]) -> set[date]:
    try:
        import holidays as holidays_package
    except ImportError:  # pragma: no cover - a dependency; the message is for broken installs
        raise InvalidInputError(
            "provisional=True needs the 'holidays' package: pip install holidays"
        ) from None
    return set(holidays_package.country_holidays("CN", years=list(years)))


def _reset_loaded_years() -> None:
    """Forget years loaded at run time (tests)."""
    _REGISTRY.reset()
