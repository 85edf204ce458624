"""Rollups: survey counts kept per day × agent × team × channel × request type, summed so that
a report reads a handful of documents however many answers are stored.

A survey counts on the day it was issued (in the reports' time zone), so that an answer given a
week later, or edited, lands in the same slice as its invitation and the response rate compares
like with like. Three kinds of node hold the counts:

- **spans** (``n<level>:<index>``): for every dyadic run of days (1, 2, 4, … 2,048 days, aligned
  on day 0 = 1970-01-01) the totals and one row per agent, team, channel and request type. Any
  period is the sum of at most ``2 × LEVELS`` spans (a segment tree over days), so a report
  by agent over a year reads about twenty documents;
- **months** (``m:<YYYY-MM>``): the same rows per calendar month, and each of its days'
  totals, for daily, weekly and monthly trends;
- **facets** (``f:<YYYY-MM>:<kind>:<value>``): what one agent, team, channel, request type, or
  channel and request type together, counted in a month, by day and crossed with the other
  dimensions in the few tables of ``FACET_KINDS``. Whatever a report is filtered on, one kind
  of facet holds a table with every dimension it still needs, so a filtered report reads one
  facet per month of its period, and only the rows of what it filters on.

Everything here is pure: which nodes a contribution touches, how rows add up, how a period is
covered and how rows become a report.
"""

from __future__ import annotations

import json
import operator
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from opora_shared.contracts.feedback import SurveyType

from opora_feedback.domain.metrics import Tally, issued_tally, revision_tally

K = TypeVar("K")
_WIDTH = len(Tally().packed())
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


# --- facets ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FacetKind:
    """Facets of one kind hold, for each value of the ``lead`` dimensions, the counts by day in
    each of ``tables``: a table crosses the dimensions it names, and every table of a facet sums
    to the same totals."""

    name: str
    lead: tuple[Dimension, ...]
    tables: tuple[tuple[Dimension, ...], ...]


_A, _T, _C, _R = Dimension.AGENT, Dimension.TEAM, Dimension.CHANNEL, Dimension.REQUEST_TYPE

# In the order a filtered report looks for the facet it reads: the first whose lead it filters
# on and that has a table with every other dimension it filters or groups on, the smallest such
# table (tables are listed smallest first). Between them the tables leave no combination of
# filters and grouping without one (a unit test walks them all), and each stays small: an
# agent's full cross is a few dozen rows a day, and no other kind crosses agents with anything
# but their team (which an agent mostly keeps). The day totals (``()``) serve filtered totals and
# trends. A team's facet is read most (a team lead's reports), so it holds the least.
FACET_KINDS: tuple[FacetKind, ...] = (
    FacetKind("agent", (_A,), ((), (_T, _C, _R))),
    FacetKind("team", (_T,), ((), (_A,), (_C, _R))),
    FacetKind("channel+request_type", (_C, _R), ((), (_A, _T))),
    FacetKind("channel", (_C,), ((), (_A, _T), (_T, _R))),
    FacetKind("request_type", (_R,), ((), (_A, _T), (_T, _C))),
)
_KINDS = {kind.name: kind for kind in FACET_KINDS}
_VALUES = "|"  # between the lead values of a facet led by two dimensions (enum values only)


def facet_id(day: date, kind: FacetKind, values: Sequence[str]) -> str:
    return f"f:{day:%Y-%m}:{kind.name}:{_VALUES.join(values)}"


def facet_ids(day: date, where: Slice) -> list[str]:
    return [facet_id(day, kind, [where.value(d) for d in kind.lead]) for kind in FACET_KINDS]


# --- node ids ------------------------------------------------------------------------------


def span_id(level: int, index: int) -> str:
    return f"n{level}:{index}"


def month_id(day: date) -> str:
    return f"m:{day:%Y-%m}"


