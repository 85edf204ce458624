"""Quiet hours in the recipient's zone, rate-limit windows, fatigue days, retry backoff."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st
from opora_notifications.domain.rules import QuietHours
from opora_notifications.domain.timing import (
    backoff,
    fatigue_days,
    is_quiet,
    phone_zone,
    quiet_until,
    window_of,
)

NIGHT = QuietHours(start=time(21), end=time(9))
MOSCOW = ZoneInfo("Europe/Moscow")
BERLIN = ZoneInfo("Europe/Berlin")


def test_late_evening_is_held_until_nine_the_next_morning() -> None:
    at = datetime(2026, 2, 28, 19, 30, tzinfo=UTC)  # 22:30 in Moscow

    assert quiet_until(at, NIGHT, MOSCOW) == datetime(2026, 3, 1, 6, 0, tzinfo=UTC)


def test_early_morning_is_held_until_nine_the_same_day() -> None:
    at = datetime(2026, 2, 28, 2, 0, tzinfo=UTC)  # 05:00 in Moscow

    assert quiet_until(at, NIGHT, MOSCOW) == datetime(2026, 2, 28, 6, 0, tzinfo=UTC)


def test_daytime_is_not_held() -> None:
    assert quiet_until(datetime(2026, 2, 28, 9, 0, tzinfo=UTC), NIGHT, MOSCOW) is None


def test_the_window_keeps_its_local_hours_across_a_dst_change() -> None:
    # Berlin moves to summer time on 29 March 2026: 09:00 local is 07:00 UTC from then on.
    at = datetime(2026, 3, 28, 22, 0, tzinfo=UTC)  # 23:00 in Berlin, winter time

    assert quiet_until(at, NIGHT, BERLIN) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)


def test_a_window_within_one_day_works_too() -> None:
    lunch = QuietHours(start=time(13), end=time(14))
    at = datetime(2026, 2, 28, 10, 15, tzinfo=UTC)  # 13:15 in Moscow

    assert quiet_until(at, lunch, MOSCOW) == datetime(2026, 2, 28, 11, 0, tzinfo=UTC)


zones = st.sampled_from(["Europe/Moscow", "Asia/Vladivostok", "America/New_York", "Europe/London"])
instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2028, 1, 1), timezones=st.just(UTC)
)
hours = st.integers(min_value=0, max_value=23)


@given(at=instants, zone=zones, start=hours, end=hours)
def test_a_held_message_is_released_at_the_first_moment_the_window_opens(
    at: datetime, zone: str, start: int, end: int
) -> None:
    if start == end:
        return
    window = QuietHours(start=time(start), end=time(end))
    tz = ZoneInfo(zone)
    opens = quiet_until(at, window, tz)
    if opens is None:
        assert not is_quiet(at, window.start, window.end, tz)
        return
    assert opens > at
    assert not is_quiet(opens, window.start, window.end, tz)
    # Every minute before it (sampled) is still quiet.
    step = max((opens - at) / 7, timedelta(seconds=1))
    moment = at
    while moment < opens - timedelta(seconds=1):
        assert is_quiet(moment, window.start, window.end, tz)
        moment += step


def test_a_landline_tells_its_zone() -> None:
    assert phone_zone("+73432123456") == "Asia/Yekaterinburg"


def test_a_mobile_number_of_a_country_with_many_zones_tells_none() -> None:
    assert phone_zone("+79165552341") is None


def test_rate_windows_are_fixed_and_the_next_one_is_named() -> None:
    at = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)

    index, next_start = window_of(at, timedelta(hours=1))

    assert next_start == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert window_of(at + timedelta(minutes=29), timedelta(hours=1))[0] == index


@given(a=instants, gap=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=20)))
def test_two_surveys_less_than_seven_days_apart_always_conflict(
    a: datetime, gap: timedelta
) -> None:
    first = set(fatigue_days(a, timedelta(days=7)))
    second = set(fatigue_days(a + gap, timedelta(days=7)))

    if gap < timedelta(days=7):
        assert first & second
    if gap > timedelta(days=8):
        assert not first & second


@given(attempt=st.integers(min_value=1, max_value=40), seed=st.integers())
def test_backoff_stays_between_a_tenth_of_the_first_delay_and_the_cap(
    attempt: int, seed: int
) -> None:
    first, cap = timedelta(seconds=30), timedelta(hours=1)

    delay = backoff(attempt, first=first, cap=cap, rng=random.Random(seed))

    assert first / 10 <= delay <= cap
    assert delay <= first * 2 ** (attempt - 1) or delay == first / 10
