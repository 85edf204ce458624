"""The in-process timer scheduler, driven by a hand-moved clock."""

from __future__ import annotations

from datetime import timedelta

from ..conftest import T0, settle


def recorder(calls: list[str], name: str):
    async def action() -> None:
        calls.append(name)

    return action


async def test_an_action_runs_when_its_time_comes_and_not_before(clock, scheduler) -> None:
    calls: list[str] = []
    scheduler.schedule("k", T0 + timedelta(minutes=10), recorder(calls, "fired"))

    await clock.advance(timedelta(minutes=9, seconds=59))
    assert calls == []

    await clock.advance(timedelta(seconds=1))
    assert calls == ["fired"]
    assert scheduler.planned == {}


async def test_an_action_already_due_runs_at_once(clock, scheduler) -> None:
    calls: list[str] = []
    scheduler.schedule("k", T0 - timedelta(hours=1), recorder(calls, "late"))

    await settle()

    assert calls == ["late"]


async def test_a_cancelled_action_never_runs(clock, scheduler) -> None:
    calls: list[str] = []
    scheduler.schedule("k", T0 + timedelta(minutes=1), recorder(calls, "fired"))

    scheduler.cancel("k")
    await clock.advance(timedelta(minutes=2))

    assert calls == []


async def test_rescheduling_a_key_replaces_its_plan(clock, scheduler) -> None:
    calls: list[str] = []
    scheduler.schedule("k", T0 + timedelta(minutes=1), recorder(calls, "first"))
    scheduler.schedule("k", T0 + timedelta(minutes=5), recorder(calls, "second"))

    await clock.advance(timedelta(minutes=5))

    assert calls == ["second"]


async def test_scheduling_the_same_instant_again_keeps_one_plan(clock, scheduler) -> None:
    calls: list[str] = []
    when = T0 + timedelta(minutes=1)
    scheduler.schedule("k", when, recorder(calls, "fired"))
    scheduler.schedule("k", when, recorder(calls, "fired"))

    await clock.advance(timedelta(minutes=1))

    assert calls == ["fired"]


async def test_a_failing_action_is_retried_with_backoff(clock, scheduler) -> None:
    attempts: list[int] = []

    async def flaky() -> None:
        attempts.append(len(attempts))
        if len(attempts) < 3:
            raise ConnectionError("Kafka is away")

    scheduler.schedule("k", T0, flaky)
    await settle()
    assert len(attempts) == 1

    await clock.advance(timedelta(seconds=1))
    assert len(attempts) == 2

    await clock.advance(timedelta(seconds=2))
    assert len(attempts) == 3
    assert scheduler.planned == {}


async def test_shutdown_cancels_every_pending_plan(clock, scheduler) -> None:
    calls: list[str] = []
    scheduler.schedule("a", T0 + timedelta(hours=1), recorder(calls, "a"))
    scheduler.schedule("b", T0 + timedelta(hours=2), recorder(calls, "b"))

    await scheduler.shutdown()
    await clock.advance(timedelta(hours=3))

    assert calls == []
    assert scheduler.planned == {}
