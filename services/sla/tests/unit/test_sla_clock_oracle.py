"""A metric's clock through status pauses, against a minute-by-minute oracle.

The calendars' own property tests (``test_business_calendar``) check the arithmetic; here the
whole measurement is checked: a ticket opens on a random desk (split shifts, holidays, special
days, any zone, starts near clock changes and midnight), goes pending and back, on hold and
back, at random minutes, and the policy pauses its requester wait while pending. The oracle
walks the minutes, counting one when the desk is open (the calendar tests' oracle decides) and
the ticket is not pending; the used time, and the instant the target is used up, must agree
with what :func:`evaluate` says.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from types import MappingProxyType

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.sla import Metric
from opora_sla.domain.calendars import CALENDAR_HOURS, CalendarBook
from opora_sla.domain.metrics import Phase, evaluate
from opora_sla.domain.policies import SlaConfig, parse_policies
from opora_sla.domain.timeline import Fact, FactKind

from .test_business_calendar import MINUTE, Desk, Oracle, durations, scenarios

POLICY = """\
defaults: {{hours: business, calendar: random, warnings: []}}
policies:
  - id: timed
    pauses: {{pending: [requester_wait]}}
    targets:
      requester_wait: {{normal: {minutes}m}}
"""

STATUSES = (TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD)


def configured(desk: Desk, minutes: int) -> SlaConfig:
    calendar = desk.calendar()
    book = CalendarBook(
        calendars=MappingProxyType({calendar.id: calendar, CALENDAR_HOURS.id: CALENDAR_HOURS}),
        teams=MappingProxyType({}),
        default=calendar.id,
    )
    return SlaConfig.build(parse_policies(POLICY.format(minutes=minutes)), book)


def walk(
    oracle: Oracle, start: datetime, changes: list[tuple[datetime, TicketStatus]]
) -> Iterator[tuple[datetime, bool, bool]]:
    """Each minute from ``start``: whether the clock runs (the ticket is not pending) and
    whether it counts the minute (it runs and the desk is open)."""
    current, pending = TicketStatus.NEW, list(changes)
    for minute, is_open in oracle.minutes(start):
        while pending and pending[0][0] <= minute:
            current = pending.pop(0)[1]
        runs = current is not TicketStatus.PENDING
        yield minute, runs, runs and is_open


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), scenario=scenarios())
def test_the_requester_wait_agrees_with_the_oracle_through_any_pauses(
    data: st.DataObject, scenario: tuple[Desk, datetime]
) -> None:
    desk, start = scenario
    target_min = max(data.draw(durations(desk), label="target minutes"), 1)
    gaps = data.draw(st.lists(st.integers(1, 2 * 24 * 60), max_size=6), label="gaps")
    moves = data.draw(
        st.lists(st.sampled_from(STATUSES), min_size=len(gaps), max_size=len(gaps)),
        label="statuses",
    )
    changes, instant = [], start
    for gap, move in zip(gaps, moves, strict=True):
        instant += gap * MINUTE
        changes.append((instant, move))
    until = instant + data.draw(st.integers(0, 24 * 60), label="then") * MINUTE
    facts = [Fact("opened", FactKind.OPENED, start)] + [
        Fact(f"s{index}", FactKind.STATUS, at, status=move)
        for index, (at, move) in enumerate(changes)
    ]
    final_pending = bool(changes) and changes[-1][1] is TicketStatus.PENDING

    evaluation = evaluate(facts, configured(desk, target_min), until)

    # The target is due at the first minute boundary by which the clock has counted it and at
    # which it runs; the used time is what it counted before `until`.
    used, counted, due = 0, 0, None
    for minute, runs, counts in walk(Oracle(desk), start, changes):
        if due is None and runs and counted >= target_min:
            due = minute
        if minute >= until and (due is not None or final_pending):
            break
        counted += counts
        used += counts and minute < until
    [wait] = [c for c in evaluation.cycles if c.metric is Metric.REQUESTER_WAIT]
    assert wait.used_s == used * 60
    assert wait.due_at == due
    assert wait.phase is (Phase.PAUSED if final_pending else Phase.RUNNING)
    assert wait.breached == (due is not None and due <= until)
    pending_due = [] if final_pending or due is None or due <= until else [due]
    assert evaluation.next_due == min(pending_due, default=None)
