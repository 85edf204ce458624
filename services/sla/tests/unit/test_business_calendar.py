"""Business calendars: opening hours, holidays and pauses, and the time SLA targets take in them.

The property tests compare the calendar with an oracle written here, independently of the
implementation: it walks minute by minute and calls a minute open when the highest reading the
zone's clock has shown so far lies in the hours of that reading's date. That is the rule the
calendar documents (an opening time means the first instant the clock reaches it): during a
repeated hour the clock's highest reading stays at the end of the first pass, and a skipped
time is reached when the clock jumps past it.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opora_sla.domain.calendars import (
    CALENDAR_HOURS,
    BusinessCalendar,
    CalendarError,
    MetricClock,
    NeverOpenError,
    WallInterval,
    holidays_from_ics,
    load_calendars,
    parse_calendars,
)

MOSCOW = "Europe/Moscow"
BERLIN = "Europe/Berlin"
NEW_YORK = "America/New_York"
HOUR = 3600
MINUTE = timedelta(minutes=1)
WEEKDAYS_9_TO_6_WITH_LUNCH = {
    day: ["09:00-13:00", "14:00-18:00"] for day in ("mon", "tue", "wed", "thu", "fri")
}


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A local wall-clock time in ``zone`` (its first pass when repeated), as UTC."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


def office(zone: str = MOSCOW, **kwargs: Any) -> BusinessCalendar:
    return BusinessCalendar.build("office", zone, WEEKDAYS_9_TO_6_WITH_LUNCH, **kwargs)


def every_day(zone: str, *hours: str) -> BusinessCalendar:
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    return BusinessCalendar.build("desk", zone, {day: list(hours) for day in days})


ICS_HEADER = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//Opora//tests//EN\r\n"


def ics(*events: str) -> str:
    body = "".join(
        f"BEGIN:VEVENT\r\nUID:e{index}@tests\r\nDTSTAMP:20260101T000000Z\r\n"
        + "".join(f"{line}\r\n" for line in event.strip().splitlines())
        + "END:VEVENT\r\n"
        for index, event in enumerate(events)
    )
    return ICS_HEADER + body + "END:VCALENDAR\r\n"


# --- opening hours ------------------------------------------------------------------------------


def test_the_lunch_break_is_skipped() -> None:
    calendar = office()

    due = calendar.add(at(MOSCOW, 2026, 3, 2, 12, 0), 2 * HOUR)

    assert due == at(MOSCOW, 2026, 3, 2, 15, 0)


def test_a_split_shift_counts_only_its_two_parts() -> None:
    calendar = every_day(MOSCOW, "08:00-12:00", "18:00-22:00")

    assert calendar.elapsed(at(MOSCOW, 2026, 3, 2, 0, 0), at(MOSCOW, 2026, 3, 3, 0, 0)) == 8 * HOUR
    assert calendar.add(at(MOSCOW, 2026, 3, 2, 11, 0), 2 * HOUR) == at(MOSCOW, 2026, 3, 2, 19, 0)


def test_time_left_at_closing_carries_over_to_the_next_morning() -> None:
    calendar = office()

    due = calendar.add(at(MOSCOW, 2026, 3, 3, 17, 0), 3 * HOUR)

    assert due == at(MOSCOW, 2026, 3, 4, 11, 0)


def test_the_weekend_is_skipped() -> None:
    calendar = office()

    due = calendar.add(at(MOSCOW, 2026, 3, 6, 17, 0), 2 * HOUR)  # a Friday

    assert due == at(MOSCOW, 2026, 3, 9, 10, 0)


def test_counting_starts_at_the_next_opening_when_started_outside_hours() -> None:
    calendar = office()
    saturday_night = at(MOSCOW, 2026, 3, 7, 23, 0)

    assert not calendar.is_open(saturday_night)
    assert calendar.next_open(saturday_night) == at(MOSCOW, 2026, 3, 9, 9, 0)
    assert calendar.add(saturday_night, HOUR) == at(MOSCOW, 2026, 3, 9, 10, 0)


def test_five_business_days_end_at_the_same_time_a_week_later() -> None:
    calendar = office()

    due = calendar.add(at(MOSCOW, 2026, 3, 2, 10, 0), 5 * 8 * HOUR)

    assert due == at(MOSCOW, 2026, 3, 9, 10, 0)


def test_a_target_used_up_at_closing_time_is_due_at_closing_time() -> None:
    calendar = office()

    assert calendar.add(at(MOSCOW, 2026, 3, 2, 12, 0), HOUR) == at(MOSCOW, 2026, 3, 2, 13, 0)


def test_the_desk_is_open_at_its_opening_time_and_closed_at_its_closing_time() -> None:
    calendar = office()

    assert calendar.is_open(at(MOSCOW, 2026, 3, 2, 9, 0))
    assert not calendar.is_open(at(MOSCOW, 2026, 3, 2, 13, 0))
    assert calendar.is_open(at(MOSCOW, 2026, 3, 2, 14, 0))
    assert calendar.next_open(at(MOSCOW, 2026, 3, 2, 10, 0)) == at(MOSCOW, 2026, 3, 2, 10, 0)


def test_elapsed_is_negative_when_the_end_comes_first() -> None:
    calendar = office()
    start, end = at(MOSCOW, 2026, 3, 2, 10, 0), at(MOSCOW, 2026, 3, 2, 16, 0)

    assert calendar.elapsed(start, end) == 5 * HOUR
    assert calendar.elapsed(end, start) == -5 * HOUR


def test_a_shift_past_midnight_is_written_as_two_intervals_and_runs_on() -> None:
    calendar = BusinessCalendar.build(
        "night", MOSCOW, {"mon": ["22:00-24:00"], "tue": ["00:00-06:00"]}
    )

    assert calendar.add(at(MOSCOW, 2026, 3, 2, 23, 0), 2 * HOUR) == at(MOSCOW, 2026, 3, 3, 1, 0)


def test_a_naive_datetime_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        office().add(datetime(2026, 3, 2, 10, 0), HOUR)


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ValueError, match="negative"):
        office().add(at(MOSCOW, 2026, 3, 2, 10, 0), -1)


def test_the_result_is_in_utc_whatever_zone_the_start_is_given_in() -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=ZoneInfo(MOSCOW))

    due = office().add(start, HOUR)

    assert due.tzinfo is UTC
    assert due == at(MOSCOW, 2026, 3, 2, 11, 0)


def test_overlapping_intervals_are_refused() -> None:
    with pytest.raises(ValueError, match="interval 1"):
        BusinessCalendar.build("x", MOSCOW, {"mon": ["09:00-13:00", "12:00-18:00"]})


def test_a_never_open_calendar_raises_a_clear_error() -> None:
    closed = BusinessCalendar.build("closed", MOSCOW, {})

    with pytest.raises(NeverOpenError, match="'closed' has no opening hours"):
        closed.add(at(MOSCOW, 2026, 3, 2, 10, 0), HOUR)
    with pytest.raises(NeverOpenError):
        closed.next_open(at(MOSCOW, 2026, 3, 2, 10, 0))


def test_a_calendar_open_only_on_a_past_special_day_is_never_open_after_it() -> None:
    calendar = BusinessCalendar.build(
        "event", MOSCOW, {}, special_days={date(2026, 3, 2): ["09:00-18:00"]}
    )

    assert calendar.add(at(MOSCOW, 2026, 3, 2, 8, 0), HOUR) == at(MOSCOW, 2026, 3, 2, 10, 0)
    with pytest.raises(NeverOpenError):
        calendar.add(at(MOSCOW, 2026, 3, 3, 8, 0), HOUR)


def test_a_closed_stretch_of_years_ends_the_search() -> None:
    far = date(2040, 1, 2)
    calendar = BusinessCalendar.build("far", MOSCOW, {}, special_days={far: ["09:00-10:00"]})

    with pytest.raises(NeverOpenError, match="3653 days"):
        calendar.next_open(at(MOSCOW, 2026, 3, 2, 8, 0))


# --- holidays and special days ------------------------------------------------------------------


def test_a_holiday_listed_in_the_file_is_closed_all_day() -> None:
    book = parse_calendars(
        textwrap.dedent(
            """
            default: office
            calendars:
              - id: office
                timezone: Europe/Moscow
                week: {mon: ["09:00-18:00"], tue: ["09:00-18:00"], fri: ["09:00-18:00"]}
                holidays: [2026-03-09]
            """
        )
    )
    calendar = book.get("office")

    assert not calendar.is_open(at(MOSCOW, 2026, 3, 9, 12, 0))
    assert calendar.add(at(MOSCOW, 2026, 3, 6, 17, 0), 2 * HOUR) == at(MOSCOW, 2026, 3, 10, 10, 0)


def test_holidays_come_from_an_icalendar_file_next_to_the_calendars_file(tmp_path: Path) -> None:
    (tmp_path / "holidays.ics").write_text(
        ics(
            "DTSTART;VALUE=DATE:20260101\nDTEND;VALUE=DATE:20260109\nSUMMARY:New Year",
            "DTSTART;VALUE=DATE:20260223\nSUMMARY:One day without DTEND",
        ),
        encoding="utf-8",
    )
    calendars_file = tmp_path / "calendars.yaml"
    calendars_file.write_text(
        "default: office\ncalendars:\n  - id: office\n    timezone: Europe/Moscow\n"
        "    week: {mon: ['09:00-18:00'], tue: ['09:00-18:00'], thu: ['09:00-18:00'], "
        "fri: ['09:00-18:00']}\n    holiday_files: [holidays.ics]\n",
        encoding="utf-8",
    )

    calendar = load_calendars(calendars_file).get("office")

    assert isinstance(calendar, BusinessCalendar)
    assert sorted(calendar.holidays) == [date(2026, 1, day) for day in range(1, 9)] + [
        date(2026, 2, 23)
    ]
    assert calendar.next_open(at(MOSCOW, 2026, 1, 1, 0, 0)) == at(MOSCOW, 2026, 1, 9, 9, 0)


def test_yearly_recurring_holidays_are_expanded() -> None:
    holidays = holidays_from_ics(
        ics("DTSTART;VALUE=DATE:20200612\nRRULE:FREQ=YEARLY\nSUMMARY:Russia Day"),
        window=(date(2025, 1, 1), date(2028, 1, 1)),
    )

    assert holidays == {date(2025, 6, 12), date(2026, 6, 12), date(2027, 6, 12)}


def test_a_cancelled_holiday_does_not_close_the_desk() -> None:
    holidays = holidays_from_ics(
        ics("DTSTART;VALUE=DATE:20260612\nSTATUS:CANCELLED", "DTSTART;VALUE=DATE:20261104")
    )

    assert holidays == {date(2026, 11, 4)}


def test_a_timed_event_in_a_holiday_file_is_refused() -> None:
    with pytest.raises(ValueError, match="'Meeting' starts at a time of day"):
        holidays_from_ics(ics("DTSTART:20260612T100000Z\nSUMMARY:Meeting"))


def test_a_file_that_is_not_icalendar_is_refused() -> None:
    with pytest.raises(ValueError, match="not an iCalendar file"):
        holidays_from_ics("holidays: 2026-01-01")


def test_the_shipped_calendar_knows_the_russian_holidays_of_2026() -> None:
    moscow = load_calendars().for_team("tier1-appliances")

    assert isinstance(moscow, BusinessCalendar)
    assert moscow.id == "moscow-office"
    assert {date(2026, 1, 9), date(2026, 3, 9), date(2026, 5, 11), date(2026, 12, 31)} <= set(
        moscow.holidays
    )
    assert moscow.next_open(at(MOSCOW, 2026, 12, 30, 19, 0)) == at(MOSCOW, 2027, 1, 1, 9, 0)


def test_a_special_short_day_replaces_the_usual_hours() -> None:
    moscow = load_calendars().get("moscow-office")

    assert not moscow.is_open(at(MOSCOW, 2026, 4, 30, 17, 30))  # before May Day
    assert moscow.is_open(at(MOSCOW, 2026, 4, 29, 17, 30))


def test_a_special_day_opens_a_holiday() -> None:
    calendar = office(holidays=[date(2026, 3, 9)], special_days={date(2026, 3, 9): ["10:00-12:00"]})

    assert calendar.elapsed(at(MOSCOW, 2026, 3, 9, 0, 0), at(MOSCOW, 2026, 3, 10, 0, 0)) == 7200


def test_a_team_not_listed_works_in_the_default_calendar_and_vip_desk_round_the_clock() -> None:
    book = load_calendars()

    assert book.for_team("nobody-knows").id == book.default
    assert book.for_team(None).id == book.default
    assert book.for_team("vip-desk") is CALENDAR_HOURS


# --- daylight saving ----------------------------------------------------------------------------


def test_moscow_has_no_clock_change_so_every_day_has_the_same_hours() -> None:
    calendar = every_day(MOSCOW, "09:00-18:00")

    for day in (date(2026, 3, 29), date(2026, 10, 25)):  # Berlin's change nights
        begin = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
        assert calendar.elapsed(begin, begin + timedelta(days=1)) == 9 * HOUR
        assert calendar.next_open(begin) == begin + timedelta(hours=6)  # 09:00 MSK = 06:00 UTC


def test_an_interval_across_the_spring_forward_night_loses_the_skipped_hour() -> None:
    calendar = every_day(BERLIN, "01:00-04:00")
    night = at(BERLIN, 2026, 3, 29, 0, 0)

    assert calendar.elapsed(night, night + timedelta(hours=6)) == 2 * HOUR
    assert calendar.add(night, 2 * HOUR) == at(BERLIN, 2026, 3, 29, 4, 0)


def test_an_opening_time_skipped_by_the_clock_opens_when_the_clock_jumps_past_it() -> None:
    calendar = every_day(BERLIN, "02:30-05:00")
    jump = datetime(2026, 3, 29, 1, 0, tzinfo=UTC)  # 02:00 CET becomes 03:00 CEST

    assert calendar.next_open(at(BERLIN, 2026, 3, 29, 0, 0)) == jump
    assert calendar.elapsed(jump - timedelta(hours=2), jump + timedelta(hours=3)) == 2 * HOUR


def test_an_interval_of_only_the_skipped_hour_is_closed_that_night() -> None:
    calendar = every_day(BERLIN, "02:00-03:00")
    night = at(BERLIN, 2026, 3, 29, 0, 0)

    assert calendar.elapsed(night, night + timedelta(hours=6)) == 0
    assert calendar.next_open(night) == at(BERLIN, 2026, 3, 30, 2, 0)


def test_the_repeated_hour_of_the_fall_back_night_counts_twice() -> None:
    calendar = every_day(BERLIN, "02:00-03:00")
    first_pass = datetime(2026, 10, 25, 0, 0, tzinfo=UTC)  # 02:00 CEST

    assert calendar.elapsed(first_pass - timedelta(hours=1), first_pass + timedelta(hours=3)) == (
        2 * HOUR
    )
    assert calendar.is_open(first_pass + timedelta(minutes=90))  # 02:30 CET, second pass
    assert calendar.add(first_pass, 2 * HOUR) == datetime(2026, 10, 25, 2, 0, tzinfo=UTC)


def test_a_closing_time_in_the_repeated_hour_closes_on_its_first_pass() -> None:
    calendar = every_day(BERLIN, "01:00-02:30")
    opens = datetime(2026, 10, 24, 23, 0, tzinfo=UTC)  # 01:00 CEST

    assert calendar.add(opens, 90 * 60) == datetime(2026, 10, 25, 0, 30, tzinfo=UTC)
    assert not calendar.is_open(datetime(2026, 10, 25, 1, 15, tzinfo=UTC))  # 02:15 CET


def test_office_hours_keep_their_local_times_across_the_new_york_clock_changes() -> None:
    calendar = BusinessCalendar.build(
        "ny", NEW_YORK, {day: ["09:00-17:00"] for day in ("mon", "tue", "wed", "thu", "fri")}
    )

    spring = calendar.add(at(NEW_YORK, 2026, 3, 6, 16, 0), 2 * HOUR)  # Friday EST
    autumn = calendar.add(at(NEW_YORK, 2026, 10, 30, 16, 0), 2 * HOUR)  # Friday EDT

    assert spring == datetime(2026, 3, 9, 14, 0, tzinfo=UTC)  # Monday 10:00 EDT
    assert autumn == datetime(2026, 11, 2, 15, 0, tzinfo=UTC)  # Monday 10:00 EST


def test_a_desk_open_round_the_clock_counts_real_hours_over_a_23_hour_day() -> None:
    calendar = every_day(NEW_YORK, "00:00-24:00")
    start = at(NEW_YORK, 2026, 3, 7, 12, 0)

    assert calendar.add(start, 24 * HOUR) == start + timedelta(hours=24)
    day = at(NEW_YORK, 2026, 3, 8, 0, 0)
    assert calendar.elapsed(day, at(NEW_YORK, 2026, 3, 9, 0, 0)) == 23 * HOUR


# --- calendar hours -----------------------------------------------------------------------------


def test_calendar_hours_are_plain_arithmetic() -> None:
    start = at(BERLIN, 2026, 3, 28, 22, 0)

    assert CALENDAR_HOURS.add(start, 5 * HOUR) == start + timedelta(hours=5)
    assert CALENDAR_HOURS.elapsed(start, start + timedelta(days=2)) == 48 * HOUR
    assert CALENDAR_HOURS.is_open(start)
    assert CALENDAR_HOURS.next_open(start) == start
    assert CALENDAR_HOURS.id == "24x7"


# --- the calendars file -------------------------------------------------------------------------

VALID = """
default: office
teams: {tier2: office}
calendars:
  - id: office
    timezone: Europe/Moscow
    week: {mon: ["09:00-13:00", "14:00-18:00"]}
