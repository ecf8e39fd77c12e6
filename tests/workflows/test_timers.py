from datetime import datetime, timedelta

import pytest

from csdesk import PolicyError
from csdesk.calendars import WeekdayCalendar
from csdesk.decision import preset_names
from csdesk.policies import TimerPreset, TimerSpec, timer_preset
from csdesk.workflows import AfterSaleWorkflow, deadlines, due_events, fire
from tests.factories import PLACED, SHANGHAI, STAFF, new_case, new_order, paid_order, shipped_order

CN = timer_preset("cn_platform")
GENERIC = timer_preset("generic")


def test_every_preset_loads_with_sources() -> None:
    assert preset_names("timers") == ["cn_platform", "eu_crd", "generic", "uk_ccr"]
    for name in preset_names("timers"):
        preset = timer_preset(name)
        assert preset.source
        for field in TimerPreset.model_fields:
            spec = getattr(preset, field)
            if isinstance(spec, TimerSpec):
                assert spec.source


def test_order_deadlines_follow_its_facts() -> None:
    order = new_order()
    (pay_by,) = deadlines(order, CN)
    assert (pay_by.kind, pay_by.due_at, pay_by.on_expiry) == (
        "pay_by",
        PLACED + timedelta(hours=24),
        "expire",
    )
    assert pay_by.active
    order = shipped_order()
    kinds = {d.kind: d for d in deadlines(order, CN)}
    assert not kinds["pay_by"].active
    assert not kinds["ship_by"].active
    assert kinds["auto_confirm_at"].active


def test_pay_by_on_the_order_wins() -> None:
    order = new_order()
    order.pay_by = PLACED + timedelta(minutes=15)
    assert deadlines(order, CN)[0].due_at == PLACED + timedelta(minutes=15)


def test_due_events_only_when_due_and_valid_now() -> None:
    order = new_order()
    assert due_events(order, PLACED + timedelta(hours=23, minutes=59), CN) == []
    (due,) = due_events(order, PLACED + timedelta(hours=24), CN)
    assert due.on_expiry == "expire"
    assert due_events(paid_order(), PLACED + timedelta(days=30), CN)[0].on_expiry == "notify"


def test_working_days_skip_the_weekend() -> None:
    # Paid Thursday 26 Feb 10:00; 2 working days later is Monday 2 March 10:00.
    order = paid_order()
    (ship_by,) = [d for d in deadlines(order, GENERIC) if d.kind == "ship_by"]
    assert ship_by.due_at.astimezone(SHANGHAI) == datetime(2026, 3, 2, 10, tzinfo=SHANGHAI)


def test_a_calendar_moves_working_day_deadlines() -> None:
    from datetime import date

    order = paid_order()
    calendar = WeekdayCalendar(holidays=[date(2026, 3, 2)])
    (ship_by,) = [d for d in deadlines(order, GENERIC, calendar) if d.kind == "ship_by"]
    assert ship_by.due_at.astimezone(SHANGHAI).date() == date(2026, 3, 3)


def test_case_deadlines_and_the_return_override() -> None:
    case = new_case()
    (respond,) = [d for d in deadlines(case, CN) if d.kind == "respond_by"]
    assert respond.due_at == case.requested_at + timedelta(days=5)
    refund_only = new_case(type="refund_only")
    (respond,) = [d for d in deadlines(refund_only, CN) if d.kind == "respond_by"]
    assert respond.due_at == refund_only.requested_at + timedelta(hours=36)


def test_scheduler_loop_fires_what_is_due() -> None:
    case = new_case()
    now = case.requested_at + timedelta(days=5)
    for deadline in due_events(case, now, CN):
        fire(AfterSaleWorkflow, case, deadline.on_expiry, actor=STAFF, now=now, timers=CN)
    assert case.state == "awaiting_return"
    assert [d.kind for d in deadlines(case, CN) if d.active] == ["ship_back_by"]


def test_timer_spec_needs_one_kind_of_duration() -> None:
    with pytest.raises(PolicyError):
        TimerPreset.from_data(
            {
                "id": "x",
                "version": "1",
                "source": "s",
                "as_of": "2026-01-01",
                "pay_by": {"on_expiry": "expire", "source": "s"},
            }
        )
    with pytest.raises(PolicyError):
        TimerPreset.from_data(
            {
                "id": "x",
                "version": "1",
                "source": "s",
                "as_of": "2026-01-01",
                "pay_by": {"hours": 1, "working_days": 1, "on_expiry": "expire", "source": "s"},
            }
        )


def test_deadlines_refuse_other_things() -> None:
    from csdesk.errors import InvalidInputError

    with pytest.raises(InvalidInputError):
        deadlines("SO-1", CN)  # type: ignore[arg-type]
