"""A timer that fires starts a trace of its own, linked to the span that armed it."""

from __future__ import annotations

from datetime import timedelta

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opora_shared.timers import SystemClock, TimerScheduler, timer_kind


async def test_a_firing_is_a_new_trace_linked_to_what_armed_it() -> None:
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exported))
    tracer = provider.get_tracer("test")
    timers = TimerScheduler(tracer_provider=provider)
    fired = []

    async def action() -> None:
        fired.append(True)

    with tracer.start_as_current_span("tickets.events.v1 process") as arming:
        timers.schedule("offer:t-1", SystemClock().now() + timedelta(milliseconds=10), action)
    await timers._plans["offer:t-1"][1]

    [firing] = [s for s in exported.get_finished_spans() if s.name == "timer offer"]
    assert fired
    assert firing.parent is None
    assert firing.context.trace_id != arming.get_span_context().trace_id
    assert [link.context.span_id for link in firing.links] == [arming.get_span_context().span_id]


def test_a_key_without_a_kind_is_a_plain_timer() -> None:
    assert (timer_kind("step:t-1"), timer_kind("5b2f0c8e-notification")) == ("step", "timer")
