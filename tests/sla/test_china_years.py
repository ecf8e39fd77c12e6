"""The China calendar past its shipped data: loading a year's notice, coverage checks, provisional.

Before this, every CN return window and every SLA or regulatory deadline reaching 2027 raised
`CalendarCoverageError`, with no way to add the year but a new csdesk release.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner

from csdesk import CalendarCoverageError, Ticket
from csdesk.calendars.china import _builtin, _reset_loaded_years
from csdesk.errors import CalendarError, PolicyError
from csdesk.policies import Complaint, assess, return_policy, return_window, tiering_policy
from csdesk.scripts.main import cli
from csdesk.sla import (
    CHINA_CALENDAR_ENV,
    ChinaYear,
    SlaPolicy,
    china_calendar,
    china_coverage,
    china_days,
    load_china_year,
    sla_report,
)
from tests.factories import new_order

SHANGHAI = ZoneInfo("Asia/Shanghai")
OFFICE = {day: [("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}

YEAR_2027 = """
year = 2027
notice = "国务院办公厅关于2027年部分节假日安排的通知 (test data)"
url = "https://www.gov.cn/test"
makeup_workdays = [2027-02-20, 2027-10-09]

[[days_off]]
name = "元旦"
first = 2027-01-01
last = 2027-01-01

[[days_off]]
name = "春节"
first = 2027-02-06
last = 2027-02-12

[[days_off]]
name = "清明节"
first = 2027-04-05
last = 2027-04-05

[[days_off]]
name = "劳动节"
first = 2027-05-01
last = 2027-05-05

[[days_off]]
name = "端午节"
first = 2027-06-09
last = 2027-06-09

[[days_off]]
name = "中秋节"
first = 2027-09-15
last = 2027-09-15