"""


@pytest.mark.parametrize(
    ("change", "where", "what"),
    [
        (
            ('"14:00-18:00"', '"12:00-18:00"'),
            "calendars.0 (calendar 'office').week.mon",
            "interval 1 (12:00-18:00) must start at or after the end of interval 0",
        ),
        (
            ('"14:00-18:00"', '"18:00-14:00"'),
            "calendars.0 (calendar 'office').week.mon",
            "a shift past midnight is two intervals",
        ),
        (
            ('"14:00-18:00"', '"14:00-25:00"'),
            "calendars.0 (calendar 'office').week.mon",
            "the end must be a time from 00:01 to 24:00",
        ),
        (
            ("Europe/Moscow", "Europe/Atlantis"),
            "calendars.0 (calendar 'office').timezone",
            "unknown IANA time zone 'Europe/Atlantis'",
        ),
        (
            ("week:", "weeks:"),
            "calendars.0 (calendar 'office').weeks",
            "Extra inputs are not permitted",
        ),
        (
            ("{mon:", "{monday:"),
            "calendars.0 (calendar 'office').week.monday",
            "Extra inputs are not permitted",
        ),
        (
            ('week: {mon: ["09:00-13:00", "14:00-18:00"]}', "week: {}"),
            "calendars.0 (calendar 'office').week",
            "the week has no opening hours",
        ),
        (("tier2: office", "tier2: nowhere"), "teams.tier2", "no calendar 'nowhere'"),
        (("default: office", "default: 24-7"), "default", "no calendar '24-7'"),
        (("id: office", "id: 24x7"), "calendars", "'24x7' is built in"),
        (
            ("    week:", "    holidays: ['2026-02-30']\n    week:"),
            "calendars.0 (calendar 'office').holidays.0",
            "date",
        ),
        (
            ("    week:", "    holiday_files: [holidays.txt]\n    week:"),
            "calendars.0 (calendar 'office').holiday_files.0",
            "ending in .ics",
        ),
        (
            ("    week:", '    special_days: {2026-04-30: ["9-17"]}\n    week:'),
            "calendars.0 (calendar 'office').special_days.2026-04-30",
            "'9-17' is not an interval like '09:00-13:00'",
        ),
    ],
)
def test_a_malformed_calendars_file_names_the_failing_field(
    change: tuple[str, str], where: str, what: str
) -> None:
    raw = VALID.replace(*change)
    assert raw != VALID

    with pytest.raises(CalendarError) as failure:
        parse_calendars(raw, source="calendars.yaml")

    message = str(failure.value)
    assert f"{where}:" in message
    assert what in message


def test_an_impossible_unquoted_date_is_a_calendar_error() -> None:
    raw = VALID.replace("    week:", "    holidays: [2026-02-30]\n    week:")

    with pytest.raises(CalendarError, match=r"calendars\.yaml is not valid YAML: day is out of"):
        parse_calendars(raw, source="calendars.yaml")


def test_a_missing_holiday_file_names_the_field_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "calendars.yaml"
    path.write_text(
        VALID.replace("    week:", "    holiday_files: [missing.ics]\n    week:"), encoding="utf-8"
    )

    with pytest.raises(CalendarError, match=r"holiday_files\.0 \(missing\.ics\): cannot read"):
        load_calendars(path)


def test_a_broken_holiday_file_names_the_field_and_the_problem(tmp_path: Path) -> None:
    (tmp_path / "bad.ics").write_text(ics("DTSTART:20260612T100000\nSUMMARY:Lunch"))
    path = tmp_path / "calendars.yaml"
    path.write_text(
        VALID.replace("    week:", "    holiday_files: [bad.ics]\n    week:"), encoding="utf-8"
    )

    with pytest.raises(CalendarError, match=r"holiday_files\.0 \(bad\.ics\): event 'Lunch'"):
        load_calendars(path)


# --- pauses -------------------------------------------------------------------------------------


def test_pausing_keeps_the_remaining_time_exactly() -> None:
    calendar = office()
    clock = MetricClock.start(at(MOSCOW, 2026, 3, 2, 10, 0))  # Monday
    target = 8 * HOUR

    paused = clock.pause(at(MOSCOW, 2026, 3, 2, 12, 0), calendar)
    later = at(MOSCOW, 2026, 3, 4, 15, 0)  # Wednesday

    assert paused.due(target, calendar) is None
    assert paused.used(later, calendar) == 2 * HOUR
    assert paused.remaining(target, later, calendar) == 6 * HOUR

    resumed = paused.resume(later)

    assert resumed.remaining(target, later, calendar) == 6 * HOUR
    assert resumed.due(target, calendar) == at(MOSCOW, 2026, 3, 5, 12, 0)  # 3 h Wed + 3 h Thu


def test_pausing_twice_or_resuming_a_running_clock_changes_nothing() -> None:
    calendar = office()
    start = at(MOSCOW, 2026, 3, 2, 10, 0)
    clock = MetricClock.start(start)
    paused = clock.pause(start + timedelta(hours=1), calendar)

    assert paused.pause(start + timedelta(hours=2), calendar) == paused
    assert clock.resume(start + timedelta(hours=1)) == clock


def test_the_clock_counts_whole_seconds_so_fractions_never_pile_up() -> None:
    clock = MetricClock.start(datetime(2026, 3, 2, 10, 0, 0, 900_000, tzinfo=UTC))

    paused = clock.pause(datetime(2026, 3, 2, 10, 0, 1, 100_000, tzinfo=UTC), CALENDAR_HOURS)

    assert paused.used_s == 1


def test_a_target_used_up_before_the_pause_is_overdue_on_resuming() -> None:
    start = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    clock = MetricClock.start(start).pause(start + timedelta(hours=2), CALENDAR_HOURS)
    resumed = clock.resume(start + timedelta(hours=5))

    assert resumed.due(HOUR, CALENDAR_HOURS) == start + timedelta(hours=5)
    assert resumed.remaining(HOUR, start + timedelta(hours=6), CALENDAR_HOURS) == -2 * HOUR


# --- properties against a minute-by-minute oracle -----------------------------------------------

ZONES = (
    "Europe/Berlin",  # 02:00 → 03:00 and 03:00 → 02:00
    "America/New_York",
    "America/Santiago",  # changes at midnight: a date is repeated or loses its first hour
    "Australia/Lord_Howe",  # a 30-minute change
    "America/St_Johns",  # a half-hour offset
    "Europe/Moscow",  # no change
)
EPOCH = datetime(2026, 6, 1, tzinfo=UTC)
TWO_YEARS_MIN = 2 * 366 * 24 * 60

Hours = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Desk:
    """The test's own description of a calendar, from which both sides are built."""

    zone: str
    week: tuple[Hours, ...]
    holidays: frozenset[date]
    special: Mapping[date, Hours]

    def calendar(self) -> BusinessCalendar:
        return BusinessCalendar(
            id="random",
            zone=ZoneInfo(self.zone),
            week=tuple(tuple(WallInterval(s, e) for s, e in day) for day in self.week),
            holidays=self.holidays,
            special_days={
                d: tuple(WallInterval(s, e) for s, e in h) for d, h in self.special.items()
            },
        )

    def weekly_open_minutes(self) -> int:
        return sum(e - s for day in self.week for s, e in day)


