"""Time-driven entry points: the outbox sweep and the comment retention job.

Each runs on every replica at its interval, started with the app and cancelled on shutdown.
Both are idempotent (republishing keeps event ids; removing a removed comment changes nothing),
so replicas running them at once only repeat work, never spoil it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


class PeriodicJob:
    def __init__(
        self, name: str, interval_s: float, action: Callable[[], Awaitable[object]]
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self.action = action
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.interval_s > 0 and self._task is None:
            self._task = asyncio.create_task(self._loop(), name=f"feedback-{self.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _loop(self) -> None:
        # Replicas started together spread out instead of sweeping in step.
        await asyncio.sleep(random.uniform(0, self.interval_s))  # noqa: S311 - not security
        while True:
            try:
                await self.action()
            except Exception:  # a failed round is retried at the next interval
                log.exception("periodic job failed", extra={"job": self.name})
            await asyncio.sleep(self.interval_s)
