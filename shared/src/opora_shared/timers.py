"""An in-process scheduler: one asyncio task per planned action, sleeping until it is due.

Not a periodic sweep: each timer wakes exactly at its instant. The clock is injectable so that
unit tests move time by hand. A failing action (MongoDB or Kafka away) is retried with capped
backoff until it succeeds or the scheduler shuts down; the timer documents make a retry
harmless and a restart re-plans whatever was still pending.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Protocol

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, TracerProvider

from opora_shared.attributes import TIMER

log = logging.getLogger(__name__)

SAME_TRACE_WITHIN = timedelta(seconds=60)
"""A timer due this soon after it was armed fires within the arming request's trace."""

Action = Callable[[], Awaitable[None]]


class Clock(Protocol):
    def now(self) -> datetime: ...

    async def sleep_until(self, when: datetime) -> None:
        """Return at ``when`` or a little before; the caller checks ``now()`` again."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    async def sleep_until(self, when: datetime) -> None:
        await asyncio.sleep(max(0.0, (when - self.now()).total_seconds()))


class TimerScheduler:
    def __init__(
        self,
        clock: Clock | None = None,
        *,
        retry_initial_s: float = 0.5,
        retry_max_s: float = 30.0,
        tracer_provider: TracerProvider | None = None,
    ) -> None:
        self.clock = clock or SystemClock()
        self._tracer = trace.get_tracer("opora.timers", tracer_provider=tracer_provider)
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self._plans: dict[str, tuple[datetime, asyncio.Task[None]]] = {}

    @property
    def planned(self) -> dict[str, datetime]:
        return {key: when for key, (when, _) in self._plans.items()}

    def schedule(self, key: str, when: datetime, action: Action) -> None:
        """Run ``action`` once at ``when``; a plan for ``key`` at the same instant is kept."""
        existing = self._plans.get(key)
        if existing is not None:
            if existing[0] == when and not existing[1].done():
                return
            _cancel_unless_current(existing[1])
        task = asyncio.get_running_loop().create_task(
            self._run(key, when, action, armed_at=self.clock.now()), name=key
        )
        self._plans[key] = (when, task)
        task.add_done_callback(lambda done: self._forget(key, done))

    def cancel(self, key: str) -> None:
        plan = self._plans.pop(key, None)
        if plan is not None:
            _cancel_unless_current(plan[1])

    async def shutdown(self) -> None:
        """Cancel every pending plan and wait until their tasks ended."""
        tasks = [task for _, task in self._plans.values()]
        self._plans.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _run(self, key: str, when: datetime, action: Action, *, armed_at: datetime) -> None:
        # The task runs in the context of whatever armed the timer. A timer due within
        # SAME_TRACE_WITHIN (an acknowledgement waiting a few seconds for its deadline, a phone
        # offer's 20 s) is still part of that request: its span is a child there. A later one
        # (a reminder tomorrow) is not: it starts a trace of its own, linked to the arming span.
        armed = trace.get_current_span().get_span_context()
        same_trace = armed.is_valid and when - armed_at <= SAME_TRACE_WITHIN
        while self.clock.now() < when:
            await self.clock.sleep_until(when)
        delay = self.retry_initial_s
        while True:
            with self._tracer.start_as_current_span(
                f"timer {timer_kind(key)}",
                context=None if same_trace else Context(),
                links=[Link(armed)] if armed.is_valid and not same_trace else [],
                attributes={TIMER: timer_kind(key)},
            ) as span:
                try:
                    await action()
                    return
                except Exception as exc:
                    span.record_exception(exc)
                    span.set_status(trace.StatusCode.ERROR)
                    log.warning(
                        "timer action failed; retrying", exc_info=True, extra={"timer": key}
                    )
            await self.clock.sleep_until(self.clock.now() + timedelta(seconds=delay))
            delay = min(delay * 2, self.retry_max_s)

    def _forget(self, key: str, task: asyncio.Task[None]) -> None:
        plan = self._plans.get(key)
        if plan is not None and plan[1] is task:
            del self._plans[key]


def _cancel_unless_current(task: asyncio.Task[None]) -> None:
    """Cancel a timer's task, unless it is the one asking: an action that cancels or replaces
    its own timer (an offer expiring re-plans the queue) must still run to its end."""
    if task is not asyncio.current_task():
        task.cancel()


def timer_kind(key: str) -> str:
    """What a timer is for, from its key (``offer:<ticket>`` → ``offer``; a key without a kind,
    such as a notification id, is just ``timer``): a span name of bounded cardinality."""
    kind, separator, _ = key.partition(":")
    return kind if separator else "timer"