def nodes_of(contribution: Contribution) -> list[str]:
    """Every node a contribution changes: its day's spans at each level, its month, and the
    facets of its agent, team, channel and request type in that month."""
    number = day_number(contribution.day)
    return [
        *(span_id(level, number >> level) for level in range(LEVELS)),
        month_id(contribution.day),
        *facet_ids(contribution.day, contribution.slice),
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


def months(first: date, last: date) -> list[date]:
    """The first day of every month ``first`` .. ``last`` touches."""
    found: list[date] = []
    month = first.replace(day=1)
    while month <= last:
        found.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return found


# --- node contents -------------------------------------------------------------------------

Rows = dict[str, dict[str, Tally]]  # dimension -> value -> counts
CellKey = tuple[int, tuple[str, ...]]  # a facet table's row: day of the month, values
Table = dict[CellKey, list[int]]  # full-width counts (Tally order): a facet folds thousands


@dataclass
class Node:
    """A rollup document's counts and the Kafka positions already folded into it.

    Spans and months hold rows per dimension; a month also holds each of its days' totals (for
    daily and weekly trends); a facet holds its tables. A facet keeps the positions per day of
    its month: its days were once documents of their own (see ``carry_over``), so each is
    counted once on its own.

    A facet read from storage keeps each table as stored (``packed_tables``) until something
    needs its counts: a report reads one table's rows as plain lists (``raw_table``), the
    folder unpacks them all to add to them (``table``)."""

    node_id: str
    rows: Rows = field(default_factory=dict)
    tables: dict[int, Table] = field(default_factory=dict)  # a facet's: table index -> rows
    days: dict[int, Tally] = field(default_factory=dict)  # a month's: day of month -> totals
    offsets: dict[int, int] = field(default_factory=dict)
    day_offsets: dict[int, dict[int, int]] = field(default_factory=dict)  # a facet's, by day
    version: int = 0
    packed_tables: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def kind(self) -> str:
        """``facet``, ``month`` or ``span<level>``: what the node holds, and where it is kept."""
        if self.is_facet:
            return "facet"
        if self.node_id.startswith("m:"):
            return "month"
        return "span" + self.node_id[1:].split(":", 1)[0]

    @property
    def is_facet(self) -> bool:
        return self.node_id.startswith("f:")

    @property
    def month(self) -> date:
        """The first day of a facet's or a month's month."""
        year, month = self.node_id.split(":", 2)[1].split("-")
        return date(int(year), int(month), 1)

    @property
    def facet_kind(self) -> FacetKind:
        return _KINDS[self.node_id.split(":", 3)[2]]

    def add(self, contribution: Contribution) -> None:
        where, tally = contribution.slice, contribution.tally
        if self.is_facet:
            day, counts = contribution.day.day, tally.packed()
            for index, dimensions in enumerate(self.facet_kind.tables):
                table = self.table(index)
                key = (day, tuple(where.value(d) for d in dimensions))
                if key in table:
                    _add(table[key], counts)
                else:
                    table[key] = list(counts)
            return
        for dimension in DIMENSIONS:
            values = self.rows.setdefault(dimension.value, {})
            value = where.value(dimension)
            values[value] = values.get(value, Tally()) + tally
        if self.kind == "month":
            day = contribution.day.day
            self.days[day] = self.days.get(day, Tally()) + tally

    def table(self, index: int) -> Table:
        """A facet table's counts, unpacked from storage the first time."""
        if index in self.packed_tables:
            rows = _rows(self.packed_tables.pop(index), len(self.facet_kind.tables[index]))
            self.tables[index] = {(day, values): _padded(c) for day, values, c in rows}
        return self.tables.setdefault(index, {})

    def raw_table(self, index: int) -> tuple[list[str], list[list[int]]]:
        """A facet table as stored, without unpacking it into tallies: its names, and its rows
        (day, the positions of its values' names, counts without trailing zeros)."""
        if index in self.packed_tables:
            data = json.loads(self.packed_tables[index])
            return data[_NAMES], data[_ROWS]
        return _raw(self.tables.get(index, {}))

    def counted(self, entry: Positioned) -> bool:
        """Whether the record of ``entry`` is already counted here: records of a partition are
        folded in order, and a node (a facet: each of its days) keeps the last one that
        changed it."""
        if self.is_facet:
            offsets = self.day_offsets.get(entry.contribution.day.day, {})
        else:
            offsets = self.offsets
        return entry.offset <= offsets.get(entry.partition, -1)

    def has_day(self, day: int) -> bool:
        """Whether anything was folded into (or carried over to) this facet's ``day``."""
        return day in self.day_offsets

    def counts(self) -> Any:
        """What the node counts, without positions or zeros: two nodes count the same when
        these are equal."""
        rows = {d: {v: t for v, t in vs.items() if t} for d, vs in self.rows.items()}
        tables = {}
        if self.is_facet:
            for index in range(len(self.facet_kind.tables)):
                tables[index] = {k: Tally(*c) for k, c in self.table(index).items() if any(c)}
        return (
            {d: vs for d, vs in rows.items() if vs},
            {i: cells for i, cells in tables.items() if cells},
            {d: t for d, t in self.days.items() if t},
        )

    def pack(self) -> str:
        """A span's or a month's counts as one JSON string: FerretDB reads a document field by
        field, and a string is one field however many counts it holds."""
        data: Any = {d: {v: t.packed() for v, t in vs.items() if t} for d, vs in self.rows.items()}
        if self.days:
            data[_DAYS] = {str(d): t.packed() for d, t in sorted(self.days.items()) if t}
        return _json(data)

    def pack_facet(self) -> tuple[dict[int, str], str]:
        """A facet's tables, each one JSON string (its names listed once and its rows referring
        to them by position, trailing zero counts left out), and its positions."""
        tables: dict[int, str] = {}
        for index in range(len(self.facet_kind.tables)):
            if index in self.packed_tables:  # never unpacked: unchanged
                tables[index] = self.packed_tables[index]
            else:
                names, rows = _raw(self.tables.get(index, {}))
                tables[index] = _json({_NAMES: names, _ROWS: rows})
        positions = {
            str(d): {str(p): o for p, o in sorted(offsets.items())}
            for d, offsets in sorted(self.day_offsets.items())
        }
        return tables, _json(positions)

    @classmethod
    def unpack(
        cls, node_id: str, packed: str | None, offsets: Mapping[str, int], version: int
    ) -> Node:
        """A span or a month as stored."""
        node = cls(node_id, offsets={int(p): int(o) for p, o in offsets.items()}, version=version)
        if not packed:
            return node
        data = json.loads(packed)
        node.days = {int(d): Tally.unpacked(c) for d, c in data.pop(_DAYS, {}).items()}
        node.rows = {d: {v: Tally.unpacked(c) for v, c in vs.items()} for d, vs in data.items()}
        return node

    @classmethod
    def unpack_facet(
        cls, node_id: str, tables: Mapping[int, str], positions: str | None, version: int
    ) -> Node:
        """A facet as stored; its tables stay packed until needed."""
        node = cls(node_id, version=version, packed_tables=dict(tables))
        node.day_offsets = {
            int(d): {int(p): int(o) for p, o in found.items()}
            for d, found in json.loads(positions or "{}").items()
        }
        return node


_DAYS = "days"  # not a dimension's name
_NAMES, _ROWS = "names", "rows"


def _json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":"))


