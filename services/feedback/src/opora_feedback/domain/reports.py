"""Reports over the rollups: which nodes a report reads, and the rows it shows.

A report covers a period of days (inclusive), is grouped by one of agent, team, channel,
request type, day, ISO week, month (or not at all), and may be filtered on agent, team, channel
and request type. Unfiltered reports read spans and months, a handful of documents whatever the
period; filtered ones read one facet per month of the period (see ``rollups.FacetRead``). Reports
by day and filtered reports hold a row per day, so they are limited to ``MAX_DAYS_READ`` days.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum

from opora_shared.contracts.feedback import SurveyType

from opora_feedback.domain.metrics import Tally, total
from opora_feedback.domain.rollups import (
    Dimension,
    FacetRead,
    Filters,
    Node,
    cover,
    days,
    month_id,
    rows_of,
)

MAX_DAYS_READ = 400


class GroupBy(StrEnum):
    NONE = "none"
    AGENT = "agent"
    TEAM = "team"
    CHANNEL = "channel"
    REQUEST_TYPE = "request_type"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"

    @property
    def dimension(self) -> Dimension | None:
        try:
            return Dimension(self.value)
        except ValueError:
            return Dimension.TOTAL if self is GroupBy.NONE else None


class ReportError(ValueError):
    """A report that cannot be made as asked; the message says which parameter."""


@dataclass(frozen=True)
class ReportQuery:
    first: date
    last: date
    group_by: GroupBy = GroupBy.NONE
    filters: Filters = field(default_factory=Filters)

    def check(self) -> None:
        if self.last < self.first:
            raise ReportError("to: the period ends before it starts")
        if self.reads_days and self.day_count > MAX_DAYS_READ:
            raise ReportError(
                f"to: a report by day or with filters covers at most {MAX_DAYS_READ} days"
            )

    @property
    def day_count(self) -> int:
        return (self.last - self.first).days + 1

    @property
    def reads_days(self) -> bool:
        return bool(self.filters) or self.group_by is GroupBy.DAY

    @property
    def facets(self) -> FacetRead | None:
        """Where a filtered report reads its rows (None: unfiltered)."""
        if not self.filters:
            return None
        return FacetRead.choose(self.filters, self.group_by.dimension)


@dataclass(frozen=True)
class Bucket:
    """A row of the report before its counts are known: its key, its days, the nodes to add."""

    key: str
    first: date
    last: date
    node_ids: tuple[str, ...]


def plan(query: ReportQuery) -> tuple[list[Bucket], list[str]]:
    """The time buckets of a time-grouped report (else one bucket for the whole period), and
    every node id to read."""
    query.check()
    if query.group_by in (GroupBy.DAY, GroupBy.WEEK, GroupBy.MONTH):
        buckets = [
            _bucket(query, key, first, last, trend=True) for key, first, last in _periods(query)
        ]
    else:
        buckets = [_bucket(query, "", query.first, query.last, trend=False)]
    wanted = list(dict.fromkeys(n for b in buckets for n in b.node_ids))
    return buckets, wanted


def _bucket(query: ReportQuery, key: str, first: date, last: date, *, trend: bool) -> Bucket:
    facets = query.facets
    if facets is not None:
        ids = tuple(facets.node_ids(first, last))
    elif trend:  # the months' day totals
        ids = tuple(dict.fromkeys(month_id(d) for d in days(first, last)))
    else:
        ids = tuple(cover(first, last))
    return Bucket(key, first, last, ids)


def _periods(query: ReportQuery) -> list[tuple[str, date, date]]:
    found: list[tuple[str, date, date]] = []
    day = query.first
    while day <= query.last:
        if query.group_by is GroupBy.DAY:
            key, end = day.isoformat(), day
        elif query.group_by is GroupBy.WEEK:
            year, week, weekday = day.isocalendar()
            key, end = f"{year}-W{week:02d}", day + timedelta(days=7 - weekday)
        else:
            key, end = f"{day:%Y-%m}", _month_end(day)
        end = min(end, query.last)
        found.append((key, day, end))
        day = end + timedelta(days=1)
    return found


def _month_end(day: date) -> date:
    following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


@dataclass(frozen=True)
class ReportRow:
    key: str
    tally: Tally


@dataclass(frozen=True)
class Report:
    query: ReportQuery
    rows: tuple[ReportRow, ...]
    total: Tally


def assemble(query: ReportQuery, buckets: Sequence[Bucket], nodes: Mapping[str, Node]) -> Report:
    """The report from the nodes read (a node never written counts nothing)."""

    def read(ids: Sequence[str]) -> list[Node]:
        return [nodes[i] for i in ids if i in nodes]

    dimension = query.group_by.dimension
    facets = query.facets
    if dimension is None:  # a trend: one row per bucket
        if facets is not None:
            daily = facets.by_day(read(list(dict.fromkeys(i for b in buckets for i in b.node_ids))))
            rows = [ReportRow(b.key, _days_total(b, daily)) for b in buckets]
        else:
            rows = [ReportRow(b.key, _bucket_total(b, nodes)) for b in buckets]
        return Report(query, tuple(rows), total(r.tally for r in rows))
    (bucket,) = buckets
    chosen = read(bucket.node_ids)
    if facets is not None:
        by_value = facets.rows(chosen, dimension, bucket.first, bucket.last)
        found = total(by_value.values())
    else:
        by_value = rows_of(chosen, dimension)
        found = rows_of(chosen, Dimension.TOTAL).get("", Tally())
    rows = []
    if dimension is not Dimension.TOTAL:
        rows = [ReportRow(value, tally) for value, tally in sorted(by_value.items()) if tally]
    return Report(query, tuple(rows), found)


def _days_total(bucket: Bucket, daily: Mapping[date, Tally]) -> Tally:
    return total(daily[d] for d in days(bucket.first, bucket.last) if d in daily)


def _bucket_total(bucket: Bucket, nodes: Mapping[str, Node]) -> Tally:
    found = Tally()
    for day in days(bucket.first, bucket.last):
        month = nodes.get(month_id(day))
        if month is not None:
            found = found + month.days.get(day.day, Tally())
    return found


METRIC_COLUMNS: tuple[str, ...] = (
    "csat_issued",
    "csat_responses",
    "csat_satisfied",
    "csat_percent",
    "csat_response_rate",
    "nps_issued",
    "nps_responses",
    "nps_promoters",
    "nps_passives",
    "nps_detractors",
    "nps",
    "nps_response_rate",
    "ces_issued",
    "ces_responses",
    "ces_average",
    "ces_response_rate",
)


def metrics_of(tally: Tally) -> dict[str, int | float | None]:
    """A row's figures, by column name."""
    return {
        "csat_issued": tally.csat_issued,
        "csat_responses": tally.csat_responses,
        "csat_satisfied": tally.csat_satisfied,
        "csat_percent": tally.csat_percent,
        "csat_response_rate": tally.response_rate(SurveyType.CSAT),
        "nps_issued": tally.nps_issued,
        "nps_responses": tally.nps_responses,
        "nps_promoters": tally.nps_promoters,
        "nps_passives": tally.nps_passives,
        "nps_detractors": tally.nps_detractors,
        "nps": tally.nps,
        "nps_response_rate": tally.response_rate(SurveyType.NPS),
        "ces_issued": tally.ces_issued,
        "ces_responses": tally.ces_responses,
        "ces_average": tally.ces_average,
        "ces_response_rate": tally.response_rate(SurveyType.CES),
    }
