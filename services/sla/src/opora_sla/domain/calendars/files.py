"""The calendars file: each team's business hours, as data a support lead can change.

```yaml
default: moscow-office          # for a team the file does not name
teams: {vip-desk: 24x7, tier2: moscow-office}
calendars:
  - id: moscow-office
    timezone: Europe/Moscow      # IANA name
    week: {mon: ["09:00-13:00", "14:00-18:00"], sat: []}   # a day left out is closed
    holidays: [2026-01-01]
    holiday_files: [ru-holidays-2026.ics]                  # next to this file
    special_days: {2026-04-30: ["09:00-13:00", "14:00-17:00"]}
```

``24x7`` is built in (calendar hours) and may be named wherever a calendar id may. The file is
validated when it is loaded, holiday files included: a field that does not fit fails the
load with its path (``calendars.0 (calendar 'moscow-office').week.mon: interval 1 ...``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path, PurePosixPath
from types import MappingProxyType
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opora_shared.datafile import parse_yaml, read_source
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

from opora_sla.domain.calendars.business import CALENDAR_HOURS, BusinessCalendar, Calendar
from opora_sla.domain.calendars.hours import WEEKDAYS, WallInterval, day_hours
from opora_sla.domain.calendars.ical import holidays_from_ics

PACKAGE = "opora_sla"
SHIPPED_DIRECTORY = "calendars"
DEFAULT_CALENDARS = (PACKAGE, f"{SHIPPED_DIRECTORY}/default.yaml")
WHAT = "SLA calendars"

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@/-]{0,127}$")]
"""Calendar and team ids travel in events: no spaces, at most 128 characters."""


def _known_zone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ValueError(f"unknown IANA time zone {name!r} (e.g. 'Europe/Moscow')") from None
    return name


TimeZoneName = Annotated[str, AfterValidator(_known_zone)]


def _hours(value: Any) -> tuple[WallInterval, ...]:
    if isinstance(value, str) or not isinstance(value, list | tuple):
        raise ValueError("expected a list of intervals like ['09:00-13:00', '14:00-18:00']")
    if not all(isinstance(item, str | WallInterval) for item in value):
        raise ValueError("each interval is a string like '09:00-13:00'")
    return day_hours(value)


Hours = Annotated[
    tuple[WallInterval, ...],
    PlainValidator(_hours),
    PlainSerializer(lambda hours: [str(interval) for interval in hours], return_type=list[str]),
    WithJsonSchema(
        {"type": "array", "items": {"type": "string", "pattern": r"^\d{2}:\d{2}-\d{2}:\d{2}$"}}
    ),
]
"""One day's opening hours, in order and apart: ``["09:00-13:00", "14:00-18:00"]``."""


