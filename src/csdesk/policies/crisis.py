"""Crisis detection (集中投诉): spot complaints clustering on one SKU, batch, carrier or shop.

`CrisisDetector` reads complaint events one at a time. Per key it keeps a ring of time buckets
(bounded memory whatever the volume), counts the complaints in the current window and compares them
with the key's own baseline (its average per window over the previous windows). An incident is
raised when the window holds at least ``min_count`` complaints and at least ``multiplier`` × the
baseline; it links the complaints and clears once the window falls back under the threshold.

Examples:
    >>> from datetime import datetime, timedelta, timezone
    >>> detector = CrisisDetector(CrisisPolicy(window_minutes=60, min_count=3, multiplier=3))
    >>> start = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
    >>> changes = [detector.observe(f"CP-{n}", start + timedelta(minutes=n), batch="B-42")
    ...            for n in range(3)]
    >>> [c.kind for group in changes for c in group]
    ['raised']
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import ConfigDict, Field

from csdesk._checks import checked
from csdesk._model import ConfigModel, require_aware

__all__ = ["CrisisDetector", "CrisisPolicy", "Incident", "IncidentChange"]

Dimension = Literal["sku", "batch", "carrier", "shop"]


class CrisisPolicy(ConfigModel):
    """Thresholds of the detector.

    Attributes:
        window_minutes: The sliding window.
        buckets_per_window: Resolution of the window (memory per key is proportional).
        baseline_windows: How many earlier windows make the baseline.
        min_count: At least this many complaints in the window.
        multiplier: And at least this many times the baseline.
        response_level: The response level an incident starts (the seeds' multi-level response).
        max_keys: Keys tracked at once; the least recently seen are forgotten beyond it.
        max_linked: Complaint ids kept on one incident (the 64 most recent before it opened,
            then those that follow).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    window_minutes: int = Field(default=60, gt=0)
    buckets_per_window: int = Field(default=12, gt=0, le=120)
    baseline_windows: int = Field(default=24, gt=0, le=1000)
    min_count: int = Field(default=5, gt=0)
    multiplier: float = Field(default=4.0, ge=1)
    response_level: int = Field(default=3, ge=1, le=3)
    max_keys: int = Field(default=100_000, gt=0)
    max_linked: int = Field(default=500, gt=0)


@dataclass
class Incident:
    """A cluster of complaints on one key."""

    id: str
    dimension: str
    value: str
    opened_at: datetime
    response_level: int
    complaints: list[str] = field(default_factory=list)
    peak: int = 0
    baseline: float = 0.0
    cleared_at: datetime | None = None


@dataclass(frozen=True)
class IncidentChange:
    """An incident raised or cleared by one event."""

    kind: Literal["raised", "cleared"]
    incident: Incident


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Buckets count from one instant, so the same moment falls in the same bucket in any zone."""


@dataclass
class _Key:
    counts: list[int]
    last_bucket: int
    current: int = 0  # complaints in the window (the last buckets_per_window buckets)
    total: int = 0  # complaints in the whole ring
    incident: Incident | None = None
    recent: deque[tuple[int, str]] = field(default_factory=lambda: deque(maxlen=64))


class CrisisDetector:
    """A streaming detector over complaint events; bounded memory per key and in keys."""

    @checked
    def __init__(self, policy: CrisisPolicy | None = None) -> None:
        self.policy = policy or CrisisPolicy()
        self._bucket = (
            timedelta(minutes=self.policy.window_minutes) / self.policy.buckets_per_window
        )
        self._ring = self.policy.buckets_per_window * (self.policy.baseline_windows + 1)
        self._keys: OrderedDict[tuple[str, str], _Key] = OrderedDict()
        self._serial = 0
        self.incidents_raised = 0

    def _advance(self, state: _Key, bucket: int) -> None:
        # Slide the ring to ``bucket``, keeping the window and ring sums up to date in O(gap).
        gap = bucket - state.last_bucket
        if gap <= 0:
            return
        ring, per, counts = self._ring, self.policy.buckets_per_window, state.counts
        if gap >= ring:
            state.counts = [0] * ring
            state.current = state.total = 0
        else:
            for step in range(1, gap + 1):
                new = state.last_bucket + step
                state.current -= counts[(new - per) % ring]  # leaves the window
                state.total -= counts[new % ring]  # falls off the ring
                counts[new % ring] = 0
        state.last_bucket = bucket

    def _window(self, state: _Key) -> tuple[int, float]:
        return state.current, (state.total - state.current) / self.policy.baseline_windows

    @checked
    def observe(
        self,
        complaint_id: str,
        at: datetime,
        *,
        sku: str | None = None,
        batch: str | None = None,
        carrier: str | None = None,
        shop: str | None = None,
    ) -> list[IncidentChange]:
        """Count one complaint under each key it has; return incidents raised or cleared."""
        require_aware(at, "at")
        bucket = int((at - _EPOCH) / self._bucket)
        changes: list[IncidentChange] = []
        for dimension, value in (
            ("sku", sku),
            ("batch", batch),
            ("carrier", carrier),
            ("shop", shop),
        ):
            if value is not None:
                changes.extend(self._count(complaint_id, at, bucket, dimension, value))
        return changes

    def _count(
        self, complaint_id: str, at: datetime, bucket: int, dimension: str, value: str
    ) -> list[IncidentChange]:
        key = (dimension, value)
        state = self._keys.get(key)
        if state is None:
            state = _Key(counts=[0] * self._ring, last_bucket=bucket)
            self._keys[key] = state
            if len(self._keys) > self.policy.max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        self._advance(state, bucket)
        if bucket < state.last_bucket - self.policy.buckets_per_window + 1:
            return []  # too late to count: older than the window
        state.counts[bucket % self._ring] += 1
        state.current += 1
        state.total += 1
        state.recent.append((bucket, complaint_id))
        current, baseline = self._window(state)
        threshold = max(self.policy.min_count, self.policy.multiplier * baseline)
        incident = state.incident
        if incident is None and current >= threshold:
            self._serial += 1
            self.incidents_raised += 1
            incident = Incident(
                id=f"INC-{self._serial}",
                dimension=dimension,
                value=value,
                opened_at=at,
                response_level=self.policy.response_level,
                baseline=baseline,
            )
            state.incident = incident
            first = state.last_bucket - self.policy.buckets_per_window + 1
            for when, earlier in state.recent:  # the complaints that made the cluster
                if when >= first:
                    self._link(incident, earlier, current)
            return [IncidentChange("raised", incident)]
        if incident is not None:
            if current < threshold / 2:
                incident.cleared_at = at
                state.incident = None
                return [IncidentChange("cleared", incident)]
            self._link(incident, complaint_id, current)
        return []

    def _link(self, incident: Incident, complaint_id: str, current: int) -> None:
        incident.peak = max(incident.peak, current)
        if len(incident.complaints) < self.policy.max_linked:
            incident.complaints.append(complaint_id)

    @checked
    def sweep(self, now: datetime) -> list[IncidentChange]:
        """Clear incidents whose keys went quiet (call from the host's scheduler)."""
        require_aware(now, "now")
        bucket = int((now - _EPOCH) / self._bucket)
        cleared = []
        for state in self._keys.values():
            if state.incident is None:
                continue
            self._advance(state, bucket)
            current, baseline = self._window(state)
            threshold = max(self.policy.min_count, self.policy.multiplier * baseline)
            if current < threshold / 2:
                state.incident.cleared_at = now
                cleared.append(IncidentChange("cleared", state.incident))
                state.incident = None
        return cleared

    @property
    def tracked_keys(self) -> int:
        """How many keys the detector holds now."""
        return len(self._keys)
