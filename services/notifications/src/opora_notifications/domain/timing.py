"""Time arithmetic of delivery: quiet hours in the recipient's zone, rate-limit windows, survey
fatigue days, retry backoff. Pure functions of instants and rules.

Quiet hours are computed in local wall-clock time with ``zoneinfo``, so a window keeps its
local hours across daylight-saving changes (Braze's behaviour: held until the window opens in
the recipient's time zone).
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as phone_timezones

from opora_notifications.domain.rules import CustomerRules, QuietHours

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def is_quiet(at: datetime, start: time, end: time, zone: ZoneInfo) -> bool:
    local = at.astimezone(zone).time().replace(tzinfo=None)
    if start < end:
        return start <= local < end
    return local >= start or local < end  # the window spans midnight


def quiet_until(at: datetime, window: QuietHours, zone: ZoneInfo) -> datetime | None:
    """When the window opens, if ``at`` falls in quiet hours; None if it does not."""
    if not is_quiet(at, window.start, window.end, zone):
        return None
    local = at.astimezone(zone)
    for days in range(3):
        day = local.date() + timedelta(days=days)
        # A wall-clock time that does not exist (skipped by a DST change) resolves forwards.
        opens = datetime.combine(day, window.end, tzinfo=zone).astimezone(UTC)
        if opens > at and not is_quiet(opens, window.start, window.end, zone):
            return opens
    raise AssertionError("a quiet window always opens within two days")


def time_zone_of(
    *, preferred: str | None, phone: str | None, language: str | None, rules: CustomerRules
) -> ZoneInfo:
    """The recipient's time zone: what they told us, else their phone number's zone when the
    number belongs to exactly one, else the rules' zone for their language, else the default."""
    if preferred:
        return ZoneInfo(preferred)
    if phone:
        zone = phone_zone(phone)
        if zone is not None:
            return ZoneInfo(zone)
    return ZoneInfo(rules.time_zone_for(language))


def phone_zone(phone: str) -> str | None:
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return None
    zones = phone_timezones.time_zones_for_number(number)
    if len(zones) != 1 or zones[0] == phone_timezones.UNKNOWN_TIMEZONE:
        return None
    return str(zones[0])


def window_of(at: datetime, per: timedelta) -> tuple[int, datetime]:
    """The fixed rate-limit window holding ``at``: its number and when the next one starts."""
    index = int((at - EPOCH) // per)
    return index, EPOCH + per * (index + 1)


def fatigue_days(at: datetime, period: timedelta) -> list[int]:
    """The day numbers a survey sent at ``at`` occupies: its day and the next ``period`` days.

    Two surveys conflict when their day ranges overlap, that is when they are at most
    ``period`` days apart by calendar day: never two within ``period``, at most one day more.
    """
    day = int((at - EPOCH) // timedelta(days=1))
    return list(range(day, day + period.days + 1))


def backoff(
    attempt: int, *, first: timedelta, cap: timedelta, rng: random.Random | None = None
) -> timedelta:
    """Exponential backoff with full jitter (AWS's recommendation): a uniformly random delay up
    to ``first * 2**(attempt-1)``, capped, and never less than a tenth of ``first``."""
    ceiling = min(cap, first * (2 ** max(0, min(attempt - 1, 30))))
    draw = (rng or random).uniform(0.0, ceiling.total_seconds())
    return max(timedelta(seconds=draw), first / 10)


def earliest(moments: Iterable[datetime | None]) -> datetime | None:
    present = [m for m in moments if m is not None]
    return min(present) if present else None
