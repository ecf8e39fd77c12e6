"""Review recovery (中差评处理) as data: how fast, how often, when and how to contact.

The seeds' practice: contact the customer promptly after a neutral or negative review ("若有中差评
则及时联系客户", the longer it waits the lower the chance and the higher the price), by phone
first, and never harass: a customer who declines firmly is thanked, the refusal noted, the case
closed. A `ReviewRecoveryPolicy` puts numbers on that; `csdesk.workflows.ReviewCaseWorkflow`
enforces them on every contact attempt, and `next_contact_at` says when the next one may be.

Examples:
    >>> policy = review_recovery_policy("seeds")
    >>> policy.max_attempts, policy.first_channel, str(policy.quiet_start), str(policy.quiet_end)
    (3, <Channel.PHONE: 'phone'>, '21:00:00', '09:00:00')
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from functools import cache
from typing import Self
from zoneinfo import ZoneInfo

from pydantic import Field, model_validator

from csdesk._checks import checked
from csdesk.decision import Policy, load_policy
from csdesk.models import Channel

__all__ = ["ReviewRecoveryPolicy", "review_recovery_policy"]


class ReviewRecoveryPolicy(Policy):
    """Limits on contacting a customer about their review (kind ``review_recovery``).

    Attributes:
        first_contact_hours: The first attempt is due this many hours after the review was
            posted (act fast); `csdesk.workflows.review_contacts_due` lists the late ones.
        max_attempts: Attempts in all; then the case can only be closed as unreachable.
        min_gap_minutes: The least time between two attempts.
        quiet_start, quiet_end: No attempt between these local times of the customer's zone
            (overnight when ``quiet_start`` is after ``quiet_end``).
        first_channel: The channel of the first attempt (phone first); ``None``: any.
        channels: The channels allowed at all.
        give_up_after_days: Without reaching the customer for this many days after the case
            opened, it may be closed as unreachable even with attempts left.
    """

    first_contact_hours: int = Field(default=24, gt=0)
    max_attempts: int = Field(default=3, gt=0, le=10)
    min_gap_minutes: int = Field(default=120, ge=0)
    quiet_start: time = time(21, 0)
    quiet_end: time = time(9, 0)
    first_channel: Channel | None = Channel.PHONE
    channels: tuple[Channel, ...] = Field(default=(Channel.PHONE, Channel.SMS, Channel.CHAT),
                                          min_length=1)  # fmt: skip
    give_up_after_days: int = Field(default=3, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.first_channel is not None and self.first_channel not in self.channels:
            raise ValueError(f"first_channel {self.first_channel} is not in channels")
        if self.quiet_start == self.quiet_end and self.quiet_start != time(0):
            raise ValueError("quiet_start equals quiet_end: give 00:00 for both for no quiet hours")
        return self

    def quiet(self, at: datetime, zone: str) -> bool:
        """Whether ``at`` falls in the quiet hours of ``zone``."""
        local = at.astimezone(ZoneInfo(zone)).time()
        start, end = self.quiet_start, self.quiet_end
        if start == end:
            return False
        if start < end:
            return start <= local < end
        return local >= start or local < end

    def after_quiet(self, at: datetime, zone: str) -> datetime:
        """``at``, or the end of the quiet hours it falls in (in ``zone``)."""
        if not self.quiet(at, zone):
            return at
        tz = ZoneInfo(zone)
        local = at.astimezone(tz)
        end = datetime.combine(local.date(), self.quiet_end, tzinfo=tz)
        if end <= local:
            end = datetime.combine(local.date() + timedelta(days=1), self.quiet_end, tzinfo=tz)
        return end.astimezone(at.tzinfo)


@checked
@cache
def review_recovery_policy(name: str) -> ReviewRecoveryPolicy:
    """A built-in review-recovery preset: ``seeds`` (the source documents' practice)."""
    return load_policy(ReviewRecoveryPolicy, name, kind="review_recovery")
