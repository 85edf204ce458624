"""The SLA policy a new ticket gets: targets per metric, in the calendar the policy names.

Skeleton policy ``default`` v1: a first-reply target by priority in calendar time (24x7), and
one warning at 75 % of it. Business hours, customer tiers and further metrics come later; they
add rules here and keep the shape of :class:`AppliedPolicy`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from opora_shared.contracts.common import Priority
from opora_shared.contracts.sla import Metric

from opora_sla.domain.model import Timer

POLICY_ID = "default"
POLICY_VERSION = 1
CALENDAR_ID = "24x7"
WARNING_FRACTION = 0.75
WARNING_THRESHOLD = "75%"

FIRST_REPLY_TARGETS: dict[Priority, timedelta] = {
    Priority.URGENT: timedelta(hours=1),
    Priority.HIGH: timedelta(hours=4),
    Priority.NORMAL: timedelta(hours=8),
    Priority.LOW: timedelta(hours=24),
}


@dataclass(frozen=True)
class AppliedPolicy:
    policy_id: str
    policy_version: int
    calendar_id: str
    timers: tuple[Timer, ...]


def apply_policy(
    ticket_id: str, priority: Priority, opened_at: datetime, applied_at: datetime
) -> AppliedPolicy:
    """The timers of a ticket opened at ``opened_at``; the clocks start when it was opened."""
    target = FIRST_REPLY_TARGETS[priority]
    first_reply = Timer(
        ticket_id=ticket_id,
        metric=Metric.FIRST_REPLY,
        policy_id=POLICY_ID,
        policy_version=POLICY_VERSION,
        calendar_id=CALENDAR_ID,
        applied_at=applied_at,
        started_at=opened_at,
        target_s=int(target.total_seconds()),
        due_at=opened_at + target,
        warn_at=opened_at + target * WARNING_FRACTION,
        warning_threshold=WARNING_THRESHOLD,
    )
    return AppliedPolicy(POLICY_ID, POLICY_VERSION, CALENDAR_ID, (first_reply,))
