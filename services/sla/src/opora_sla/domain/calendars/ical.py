"""Holidays from an iCalendar (RFC 5545) file, the form public holiday feeds are published in.

Parsing is left to ``icalendar``, recurrence to ``recurring-ical-events`` (RRULE, RDATE,
EXDATE and moved occurrences). A holiday file holds all-day events: each closes the dates
from its DTSTART up to its DTEND, which is exclusive (one day when there is neither DTEND
nor DURATION). An event with a time of day is refused rather than rounded to a date, and a
cancelled one is skipped. Recurring events are expanded over a bounded window, 2000 to
2099 unless told otherwise; holidays outside it are not seen.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any, Final

import icalendar
import recurring_ical_events  # type: ignore[import-untyped]  # ships no type information

RECURRENCE_WINDOW: Final = (date(2000, 1, 1), date(2100, 1, 1))
"""Occurrences from the first date (inclusive) to the second (exclusive) are read."""


def holidays_from_ics(
    content: str | bytes, *, window: tuple[date, date] = RECURRENCE_WINDOW
) -> frozenset[date]:
    """The dates an iCalendar file's all-day events cover within ``window``.

    ``ValueError`` names what is wrong: not iCalendar, a broken property, a timed event.
    """
    # Bytes: icalendar reads a one-line str as a file path, and this function does no I/O.
    data = content.encode("utf-8") if isinstance(content, str) else content
    try:
        calendar = icalendar.Calendar.from_ical(data)
    except ValueError as error:
        raise ValueError(f"not an iCalendar file: {error}") from None
    if calendar.name != "VCALENDAR":
        raise ValueError(f"the file holds a {calendar.name}, not a VCALENDAR")
    try:
        timed = next((e for e in calendar.events if isinstance(e.start, datetime)), None)
    except ValueError as error:
        raise ValueError(f"invalid iCalendar data: {error}") from None
    if timed is not None:
        raise ValueError(
            f"event {_describe(timed)} starts at a time of day: a holiday file holds all-day "
            "events (DTSTART;VALUE=DATE)"
        )
    try:
        occurrences: list[Any] = list(recurring_ical_events.of(calendar).between(*window))
    except ValueError as error:
        raise ValueError(f"invalid iCalendar data: {error}") from None
    days: set[date] = set()
    for occurrence in occurrences:
        if str(occurrence.get("STATUS", "")).upper() != "CANCELLED":
            days.update(_dates(occurrence.start, occurrence.end))
    return frozenset(days)


def _dates(start: date, end: date) -> list[date]:
    count = max((end - start).days, 1)
    return [start + timedelta(days=offset) for offset in range(count)]


def _describe(event: icalendar.Event) -> str:
    summary = event.get("SUMMARY")
    uid = event.get("UID")
    return repr(str(summary if summary is not None else uid))
