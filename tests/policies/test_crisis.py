from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from csdesk import NaiveDatetimeError
from csdesk.policies.crisis import CrisisDetector, CrisisIncident, CrisisPolicy

START = datetime(2026, 1, 1, tzinfo=UTC)


def stream(
    detector: CrisisDetector, events: int, spikes: dict[int, str], seed: int = 7
) -> list[CrisisIncident]:
    """A steady background over 500 SKUs (one complaint every ~20 s), with injected spikes."""
    rnd = random.Random(seed)
    at = START
    raised = []
    for index in range(events):
        at += timedelta(seconds=rnd.expovariate(1 / 20))
        sku = f"SKU-{rnd.randrange(500)}"
        for change in detector.observe(
            f"C{index}", at, sku=sku, batch=f"{sku}-B{rnd.randrange(5)}"
        ):
            if change.kind == "raised":
                raised.append(change.incident)
        if index in spikes:
            for burst in range(20):
                for change in detector.observe(
                    f"S{index}-{burst}",
                    at + timedelta(seconds=30 * burst),
                    sku=spikes[index],
                    batch=f"{spikes[index]}-B9",
                ):
                    if change.kind == "raised":
                        raised.append(change.incident)
    return raised


def test_finds_every_spike_and_no_alarm_on_the_background() -> None:
    detector = CrisisDetector(CrisisPolicy(window_minutes=60, min_count=10, multiplier=4))
    raised = stream(detector, 60_000, {10_000: "SKU-1", 30_000: "SKU-2", 50_000: "SKU-3"})
    keys = sorted((i.dimension, i.value) for i in raised)
    assert keys == [
        ("batch", "SKU-1-B9"),
        ("batch", "SKU-2-B9"),
        ("batch", "SKU-3-B9"),
        ("sku", "SKU-1"),
        ("sku", "SKU-2"),
        ("sku", "SKU-3"),
    ]
    incident = next(i for i in raised if i.value == "SKU-1")
    assert incident.response_level == 3
    assert len(incident.complaints) >= 8
    assert detector.tracked_keys <= 500 + 500 * 5 + 3


def test_clears_when_the_key_goes_quiet() -> None:
    detector = CrisisDetector(CrisisPolicy(window_minutes=60, min_count=3, multiplier=2))
    changes = []
    for minute in range(4):
        changes += detector.observe(f"C{minute}", START + timedelta(minutes=minute), carrier="YT")
    assert [c.kind for c in changes] == ["raised"]
    cleared = detector.sweep(START + timedelta(hours=3))
    assert [c.kind for c in cleared] == ["cleared"]
    assert cleared[0].incident.cleared_at == START + timedelta(hours=3)
    assert cleared[0].incident.complaints == ["C0", "C1", "C2", "C3"]  # the cluster, linked


def test_a_busy_key_needs_a_multiple_of_its_own_baseline() -> None:
    # A shop that always gets 6 complaints an hour: once a day of baseline exists, the steady rate
    # raises nothing (a key with no history is judged on min_count alone, so a new batch's first
    # hour can still raise).
    detector = CrisisDetector(CrisisPolicy(window_minutes=60, min_count=5, multiplier=3))
    later = []
    for minute in range(24 * 60 * 2):
        if minute % 10 == 0:
            changes = detector.observe(f"C{minute}", START + timedelta(minutes=minute), shop="S1")
            if minute > 24 * 60:
                later += [c for c in changes if c.kind == "raised"]
    assert later == []
    burst = []
    for second in range(0, 600, 30):  # then 20 complaints in ten minutes
        burst += detector.observe(
            f"B{second}", START + timedelta(days=2, seconds=second), shop="S1"
        )
    assert [c.kind for c in burst] == ["raised"]


def test_memory_is_bounded_in_keys() -> None:
    detector = CrisisDetector(CrisisPolicy(max_keys=100))
    for index in range(1_000):
        detector.observe(f"C{index}", START + timedelta(seconds=index), sku=f"SKU-{index}")
    assert detector.tracked_keys == 100


def test_naive_time() -> None:
    with pytest.raises(NaiveDatetimeError):
        CrisisDetector().observe("C", datetime(2026, 1, 1), sku="x")


def test_the_same_instant_in_three_zones_counts_as_one_moment() -> None:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from csdesk.policies import CrisisDetector, CrisisPolicy

    detector = CrisisDetector(CrisisPolicy(min_count=3, multiplier=1))
    moment = datetime(2026, 11, 11, 12, 0, tzinfo=UTC)
    zones = [ZoneInfo("Asia/Shanghai"), UTC, ZoneInfo("America/New_York")]
    changes = [
        change
        for number, zone in enumerate(zones)
        for change in detector.observe(f"K-{number}", moment.astimezone(zone), sku="SKU-9")
    ]
    assert [change.kind for change in changes] == ["raised"]
    assert changes[0].incident.complaints == ["K-0", "K-1", "K-2"]
