"""A metric's clock that stops while the ticket waits on the customer and starts again after.

Zendesk and Freshdesk pause a metric while a ticket is pending or on hold; what is left of
the target when it pauses is exactly what is left when it resumes. The clock keeps the open
seconds used so far and, while running, since when it runs; every question about it is
answered against the calendar its target counts in. Instants are taken to the whole second
(the fraction dropped), so that used and remaining time are exact integers across any
number of pauses.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from opora_sla.domain.calendars.business import Calendar, as_utc


def _to_second(at: datetime, name: str) -> datetime:
    return as_utc(at, name).replace(microsecond=0)


@dataclass(frozen=True)
class MetricClock:
    """Immutable: ``pause`` and ``resume`` return a new clock. Pausing a paused clock or
    resuming a running one changes nothing, so a redelivered status event is harmless."""

    started_at: datetime
    used_s: int = 0
    """Open seconds counted up to the last pause."""
    running_since: datetime | None = None
    """When the clock last started or resumed; None while paused."""

    def __post_init__(self) -> None:
        if self.used_s < 0:
            raise ValueError(f"used_s must not be negative, got {self.used_s}")
        object.__setattr__(self, "started_at", _to_second(self.started_at, "started_at"))
        if self.running_since is not None:
            object.__setattr__(
                self, "running_since", _to_second(self.running_since, "running_since")
            )

    @classmethod
    def start(cls, at: datetime) -> MetricClock:
        """A clock running from ``at``."""
        return cls(started_at=at, running_since=at)

    @property
    def paused(self) -> bool:
        return self.running_since is None

    def pause(self, at: datetime, calendar: Calendar) -> MetricClock:
        """Stopped at ``at``, with the open time since it last ran added to what was used."""
        if self.running_since is None:
            return self
        return replace(self, used_s=self.used(at, calendar), running_since=None)

    def resume(self, at: datetime) -> MetricClock:
        """Running again from ``at``."""
        if self.running_since is not None:
            return self
        return replace(self, running_since=_to_second(at, "at"))

    def used(self, at: datetime, calendar: Calendar) -> int:
        """Open seconds used by ``at`` (an ``at`` before the last resume adds nothing)."""
        if self.running_since is None:
            return self.used_s
        running = calendar.elapsed(self.running_since, _to_second(at, "at"))
        return self.used_s + max(running, 0)

    def remaining(self, target_s: int, at: datetime, calendar: Calendar) -> int:
        """Open seconds left of ``target_s`` at ``at``; negative once it is overdue."""
        return target_s - self.used(at, calendar)

    def due(self, target_s: int, calendar: Calendar) -> datetime | None:
        """When ``target_s`` is used up if the clock keeps running; None while paused. A
        target already used up before the last resume is due at the resume."""
        if self.running_since is None:
            return None
        left = target_s - self.used_s
        if left <= 0:
            return self.running_since
        return calendar.add(self.running_since, left)
