"""Opening hours as written on a wall: intervals of local clock time within one day.

An interval is ``"HH:MM-HH:MM"``, its end exclusive and allowed to be ``24:00``; a day holds
several, in order and apart (a lunch break, a split shift). A shift past midnight is two
intervals on two days (``22:00-24:00`` and ``00:00-06:00``), so that a holiday closes exactly
its own date.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

MINUTES_PER_DAY = 24 * 60
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
"""Day names in ``date.weekday()`` order."""

_INTERVAL = re.compile(r"^\s*(\d{2}):(\d{2})\s*-\s*(\d{2}):(\d{2})\s*$")


class WallInterval(NamedTuple):
    """Local clock time from ``start`` to ``end``, in minutes after midnight (end exclusive)."""

    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> WallInterval:
        """``"09:00-13:00"`` → ``WallInterval(540, 780)``; ``ValueError`` saying what is wrong."""
        found = _INTERVAL.match(text)
        if found is None:
            raise ValueError(f"{text!r} is not an interval like '09:00-13:00'")
        start_h, start_m, end_h, end_m = (int(part) for part in found.groups())
        if start_h > 23 or start_m > 59:
            raise ValueError(f"{text!r}: the start must be a time from 00:00 to 23:59")
        if not (end_h <= 23 and end_m <= 59) and (end_h, end_m) != (24, 0):
            raise ValueError(f"{text!r}: the end must be a time from 00:01 to 24:00")
        interval = cls(start_h * 60 + start_m, end_h * 60 + end_m)
        if interval.end <= interval.start:
            raise ValueError(
                f"{text!r}: the end must come after the start; a shift past midnight is two "
                "intervals, one ending at 24:00 and one starting at 00:00 the next day"
            )
        return interval

    def __str__(self) -> str:
        return f"{_clock(self.start)}-{_clock(self.end)}"


def _clock(minute: int) -> str:
    return f"{minute // 60:02d}:{minute % 60:02d}"


def day_hours(intervals: Iterable[WallInterval | str]) -> tuple[WallInterval, ...]:
    """One day's intervals, parsed where given as text and checked to be in order and apart
    (one may end where the next starts)."""
    parsed: list[WallInterval] = []
    for index, interval in enumerate(intervals):
        if isinstance(interval, str):
            try:
                interval = WallInterval.parse(interval)
            except ValueError as error:
                raise ValueError(f"interval {index}: {error}") from None
        elif not (0 <= interval.start < interval.end <= MINUTES_PER_DAY):
            raise ValueError(f"interval {index}: {interval!r} is not within one day")
        if parsed and interval.start < parsed[-1].end:
            raise ValueError(
                f"interval {index} ({interval}) must start at or after the end of interval "
                f"{index - 1} ({parsed[-1]}): intervals are listed in order and do not overlap"
            )
        parsed.append(interval)
    return tuple(parsed)
