"""Ticket automations: a pending ticket nobody answers is solved after 7 days, a solved ticket is
closed after 4; anything that moves the ticket first calls it off. Run on the real
TimerScheduler with a clock the tests move, over the in-memory repository."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import pytest
from opora_intake.adapters.memory import MemoryRepository
from opora_intake.domain.automations import (
    OFF,
    Automation,
    AutomationRules,
    AutomationsError,
    automatic_change_by,
    load_automations,
    parse_automations,
)
from opora_intake.domain.model import derived_id
from opora_intake.domain.service import Policy, accept_message, change_status, record_reply
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.workspace import ReplyPostedV1, StatusSetV1, WorkspaceStatus
from opora_shared.testing import RecordingPublisher
from opora_shared.timers import TimerScheduler

from .messages import AT, chat

DAY = timedelta(days=1)


class ManualClock:
    """A clock that moves only when a test advances it; sleeping timers wake in order."""

    def __init__(self, start: datetime) -> None:
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
        """Move on by ``delta``, stopping at every instant a timer sleeps until and letting
        what wakes there run to its next wait."""
        end = self._now + delta
        while True:
            await _settle()
            waiting = [w for w, f in self._sleepers if not f.done()]
            if not waiting or min(waiting) > end:
                break
            self._now = max(self._now, min(waiting))
            due = [(w, f) for w, f in self._sleepers if w <= self._now]
            self._sleepers = [(w, f) for w, f in self._sleepers if w > self._now]
            for _, future in due:
                if not future.done():
                    future.set_result(None)
        self._now = end
        await _settle()


async def _settle() -> None:
    for _ in range(50):
        await asyncio.sleep(0)


class Desk:
    """intake's automation as ``main.py`` wires it, over the in-memory repository."""

    def __init__(self, repo: MemoryRepository, clock: ManualClock, rules: AutomationRules) -> None:
        self.repo = repo
        self.clock = clock
        self.publisher = RecordingPublisher()
        self.timers = TimerScheduler(clock)
        self.automation = Automation(
            repo=repo,
            publisher=self.publisher,
            rules=rules,
            timers=self.timers,
            clock=clock.now,
        )

    async def open_ticket(self, message_id: str = "m-1") -> str:
        outcome = await accept_message(chat(message_id), self.repo, self.publisher, Policy())
        return outcome.ticket_id

    async def set(
        self, ticket_id: str, status: WorkspaceStatus, action_id: str | None = None
    ) -> TicketStatusChangedV1:
        action = StatusSetV1(
            event_id=action_id or f"set-{status}-{self.clock.now().isoformat()}",
            occurred_at=self.clock.now(),
            ticket_id=ticket_id,
            agent_id="a-1",
            status=status,
        )
        return await change_status(action, self.repo, self.publisher, self.automation)

    async def status_of(self, ticket_id: str) -> TicketStatus:
        ticket = await self.repo.get_ticket(ticket_id)
        assert ticket is not None
        return ticket.status

    def automatic(self) -> list[TicketStatusChangedV1]:
        return [
            e
            for e in self.publisher.published
            if isinstance(e, TicketStatusChangedV1) and e.actor == "system"
        ]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(AT)


@pytest.fixture
async def make_desk(clock) -> AsyncIterator[Callable[..., Desk]]:
    made: list[Desk] = []

    def make(rules: AutomationRules | None = None, repo: MemoryRepository | None = None) -> Desk:
        desk = Desk(repo or MemoryRepository(), clock, rules or AutomationRules())
        made.append(desk)
        return desk

    yield make
    for desk in made:
        await desk.timers.shutdown()


@pytest.fixture
async def desk(make_desk) -> Desk:
    started = make_desk()
    await started.automation.recover()
    return started


# --- pending → solved -----------------------------------------------------------------------


async def test_a_pending_ticket_nobody_answers_is_solved_seven_days_later(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)

    await clock.advance(7 * DAY - timedelta(seconds=1))
    assert await desk.status_of(ticket) is TicketStatus.PENDING

    await clock.advance(timedelta(seconds=1))
    assert await desk.status_of(ticket) is TicketStatus.SOLVED


async def test_the_automatic_solve_is_announced_by_the_system_at_its_due_time(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)

    await clock.advance(8 * DAY)

    [solved] = desk.automatic()
    assert solved.status is TicketStatus.SOLVED
    assert solved.previous_status is TicketStatus.PENDING
    assert solved.agent_id is None
    assert solved.occurred_at == AT + 7 * DAY
    assert solved.auto_change_at == AT + 11 * DAY  # closed 4 days later


async def test_the_change_into_pending_says_when_the_ticket_will_be_solved(desk) -> None:
    ticket = await desk.open_ticket()

    pending = await desk.set(ticket, WorkspaceStatus.PENDING)

    assert pending.auto_change_at == AT + 7 * DAY