def _rows(packed: str, arity: int) -> Iterator[tuple[int, tuple[str, ...], list[int]]]:
    """A packed table's rows: day, ``arity`` values, counts."""
    data = json.loads(packed)
    names = data[_NAMES]
    end = arity + 1
    for row in data[_ROWS]:
        yield row[0], tuple(names[n] for n in row[1:end]), row[end:]


def _raw(table: Table) -> tuple[list[str], list[list[int]]]:
    names: dict[str, int] = {}
    rows = [
        [day, *(names.setdefault(v, len(names)) for v in values), *_trimmed(counts)]
        for (day, values), counts in sorted(table.items())
        if any(counts)
    ]
    return list(names), rows


def _padded(counts: list[int]) -> list[int]:
    return counts + [0] * (_WIDTH - len(counts))


def _trimmed(counts: list[int]) -> list[int]:
    """The counts without trailing zeros (``Tally.unpacked`` adds them back)."""
    end = len(counts)
    while end and not counts[end - 1]:
        end -= 1
    return counts[:end]


@dataclass(frozen=True, slots=True)
class Positioned:
    """A contribution with the Kafka position of the record it came from."""

    partition: int
    offset: int
    contribution: Contribution


def fold(node: Node, entries: Iterable[Positioned]) -> bool:
    """Add the entries not yet counted in ``node``; True when anything changed."""
    changed = False
    advanced: dict[tuple[int, int], int] = {}  # (a facet's day or 0, partition) -> offset
    for entry in entries:
        if node.counted(entry):
            continue
        node.add(entry.contribution)
        where = (entry.contribution.day.day if node.is_facet else 0, entry.partition)
        advanced[where] = max(advanced.get(where, -1), entry.offset)
        changed = True
    for (day, partition), offset in advanced.items():
        positions = node.day_offsets.setdefault(day, {}) if node.is_facet else node.offsets
        positions[partition] = offset
    return changed


