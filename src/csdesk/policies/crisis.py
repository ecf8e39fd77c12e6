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

from array import array
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import ConfigDict, Field

from csdesk._checks import checked
from csdesk._model import ConfigModel, require_aware

__all__ = ["CrisisDetector", "CrisisIncident", "CrisisPolicy", "IncidentChange"]

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
        max_linked: Complaint ids kept on one incident: those of the window among the last
            ``2 × min_count`` (at least 8, at most 64) before it opened, then those that follow.
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
class CrisisIncident:
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
    incident: CrisisIncident


_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
"""Buckets count from one instant, so the same moment falls in the same bucket in any zone."""


class _Key:
    """One key's counts in compact arrays: at most about a kilobyte, however busy the key.

    ``window`` holds the current window's buckets (a ring of ``buckets_per_window``); a bucket
    that leaves the window is added to the coarse total of its window-sized chunk in ``chunks``
    (a ring of ``baseline_windows``, each slot tagged with its chunk number in ``chunk_ids``), so
    the baseline needs no per-bucket history. ``recent`` keeps the last few complaint ids, to link
    the ones that made a cluster when it is raised.
    """

    __slots__ = (
        "chunk_ids", "chunks", "current", "incident", "last_bucket", "recent", "recent_at",
        "window",
    )  # fmt: skip

    def __init__(self, per: int, bucket: int) -> None:
        self.window = array("I", bytes(4 * per))
        # The chunks are made when the first bucket leaves the window: a key seen once costs
        # only its window.
        self.chunks: array[int] | None = None
        self.chunk_ids: array[int] | None = None
        self.last_bucket = bucket
        self.current = 0  # complaints in the window
        self.incident: CrisisIncident | None = None
        self.recent: list[str] = []
        self.recent_at = array("q")


class CrisisDetector:
    """A streaming detector over complaint events; bounded memory per key and in keys.

    Each key costs about a kilobyte (two small arrays and the last few complaint ids) and each
    event O(1) work, however far time jumps between two events.
    """

    @checked
    def __init__(self, policy: CrisisPolicy | None = None) -> None:
        self.policy = policy or CrisisPolicy()
        self._bucket = (
            timedelta(minutes=self.policy.window_minutes) / self.policy.buckets_per_window
        )
        self._recent = min(64, max(2 * self.policy.min_count, 8))
        self._keys: OrderedDict[tuple[str, str], _Key] = OrderedDict()
        self._serial = 0
        self.incidents_raised = 0

    def _advance(self, state: _Key, bucket: int) -> None:
        """Slide the window to ``bucket``: O(buckets per window) at most, whatever the gap."""
        last = state.last_bucket
        if bucket <= last:
            return
        per = self.policy.buckets_per_window
        window = state.window
        # The window holds buckets (last - per, last]; those up to bucket - per leave it.
        for old in range(last - per + 1, min(last, bucket - per) + 1):
            count = window[old % per]
            if count:
                window[old % per] = 0
                state.current -= count
                self._to_chunk(state, old // per, count)
        state.last_bucket = bucket

    def _to_chunk(self, state: _Key, chunk: int, count: int) -> None:
        chunks, ids = state.chunks, state.chunk_ids
        if chunks is None or ids is None:
            windows = self.policy.baseline_windows
            chunks = state.chunks = array("I", bytes(4 * windows))
            ids = state.chunk_ids = array("i", [-1]) * windows
        slot = chunk % len(chunks)
        if ids[slot] != chunk:
            ids[slot] = chunk
            chunks[slot] = 0
        chunks[slot] += count

    def _window(self, state: _Key) -> tuple[int, float]:
        """The window's count, and the baseline: complaints per window over the chunks before."""
        per, windows = self.policy.buckets_per_window, self.policy.baseline_windows
        if state.chunks is None or state.chunk_ids is None:
            return state.current, 0.0
        newest = (state.last_bucket - per + 1) // per  # the chunk the window starts in
        oldest = newest - windows + 1
        history = sum(
            count
            for count, chunk in zip(state.chunks, state.chunk_ids, strict=True)
            if oldest <= chunk <= newest
        )
        return state.current, history / windows

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
            state = _Key(self.policy.buckets_per_window, bucket)
            self._keys[key] = state
            if len(self._keys) > self.policy.max_keys:
                self._keys.popitem(last=False)
        else:
            self._keys.move_to_end(key)
        self._advance(state, bucket)
        if bucket < state.last_bucket - self.policy.buckets_per_window + 1:
            return []  # too late to count: older than the window
        state.window[bucket % self.policy.buckets_per_window] += 1
        state.current += 1
        state.recent.append(complaint_id)
        state.recent_at.append(bucket)
        if len(state.recent) > self._recent:
            del state.recent[0]
            del state.recent_at[0]
        current, baseline = self._window(state)
        threshold = max(self.policy.min_count, self.policy.multiplier * baseline)
        incident = state.incident
        if incident is None and current >= threshold:
            self._serial += 1
            self.incidents_raised += 1
            incident = CrisisIncident(
                id=f"INC-{self._serial}",
                dimension=dimension,
                value=value,
                opened_at=at,
                response_level=self.policy.response_level,
                baseline=baseline,
            )
            state.incident = incident
            first = state.last_bucket - self.policy.buckets_per_window + 1
            for when, earlier in zip(state.recent_at, state.recent, strict=True):
                if when >= first:  # the complaints that made the cluster
                    self._link(incident, earlier, current)
            return [IncidentChange("raised", incident)]
        if incident is not None:
            if current < threshold / 2:
                incident.cleared_at = at
                state.incident = None
                return [IncidentChange("cleared", incident)]
            self._link(incident, complaint_id, current)
        return []

    def _link(self, incident: CrisisIncident, complaint_id: str, current: int) -> None:
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
