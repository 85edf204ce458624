"""Business time: when a team's desk is open, and how long a target takes in open time.

Every function takes timezone-aware instants and returns UTC ones; local time appears only
inside, where a day's opening hours are turned into instants.

**Wall time to instant.** An opening or closing time ``t`` on date ``d`` means *the first
instant at which the zone's clock shows ``d t`` or later*. For an ordinary time that is the
time itself. A time repeated when clocks go back means its first occurrence (``fold=0``):
a desk open 02:00-03:00 on the night Berlin falls back is open for both passes of that hour,
two real hours, and one closing at 02:30 closes on the first pass. A time skipped when
clocks go forward means the moment the clock jumps past it: on the night Berlin springs
forward, 02:30 opens at 03:00 CEST and an interval 02:00-03:00 is empty. The rule is
monotone, so a day's intervals stay in order and apart, and each date owns the stretch from
the first instant its clock reaches 00:00 to the first instant the next date's does.

Counting is half-open: a desk is open at its opening time and closed at its closing time.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Final, Protocol
from zoneinfo import ZoneInfo

from opora_sla.domain.calendars.hours import WEEKDAYS, WallInterval, day_hours

SEARCH_LIMIT_DAYS: Final = 3653
"""How far ahead (ten years) a search for opening hours goes before the calendar counts as
never open."""

_SECOND: Final = timedelta(seconds=1)
_MICROSECOND: Final = timedelta(microseconds=1)
_DAY: Final = timedelta(days=1)
_CACHE_LIMIT: Final = 4096

Span = tuple[datetime, datetime]
"""Open from the first instant (inclusive) to the second (exclusive), both UTC."""


class NeverOpenError(ValueError):
    """The calendar has no opening hours in the ten years searched."""


class Calendar(Protocol):
    """What an SLA target is counted in: business hours, or calendar hours (24x7)."""

    @property
    def id(self) -> str: ...

    def add(self, start: datetime, seconds: int) -> datetime:
        """The instant at which ``seconds`` of open time have passed since ``start``."""
        ...

    def elapsed(self, start: datetime, end: datetime) -> int:
        """Open seconds from ``start`` to ``end``; negative when ``end`` comes first."""
        ...

    def is_open(self, at: datetime) -> bool: ...

    def next_open(self, at: datetime) -> datetime:
        """``at`` when open then, otherwise the next opening."""
        ...


def as_utc(at: datetime, name: str = "instant") -> datetime:
    """``at`` in UTC; a naive datetime is refused rather than guessed."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware, got {at!r}")
    return at.astimezone(UTC)


def whole_seconds(delta: timedelta) -> int:
    """Seconds in ``delta``, truncated toward zero (so a negated delta gives the negation)."""
    micro = delta // _MICROSECOND
    whole = abs(micro) // 1_000_000
    return whole if micro >= 0 else -whole


def _check_seconds(seconds: int) -> None:
    if seconds < 0:
        raise ValueError(f"seconds must not be negative, got {seconds}")


@dataclass(frozen=True)
class CalendarHours:
    """Always open: targets counted in calendar hours, by plain arithmetic on instants."""

    id: str = "24x7"

    def add(self, start: datetime, seconds: int) -> datetime:
        _check_seconds(seconds)
        return as_utc(start, "start") + timedelta(seconds=seconds)

    def elapsed(self, start: datetime, end: datetime) -> int:
        return whole_seconds(as_utc(end, "end") - as_utc(start, "start"))

    def is_open(self, at: datetime) -> bool:
        as_utc(at, "at")
        return True

    def next_open(self, at: datetime) -> datetime:
        return as_utc(at, "at")


CALENDAR_HOURS: Final = CalendarHours()


@dataclass(frozen=True)
class _Day:
    begins: datetime
    """The first instant at which the clock shows this date."""
    spans: tuple[Span, ...]


