"""The six SLA metrics, measured over a ticket's timeline under a policy, up to an instant.

Each metric runs in cycles; a cycle's clock runs in stretches (``runs``) and stops while the
ticket waits in a status that pauses it. What starts, pauses and stops a cycle:

- **first reply** starts when the ticket opens; an agent's public reply fulfils it.
- **next reply** starts at a customer message once the first reply was given (the oldest
  unanswered message: a message while a cycle runs starts nothing); the next public reply
  fulfils it. One cycle per unanswered stretch.
- **periodic update** starts at each public agent reply and is fulfilled by the next one.
- **requester wait**, **agent work** and **resolution** start when the ticket opens and stop
  when it is solved; which statuses pause them is the policy's choice (usually pending for
  requester wait, pending and on-hold for agent work).
- **solved** stops every running clock (so no reply clock runs on after a resolve); a
  **reopen** resumes requester wait, agent work and resolution with the time already used.
  **closed** stops everything for good.

The points of a cycle (warnings, the breach, escalations) are instants on its clock: a point
is reached at the first instant the clock has used that much time *and runs*; a clock stopped
exactly on it reaches it only if it runs again, so a reply exactly on the due time still meets
the target. Everything here is pure and
deterministic: the same timeline, policy and instant give the same cycles and the same
happenings, with the same keys.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from functools import cached_property

from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.sla import Metric

from opora_sla.domain.calendars import Calendar
from opora_sla.domain.policies import (
    AppliedPolicy,
    Point,
    Profile,
    SlaConfig,
    TargetRule,
    applied_policy,
)
from opora_sla.domain.timeline import Fact, FactKind, in_order, opening, profile, to_second

METRICS = tuple(Metric)
OPENING_METRICS = (
    Metric.FIRST_REPLY,
    Metric.REQUESTER_WAIT,
    Metric.AGENT_WORK,
    Metric.RESOLUTION,
)
"""The metrics whose first cycle starts when the ticket opens."""
REPLY_METRICS = (Metric.FIRST_REPLY, Metric.NEXT_REPLY, Metric.PERIODIC_UPDATE)
"""Fulfilled by an agent's public reply."""
REOPENED_METRICS = (Metric.REQUESTER_WAIT, Metric.AGENT_WORK, Metric.RESOLUTION)
"""Resumed, with the time already used, when a solved ticket is reopened."""
FINAL_STATUSES = (TicketStatus.SOLVED, TicketStatus.CLOSED)


class Happens(StrEnum):
    """What can happen to a metric cycle; each is one ledger entry."""

    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    WARNED = "warned"
    BREACHED = "breached"
    ESCALATED = "escalated"
    FULFILLED = "fulfilled"


_ORDER = {kind: index for index, kind in enumerate(Happens)}