async def test_a_change_into_open_or_on_hold_carries_no_automation(desk) -> None:
    ticket = await desk.open_ticket()

    on_hold = await desk.set(ticket, WorkspaceStatus.ON_HOLD)

    assert on_hold.auto_change_at is None


async def test_a_customer_message_before_the_day_calls_off_the_solve(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)
    await clock.advance(3 * DAY)

    await accept_message(chat("m-2", at=clock.now()), desk.repo, desk.publisher, Policy())
    await clock.advance(10 * DAY)

    assert await desk.status_of(ticket) is TicketStatus.OPEN
    assert desk.automatic() == []


async def test_an_agent_reply_to_a_pending_ticket_calls_off_the_solve(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)
    await clock.advance(DAY)

    reply = ReplyPostedV1(
        occurred_at=clock.now(), ticket_id=ticket, reply_id="r-1", agent_id="a-1", text="Ну как?"
    )
    await record_reply(reply, desk.publisher, desk.automation)
    await clock.advance(10 * DAY)

    assert await desk.status_of(ticket) is TicketStatus.PENDING
    assert desk.automatic() == []


async def test_the_reply_sent_with_the_change_into_pending_keeps_the_solve(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)
    reply = ReplyPostedV1(
        occurred_at=clock.now(), ticket_id=ticket, reply_id="r-1", agent_id="a-1", text="Ждём"
    )

    await record_reply(reply, desk.publisher, desk.automation)
    await clock.advance(7 * DAY)

    assert await desk.status_of(ticket) is TicketStatus.SOLVED


async def test_an_internal_note_does_not_call_off_the_solve(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)
    await clock.advance(DAY)
    note = ReplyPostedV1(
        occurred_at=clock.now(),
        ticket_id=ticket,
        reply_id="r-1",
        agent_id="a-1",
        public=False,
        text="клиент не отвечает",
    )

    await record_reply(note, desk.publisher, desk.automation)
    await clock.advance(6 * DAY)

    assert await desk.status_of(ticket) is TicketStatus.SOLVED


async def test_pending_set_again_restarts_the_wait(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)
    await clock.advance(5 * DAY)

    again = await desk.set(ticket, WorkspaceStatus.PENDING)
    await clock.advance(5 * DAY)

    assert again.auto_change_at == AT + 12 * DAY
    assert await desk.status_of(ticket) is TicketStatus.PENDING
    await clock.advance(2 * DAY)
    assert await desk.status_of(ticket) is TicketStatus.SOLVED
    assert len(desk.automatic()) == 1


# --- solved → closed ------------------------------------------------------------------------


async def test_a_solved_ticket_is_closed_four_days_later(desk, clock) -> None:
    ticket = await desk.open_ticket()
    solved = await desk.set(ticket, WorkspaceStatus.SOLVED)

    await clock.advance(4 * DAY - timedelta(seconds=1))
    assert await desk.status_of(ticket) is TicketStatus.SOLVED
    await clock.advance(timedelta(seconds=1))

    assert solved.auto_change_at == AT + 4 * DAY
    assert await desk.status_of(ticket) is TicketStatus.CLOSED
    [closed] = desk.automatic()
    assert (closed.previous_status, closed.auto_change_at) == (TicketStatus.SOLVED, None)


async def test_a_ticket_the_automation_solved_is_closed_four_days_after(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)

    await clock.advance(11 * DAY)

    assert [(e.previous_status, e.status) for e in desk.automatic()] == [
        (TicketStatus.PENDING, TicketStatus.SOLVED),
        (TicketStatus.SOLVED, TicketStatus.CLOSED),
    ]


async def test_a_message_to_a_solved_ticket_reopens_it_and_calls_off_the_close(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.SOLVED)
    await clock.advance(2 * DAY)

    await accept_message(chat("m-2", at=clock.now()), desk.repo, desk.publisher, Policy())
    await clock.advance(5 * DAY)

    assert await desk.status_of(ticket) is TicketStatus.OPEN
    assert desk.automatic() == []


async def test_a_customer_writing_after_the_close_opens_a_new_ticket(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.SOLVED)
    await clock.advance(5 * DAY)

    later = await accept_message(chat("m-2", at=clock.now()), desk.repo, desk.publisher, Policy())

    assert later.opened
    assert later.ticket_id != ticket
    assert isinstance(desk.publisher.published[-1], TicketOpenedV1)


# --- turned off -------------------------------------------------------------------------------


async def test_turned_off_a_pending_ticket_waits_as_long_as_it_takes(make_desk, clock) -> None:
    desk = make_desk(OFF)
    await desk.automation.recover()
    ticket = await desk.open_ticket()

    pending = await desk.set(ticket, WorkspaceStatus.PENDING)
    await clock.advance(30 * DAY)

    assert pending.auto_change_at is None
    assert await desk.status_of(ticket) is TicketStatus.PENDING
    assert desk.automatic() == []