def by_node(entries: Iterable[Positioned]) -> dict[str, list[Positioned]]:
    grouped: dict[str, list[Positioned]] = defaultdict(list)
    for entry in entries:
        for node_id in nodes_of(entry.contribution):
            grouped[node_id].append(entry)
    return grouped


def carry_over(
    node: Node, day: date, offsets: Mapping[int, int], contributions: Iterable[Contribution]
) -> bool:
    """Add to a facet a day counted before facets existed, with the positions that day had
    folded, unless the facet has that day already; True when it was added.

    Every facet a legacy day adds to gets its positions: a record of that day delivered again
    is then skipped wherever it was counted. A facet the day adds nothing to gets none, and
    needs none: any record the day counted left a row (every survey counts as issued) in each
    facet it touches."""
    if node.has_day(day.day):
        return False
    for contribution in contributions:
        node.add(contribution)
    node.day_offsets[day.day] = dict(offsets)
    return True


def legacy_cells(node_id: str, packed: str) -> list[Contribution]:
    """A day's full cross as kept before facets (``c:<YYYY-MM-DD>``, one row per agent, team,
    channel and request type), as the contributions it sums."""
    day = date.fromisoformat(node_id.removeprefix("c:"))
    return [
        Contribution(day, Slice(str(r[0]), str(r[1]), str(r[2]), str(r[3])), Tally.unpacked(r[4:]))
        for r in json.loads(packed)
    ]


# --- reading -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    agent: str | None = None
    team: str | None = None
    channel: str | None = None
    request_type: str | None = None

    def __bool__(self) -> bool:
        return any((self.agent, self.team, self.channel, self.request_type))

    def value(self, dimension: Dimension) -> str | None:
        """The value filtered on (None: not filtered, as for an empty one)."""
        return None if dimension is Dimension.TOTAL else getattr(self, dimension.value) or None

    @property
    def dimensions(self) -> frozenset[Dimension]:
        return frozenset(d for d in DIMENSIONS if self.value(d) is not None)


