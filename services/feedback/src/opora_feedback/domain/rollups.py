"""Rollups: survey counts kept per day × agent × team × channel × request type, summed so that
a report reads a handful of documents however many answers are stored.

A survey counts on the day it was issued (in the reports' time zone), so that an answer given a
week later, or edited, lands in the same slice as its invitation and the response rate compares
like with like. Two kinds of node hold the counts:

- **cells** (``c:<day>``): one row per (agent, team, channel, request type) seen that day: the
  full cross, read only by reports filtered on a dimension;
- **spans** (``n<level>:<index>``): for every dyadic run of days (1, 2, 4, … 2,048 days, aligned
  on day 0 = 1970-01-01) the totals and one row per agent, team, channel and request type. Any
  period is the sum of at most ``2 × LEVELS`` spans (a segment tree over days), so a report
  by agent over a year reads about twenty documents;
- **months** (``m:<YYYY-MM>``): the same rows per calendar month, and each of its days'
  totals, for daily, weekly and monthly trends.

Everything here is pure: which nodes a contribution touches, how rows add up, how a period is
covered and how rows become a report.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from opora_feedback.domain.metrics import Tally

LEVELS = 12  # spans of 1 .. 2,048 days
EPOCH = date(1970, 1, 1)
UNKNOWN = "-"  # an agent or team nobody held the ticket as


class Dimension(StrEnum):
    TOTAL = "total"
    AGENT = "agent"
    TEAM = "team"
    CHANNEL = "channel"
    REQUEST_TYPE = "request_type"


DIMENSIONS: tuple[Dimension, ...] = tuple(Dimension)


@dataclass(frozen=True, slots=True)
class Slice:
    """Who a survey is credited to: recorded when it was issued."""

    agent: str
    team: str
    channel: str
    request_type: str

    def value(self, dimension: Dimension) -> str:
        return "" if dimension is Dimension.TOTAL else str(getattr(self, dimension.value))

    @classmethod
    def of(cls, agent: str | None, team: str | None, channel: str, request_type: str) -> Slice:
        return cls(agent or UNKNOWN, team or UNKNOWN, channel, request_type)


@dataclass(frozen=True, slots=True)
class Contribution:
    """One survey's change to the counts of its day and slice."""

    day: date
    slice: Slice
    tally: Tally


def report_day(moment: datetime, zone: ZoneInfo) -> date:
    return moment.astimezone(zone).date()


def day_number(day: date) -> int:
    return (day - EPOCH).days


def day_of(number: int) -> date:
    return EPOCH + timedelta(days=number)


# --- node ids ------------------------------------------------------------------------------


def span_id(level: int, index: int) -> str:
    return f"n{level}:{index}"


def month_id(day: date) -> str:
    return f"m:{day:%Y-%m}"


def cells_id(day: date) -> str:
    return f"c:{day.isoformat()}"


def nodes_of(day: date) -> list[str]:
    """Every node a contribution on ``day`` changes: its spans at each level, its month and its
    day's cells."""
    number = day_number(day)
    return [
        *(span_id(level, number >> level) for level in range(LEVELS)),
        month_id(day),
        cells_id(day),
    ]


def cover(first: date, last: date) -> list[str]:
    """The fewest spans whose days are exactly ``first`` .. ``last`` (inclusive)."""
    if last < first:
        return []
    low, high = day_number(first), day_number(last) + 1
    found: list[str] = []
    while low < high:
        level = LEVELS - 1
        while level and (low % (1 << level) or low + (1 << level) > high):
            level -= 1
        found.append(span_id(level, low >> level))
        low += 1 << level
    return found


def days(first: date, last: date) -> Iterator[date]:
    day = first
    while day <= last:
        yield day
        day += timedelta(days=1)


# --- node contents -------------------------------------------------------------------------

Rows = dict[str, dict[str, Tally]]  # dimension -> value -> counts
CellKey = tuple[str, str, str, str]  # agent, team, channel, request type