class Phase(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    DONE = "done"


@dataclass(frozen=True)
class Happening:
    """Something that happened to a metric cycle at ``at``, keyed for deduplication: the same
    cycle, kind and ordinal always give the same key."""

    key: str
    kind: Happens
    at: datetime
    metric: Metric
    cycle: int
    target_s: int
    business_hours: bool
    used_s: int
    """Time used on the metric's clock at ``at``."""
    due_at: datetime
    """When the target is (or was) used up: the breach instant once it is known, otherwise the
    instant it would be used up if the clock ran on from ``at``."""
    label: str = ""
    """The warning threshold, the escalation level, what fulfilled or paused the cycle."""
    level: int = 0
    breached: bool = False
    """For a fulfilment: whether the target was missed."""

    @property
    def remaining_s(self) -> int:
        return self.target_s - self.used_s


@dataclass(frozen=True)
class CycleView:
    """Where one metric cycle stands at the evaluated instant."""

    metric: Metric
    cycle: int
    target_s: int
    business_hours: bool
    phase: Phase
    started_at: datetime
    used_s: int
    due_at: datetime | None
    """The breach instant when known (running, or reached); None while paused short of it."""
    breached: bool
    """The target was missed (the breach instant passed while the clock ran)."""
    done_at: datetime | None = None
    done_by: str | None = None

    @property
    def remaining_s(self) -> int:
        return self.target_s - self.used_s

    @property
    def key(self) -> str:
        return f"{self.metric.value}:{self.cycle}"

    @property
    def measured(self) -> bool:
        """Counts in the reports: finished, or already missed."""
        return self.phase is Phase.DONE or self.breached


@dataclass(frozen=True)
class Evaluation:
    """A ticket measured at ``until``."""

    until: datetime
    profile: Profile
    opened_at: datetime | None
    status: TicketStatus | None
    policy: AppliedPolicy | None
    cycles: tuple[CycleView, ...] = ()
    happenings: tuple[Happening, ...] = ()
    """Everything that happened up to ``until``, in order."""
    next_due: datetime | None = None
    """The next point a running clock reaches after ``until``; None when none will."""

    @cached_property
    def active(self) -> tuple[CycleView, ...]:
        """Cycles still measuring (running or paused), one per metric at most."""
        return tuple(cycle for cycle in self.cycles if cycle.done_at is None)

    @property
    def tracking(self) -> bool:
        """Anything is still measured, or may be again (a solved ticket can be reopened)."""
        return bool(self.active)


# --- the simulation ------------------------------------------------------------------------------


@dataclass
class _Cycle:
    metric: Metric
    number: int
    rule: TargetRule
    clock: Calendar
    started_at: datetime
    runs: list[tuple[datetime, datetime | None]] = field(default_factory=list)
    done_at: datetime | None = None
    done_by: str | None = None
    completions: int = 0
    moments: list[tuple[Happens, datetime, str, str]] = field(default_factory=list)
    """(kind, at, key suffix, label) of starts, pauses, resumes and fulfilments."""

    @property
    def prefix(self) -> str:
        return f"{self.metric.value}:{self.number}"

    @property
    def running(self) -> bool:
        return bool(self.runs) and self.runs[-1][1] is None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def start_run(self, at: datetime, label: str, *, first: bool = False) -> None:
        self.runs.append((at, None))
        if not first:
            self.moments.append((Happens.RESUMED, at, str(len(self.runs)), label))

    def stop_run(self, at: datetime) -> None:
        start, _ = self.runs[-1]
        self.runs[-1] = (start, max(at, start))

    def pause(self, at: datetime, label: str) -> None:
        self.stop_run(at)
        self.moments.append((Happens.PAUSED, at, str(len(self.runs)), label))

    def finish(self, at: datetime, by: str) -> None:
        if self.running:
            self.stop_run(at)
        self.done_at, self.done_by = at, by
        self.completions += 1
        self.moments.append((Happens.FULFILLED, at, str(self.completions), by))

    def reopen(self) -> None:
        self.done_at, self.done_by = None, None


class _Simulation:
    def __init__(self, policy: AppliedPolicy) -> None:
        self.policy = policy
        self.status = TicketStatus.NEW
        self.replied = False
        self.cycles: dict[Metric, list[_Cycle]] = {metric: [] for metric in METRICS}

    def current(self, metric: Metric) -> _Cycle | None:
        cycles = self.cycles[metric]
        return cycles[-1] if cycles and not cycles[-1].done else None

    def may_run(self, metric: Metric) -> bool:
        if self.status in FINAL_STATUSES:
            return False
        return metric not in self.policy.pauses.of(self.status)

    def start(self, metric: Metric, at: datetime, label: str) -> None:
        rule = self.policy.targets.get(metric)
        if rule is None:
            return
        cycles = self.cycles[metric]
        cycle = _Cycle(metric, len(cycles) + 1, rule, self.policy.clock_of(metric), at)
        cycles.append(cycle)
        running = self.may_run(metric)
        cycle.moments.append(
            (Happens.STARTED, at, "", label if running else f"{label}; paused ({self.status})")
        )
        if running:
            cycle.start_run(at, label, first=True)

    def open(self, at: datetime) -> None:
        for metric in OPENING_METRICS:
            self.start(metric, at, "ticket opened")

    def apply(self, fact: Fact, at: datetime) -> None:
        if self.status is TicketStatus.CLOSED:
            return  # closed is final: nothing measures any more
        if fact.kind is FactKind.STATUS and fact.status is not None:
            self.change_status(fact.status, at)
        elif fact.kind is FactKind.CUSTOMER_MESSAGE:
            if (
                self.status not in FINAL_STATUSES
                and self.replied
                and self.current(Metric.NEXT_REPLY) is None
            ):
                self.start(Metric.NEXT_REPLY, at, "customer message")
        elif fact.kind is FactKind.AGENT_REPLY and fact.public:
            by = f"reply {fact.ref}" if fact.ref else "reply"
            for metric in REPLY_METRICS:
                cycle = self.current(metric)
                if cycle is not None:
                    cycle.finish(at, by)
            self.replied = True
            if self.status not in FINAL_STATUSES:
                self.start(Metric.PERIODIC_UPDATE, at, "agent reply")

    def change_status(self, status: TicketStatus, at: datetime) -> None:
        previous, self.status = self.status, status
        if status in FINAL_STATUSES:
            for metric in METRICS:
                cycle = self.current(metric)
                if cycle is not None:
                    cycle.finish(at, status.value)
            return
        reopened: set[Metric] = set()
        if previous is TicketStatus.SOLVED:
            for metric in REOPENED_METRICS:
                cycles = self.cycles[metric]
                if cycles and cycles[-1].done_by == TicketStatus.SOLVED.value:
                    cycles[-1].reopen()
                    reopened.add(metric)
        for metric in METRICS:
            cycle = self.current(metric)
            if cycle is None:
                continue
            allowed = self.may_run(metric)
            if cycle.running and not allowed:
                cycle.pause(at, status.value)
            elif not cycle.running and allowed:
                cycle.start_run(at, "reopened" if metric in reopened else status.value)


def evaluate(facts: Sequence[Fact], config: SlaConfig, until: datetime) -> Evaluation:
    """Measure a ticket's metrics from its timeline under ``config``'s policies, up to
    ``until``: what happened, where each cycle stands, and when a clock next reaches a point."""
    until = to_second(until)
    current = profile(facts)
    opened = opening(facts)
    if opened is None:
        return Evaluation(until, current, None, None, None)
    policy = applied_policy(current, config)
    if policy is None:
        return Evaluation(until, current, opened.at, TicketStatus.NEW, None)
    simulation = _Simulation(policy)
    simulation.open(opened.at)
    for fact in in_order(facts):
        if fact.kind is not FactKind.OPENED:
            simulation.apply(fact, max(fact.at, opened.at))
    views: list[CycleView] = []
    happenings: list[Happening] = []
    pending: list[datetime] = []
    for metric in METRICS:
        for cycle in simulation.cycles[metric]:
            view, happened, next_point = _measure(cycle, until)
            views.append(view)
            happenings += happened
            if next_point is not None:
                pending.append(next_point)
    happenings.sort(key=lambda h: (h.at, _ORDER[h.kind], h.metric.value, h.cycle, h.level))
    return Evaluation(
        until=until,
        profile=current,
        opened_at=opened.at,
        status=simulation.status,
        policy=policy,
        cycles=tuple(views),
        happenings=tuple(happenings),
        next_due=min(pending, default=None),
    )


# --- measuring a cycle's clock ---------------------------------------------------------------


def _reach(cycle: _Cycle, used_s: int) -> tuple[datetime, datetime | None] | None:
    """The first instant at which the clock has used ``used_s`` and is running, and the end of
    the run it falls in (None: the open run); None when the runs end short of it. A clock that
    stops exactly on the point reaches it when it runs again."""
    done = 0
    for start, end in cycle.runs:
        instant = cycle.clock.add(start, max(used_s - done, 0))
        if end is None or instant < end:
            return instant, end
        done += cycle.clock.elapsed(start, end)
    return None


def _used(cycle: _Cycle, at: datetime) -> int:
    total = 0
    for start, end in cycle.runs:
        if start >= at:
            break
        stop = at if end is None else min(end, at)
        total += cycle.clock.elapsed(start, stop)
    return total


def _measure(cycle: _Cycle, until: datetime) -> tuple[CycleView, list[Happening], datetime | None]:
    rule = cycle.rule
    breach = _reach(cycle, rule.target_s)
    breach_at = breach[0] if breach is not None else None
    reached: list[tuple[datetime, Point]] = []
    next_point: datetime | None = None
    for point in rule.points():
        found = _reach(cycle, point.used_s)
        if found is None:
            break
        instant, run_end = found
        if run_end is None and instant > until:
            next_point = instant
            break
        reached.append((instant, point))

    def due_from(at: datetime, used: int) -> datetime:
        """The breach instant once the clock got there, else the instant it would be."""
        if breach_at is not None and used >= rule.target_s:
            return breach_at
        return cycle.clock.add(at, max(rule.target_s - used, 0))

    happenings = [_at_point(cycle, instant, point, due_from) for instant, point in reached]
    for kind, at, suffix, label in cycle.moments:
        if at > until:
            continue
        used = _used(cycle, at)
        happenings.append(
            Happening(
                key=f"{cycle.prefix}:{kind.value}" + (f":{suffix}" if suffix else ""),
                kind=kind,
                at=at,
                metric=cycle.metric,
                cycle=cycle.number,
                target_s=rule.target_s,
                business_hours=rule.business_hours,
                used_s=used,
                due_at=due_from(at, used),
                label=label,
                breached=kind is Happens.FULFILLED and used > rule.target_s,
            )
        )
    if cycle.done:
        phase = Phase.DONE
    elif cycle.running:
        phase = Phase.RUNNING
    else:
        phase = Phase.PAUSED
    view = CycleView(
        metric=cycle.metric,
        cycle=cycle.number,
        target_s=rule.target_s,
        business_hours=rule.business_hours,
        phase=phase,
        started_at=cycle.started_at,
        used_s=_used(cycle, until),
        due_at=breach_at,
        breached=any(point.kind == "breach" for _, point in reached),
        done_at=cycle.done_at,
        done_by=cycle.done_by,
    )
    return view, happenings, next_point


_AT_POINT = {"warning": Happens.WARNED, "breach": Happens.BREACHED, "escalation": Happens.ESCALATED}


def _at_point(
    cycle: _Cycle, instant: datetime, point: Point, due_from: Callable[[datetime, int], datetime]
) -> Happening:
    if point.kind == "warning":
        suffix = f"warning:{point.label}"
    elif point.kind == "escalation":
        suffix = f"escalation:{point.level}"
    else:
        suffix = "breach"
    return Happening(
        key=f"{cycle.prefix}:{suffix}",
        kind=_AT_POINT[point.kind],
        at=instant,
        metric=cycle.metric,
        cycle=cycle.number,
        target_s=cycle.rule.target_s,
        business_hours=cycle.rule.business_hours,
        used_s=point.used_s,
        due_at=due_from(instant, point.used_s),
        label=point.label,
        level=point.level,
    )
