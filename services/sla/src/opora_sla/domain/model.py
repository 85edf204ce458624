"""SLA timers: one per ticket and metric, armed until fulfilled or breached.

A timer's state only moves forward (armed → fulfilled, armed → breached), each move being one
conditional write, so that the scheduler and a reply racing for the same timer cannot both win.
Event ids derive from (ticket, metric, kind, level, cycle): a timer that fires again after a
restart republishes the same id.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from opora_shared.contracts.sla import Metric

_NAMESPACE = uuid.UUID("9a4e2f61-8c0b-4d7a-b3e5-1f6d2c8a0e97")
CYCLE = "1"
"""The first (and in the skeleton only) cycle of a metric; reopening will start the next."""


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def sla_event_id(ticket_id: str, metric: Metric | None, kind: str, level: str = "") -> str:
    return derived_id(ticket_id, metric.value if metric else "", kind, level, CYCLE)


def timer_key(ticket_id: str, metric: Metric) -> str:
    return f"{ticket_id}:{metric.value}"


class TimerState(StrEnum):
    ARMED = "armed"
    FULFILLED = "fulfilled"
    BREACHED = "breached"


@dataclass(frozen=True)
class Timer:
    ticket_id: str
    metric: Metric
    policy_id: str
    policy_version: int
    calendar_id: str
    applied_at: datetime
    started_at: datetime
    target_s: int
    due_at: datetime
    warn_at: datetime
    warning_threshold: str
    state: TimerState = TimerState.ARMED
    warned: bool = False
    warning_published: bool = False
    breach_published: bool = False
    fulfilled_at: datetime | None = None
    fulfilled_by: str | None = None

    @property
    def key(self) -> str:
        return timer_key(self.ticket_id, self.metric)

    def elapsed_s(self, at: datetime) -> int:
        return max(0, int((at - self.started_at).total_seconds()))

    def remaining_s(self, at: datetime) -> int:
        """Seconds left at ``at``; negative after the due time."""
        return int((self.due_at - at).total_seconds())

    def met_by(self, replied_at: datetime) -> bool:
        """Whether an answer at ``replied_at`` meets the target (on the due time still does)."""
        return replied_at <= self.due_at

    @property
    def warning_pending(self) -> bool:
        """The warning is still to fire, or fired and was not yet published."""
        armed_unwarned = self.state is TimerState.ARMED and not self.warned
        return armed_unwarned or (self.warned and not self.warning_published)

    @property
    def breach_pending(self) -> bool:
        """The breach is still to fire, or fired and was not yet published."""
        return self.state is TimerState.ARMED or (
            self.state is TimerState.BREACHED and not self.breach_published
        )