@dataclass
class Node:
    """A rollup document's counts and the Kafka positions already folded into it.

    Spans and months hold rows per dimension; a month also holds each of its days' totals (for
    daily and weekly trends); a day's cells hold the full cross."""

    node_id: str
    rows: Rows = field(default_factory=dict)
    cells: dict[CellKey, Tally] = field(default_factory=dict)
    days: dict[int, Tally] = field(default_factory=dict)  # a month's: day of month -> totals
    offsets: dict[int, int] = field(default_factory=dict)
    version: int = 0

    @property
    def kind(self) -> str:
        """``cells``, ``month`` or ``span<level>``: what the node holds, and where it is kept."""
        if self.node_id.startswith("c:"):
            return "cells"
        if self.node_id.startswith("m:"):
            return "month"
        return "span" + self.node_id[1:].split(":", 1)[0]

    @property
    def is_cells(self) -> bool:
        return self.node_id.startswith("c:")

    def add(self, contribution: Contribution) -> None:
        if self.is_cells:
            s = contribution.slice
            key = (s.agent, s.team, s.channel, s.request_type)
            self.cells[key] = self.cells.get(key, Tally()) + contribution.tally
            return
        for dimension in DIMENSIONS:
            values = self.rows.setdefault(dimension.value, {})
            value = contribution.slice.value(dimension)
            values[value] = values.get(value, Tally()) + contribution.tally
        if self.kind == "month":
            day = contribution.day.day
            self.days[day] = self.days.get(day, Tally()) + contribution.tally

    def folded(self, partition: int, offset: int) -> bool:
        """Whether the record at ``offset`` of ``partition`` is already counted here: records of
        a partition are folded in order, and a node keeps the last one that changed it."""
        return offset <= self.offsets.get(partition, -1)

    def pack(self) -> str:
        """The counts as one JSON string: FerretDB reads a document field by field, and a string
        is one field however many counts it holds."""
        if self.is_cells:
            data: Any = [[*key, *t.packed()] for key, t in self.cells.items() if t]
        else:
            data = {d: {v: t.packed() for v, t in vs.items() if t} for d, vs in self.rows.items()}
            if self.days:
                data[_DAYS] = {str(d): t.packed() for d, t in sorted(self.days.items()) if t}
        return json.dumps(data, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def unpack(
        cls, node_id: str, packed: str | None, offsets: Mapping[str, int], version: int
    ) -> Node:
        node = cls(node_id, offsets={int(p): int(o) for p, o in offsets.items()}, version=version)
        if not packed:
            return node
        data = json.loads(packed)
        if node.is_cells:
            node.cells = {
                (str(r[0]), str(r[1]), str(r[2]), str(r[3])): Tally.unpacked(r[4:]) for r in data
            }
            return node
        node.days = {int(d): Tally.unpacked(c) for d, c in data.pop(_DAYS, {}).items()}
        node.rows = {d: {v: Tally.unpacked(c) for v, c in vs.items()} for d, vs in data.items()}
        return node


_DAYS = "days"  # not a dimension's name


@dataclass(frozen=True, slots=True)
class Positioned:
    """A contribution with the Kafka position of the record it came from."""

    partition: int
    offset: int
    contribution: Contribution


def fold(node: Node, entries: Iterable[Positioned]) -> bool:
    """Add the entries not yet counted in ``node``; True when anything changed."""
    changed = False
    advanced: dict[int, int] = {}
    for entry in entries:
        if node.folded(entry.partition, entry.offset):
            continue
        node.add(entry.contribution)
        advanced[entry.partition] = max(advanced.get(entry.partition, -1), entry.offset)
        changed = True
    for partition, offset in advanced.items():
        node.offsets[partition] = offset
    return changed


def by_node(entries: Iterable[Positioned]) -> dict[str, list[Positioned]]:
    grouped: dict[str, list[Positioned]] = defaultdict(list)
    for entry in entries:
        for node_id in nodes_of(entry.contribution.day):
            grouped[node_id].append(entry)
    return grouped


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    agent: str | None = None
    team: str | None = None
    channel: str | None = None
    request_type: str | None = None

    def __bool__(self) -> bool:
        return any((self.agent, self.team, self.channel, self.request_type))

    def admits(self, key: CellKey) -> bool:
        wanted = (self.agent, self.team, self.channel, self.request_type)
        return all(w is None or w == k for w, k in zip(wanted, key, strict=True))


def rows_of(nodes: Sequence[Node], dimension: Dimension) -> dict[str, Tally]:
    """The sum of ``nodes``' rows along ``dimension``."""
    summed: dict[str, Tally] = {}
    for node in nodes:
        for value, tally in node.rows.get(dimension.value, {}).items():
            summed[value] = summed.get(value, Tally()) + tally
    return summed


def cell_rows(nodes: Sequence[Node], dimension: Dimension, filters: Filters) -> dict[str, Tally]:
    """The sum of the cells that pass ``filters``, along ``dimension``."""
    position = {
        Dimension.AGENT: 0,
        Dimension.TEAM: 1,
        Dimension.CHANNEL: 2,
        Dimension.REQUEST_TYPE: 3,
    }.get(dimension)
    summed: dict[str, Tally] = {}
    for node in nodes:
        for key, tally in node.cells.items():
            if filters.admits(key):
                value = "" if position is None else key[position]
                summed[value] = summed.get(value, Tally()) + tally
    return summed


def rebuild(contributions: Iterable[Contribution]) -> dict[str, Node]:
    """Every node computed from scratch: what incremental folding must always equal.

    Days first (their cells and rows), then each level of spans from the one below and each
    month from its days, so the work grows with the slices per day, not with the contributions
    times the nodes each touches."""
    width = len(Tally().packed())
    by_day: dict[date, dict[Slice, list[int]]] = defaultdict(dict)
    for contribution in contributions:
        counts = by_day[contribution.day].setdefault(contribution.slice, [0] * width)
        for index, value in enumerate(contribution.tally.packed()):
            counts[index] += value
    nodes: dict[str, Node] = {}
    level: dict[int, _ListRows] = {}
    months: dict[str, tuple[_ListRows, dict[int, list[int]]]] = {}
    for day, slices in by_day.items():
        rows: _ListRows = {d.value: {} for d in DIMENSIONS}
        total = [0] * width
        for where, counts in slices.items():
            for dimension in DIMENSIONS:
                _add(rows[dimension.value].setdefault(where.value(dimension), [0] * width), counts)
            _add(total, counts)
        nodes[cells_id(day)] = Node(
            cells_id(day),
            cells={
                (w.agent, w.team, w.channel, w.request_type): Tally.unpacked(c)
                for w, c in slices.items()
            },
        )
        level[day_number(day)] = rows
        month_rows, month_days = months.setdefault(month_id(day), ({}, {}))
        _merge(month_rows, rows)
        month_days[day.day] = total
    for depth in range(LEVELS):
        for index, rows in level.items():
            nodes[span_id(depth, index)] = Node(span_id(depth, index), rows=_tallies(rows))
        parents: dict[int, _ListRows] = {}
        for index, rows in level.items():
            _merge(parents.setdefault(index >> 1, {}), rows)
        level = parents
    for node_id, (rows, totals) in months.items():
        nodes[node_id] = Node(
            node_id,
            rows=_tallies(rows),
            days={d: Tally.unpacked(c) for d, c in totals.items()},
        )
    return nodes


_ListRows = dict[str, dict[str, list[int]]]


def _add(target: list[int], counts: list[int]) -> None:
    for index, value in enumerate(counts):
        target[index] += value


def _merge(target: _ListRows, source: _ListRows) -> None:
    for dimension, values in source.items():
        into = target.setdefault(dimension, {})
        for value, counts in values.items():
            if value in into:
                _add(into[value], counts)
            else:
                into[value] = list(counts)


def _tallies(rows: _ListRows) -> Rows:
    return {d: {v: Tally.unpacked(c) for v, c in values.items()} for d, values in rows.items()}