class Oracle:
    """Minute by minute: a minute is open when the highest wall-clock reading shown so far lies
    within the hours of that reading's date (holiday closed, special day replacing)."""

    def __init__(self, desk: Desk) -> None:
        self.desk = desk
        self.zone = ZoneInfo(desk.zone)

    def _hours(self, day: date) -> Sequence[tuple[int, int]]:
        if day in self.desk.special:
            return self.desk.special[day]
        if day in self.desk.holidays:
            return ()
        return self.desk.week[day.weekday()]

    def minutes(self, start: datetime) -> Iterator[tuple[datetime, bool]]:
        """Each minute from ``start`` on, and whether it is open."""
        minute = start - timedelta(days=2)  # the clock never goes back by more than that
        highest: datetime | None = None
        while True:
            wall = minute.astimezone(self.zone).replace(tzinfo=None)
            if highest is None or wall > highest:
                highest = wall
            if minute >= start:
                of_day = highest.hour * 60 + highest.minute
                yield minute, any(s <= of_day < e for s, e in self._hours(highest.date()))
            minute += MINUTE

    def add(self, start: datetime, minutes: int) -> datetime:
        if minutes == 0:
            return start
        counted = 0
        for minute, is_open in self.minutes(start):
            counted += is_open
            if counted == minutes:
                return minute + MINUTE
        raise AssertionError("unreachable")

    def elapsed_minutes(self, start: datetime, end: datetime) -> int:
        counted = 0
        for minute, is_open in self.minutes(start):
            if minute >= end:
                return counted
            counted += is_open
        raise AssertionError("unreachable")


