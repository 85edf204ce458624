"""A timer that fires soon after it was armed stays in the arming request's trace; a later one
starts a trace of its own, linked to the span that armed it."""

from __future__ import annotations

from datetime import datetime, timedelta

from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opora_shared.timers import SystemClock, TimerScheduler, timer_kind


class Clock(SystemClock):
    """Real time, started ``offset`` ahead once the timer is armed."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return super().now() + self.offset


async def _fire(due_in: timedelta) -> tuple[ReadableSpan, ReadableSpan]:
    """Arm a timer due in ``due_in`` inside a span, let it fire; (the arming, the firing)."""
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    clock = Clock()
    timers = TimerScheduler(clock, tracer_provider=provider)

    async def action() -> None:
        pass

    with provider.get_tracer("test").start_as_current_span("tickets.events.v1 process"):
        timers.schedule("offer:t-1", clock.now() + due_in, action)
    clock.offset = due_in  # the day passes
    await timers._plans["offer:t-1"][1]
    spans = {s.name: s for s in exported.get_finished_spans()}
    return spans["tickets.events.v1 process"], spans["timer offer"]


async def test_a_timer_due_later_fires_in_a_new_trace_linked_to_what_armed_it() -> None:
    arming, firing = await _fire(timedelta(hours=24))

    assert firing.parent is None
    assert firing.context.trace_id != arming.context.trace_id
    assert [link.context.span_id for link in firing.links] == [arming.context.span_id]


async def test_a_timer_due_within_a_minute_fires_inside_the_arming_trace() -> None:
    arming, firing = await _fire(timedelta(milliseconds=10))

    assert firing.parent is not None
    assert firing.parent.span_id == arming.context.span_id
    assert not firing.links


def test_a_key_without_a_kind_is_a_plain_timer() -> None:
    assert (timer_kind("step:t-1"), timer_kind("5b2f0c8e-notification")) == ("step", "timer")
