"""The same instant gives the same answer in any zone it is written in (issue 17, item 11)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from csdesk.calendars import china_calendar
from csdesk.policies import Complaint, assess, tiering_policy
from csdesk.policies.crisis import CrisisDetector, CrisisPolicy

SHANGHAI, NEW_YORK = ZoneInfo("Asia/Shanghai"), ZoneInfo("America/New_York")
ZONES = [SHANGHAI, UTC, NEW_YORK]


def test_complaints_written_in_three_zones_make_one_incident() -> None:
    detector = CrisisDetector(CrisisPolicy(window_minutes=60, min_count=3, multiplier=3))
    start = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai, 20:00 the day before in NY
    changes = [
        change
        for n, zone in enumerate(ZONES)
        for change in detector.observe(
            f"C-{n}", (start + timedelta(minutes=n)).astimezone(zone), batch="B-7"
        )
    ]
    assert [c.kind for c in changes] == ["raised"]
    assert changes[0].incident.complaints == ["C-0", "C-1", "C-2"]


@pytest.mark.parametrize("zone", ZONES, ids=["Shanghai", "UTC", "New York"])
def test_a_12315_complaint_has_the_same_deadlines_in_any_zone(zone: ZoneInfo) -> None:
    office = {day: [("09:00", "18:00")] for day in ("mon", "tue", "wed", "thu", "fri")}
    calendar = china_calendar(weekly=office)
    received = datetime(2026, 3, 2, 7, 30, tzinfo=SHANGHAI).astimezone(zone)  # 23:30 UTC, 1 Mar
    complaint = Complaint(id="K-1", customer_id="C-1", text="我要投诉到12315",
                          public_channel="12315", received_at=received)  # fmt: skip
    assessed = assess(complaint, policy=tiering_policy("seeds"), now=received, calendar=calendar)
    due = [(d.name, d.due.astimezone(SHANGHAI).isoformat()) for d in assessed.deadlines]
    assert due == [
        ("accept_by", "2026-03-11T23:59:59+08:00"),  # 7 working days after Monday 2 March
        ("mediation_by", "2026-05-18T23:59:59+08:00"),
    ]