def _ics_path(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or not name.strip():
        raise ValueError(f"{name!r}: give a path relative to the calendars file")
    if path.suffix.lower() != ".ics":
        raise ValueError(f"{name!r}: a holiday file is an iCalendar file ending in .ics")
    return name


IcsPath = Annotated[str, AfterValidator(_ics_path)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Week(_Strict):
    """Opening hours by day of the week; a day left out is closed."""

    mon: Hours = ()
    tue: Hours = ()
    wed: Hours = ()
    thu: Hours = ()
    fri: Hours = ()
    sat: Hours = ()
    sun: Hours = ()

    def days(self) -> tuple[tuple[WallInterval, ...], ...]:
        return tuple(getattr(self, name) for name in WEEKDAYS)


class CalendarSpec(_Strict):
    id: Identifier
    timezone: TimeZoneName
    week: Week
    holidays: tuple[date, ...] = Field(default=(), description="Closed all day")
    holiday_files: tuple[IcsPath, ...] = Field(
        default=(), description="iCalendar files of all-day holidays, relative to this file"
    )
    special_days: dict[date, Hours] = Field(
        default_factory=dict,
        description="Hours that replace the week's on a date, holiday or not ([] closes it)",
    )

    @field_validator("special_days", mode="before")
    @classmethod
    def _dates_as_text(cls, value: Any) -> Any:
        """YAML reads an unquoted date key as a date; as text it names the failing field
        ``special_days.2026-04-30`` rather than by its repr."""
        if isinstance(value, dict):
            return {
                key.isoformat() if isinstance(key, date) else key: v for key, v in value.items()
            }
        return value

    @field_validator("week")
    @classmethod
    def _opens_sometime(cls, week: Week) -> Week:
        if not any(week.days()):
            raise ValueError("the week has no opening hours: name at least one day's intervals")
        return week


class CalendarsFile(_Strict):
    """The whole calendars file."""

    default: Identifier = Field(description="The calendar of a team not listed in 'teams'")
    teams: dict[Identifier, Identifier] = Field(
        default_factory=dict, description="Team id → calendar id"
    )
    calendars: tuple[CalendarSpec, ...]

    @field_validator("calendars")
    @classmethod
    def _unique(cls, calendars: tuple[CalendarSpec, ...]) -> tuple[CalendarSpec, ...]:
        if not calendars:
            raise ValueError("name at least one calendar")
        seen: set[str] = set()
        for index, spec in enumerate(calendars):
            if spec.id == CALENDAR_HOURS.id:
                raise ValueError(f"calendar {index}: {spec.id!r} is built in (calendar hours)")
            if spec.id in seen:
                raise ValueError(f"calendar {index}: duplicate calendar id {spec.id!r}")
            seen.add(spec.id)
        return calendars

    @model_validator(mode="after")
    def _known_calendars(self) -> Self:
        known = {spec.id for spec in self.calendars} | {CALENDAR_HOURS.id}
        if self.default not in known:
            raise ValueError(f"default: no calendar {self.default!r} (known: {sorted(known)})")
        for team, calendar_id in self.teams.items():
            if calendar_id not in known:
                raise ValueError(
                    f"teams.{team}: no calendar {calendar_id!r} (known: {sorted(known)})"
                )
        return self


@dataclass(frozen=True)
class CalendarBook:
    """Every calendar by id (``24x7`` included), and which one each team works in."""

    calendars: Mapping[str, Calendar]
    teams: Mapping[str, str]
    default: str
    fingerprint: str = ""
    """A digest of what the calendars mean (hours, zones, holidays with the iCalendar files'
    dates, teams), not of how the file is written: a new comment changes nothing."""

    def get(self, calendar_id: str) -> Calendar:
        try:
            return self.calendars[calendar_id]
        except KeyError:
            raise KeyError(f"no calendar {calendar_id!r}") from None

    def for_team(self, team_id: str | None) -> Calendar:
        """The team's calendar; the default one for no team or a team not listed."""
        if team_id is None:
            return self.get(self.default)
        return self.get(self.teams.get(team_id, self.default))


class CalendarError(ValueError):
    """The calendars file or a holiday file cannot be read, parsed, or does not fit."""


def load_calendars(path: Path | None = None) -> CalendarBook:
    """Read and validate a calendars file and its holiday files; without a path, the one
    shipped with sla."""
    raw, source = read_source(path, DEFAULT_CALENDARS, what=WHAT, error=CalendarError)
    if path is None:
        directory: Traversable = resources.files(PACKAGE).joinpath(SHIPPED_DIRECTORY)
    else:
        directory = path.parent
    return parse_calendars(raw, source=source, directory=directory)


def parse_calendars(
    raw: str, *, source: str = "<string>", directory: Traversable | None = None
) -> CalendarBook:
    """Validate the YAML text of a calendars file; ``directory`` is where its holiday files
    are (without one, a file naming holiday files is refused)."""
    try:
        spec = parse_yaml(
            raw, CalendarsFile, source=source, what=WHAT, error=CalendarError, where=_where
        )
    except CalendarError:
        raise
    except ValueError as error:
        # PyYAML raises a bare ValueError for an impossible date such as 2026-02-30.
        raise CalendarError(f"{source} is not valid YAML: {error}") from error
    calendars: dict[str, Calendar] = {CALENDAR_HOURS.id: CALENDAR_HOURS}
    meaning: dict[str, Any] = {"default": spec.default, "teams": dict(sorted(spec.teams.items()))}
    for index, calendar in enumerate(spec.calendars):
        holidays = set(calendar.holidays)
        for file_index, name in enumerate(calendar.holiday_files):
            field = f"calendars.{index} (calendar {calendar.id!r}).holiday_files.{file_index}"
            holidays |= _read_holidays(name, directory, f"{source}: {field} ({name})")
        meaning[calendar.id] = {
            **calendar.model_dump(mode="json", exclude={"holidays", "holiday_files"}),
            "holidays": sorted(day.isoformat() for day in holidays),
        }
        calendars[calendar.id] = BusinessCalendar(
            id=calendar.id,
            zone=ZoneInfo(calendar.timezone),
            week=calendar.week.days(),
            holidays=frozenset(holidays),
            special_days=calendar.special_days,
        )
    return CalendarBook(
        calendars=MappingProxyType(calendars),
        teams=MappingProxyType(dict(spec.teams)),
        default=spec.default,
        fingerprint=hashlib.sha256(json.dumps(meaning, sort_keys=True).encode("utf-8")).hexdigest(),
    )


def _read_holidays(name: str, directory: Traversable | None, where: str) -> frozenset[date]:
    if directory is None:
        raise CalendarError(f"{where}: holiday files need the calendars file's directory")
    try:
        content = directory.joinpath(name).read_bytes()
    except OSError as error:
        raise CalendarError(f"{where}: cannot read: {error}") from None
    try:
        return holidays_from_ics(content)
    except ValueError as error:
        raise CalendarError(f"{where}: {error}") from None


def _where(loc: tuple[int | str, ...], data: dict[str, Any]) -> str:
    """The failing field's path, naming the calendar by id: ``calendars.0 (calendar 'x')``."""
    parts = [str(part) for part in loc]
    if len(loc) >= 2 and loc[0] == "calendars" and isinstance(loc[1], int):
        calendars = data.get("calendars")
        if (
            isinstance(calendars, list)
            and loc[1] < len(calendars)
            and isinstance(calendars[loc[1]], dict)
            and calendars[loc[1]].get("id") is not None
        ):
            parts[1] += f" (calendar {calendars[loc[1]]['id']!r})"
    return ".".join(parts) or "(top level)"
