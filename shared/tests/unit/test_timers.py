"""The exact-time scheduler: an action runs once at its instant, to its end."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from opora_shared.timers import TimerScheduler


async def test_an_action_that_cancels_its_own_timer_still_runs_to_its_end() -> None:
    scheduler = TimerScheduler()
    finished = asyncio.Event()

    async def expire() -> None:
        scheduler.cancel("offer:t-1")  # what an expiring offer does while it re-plans
        await asyncio.sleep(0)
        finished.set()

    scheduler.schedule("offer:t-1", datetime.now(UTC) - timedelta(seconds=1), expire)

    await asyncio.wait_for(finished.wait(), timeout=2)


async def test_an_action_that_replaces_its_own_timer_keeps_the_new_plan() -> None:
    scheduler = TimerScheduler()
    later = datetime.now(UTC) + timedelta(hours=1)

    async def advance() -> None:
        scheduler.schedule("step:t-1", later, advance)  # the next step of the same ticket
        await asyncio.sleep(0)

    scheduler.schedule("step:t-1", datetime.now(UTC) - timedelta(seconds=1), advance)
    for _ in range(20):
        await asyncio.sleep(0.01)

    assert scheduler.planned == {"step:t-1": later}
    await scheduler.shutdown()