@cache
def clock_changes(zone: str) -> tuple[datetime, ...]:
    """The instants around EPOCH ± 2 years at which ``zone`` changes its offset (to the hour)."""
    tz = ZoneInfo(zone)
    changes = []
    instant = EPOCH - timedelta(days=800)
    offset = instant.astimezone(tz).utcoffset()
    while instant < EPOCH + timedelta(days=800):
        instant += timedelta(hours=1)
        now = instant.astimezone(tz).utcoffset()
        if now != offset:
            changes.append(instant)
            offset = now
    return tuple(changes)


HALF_HOURS = tuple(range(0, 24 * 60 + 1, 30))


@st.composite
def day_hours(
    draw: st.DrawFn, points: st.SearchStrategy[int] | None = None, min_cuts: int = 0
) -> Hours:
    """Up to three intervals, by default on a half-hour grid; neighbours may touch."""
    grid = st.sampled_from(HALF_HOURS) if points is None else points
    cuts = sorted(draw(st.lists(grid, min_size=min_cuts, max_size=6)))
    pairs = [(cuts[i], cuts[i + 1]) for i in range(0, len(cuts) - 1, 2)]
    return tuple((s, e) for s, e in pairs if s < e)


def near_the_change(zone: ZoneInfo, change: datetime) -> tuple[list[date], list[int]]:
    """The local dates a clock change falls on, and wall times in and around it."""
    before = (change - MINUTE).astimezone(zone).replace(tzinfo=None) + MINUTE
    after = change.astimezone(zone).replace(tzinfo=None)
    minutes = set()
    for wall in (before, after):
        of_day = wall.hour * 60 + wall.minute
        minutes |= {(of_day + step) % 1440 for step in range(-60, 61, 15)}
    if 0 in minutes:
        minutes.add(1440)
    dates = sorted({(change - MINUTE).astimezone(zone).date(), after.date()})
    return dates, sorted(minutes)