@dataclass(frozen=True, eq=False)
class BusinessCalendar:
    """A desk's opening hours in its time zone: a week of intervals, holidays (closed all
    day), and special days whose hours replace the usual ones (a short day before a holiday,
    a working Saturday) and win over a holiday on the same date.

    Instances are immutable; each remembers the instants of the days it has worked out.
    """

    id: str
    zone: ZoneInfo
    week: tuple[tuple[WallInterval, ...], ...]
    """Seven days' intervals, Monday first."""
    holidays: frozenset[date] = frozenset()
    special_days: Mapping[date, tuple[WallInterval, ...]] = field(
        default_factory=lambda: MappingProxyType({})
    )
    _days: dict[date, _Day] = field(
        default_factory=dict, init=False, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        if len(self.week) != len(WEEKDAYS):
            raise ValueError(f"week must have {len(WEEKDAYS)} days, got {len(self.week)}")
        week = tuple(_checked(name, hours) for name, hours in zip(WEEKDAYS, self.week, strict=True))
        special = {day: _checked(str(day), hours) for day, hours in self.special_days.items()}
        object.__setattr__(self, "week", week)
        object.__setattr__(self, "holidays", frozenset(self.holidays))
        object.__setattr__(self, "special_days", MappingProxyType(special))

    @classmethod
    def build(
        cls,
        id: str,
        timezone: str,
        week: Mapping[str, Iterable[str | WallInterval]],
        holidays: Iterable[date] = (),
        special_days: Mapping[date, Iterable[str | WallInterval]] | None = None,
    ) -> BusinessCalendar:
        """A calendar from text: ``week={"mon": ["09:00-13:00", "14:00-18:00"], ...}``;
        a day left out is closed."""
        unknown = sorted(set(week) - set(WEEKDAYS))
        if unknown:
            raise ValueError(f"unknown day names {unknown}: use {', '.join(WEEKDAYS)}")
        return cls(
            id=id,
            zone=ZoneInfo(timezone),
            week=tuple(_checked(name, week.get(name, ())) for name in WEEKDAYS),
            holidays=frozenset(holidays),
            special_days={
                day: _checked(str(day), hours) for day, hours in (special_days or {}).items()
            },
        )

    def hours_on(self, day: date) -> tuple[WallInterval, ...]:
        """The local opening hours of ``day``."""
        special = self.special_days.get(day)
        if special is not None:
            return special
        if day in self.holidays:
            return ()
        return self.week[day.weekday()]

    def reaches(self, day: date, minute: int) -> datetime:
        """The first instant (UTC) at which the local clock shows ``day`` and ``minute``
        minutes past midnight, or later (``minute`` = 1440 is the next midnight)."""
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        first_pass = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        if self._wall(first_pass) == wall:
            return first_pass
        # Skipped by a jump forward: fold=1 reads it with the offset after the jump, landing
        # before the jump, fold=0 after it; the jump is the first second between them whose
        # clock reading has passed the wall time.
        before = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        after = first_pass
        while after - before > _SECOND:
            middle = before + _SECOND * ((after - before) // _SECOND // 2)
            if self._wall(middle) >= wall:
                after = middle
            else:
                before = middle
        return after

    def add(self, start: datetime, seconds: int) -> datetime:
        """The instant at which ``seconds`` of business time have passed since ``start``;
        outside hours counting begins at the next opening. A target ending exactly at a
        closing time is due at that closing time; ``add(start, 0)`` is ``start``."""
        _check_seconds(seconds)
        at = as_utc(start, "start")
        if seconds == 0:
            return at
        remaining = timedelta(seconds=seconds)
        for opens, closes in self._open_from(at):
            if remaining <= closes - opens:
                return opens + remaining
            remaining -= closes - opens
        raise AssertionError("unreachable: the search ends in NeverOpenError")  # pragma: no cover

    def elapsed(self, start: datetime, end: datetime) -> int:
        """Business seconds from ``start`` to ``end`` (whole seconds, truncated); negative
        when ``end`` comes first, so that elapsed(a, b) + elapsed(b, c) == elapsed(a, c)."""
        begin, finish = as_utc(start, "start"), as_utc(end, "end")
        if finish < begin:
            return -self.elapsed(finish, begin)
        total = timedelta()
        day = self._local_date(begin)
        while True:
            today = self._day(day)
            if today.begins >= finish:
                return whole_seconds(total)
            for opens, closes in today.spans:
                overlap = min(closes, finish) - max(opens, begin)
                if overlap > timedelta():
                    total += overlap
            day += _DAY

    def is_open(self, at: datetime) -> bool:
        instant = as_utc(at, "at")
        day = self._local_date(instant)
        while True:
            today = self._day(day)
            if today.begins > instant:
                return False
            if any(opens <= instant < closes for opens, closes in today.spans):
                return True
            day += _DAY

    def next_open(self, at: datetime) -> datetime:
        """``at`` when the desk is open then, otherwise its next opening."""
        for opens, _closes in self._open_from(as_utc(at, "at")):
            return opens
        raise AssertionError("unreachable: the search ends in NeverOpenError")  # pragma: no cover

    def _open_from(self, at: datetime) -> Iterator[Span]:
        """The open spans after ``at``, the first cut to begin at ``at``, in order, without
        end; ``NeverOpenError`` after ten years without one."""
        day = self._local_date(at)
        if not any(self.week) and not any(
            hours for special, hours in self.special_days.items() if special >= day
        ):
            raise NeverOpenError(f"calendar {self.id!r} has no opening hours after {at}")
        quiet_days, first_quiet_day = 0, day
        while quiet_days <= SEARCH_LIMIT_DAYS:
            quiet_days += 1
            for opens, closes in self._day(day).spans:
                if closes > at:
                    quiet_days, first_quiet_day = 0, day + _DAY
                    yield max(opens, at), closes
            day += _DAY
        raise NeverOpenError(
            f"calendar {self.id!r} has no opening hours in the {SEARCH_LIMIT_DAYS} days "
            f"from {first_quiet_day}"
        )

    def _day(self, day: date) -> _Day:
        known = self._days.get(day)
        if known is not None:
            return known
        spans: list[Span] = []
        for interval in self.hours_on(day):
            opens, closes = self.reaches(day, interval.start), self.reaches(day, interval.end)
            if opens >= closes:
                continue  # wholly inside a jump forward
            if spans and spans[-1][1] == opens:
                spans[-1] = (spans[-1][0], closes)
            else:
                spans.append((opens, closes))
        known = _Day(self.reaches(day, 0), tuple(spans))
        if len(self._days) >= _CACHE_LIMIT:
            self._days.clear()
        self._days[day] = known
        return known

    def _wall(self, instant: datetime) -> datetime:
        return instant.astimezone(self.zone).replace(tzinfo=None)

    def _local_date(self, instant: datetime) -> date:
        return instant.astimezone(self.zone).date()


def _checked(name: str, hours: Iterable[str | WallInterval]) -> tuple[WallInterval, ...]:
    try:
        return day_hours(hours)
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None
