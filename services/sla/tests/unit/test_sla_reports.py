"""Reports of targets met: grouping by dimension and by day, week or month in a time zone."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from opora_shared.contracts.sla import Metric
from opora_sla.domain.model import Outcome
from opora_sla.domain.reports import UNASSIGNED, Dimension, Period, attainment


def outcome(at: str, *, met: bool, team: str | None = "tier1", number: int = 1) -> Outcome:
    return Outcome(
        ticket_id=f"t-{at}-{number}",
        metric=Metric.FIRST_REPLY,
        cycle=1,
        measured=True,
        met=met,
        done=True,
        measured_at=datetime.fromisoformat(at),
        team=team,
    )


def test_the_share_met_is_met_over_all_decided() -> None:
    [row] = attainment(
        [outcome("2026-11-02T10:00+00:00", met=m, number=n) for n, m in enumerate([1, 1, 1, 0])]
    )

    assert (row.met, row.missed, row.share_met) == (3, 1, 0.75)


def test_a_ticket_without_a_team_is_grouped_as_none() -> None:
    rows = attainment([outcome("2026-11-02T10:00+00:00", met=True, team=None)], by=[Dimension.TEAM])

    assert rows[0].group == ((Dimension.TEAM, UNASSIGNED),)


def test_weeks_start_on_monday_in_the_time_zone_asked_for() -> None:
    sunday_night_utc = outcome("2026-11-08T22:30:00+00:00", met=True)  # Monday 01:30 in Moscow

    [utc] = attainment([sunday_night_utc], period=Period.WEEK)
    [moscow] = attainment([sunday_night_utc], period=Period.WEEK, zone=ZoneInfo("Europe/Moscow"))

    assert (utc.period, moscow.period) == (date(2026, 11, 2), date(2026, 11, 9))


def test_months_and_groups_are_ordered() -> None:
    rows = attainment(
        [
            outcome("2026-12-01T10:00+00:00", met=True, team="b"),
            outcome("2026-11-30T10:00+00:00", met=False, team="b"),
            outcome("2026-11-02T10:00+00:00", met=True, team="a"),
        ],
        by=[Dimension.TEAM],
        period=Period.MONTH,
    )

    assert [(r.period, r.group[0][1], r.met, r.missed) for r in rows] == [
        (date(2026, 11, 1), "a", 1, 0),
        (date(2026, 11, 1), "b", 0, 1),
        (date(2026, 12, 1), "b", 1, 0),
    ]


def test_a_withdrawn_outcome_is_not_counted() -> None:
    withdrawn = Outcome("t-1", Metric.FIRST_REPLY, 1, measured=False)

    assert attainment([withdrawn]) == []