@st.composite
def desks(draw: st.DrawFn) -> Desk:
    zone = draw(st.sampled_from(ZONES))
    week = tuple(draw(day_hours()) for _ in range(7))
    if not any(week):
        week = (((540, 1080),), *week[1:])
    return Desk(zone=zone, week=week, holidays=frozenset(), special={})


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[Desk, datetime]:
    """A desk and a minute-aligned start, anywhere within two years or just before a clock
    change; then the change nights get hours that open or close in and around the skipped or
    repeated time, and holidays and special days fall around the start."""
    desk = draw(desks())
    zone = ZoneInfo(desk.zone)
    special: dict[date, Hours] = {}
    changes = clock_changes(desk.zone)
    if changes and draw(st.booleans()):
        change = draw(st.sampled_from(changes))
        start = change + draw(st.integers(-36 * 60, 3 * 60)) * MINUTE
        dates, minutes = near_the_change(zone, change)
        tricky = st.one_of(st.sampled_from(minutes), st.sampled_from(HALF_HOURS))
        special = {day: draw(day_hours(tricky, min_cuts=2)) for day in dates}
    else:
        start = EPOCH + draw(st.integers(-TWO_YEARS_MIN, TWO_YEARS_MIN)) * MINUTE
    local_day = start.astimezone(zone).date()
    around = st.integers(-3, 20).map(lambda offset: local_day + timedelta(days=offset))
    holidays = frozenset(draw(st.lists(around, max_size=4)))
    special |= draw(st.dictionaries(around, day_hours(), max_size=2))
    return Desk(desk.zone, desk.week, holidays, special), start


