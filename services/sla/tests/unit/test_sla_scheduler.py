"""The heap scheduler, driven by a hand-moved clock."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from opora_sla.adapters.scheduler import HeapScheduler

from ..conftest import T0, FakeClock, settle


class Calls:
    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.seen: list[tuple[str, timedelta]] = []
        self.failures: dict[str, int] = {}

    async def __call__(self, key: str, group: int) -> None:
        self.seen.append((key, self.clock.now() - T0))
        if self.failures.get(key, 0) > 0:
            self.failures[key] -= 1
            raise ConnectionError("MongoDB is away")

    @property
    def keys(self) -> list[str]:
        return [key for key, _ in self.seen]


@pytest.fixture
async def timers(clock):
    calls = Calls(clock)
    scheduler = HeapScheduler(calls, clock, retry_initial_s=1.0, retry_max_s=4.0)
    yield scheduler, calls
    await scheduler.shutdown()


async def test_a_plan_runs_at_its_instant_and_not_before(clock, timers) -> None:
    scheduler, calls = timers
    scheduler.arm("t-1", T0 + timedelta(minutes=10))

    await clock.advance(timedelta(minutes=9, seconds=59))
    assert calls.seen == []

    await clock.advance(timedelta(seconds=1))
    assert calls.seen == [("t-1", timedelta(minutes=10))]
    assert len(scheduler) == 0


async def test_plans_run_in_the_order_of_their_instants(clock, timers) -> None:
    scheduler, calls = timers
    scheduler.arm("late", T0 + timedelta(seconds=30))
    scheduler.arm("early", T0 + timedelta(seconds=10))
    scheduler.arm("middle", T0 + timedelta(seconds=20))

    await clock.advance(timedelta(seconds=30))

    assert calls.keys == ["early", "middle", "late"]


async def test_a_plan_earlier_than_the_one_awaited_wakes_the_runner(clock, timers) -> None:
    scheduler, calls = timers
    scheduler.arm("later", T0 + timedelta(hours=1))
    await settle()

    scheduler.arm("sooner", T0 + timedelta(seconds=5))
    await clock.advance(timedelta(seconds=5))

    assert calls.seen == [("sooner", timedelta(seconds=5))]


async def test_a_plan_already_due_runs_at_once(timers) -> None:
    scheduler, calls = timers
    scheduler.arm("overdue", T0 - timedelta(hours=1))

    await settle()

    assert calls.keys == ["overdue"]


async def test_arming_a_key_again_replaces_its_plan(clock, timers) -> None:
    scheduler, calls = timers
    scheduler.arm("t-1", T0 + timedelta(minutes=1))
    scheduler.arm("t-1", T0 + timedelta(minutes=5))

    await clock.advance(timedelta(minutes=5))

    assert calls.seen == [("t-1", timedelta(minutes=5))]


async def test_a_disarmed_plan_never_runs(clock, timers) -> None:
    scheduler, calls = timers
    scheduler.arm("t-1", T0 + timedelta(minutes=1))

    scheduler.disarm("t-1")
    await clock.advance(timedelta(minutes=2))

    assert calls.seen == []


async def test_dropping_a_group_drops_only_its_plans(clock, timers) -> None:
    scheduler, calls = timers
    scheduler.arm("in-0", T0 + timedelta(seconds=1), group=0)
    scheduler.arm("in-1", T0 + timedelta(seconds=1), group=1)

    assert scheduler.disarm_groups({1}) == 1
    await clock.advance(timedelta(seconds=1))

    assert calls.keys == ["in-0"]


async def test_a_held_scheduler_runs_nothing_until_released(clock, timers) -> None:
    scheduler, calls = timers
    scheduler.arm("t-1", T0 + timedelta(seconds=1))

    scheduler.hold()
    await clock.advance(timedelta(seconds=5))
    assert calls.seen == []

    scheduler.release()
    await settle()
    assert calls.seen == [("t-1", timedelta(seconds=5))]


async def test_a_failing_action_is_retried_with_backoff(clock, timers) -> None:
    scheduler, calls = timers
    calls.failures["t-1"] = 2
    scheduler.arm("t-1", T0)
    await settle()

    await clock.advance(timedelta(seconds=3))

    assert calls.seen == [
        ("t-1", timedelta(0)),
        ("t-1", timedelta(seconds=1)),
        ("t-1", timedelta(seconds=3)),
    ]
    assert len(scheduler) == 0


async def test_a_retry_gives_way_to_a_new_plan_for_the_key(clock) -> None:
    planned: list[HeapScheduler] = []

    async def fail_after_replanning(key: str, group: int) -> None:
        planned[0].arm(key, T0 + timedelta(minutes=10))
        raise ConnectionError("Kafka is away")

    scheduler = HeapScheduler(fail_after_replanning, clock, retry_initial_s=1.0)
    planned.append(scheduler)
    scheduler.arm("t-1", T0)
    await settle()

    assert scheduler.planned == {"t-1": T0 + timedelta(minutes=10)}
    await scheduler.shutdown()


async def test_draining_waits_for_running_actions(clock) -> None:
    gate = asyncio.Event()
    finished: list[str] = []

    async def slow(key: str, group: int) -> None:
        await gate.wait()
        finished.append(key)

    scheduler = HeapScheduler(slow, clock)
    scheduler.arm("t-1", T0)
    await settle()
    drained = asyncio.create_task(scheduler.drain())
    await settle()
    assert not drained.done()

    gate.set()
    await drained
    assert finished == ["t-1"]
    await scheduler.shutdown()


async def test_no_more_than_the_concurrency_limit_runs_at_once(clock) -> None:
    gate = asyncio.Event()
    started: list[str] = []

    async def slow(key: str, group: int) -> None:
        started.append(key)
        await gate.wait()

    scheduler = HeapScheduler(slow, clock, concurrency=2)
    for index in range(5):
        scheduler.arm(f"t-{index}", T0)
    await settle()
    assert len(started) == 2

    gate.set()
    await settle()
    assert len(started) == 5
    await scheduler.shutdown()


async def test_shutdown_drops_every_plan(clock, timers) -> None:
    scheduler, calls = timers
    scheduler.arm("a", T0 + timedelta(hours=1))
    scheduler.arm("b", T0 + timedelta(hours=2))

    await scheduler.shutdown()
    await clock.advance(timedelta(seconds=3))

    assert (calls.seen, scheduler.planned) == ([], {})


async def test_many_replaced_plans_leave_a_heap_the_size_of_the_live_ones(timers) -> None:
    scheduler, _ = timers
    for round_ in range(10):
        for index in range(1000):
            scheduler.arm(f"t-{index}", T0 + timedelta(hours=1, seconds=round_))

    assert len(scheduler) == 1000
    assert scheduler.heap_size <= 2 * 1000 + 1024
