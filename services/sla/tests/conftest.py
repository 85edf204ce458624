"""Fakes and builders for sla's unit tests: a small policies file in round numbers, the
in-memory repository, a publisher, a hand-moved clock and the heap scheduler driven by it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from opora_shared.contracts.common import Channel, CustomerRef, Priority, RequestType, TicketStatus
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
)
from opora_shared.testing import RecordingPublisher
from opora_sla.adapters.memory import MemoryRepository
from opora_sla.adapters.scheduler import HeapScheduler
from opora_sla.domain import service
from opora_sla.domain.calendars import parse_calendars
from opora_sla.domain.policies import SlaConfig, parse_policies
from opora_sla.domain.service import Desk

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
"""A Monday, 12:00 in Moscow."""

POLICIES = """\
defaults:
  hours: calendar
  calendar: team
  warnings: ["75%"]
  pauses:
    pending: [requester_wait, agent_work, periodic_update]
    on_hold: [agent_work]
policies:
  - id: vip
    when: {tier: [vip]}
    warnings: ["50%", "5m"]
    targets:
      first_reply: {urgent: 10m, high: 20m, normal: 30m, low: 1h}
  - id: office
    when: {team: [office-team]}
    hours: business
    targets:
      first_reply: {urgent: 1h, high: 2h, normal: 2h, low: 4h}
      resolution: {normal: 8h}
  - id: standard
    escalations:
      - {level: 1, after: 0s}
      - {level: 2, after: 30m}
    targets:
      first_reply:     {urgent: 1h, high: 4h, normal: 8h}
      next_reply:      {urgent: 30m, high: 1h, normal: 2h}
      periodic_update: {urgent: 2h, high: 4h, normal: 8h}
      requester_wait:  {urgent: 4h, high: 8h, normal: 1d}
      agent_work:      {urgent: 2h, high: 4h, normal: 8h}
      resolution:      {urgent: 8h, high: 1d, normal: 2d}
"""

CALENDARS = """\
default: 24x7
teams: {office-team: office}
calendars:
  - id: office
    timezone: Europe/Moscow
    week:
      mon: ["09:00-13:00", "14:00-18:00"]
      tue: ["09:00-13:00", "14:00-18:00"]
      wed: ["09:00-13:00", "14:00-18:00"]
      thu: ["09:00-13:00", "14:00-18:00"]
      fri: ["09:00-13:00", "14:00-18:00"]
"""


def config(policies: str = POLICIES, calendars: str = CALENDARS, version: int = 1) -> SlaConfig:
    return SlaConfig.build(parse_policies(policies), parse_calendars(calendars), version)


class StaticPolicies:
    def __init__(self, current: SlaConfig) -> None:
        self.current = current


class FakeClock:
    """A clock that only moves when a test advances it; sleepers wake when their time comes."""

    def __init__(self, start: datetime = T0) -> None:
        self._now = start
        self._sleepers: list[tuple[datetime, asyncio.Future[None]]] = []

    def now(self) -> datetime:
        return self._now

    async def sleep_until(self, when: datetime) -> None:
        if when <= self._now:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((when, future))
        await future

    async def advance(self, delta: timedelta) -> None:
        """Move time on in one-second steps, letting everything due at each step run."""
        end = self._now + delta
        while self._now < end:
            self._now = min(self._now + timedelta(seconds=1), end)
            due = [(w, f) for w, f in self._sleepers if w <= self._now]
            self._sleepers = [(w, f) for w, f in self._sleepers if w > self._now]
            for _, future in due:
                if not future.done():
                    future.set_result(None)
            if due:
                await settle()
        await settle()

    async def jump(self, delta: timedelta) -> None:
        """Move time on at once (a process that was down)."""
        self._now += delta


async def settle() -> None:
    """Let woken tasks run to their next wait."""
    for _ in range(40):
        await asyncio.sleep(0)


# --- events as intake and routing publish them -------------------------------------------------


def opened(
    ticket_id: str = "t-1",
    *,
    at: datetime = T0,
    priority: Priority = Priority.NORMAL,
    channel: Channel = Channel.EMAIL,
    tier: str = "standard",
    request_type: RequestType = RequestType.OTHER,
) -> TicketOpenedV1:
    return TicketOpenedV1(
        event_id=f"open-{ticket_id}",
        occurred_at=at,
        ticket_id=ticket_id,
        number=f"OP-{ticket_id}",
        channel=channel,
        customer=CustomerRef(customer_id="cus-1", tier=tier),
        priority=priority,
        request_type=request_type,
        source_message_id=f"msg-{ticket_id}",
    )


def replied(
    ticket_id: str = "t-1", *, at: datetime, reply_id: str = "r-1", public: bool = True
) -> TicketRepliedV1:
    return TicketRepliedV1(
        event_id=f"reply-{ticket_id}-{reply_id}",
        occurred_at=at,
        ticket_id=ticket_id,
        reply_id=reply_id,
        agent_id="anna",
        public=public,
    )


def message(
    ticket_id: str = "t-1", *, at: datetime, message_id: str = "m-1"
) -> TicketMessageReceivedV1:
    return TicketMessageReceivedV1(
        event_id=f"message-{ticket_id}-{message_id}",
        occurred_at=at,
        ticket_id=ticket_id,
        message_id=message_id,
        channel=Channel.EMAIL,
        customer_id="cus-1",
    )


def status(
    ticket_id: str = "t-1",
    *,
    at: datetime,
    to: TicketStatus,
    reopened: bool = False,
    name: str = "",
) -> TicketStatusChangedV1:
    return TicketStatusChangedV1(
        event_id=f"status-{ticket_id}-{to}-{at.isoformat()}{name}",
        occurred_at=at,
        ticket_id=ticket_id,
        status=to,
        reopened=reopened,
    )


def assigned(
    ticket_id: str = "t-1", *, at: datetime, team: str, agent: str = "anna"
) -> TicketAssignedV1:
    return TicketAssignedV1(
        event_id=f"assigned-{ticket_id}-{team}-{agent}",
        occurred_at=at,
        ticket_id=ticket_id,
        queue="general",
        agent_id=agent,
        team=team,
    )


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repo() -> MemoryRepository:
    return MemoryRepository()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def policies() -> StaticPolicies:
    return StaticPolicies(config())


@pytest.fixture
async def scheduler(clock):
    scheduler = HeapScheduler(clock=clock, retry_initial_s=1.0, retry_max_s=4.0)
    yield scheduler
    await scheduler.shutdown()


@pytest.fixture
def desk(repo, publisher, scheduler, policies, clock) -> Desk:
    desk = Desk(repo=repo, publisher=publisher, timers=scheduler, policies=policies, now=clock.now)

    async def fire(ticket_id: str, partition: int) -> None:
        await service.fire(ticket_id, desk, partition)

    scheduler.bind(fire)
    return desk