def durations(desk: Desk) -> st.SearchStrategy[int]:
    """Minutes of business time up to about three business days of this desk."""
    three_days = max(desk.weekly_open_minutes() * 3 // 5, 1)
    return st.integers(0, min(three_days, 3 * 24 * 60))


PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(data=st.data(), scenario=scenarios())
def test_add_agrees_with_the_minute_by_minute_oracle(
    data: st.DataObject, scenario: tuple[Desk, datetime]
) -> None:
    desk, start = scenario
    minutes = data.draw(durations(desk), label="minutes")
    calendar = desk.calendar()

    due = calendar.add(start, minutes * 60)

    assert due == Oracle(desk).add(start, minutes)
    assert calendar.elapsed(start, due) == minutes * 60


@PROPERTY
@given(data=st.data(), scenario=scenarios())
def test_elapsed_agrees_with_the_oracle_and_is_additive(
    data: st.DataObject, scenario: tuple[Desk, datetime]
) -> None:
    desk, start = scenario
    middle = start + data.draw(st.integers(0, 4 * 24 * 60), label="to middle") * MINUTE
    end = middle + data.draw(st.integers(0, 4 * 24 * 60), label="to end") * MINUTE
    calendar = desk.calendar()

    whole = calendar.elapsed(start, end)

    assert whole == Oracle(desk).elapsed_minutes(start, end) * 60
    assert calendar.elapsed(start, middle) + calendar.elapsed(middle, end) == whole


@PROPERTY
@given(scenario=scenarios())
def test_is_open_and_next_open_agree_with_the_oracle(scenario: tuple[Desk, datetime]) -> None:
    desk, start = scenario
    calendar = desk.calendar()
    walk = Oracle(desk).minutes(start)
    opens = next(minute for minute, is_open in walk if is_open)
    closes = next(minute for minute, is_open in walk if not is_open)

    assert calendar.is_open(start) == (opens == start)
    assert calendar.next_open(start) == opens
    assert calendar.is_open(opens)
    assert calendar.is_open(closes - MINUTE)
    assert not calendar.is_open(closes)
    assert opens == start or not calendar.is_open(opens - MINUTE)


@PROPERTY
@given(data=st.data(), scenario=scenarios())
def test_more_time_is_never_due_earlier(
    data: st.DataObject, scenario: tuple[Desk, datetime]
) -> None:
    desk, start = scenario
    calendar = desk.calendar()
    shorter, longer = sorted(data.draw(st.lists(durations(desk), min_size=2, max_size=2)))
    sooner = start + data.draw(st.integers(0, 3 * 24 * 60 * 60), label="seconds") * timedelta(
        seconds=1
    )

    assert calendar.add(start, shorter * 60) <= calendar.add(start, longer * 60)
    assert calendar.elapsed(start, sooner) <= calendar.elapsed(start, sooner + MINUTE)
    assert calendar.elapsed(sooner, calendar.add(sooner, longer * 60)) == longer * 60


@PROPERTY
@given(data=st.data(), scenario=scenarios())
def test_the_remaining_time_survives_any_pauses(
    data: st.DataObject, scenario: tuple[Desk, datetime]
) -> None:
    desk, start = scenario
    calendar = desk.calendar()
    gaps = data.draw(st.lists(st.integers(0, 2 * 24 * 60), min_size=0, max_size=6), label="gaps")
    target_min = data.draw(durations(desk), label="target")

    oracle = Oracle(desk)
    clock = MetricClock.start(start)
    instant, running_since, used_min = start, start, 0
    for gap in gaps:
        instant += gap * MINUTE
        if clock.paused:
            clock, running_since = clock.resume(instant), instant
        else:
            clock = clock.pause(instant, calendar)
            used_min += oracle.elapsed_minutes(running_since, instant)
    if not clock.paused:
        used_min += oracle.elapsed_minutes(running_since, instant)

    assert clock.used(instant, calendar) == used_min * 60
    if clock.paused:
        assert clock.due(target_min * 60, calendar) is None
        clock, running_since = clock.resume(instant), instant
    left_min = target_min - clock.used_s // 60  # what was left when it last resumed
    due = clock.due(target_min * 60, calendar)
    assert due is not None
    if left_min > 0:
        assert due == oracle.add(running_since, left_min)
        assert clock.used(due, calendar) == target_min * 60
    else:
        assert due == running_since