@dataclass(frozen=True)
class FacetRead:
    """Where a filtered report finds its rows: which facets, and which of their tables."""

    kind: FacetKind
    table: int
    filters: Filters

    @classmethod
    def choose(cls, filters: Filters, dimension: Dimension | None) -> FacetRead:
        """The first kind of facet led by dimensions the report filters on that has a table
        with every other dimension it filters or groups on."""
        filtered = filters.dimensions
        grouped = {dimension} if dimension not in (None, Dimension.TOTAL) else set()
        for kind in FACET_KINDS:
            if not set(kind.lead) <= filtered:
                continue
            needed = (filtered | grouped) - set(kind.lead)
            for index, dimensions in enumerate(kind.tables):
                if needed <= set(dimensions):
                    return cls(kind, index, filters)
        raise ValueError(f"no facet answers filters on {sorted(filtered)}")  # see FACET_KINDS

    def node_ids(self, first: date, last: date) -> list[str]:
        values = [self.filters.value(d) or "" for d in self.kind.lead]
        return [facet_id(month, self.kind, values) for month in months(first, last)]

    def rows(
        self, nodes: Iterable[Node], dimension: Dimension | None, first: date, last: date
    ) -> dict[str, Tally]:
        """The facets' counts on days ``first`` .. ``last`` that pass the filters, summed along
        ``dimension`` (all under ``""`` for none or the total)."""
        dimensions = self.kind.tables[self.table]
        fixed = self.filters.value(dimension) if dimension in self.kind.lead else None
        column = 1 + dimensions.index(dimension) if dimension in dimensions else None
        summed: dict[str, list[int]] = {}
        for node in nodes:
            month = node.month
            if not first.replace(day=1) <= month <= last:
                continue
            low = first.day if month == first.replace(day=1) else 1
            high = last.day if month == last.replace(day=1) else 31
            names, rows = self._passing(node)
            for row in rows:
                if low <= row[0] <= high:
                    value = fixed or ("" if column is None else names[row[column]])
                    _accumulate(summed, value, row, len(dimensions) + 1)
        return {value: Tally(*counts) for value, counts in summed.items()}

    def by_day(self, nodes: Iterable[Node]) -> dict[date, Tally]:
        """The facets' daily totals of what passes the filters."""
        summed: dict[date, list[int]] = {}
        counts_at = len(self.kind.tables[self.table]) + 1
        for node in nodes:
            month = node.month
            for row in self._passing(node)[1]:
                _accumulate(summed, month.replace(day=row[0]), row, counts_at)
        return {day: Tally(*counts) for day, counts in summed.items()}

    def _passing(self, node: Node) -> tuple[list[str], list[list[int]]]:
        """The node's chosen table: its names, and its rows that pass the filters."""
        names, rows = node.raw_table(self.table)
        position = {name: index for index, name in enumerate(names)}
        checks = [
            (1 + column, position.get(wanted, -1))
            for column, d in enumerate(self.kind.tables[self.table])
            if (wanted := self.filters.value(d)) is not None
        ]
        if checks:
            rows = [row for row in rows if all(row[c] == wanted for c, wanted in checks)]
        return names, rows


def _accumulate(summed: dict[Any, list[int]], key: Any, row: list[int], start: int) -> None:
    """Add the counts of ``row`` (from ``start``, trailing zeros left out) to ``summed[key]``."""
    counts = row[start:]
    into = summed.get(key)
    if into is None:
        summed[key] = counts + [0] * (_WIDTH - len(counts))
    else:
        into[: len(counts)] = map(operator.add, into, counts)


def rows_of(nodes: Sequence[Node], dimension: Dimension) -> dict[str, Tally]:
    """The sum of ``nodes``' rows along ``dimension``."""
    summed: dict[str, Tally] = {}
    for node in nodes:
        for value, tally in node.rows.get(dimension.value, {}).items():
            summed[value] = summed.get(value, Tally()) + tally
    return summed


# --- from scratch --------------------------------------------------------------------------


def issue_counted(
    ticket_id: str,
    questions: Sequence[SurveyType],
    issued_at: datetime,
    where: Slice,
    zone: ZoneInfo,
) -> tuple[str, Contribution]:
    """What a stored invitation counts, keyed as its ``SurveyIssuedV1`` is when folded."""
    day = report_day(issued_at, zone)
    return f"issued:{ticket_id}", Contribution(day, where, issued_tally(questions))


def revision_counted(
    revision_id: str,
    survey_type: SurveyType,
    score: int,
    previous_score: int | None,
    issued_at: datetime,
    where: Slice,
    zone: ZoneInfo,
) -> tuple[str, Contribution]:
    """What a stored answer revision (``<ticket>:<type>:<n>``) counts, keyed as its
    ``SurveyResponseRecordedV1`` is when folded: the revisions of an answer add up to its
    latest score."""
    tally = revision_tally(survey_type, score, previous_score)
    return revision_id, Contribution(report_day(issued_at, zone), where, tally)


