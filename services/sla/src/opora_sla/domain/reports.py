"""The share of SLA targets met, grouped by team, agent, channel, request type, metric, priority
or policy, and by day, week or month.

A target counts once it is decided: fulfilled (met or not) or breached while still running
(missed, whatever comes next). Its period is the local date it was decided on, in the time zone
asked for; weeks start on Monday.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

from opora_sla.domain.model import Outcome

UNASSIGNED = "(none)"


class Dimension(StrEnum):
    TEAM = "team"
    AGENT = "agent"
    CHANNEL = "channel"
    REQUEST_TYPE = "request_type"
    METRIC = "metric"
    PRIORITY = "priority"
    POLICY = "policy"


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


@dataclass(frozen=True)
class Row:
    period: date | None
    """The first day of the period (None: the whole range)."""
    group: tuple[tuple[Dimension, str], ...]
    met: int
    missed: int

    @property
    def total(self) -> int:
        return self.met + self.missed

    @property
    def share_met(self) -> float:
        return self.met / self.total if self.total else 0.0


def _value(outcome: Outcome, dimension: Dimension) -> str:
    value = {
        Dimension.TEAM: outcome.team,
        Dimension.AGENT: outcome.agent_id,
        Dimension.CHANNEL: outcome.channel,
        Dimension.REQUEST_TYPE: outcome.request_type,
        Dimension.METRIC: outcome.metric.value,
        Dimension.PRIORITY: outcome.priority,
        Dimension.POLICY: outcome.policy_id,
    }[dimension]
    return value or UNASSIGNED


def period_start(at: datetime, period: Period, zone: ZoneInfo) -> date:
    day = at.astimezone(zone).date()
    if period is Period.WEEK:
        return day - timedelta(days=day.weekday())
    if period is Period.MONTH:
        return day.replace(day=1)
    return day


def attainment(
    outcomes: Iterable[Outcome],
    *,
    by: Sequence[Dimension] = (),
    period: Period | None = None,
    zone: ZoneInfo | None = None,
) -> list[Row]:
    """Met and missed targets per group and period, ordered by period then group."""
    zone = zone or ZoneInfo("UTC")
    counts: dict[tuple[date | None, tuple[tuple[Dimension, str], ...]], list[int]] = {}
    for outcome in outcomes:
        if not outcome.measured:
            continue
        when = outcome.measured_at or datetime.min.replace(tzinfo=UTC)
        start = period_start(when, period, zone) if period is not None else None
        group = tuple((dimension, _value(outcome, dimension)) for dimension in by)
        tally = counts.setdefault((start, group), [0, 0])
        tally[0 if outcome.met else 1] += 1
    return [
        Row(start, group, met, missed)
        for (start, group), (met, missed) in sorted(
            counts.items(), key=lambda item: (item[0][0] or date.min, item[0][1])
        )
    ]