[[days_off]]
name = "国庆节"
first = 2027-10-01
last = 2027-10-07
"""


@pytest.fixture(autouse=True)
def _fresh_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.delenv(CHINA_CALENDAR_ENV, raising=False)
    _reset_loaded_years()
    yield
    _reset_loaded_years()


@pytest.fixture
def year_file(tmp_path: Path) -> Path:
    path = tmp_path / "china-2027.toml"
    path.write_text(YEAR_2027, encoding="utf-8")
    return path


def _data() -> dict[str, object]:
    import tomllib

    return tomllib.loads(YEAR_2027)


def test_every_shipped_year_passes_the_checks_a_loaded_year_gets() -> None:
    for year, entry in _builtin().items():
        assert entry.problems() == [], year
        assert 245 <= entry.working_days() <= 251


def test_the_time_bomb_without_the_next_year() -> None:
    calendar = china_calendar(weekly=OFFICE)
    with pytest.raises(CalendarCoverageError):
        calendar.add_working_days(date(2026, 12, 25), 10)


def test_loading_a_year_from_a_file_extends_every_calendar_built_after(year_file: Path) -> None:
    loaded = load_china_year(year_file)
    assert loaded.year == 2027
    assert china_days()[2] == (2018, 2027)
    calendar = china_calendar(weekly=OFFICE)
    assert calendar.add_working_days(date(2026, 12, 25), 10) == date(2027, 1, 11)
    assert not calendar.is_working_day(date(2027, 10, 4))
    assert calendar.is_working_day(date(2027, 10, 9))  # a Saturday worked
    assert not calendar.is_provisional(date(2027, 10, 9))


def test_the_environment_variable_loads_a_folder_on_first_use(
    year_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(CHINA_CALENDAR_ENV, str(year_file.parent))
    _reset_loaded_years()
    assert china_days()[2] == (2018, 2027)


def test_the_same_year_twice_is_fine_a_different_one_needs_replace(year_file: Path) -> None:
    load_china_year(year_file)
    load_china_year(year_file)
    changed = {**_data(), "makeup_workdays": []}
    with pytest.raises(CalendarError, match="replace=True"):
        load_china_year(changed)
    assert load_china_year(changed, replace=True).makeup_workdays == ()


def _with(**change: object) -> dict[str, object]:
    return {**_data(), **change}


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (_with(makeup_workdays=["2027-02-22"]), "is a weekday"),
        (_with(makeup_workdays=["2028-01-08"]), "not in 2027"),
        (_with(makeup_workdays=["2027-10-02"]), "both a day off and a make-up"),
        (_with(makeup_workdays=["2027-02-20", "2027-02-20"]), "listed twice"),
        (_with(days_off=[{"name": "x", "first": "2026-12-31", "last": "2027-01-01"}]), "not in"),
        (_with(days_off=[{"name": "x", "first": "2027-05-05", "last": "2027-05-01"}]), "before"),
        (
            _with(days_off=[{"name": "x", "first": "2027-03-01", "last": "2027-04-30"}]),
            "working days is outside",
        ),
        (_with(days_off=[]), "days_off"),
        (_with(notice=""), "notice"),
        (_with(bogus=1), "bogus"),
        (_with(year="2027x"), "year"),
    ],
)
def test_implausible_years_are_refused(data: dict[str, object], problem: str) -> None:
    with pytest.raises(PolicyError, match=problem):
        load_china_year(data)
    assert china_days()[2] == (2018, 2026)  # nothing was loaded


def test_years_must_follow_each_other() -> None:
    new_year = {"name": "元旦", "first": "2028-01-01", "last": "2028-01-01"}
    later = {**_data(), "year": 2028, "makeup_workdays": [], "days_off": [new_year]}
    with pytest.raises(CalendarError, match="load 2027 before 2028"):
        load_china_year(later)


def test_unreadable_and_malformed_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{nope", encoding="utf-8")
    with pytest.raises(PolicyError, match="not valid"):
        load_china_year(bad)
    with pytest.raises(PolicyError, match="cannot read"):
        load_china_year(tmp_path / "missing.toml")
    gbk = tmp_path / "gbk.toml"
    gbk.write_bytes('notice = "通知"'.encode("gbk"))
    with pytest.raises(PolicyError):
        load_china_year(gbk)


def test_coverage_report_warns_ahead(year_file: Path) -> None:
    report = china_coverage(date(2027, 2, 1), today=date(2026, 11, 29))
    assert not report.ok
    assert report.missing_years == (2027,)
    assert report.days_left == 32
    assert "load the State Council notice for 2027" in report.message
    load_china_year(year_file)
    assert china_coverage(date(2027, 2, 1), today=date(2026, 11, 29)).ok


def test_provisional_mode_is_explicit_and_marked() -> None:
    calendar = china_calendar(weekly=OFFICE, provisional=True)
    assert calendar.provisional_years == {2027, 2028}
    assert not calendar.is_working_day(date(2027, 10, 1))  # National Day, estimated
    assert calendar.is_provisional(date(2026, 12, 25), date(2027, 1, 5))
    assert not calendar.is_provisional(date(2026, 3, 1))
    # An SLA clock crossing into 2027 says so; one inside 2026 does not.
    policy = SlaPolicy.from_data(
        {
            "id": "s",
            "version": "1",
            "source": "t",
            "as_of": "2026-01-01",
            "targets": {"p3": [{"metric": "resolution", "minutes": 60 * 40}]},
        }
    )
    late = Ticket(id="T-1", category="order_problem", customer_id="C-1",
                  created_at=datetime(2026, 12, 28, 10, tzinfo=SHANGHAI))  # fmt: skip
    early = late.model_copy(update={"created_at": datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)})
    now = datetime(2026, 12, 28, 11, tzinfo=SHANGHAI)
    (crossing,) = sla_report(late, [], policies=[policy], calendar=calendar, now=now).statuses
    (inside,) = sla_report(early, [], policies=[policy], calendar=calendar, now=now).statuses
    assert crossing.provisional
    assert crossing.deadline is not None
    assert crossing.deadline.year == 2027
    assert not inside.provisional


def test_provisional_regulatory_deadline_and_return_window() -> None:
    calendar = china_calendar(weekly=OFFICE, provisional=True)
    complaint = Complaint(
        id="K-1", customer_id="C-1", text="投诉", public_channel="12315",
        received_at=datetime(2026, 12, 1, 10, tzinfo=SHANGHAI),
    )  # fmt: skip
    deadlines = assess(
        complaint, policy=tiering_policy("seeds"), now=complaint.received_at, calendar=calendar
    ).deadlines
    assert [d.provisional for d in deadlines] == [False, True]  # 7 days in 2026, 45 into 2027
    order = new_order()
    signed = datetime(2026, 12, 27, 15, tzinfo=SHANGHAI)
    order = order.model_copy(update={"signed_at": signed, "state": "delivered"})
    window = return_window(
        order, "1", policy=return_policy("cn_consumer_law"), now=signed + timedelta(days=1)
    )  # the 7th day, Sun 2027-01-03, is past the official data: judged on estimates
    assert window.provisional
    assert any(s.code == "returns.provisional" for s in window.trace)


def test_calendar_check_command(year_file: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["calendar", "check", "--until", "2027-02-01"])
    assert missing.exit_code == 1
    assert "2027" in missing.output
    covered = runner.invoke(
        cli, ["calendar", "check", "--until", "2027-02-01", "--load", str(year_file), "--json"]
    )
    assert covered.exit_code == 0, covered.output
    data = json.loads(covered.output)
    assert data["ok"]
    assert data["loaded"] == [2027]
    bad = runner.invoke(cli, ["calendar", "check", "--until", "soon"])
    assert bad.exit_code == 2


def test_china_year_is_a_config_model() -> None:
    # 261 weekdays, 17 of them off, 2 weekend days worked
    assert ChinaYear.model_validate(_data()).working_days() == 261 - 17 + 2
