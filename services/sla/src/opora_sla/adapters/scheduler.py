"""Exact timers for a million tickets: one heap, one task sleeping until the earliest instant.

``opora_shared.timers.TimerScheduler`` gives every timer its own asyncio task, a few kilobytes
each: fine for routing's offers, too much for an SLA desk with a million open clocks. Here a
plan is two small tuples (an entry in a dict and one in a heap), and a single runner sleeps
until the heap's first instant, or until a plan earlier than that arrives. No sweep: every plan
runs at its instant (``make bench`` measures how late).

Due plans run as tasks, at most ``concurrency`` at a time, so a slow action does not hold up
the next ones. A failing action (MongoDB or Kafka away) is planned again with capped backoff,
unless something planned the key anew meanwhile. Each plan carries a ``group`` (the ticket's
Kafka partition): a replica losing partitions drops their plans, and while the consumer group
rebalances the runner is held, so no timer fires in a replica that may be losing its ticket.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta

from opentelemetry import trace
from opentelemetry.context import Context
from opora_shared import attributes
from opora_shared.timers import Clock, SystemClock

log = logging.getLogger(__name__)
_tracer = trace.get_tracer("opora.sla.timers")

Action = Callable[[str, int], Awaitable[None]]
"""What to do with a key (and its group) when its instant comes."""


class HeapScheduler:
    def __init__(
        self,
        action: Action | None = None,
        clock: Clock | None = None,
        *,
        concurrency: int = 64,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
    ) -> None:
        self._action = action
        self.clock = clock or SystemClock()
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._plans: dict[str, tuple[float, int, int]] = {}
        """key → (instant as a POSIX timestamp, sequence, group)"""
        self._heap: list[tuple[float, int, str]] = []
        self._sequence = itertools.count()
        self._changed = asyncio.Event()
        self._slots = asyncio.Semaphore(concurrency)
        self._running: dict[asyncio.Task[None], int] = {}
        self._attempts: dict[str, int] = {}
        self._runner: asyncio.Task[None] | None = None
        self._held = False
        self._closed = False

    def bind(self, action: Action) -> None:
        """Set the action (wiring: the action needs objects that need the scheduler)."""
        self._action = action

    # --- planning -----------------------------------------------------------------------------

    def arm(self, key: str, when: datetime, group: int = 0) -> None:
        """Run the action for ``key`` at ``when`` (at once if past), replacing its plan."""
        if self._closed:
            return
        instant = when.timestamp()
        current = self._plans.get(key)
        if current is not None and current[0] == instant and current[2] == group:
            return
        sequence = next(self._sequence)
        self._plans[key] = (instant, sequence, group)
        heapq.heappush(self._heap, (instant, sequence, key))
        if self._heap[0][1] == sequence:
            self._changed.set()  # the runner sleeps until a later instant
        self._compact()
        self._ensure_runner()

    def disarm(self, key: str) -> None:
        if self._plans.pop(key, None) is not None:
            self._compact()

    def disarm_groups(self, groups: Collection[int]) -> int:
        """Drop every plan in ``groups``; how many there were."""
        dropped = [key for key, (_, _, group) in self._plans.items() if group in groups]
        for key in dropped:
            del self._plans[key]
        self._compact()
        return len(dropped)

    @property
    def planned(self) -> dict[str, datetime]:
        return {key: datetime.fromtimestamp(at, UTC) for key, (at, _, _) in self._plans.items()}

    def __len__(self) -> int:
        return len(self._plans)

    @property
    def next_at(self) -> datetime | None:
        """The earliest planned instant."""
        head = self._head()
        return datetime.fromtimestamp(head[0], UTC) if head else None

    @property
    def heap_size(self) -> int:
        """Entries in the heap, live or stale (replaced or dropped plans not yet discarded)."""
        return len(self._heap)

    def __contains__(self, key: object) -> bool:
        return key in self._plans

    # --- holding, draining, stopping ------------------------------------------------------------

    def hold(self) -> None:
        """Run nothing more until :meth:`release` (plans keep their instants)."""
        self._held = True

    def release(self) -> None:
        self._held = False
        self._changed.set()

    async def drain(self, groups: Collection[int] | None = None) -> None:
        """Wait until the actions running (in ``groups``, or all) have ended."""
        tasks = [t for t, group in self._running.items() if groups is None or group in groups]
        await asyncio.gather(*tasks, return_exceptions=True)

    async def shutdown(self) -> None:
        """Cancel the runner and every running action."""
        self._closed = True
        tasks = [*self._running, *([self._runner] if self._runner else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._plans.clear()
        self._heap.clear()

    # --- the runner -------------------------------------------------------------------------------

    def _ensure_runner(self) -> None:
        if self._runner is None or self._runner.done():
            self._runner = asyncio.get_running_loop().create_task(self._run(), name="sla-timers")

    def _head(self) -> tuple[float, int, str] | None:
        """The earliest live plan; stale heap entries (replaced or dropped) are discarded."""
        while self._heap:
            instant, sequence, key = self._heap[0]
            plan = self._plans.get(key)
            if plan is not None and plan[1] == sequence:
                return instant, sequence, key
            heapq.heappop(self._heap)
        return None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            head = self._head()
            if head is None or self._held:
                self._changed.clear()
                await self._changed.wait()
                continue
            instant, _, key = head
            if instant > self.clock.now().timestamp():
                self._changed.clear()
                await self._sleep_until(instant)
                continue
            heapq.heappop(self._heap)
            _, _, group = self._plans.pop(key)
            await self._slots.acquire()
            task = loop.create_task(self._fire(key, group), name=f"sla-timer:{key}")
            self._running[task] = group
            task.add_done_callback(self._finished)

    async def _sleep_until(self, instant: float) -> None:
        """Until ``instant``, or until a plan earlier than the one waited for arrives."""
        sleeper = asyncio.ensure_future(
            self.clock.sleep_until(datetime.fromtimestamp(instant, UTC))
        )
        woken = asyncio.ensure_future(self._changed.wait())
        try:
            await asyncio.wait((sleeper, woken), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            woken.cancel()

    async def _fire(self, key: str, group: int) -> None:
        assert self._action is not None, "HeapScheduler.bind() was not called"
        # A trace of its own: the runner's task still carries whatever context armed the first
        # timer, and a deadline is not part of any one request.
        span = _tracer.start_span(
            "timer deadline",
            context=Context(),
            attributes={attributes.TIMER: "deadline", attributes.TICKET_ID: key},
        )
        try:
            with trace.use_span(span, end_on_exit=True):
                await self._action(key, group)
            self._attempts.pop(key, None)
        except Exception:
            attempts = self._attempts.get(key, 0) + 1
            self._attempts[key] = attempts
            delay = min(self.retry_initial_s * 2 ** (attempts - 1), self.retry_max_s)
            log.warning(
                "timer action failed; retrying",
                exc_info=True,
                extra={"timer": key, "attempt": attempts, "retry_in_s": delay},
            )
            if key not in self._plans:
                self.arm(key, self.clock.now() + timedelta(seconds=delay), group)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._running.pop(task, None)
        self._slots.release()

    def _compact(self) -> None:
        """Rebuild the heap when most of it is stale (keys planned again or dropped)."""
        if len(self._heap) > 2 * len(self._plans) + 1024:
            self._heap = [(at, seq, key) for key, (at, seq, _) in self._plans.items()]
            heapq.heapify(self._heap)
