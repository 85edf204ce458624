"""Fakes for sla's unit tests: an in-memory timer store, a publisher and a hand-moved clock."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from opora_shared.contracts.common import Channel, Priority
from opora_shared.contracts.tickets import TicketOpenedV1, TicketRepliedV1
from opora_shared.testing import RecordingPublisher
from opora_shared.timers import TimerScheduler
from opora_sla.domain.model import Timer, TimerState
from opora_sla.domain.ports import Announcement

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class FakeRepository:
    def __init__(self) -> None:
        self.timers: dict[str, Timer] = {}

    async def arm(self, timer: Timer) -> Timer:
        return self.timers.setdefault(timer.key, timer)

    async def get(self, key: str) -> Timer | None:
        return self.timers.get(key)

    async def for_ticket(self, ticket_id: str) -> list[Timer]:
        return [t for t in self.timers.values() if t.ticket_id == ticket_id]

    async def pending(self) -> list[Timer]:
        return [t for t in self.timers.values() if t.warning_pending or t.breach_pending]

    async def mark_warned(self, key: str) -> Timer | None:
        timer = self.timers.get(key)
        if timer is None or timer.state is not TimerState.ARMED or timer.warned:
            return None
        return self._put(replace(timer, warned=True, warning_published=False))

    async def mark_breached(self, key: str) -> Timer | None:
        timer = self.timers.get(key)
        if timer is None or timer.state is not TimerState.ARMED:
            return None
        return self._put(replace(timer, state=TimerState.BREACHED, breach_published=False))

    async def mark_fulfilled(self, key: str, at: datetime, reply_id: str) -> Timer | None:
        timer = self.timers.get(key)
        if timer is None or timer.state is not TimerState.ARMED:
            return None
        return self._put(
            replace(timer, state=TimerState.FULFILLED, fulfilled_at=at, fulfilled_by=reply_id)
        )

    async def mark_published(self, key: str, what: Announcement) -> None:
        flag = "warning_published" if what == "warning" else "breach_published"
        self._put(replace(self.timers[key], **{flag: True}))

    def _put(self, timer: Timer) -> Timer:
        self.timers[timer.key] = timer
        return timer


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
        self._now += delta
        due = [(w, f) for w, f in self._sleepers if w <= self._now]
        self._sleepers = [(w, f) for w, f in self._sleepers if w > self._now]
        for _, future in due:
            if not future.done():
                future.set_result(None)
        await settle()


async def settle() -> None:
    """Let woken tasks run to their next wait."""
    for _ in range(20):
        await asyncio.sleep(0)


def opened(
    ticket_id: str = "t-1", priority: Priority = Priority.NORMAL, at: datetime = T0
) -> TicketOpenedV1:
    return TicketOpenedV1(
        event_id=f"evt-{ticket_id}",
        occurred_at=at,
        ticket_id=ticket_id,
        number=f"OP-{ticket_id}",
        channel=Channel.EMAIL,
        customer={"customer_id": "cus-1"},
        priority=priority,
        source_message_id=f"msg-{ticket_id}",
    )


def replied(
    ticket_id: str = "t-1", at: datetime = T0, reply_id: str = "r-1", public: bool = True
) -> TicketRepliedV1:
    return TicketRepliedV1(
        event_id=f"evt-{reply_id}",
        occurred_at=at,
        ticket_id=ticket_id,
        reply_id=reply_id,
        agent_id="anna",
        public=public,
    )


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def scheduler(clock):
    scheduler = TimerScheduler(clock, retry_initial_s=1.0, retry_max_s=4.0)
    yield scheduler
    await scheduler.shutdown()