async def test_closing_turned_off_leaves_a_solved_ticket_solved(make_desk, clock) -> None:
    desk = make_desk(AutomationRules(close_solved_after=None))
    await desk.automation.recover()
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)

    await clock.advance(30 * DAY)

    assert await desk.status_of(ticket) is TicketStatus.SOLVED
    assert [e.auto_change_at for e in desk.automatic()] == [None]


async def test_a_due_time_stored_before_the_automation_was_turned_off_does_nothing(
    make_desk, clock
) -> None:
    repo = MemoryRepository()
    before = make_desk(repo=repo)
    ticket = await before.open_ticket()
    await before.set(ticket, WorkspaceStatus.PENDING)
    await before.timers.shutdown()

    after = make_desk(OFF, repo=repo)
    await after.automation.recover()
    await clock.advance(10 * DAY)

    assert await after.status_of(ticket) is TicketStatus.PENDING


# --- restarts, replicas, failures -------------------------------------------------------------


async def test_a_restarted_process_solves_on_the_stored_due_time(make_desk, clock) -> None:
    repo = MemoryRepository()
    before = make_desk(repo=repo)
    ticket = await before.open_ticket()
    await before.set(ticket, WorkspaceStatus.PENDING)
    await before.timers.shutdown()  # the process stops; only the repository remains
    await clock.advance(3 * DAY)

    after = make_desk(repo=repo)
    await after.automation.recover()
    await clock.advance(4 * DAY)

    assert await after.status_of(ticket) is TicketStatus.SOLVED
    assert after.automatic()[0].occurred_at == AT + 7 * DAY


async def test_a_process_down_past_the_due_time_solves_at_start(make_desk, clock) -> None:
    repo = MemoryRepository()
    before = make_desk(repo=repo)
    ticket = await before.open_ticket()
    await before.set(ticket, WorkspaceStatus.PENDING)
    await before.timers.shutdown()
    await clock.advance(9 * DAY)

    after = make_desk(repo=repo)
    await after.automation.recover()
    await clock.advance(timedelta(seconds=1))

    assert await after.status_of(ticket) is TicketStatus.SOLVED


async def test_two_replicas_firing_together_change_the_ticket_once(make_desk, clock) -> None:
    repo = MemoryRepository()
    first, second = make_desk(repo=repo), make_desk(repo=repo)
    await first.automation.recover()
    await second.automation.recover()
    ticket = await first.open_ticket()
    await first.set(ticket, WorkspaceStatus.PENDING)

    await clock.advance(7 * DAY)

    changes = [c for c in repo.transitions.values() if c.status is TicketStatus.SOLVED]
    assert len(changes) == 1
    published = {e.event_id for e in first.automatic() + second.automatic()}
    assert published == {derived_id("ticket-status-changed", automatic_change_by(ticket, 1))}


async def test_a_failed_publish_is_retried_until_kafka_takes_it(desk, clock) -> None:
    ticket = await desk.open_ticket()
    await desk.set(ticket, WorkspaceStatus.PENDING)
    desk.publisher.failures = 2

    await clock.advance(7 * DAY + timedelta(seconds=5))

    assert [e.status for e in desk.automatic()] == [TicketStatus.SOLVED]
    assert await desk.repo.unpublished_changes() == []


async def test_a_change_a_crash_kept_from_kafka_is_published_at_start(make_desk, clock) -> None:
    repo = MemoryRepository()
    crashed = make_desk(repo=repo)
    ticket = await crashed.open_ticket()
    await crashed.set(ticket, WorkspaceStatus.PENDING)
    crashed.publisher.failures = 1_000  # Kafka stays away until the process dies
    await crashed.automation.recover()
    await clock.advance(7 * DAY)
    await crashed.timers.shutdown()  # dies before the retry
    assert crashed.automatic() == []

    restarted = make_desk(repo=repo)
    await restarted.automation.recover()
    await _settle()

    assert [e.status for e in restarted.automatic()] == [TicketStatus.SOLVED]


# --- the rules file -----------------------------------------------------------------------------


def test_the_packaged_automations_solve_after_seven_days_and_close_after_four() -> None:
    rules = load_automations()

    assert rules.solve_pending_after == 7 * DAY
    assert rules.close_solved_after == 4 * DAY


def test_off_turns_an_automation_off() -> None:
    rules = parse_automations("solve_pending_after: off\nclose_solved_after: 96h\n")

    assert rules.solve_pending_after is None
    assert rules.close_solved_after == 4 * DAY


def test_a_malformed_duration_fails_the_load_naming_the_field() -> None:
    with pytest.raises(AutomationsError, match=r"close_solved_after: .*'4 days'"):
        parse_automations("close_solved_after: 4 days\n")


def test_an_unknown_setting_fails_the_load() -> None:
    with pytest.raises(AutomationsError, match="close_after"):
        parse_automations("close_after: 4d\n")