def rebuild(contributions: Iterable[Contribution]) -> dict[str, Node]:
    """Every node computed from scratch: what incremental folding must always equal.

    Days first (their rows and their facets' rows), then each level of spans from the one below
    and each month from its days, so the work grows with the slices per day, not with the
    contributions times the nodes each touches."""
    width = len(Tally().packed())
    by_day: dict[date, dict[Slice, list[int]]] = defaultdict(dict)
    for contribution in contributions:
        counts = by_day[contribution.day].setdefault(contribution.slice, [0] * width)
        for index, value in enumerate(contribution.tally.packed()):
            counts[index] += value
    nodes: dict[str, Node] = {}
    level: dict[int, _ListRows] = {}
    months_: dict[str, tuple[_ListRows, dict[int, list[int]]]] = {}
    facets: dict[str, dict[int, dict[CellKey, list[int]]]] = defaultdict(dict)
    # Positions in (agent, team, channel, request type) rather than Slice.value: this loop runs
    # for every slice of every day.
    at = {_A: 0, _T: 1, _C: 2, _R: 3}
    kinds = [
        (kind.name, [at[d] for d in kind.lead], [[at[d] for d in t] for t in kind.tables])
        for kind in FACET_KINDS
    ]
    for day, slices in by_day.items():
        rows: _ListRows = {d.value: {} for d in DIMENSIONS}
        total = [0] * width
        prefix = f"f:{day:%Y-%m}:"
        for where, counts in slices.items():
            for dimension in DIMENSIONS:
                _add(rows[dimension.value].setdefault(where.value(dimension), [0] * width), counts)
            _add(total, counts)
            values = (where.agent, where.team, where.channel, where.request_type)
            for name, lead, tables in kinds:
                facet = facets[prefix + name + ":" + _VALUES.join([values[i] for i in lead])]
                for index, positions in enumerate(tables):
                    key = (day.day, tuple([values[i] for i in positions]))
                    table = facet.setdefault(index, {})
                    if key in table:
                        _add(table[key], counts)
                    else:
                        table[key] = list(counts)
        level[day_number(day)] = rows
        month_rows, month_days = months_.setdefault(month_id(day), ({}, {}))
        _merge(month_rows, rows)
        month_days[day.day] = total
    for depth in range(LEVELS):
        for index, rows in level.items():
            nodes[span_id(depth, index)] = Node(span_id(depth, index), rows=_tallies(rows))
        parents: dict[int, _ListRows] = {}
        for index, rows in level.items():
            _merge(parents.setdefault(index >> 1, {}), rows)
        level = parents
    for node_id, (rows, totals) in months_.items():
        nodes[node_id] = Node(node_id, rows=_tallies(rows), days=_by_key(totals))
    for node_id, facet in facets.items():
        nodes[node_id] = Node(node_id, tables=facet)
    return nodes


def differences(stored: Mapping[str, Node], rebuilt: Mapping[str, Node]) -> list[str]:
    """The ids of the nodes whose counts differ (a node missing on one side counts nothing)."""
    nothing = Node("").counts()
    return sorted(
        node_id
        for node_id in set(stored) | set(rebuilt)
        if (stored[node_id].counts() if node_id in stored else nothing)
        != (rebuilt[node_id].counts() if node_id in rebuilt else nothing)
    )


_ListRows = dict[str, dict[str, list[int]]]


def _add(target: list[int], counts: list[int]) -> None:
    target[:] = map(operator.add, target, counts)  # both full width


def _merge(target: _ListRows, source: _ListRows) -> None:
    for dimension, values in source.items():
        into = target.setdefault(dimension, {})
        for value, counts in values.items():
            if value in into:
                _add(into[value], counts)
            else:
                into[value] = list(counts)


def _tallies(rows: _ListRows) -> Rows:
    return {d: _by_key(values) for d, values in rows.items()}


def _by_key(counts: Mapping[K, list[int]]) -> dict[K, Tally]:
    return {key: Tally(*c) for key, c in counts.items()}  # full width: no need to pad
