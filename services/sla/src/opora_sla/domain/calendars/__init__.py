"""Business calendars for SLA targets: opening hours per team, holidays, and time counted in
them across daylight-saving changes and pauses.

- :mod:`.hours` — a day's opening hours as wall-clock intervals;
- :mod:`.business` — :class:`BusinessCalendar` and the 24x7 :data:`CALENDAR_HOURS`:
  ``add``, ``elapsed``, ``is_open``, ``next_open`` on UTC instants;
- :mod:`.pauses` — :class:`MetricClock`, a metric's clock that pauses and resumes exactly;
- :mod:`.ical` — holidays from an iCalendar file;
- :mod:`.files` — the calendars file (YAML) and each team's calendar.

All of it is pure; only :func:`load_calendars` reads files.
"""

from opora_sla.domain.calendars.business import (
    CALENDAR_HOURS,
    SEARCH_LIMIT_DAYS,
    BusinessCalendar,
    Calendar,
    CalendarHours,
    NeverOpenError,
)
from opora_sla.domain.calendars.files import (
    CalendarBook,
    CalendarError,
    CalendarsFile,
    load_calendars,
    parse_calendars,
)
from opora_sla.domain.calendars.hours import WEEKDAYS, WallInterval
from opora_sla.domain.calendars.ical import holidays_from_ics
from opora_sla.domain.calendars.pauses import MetricClock

__all__ = [
    "CALENDAR_HOURS",
    "SEARCH_LIMIT_DAYS",
    "WEEKDAYS",
    "BusinessCalendar",
    "Calendar",
    "CalendarBook",
    "CalendarError",
    "CalendarHours",
    "CalendarsFile",
    "MetricClock",
    "NeverOpenError",
    "WallInterval",
    "holidays_from_ics",
    "load_calendars",
    "parse_calendars",
]
