"""The stack's Zipkin receives what the services' tracing exports, as one trace across services.

Zipkin runs through the same :class:`ZipkinServer` that ``opora-stack up`` starts; the spans
come from tracer providers built by ``configure_tracing`` with ``OTEL_TRACES_EXPORTER=zipkin``,
one per service, joined by a W3C ``traceparent`` carried as a Kafka header would carry it.
"""

import asyncio
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opora_localstack import setup
from opora_localstack.paths import repo_paths
from opora_localstack.procs import free_port
from opora_localstack.zipkin import ZipkinServer
from opora_shared.telemetry import configure_tracing

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]


@pytest.fixture(scope="module")
async def zipkin(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ZipkinServer]:
    setup()  # as `opora-stack up` does: Java checked, the jar fetched when stale
    server = ZipkinServer(tmp_path_factory.mktemp("zipkin"), free_port(), repo_paths())
    server.start()
    try:
        await server.wait_ready(120)
        yield server
    finally:
        server.stop()


async def _trace(zipkin: ZipkinServer, trace_id: str, spans: int) -> list[dict[str, Any]]:
    """The trace as Zipkin's query API returns it, once it holds ``spans`` spans."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=zipkin.url, timeout=5) as client:
        while time.monotonic() < deadline:
            response = await client.get(f"/api/v2/trace/{trace_id}")
            if response.status_code == 200:
                found = response.json()
                if len(found) >= spans:
                    return found
            # Collection is asynchronous on Zipkin's side; there is no event to wait on.
            await asyncio.sleep(0.2)
    raise AssertionError(f"trace {trace_id} has {len(found)} of {spans} spans in Zipkin")


async def test_one_request_through_two_services_is_one_trace_in_zipkin(
    zipkin: ZipkinServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", zipkin.spans_endpoint)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    intake = configure_tracing("opora-intake")
    routing = configure_tracing("opora-routing")
    propagator = TraceContextTextMapPropagator()
    headers: dict[str, str] = {}
    try:
        tracer = intake.get_tracer("test")
        with (
            tracer.start_as_current_span("POST /v1/inbound/web-form", kind=SpanKind.SERVER) as root,
            tracer.start_as_current_span("tickets.events.v1 send", kind=SpanKind.PRODUCER),
        ):
            propagator.inject(headers)
        consumer = routing.get_tracer("test")
        with (
            consumer.start_as_current_span(
                "tickets.events.v1 process",
                context=propagator.extract(headers),
                kind=SpanKind.CONSUMER,
            ),
            consumer.start_as_current_span("update tickets", kind=SpanKind.CLIENT),
        ):
            pass
        assert intake.force_flush(10_000)
        assert routing.force_flush(10_000)
    finally:
        intake.shutdown()
        routing.shutdown()

    spans = await _trace(zipkin, format(root.get_span_context().trace_id, "032x"), spans=4)

    by_id = {span["id"]: span for span in spans}

    def node(span: dict[str, Any]) -> tuple[str, str]:
        return span["localEndpoint"]["serviceName"], span["name"]

    edges = {(node(by_id[s["parentId"]]), node(s)) for s in spans if "parentId" in s}
    # Zipkin's model keeps names in lower case.
    assert edges == {
        (("opora-intake", "post /v1/inbound/web-form"), ("opora-intake", "tickets.events.v1 send")),
        (
            ("opora-intake", "tickets.events.v1 send"),
            ("opora-routing", "tickets.events.v1 process"),
        ),
        (("opora-routing", "tickets.events.v1 process"), ("opora-routing", "update tickets")),
    }
    assert [node(s) for s in spans if "parentId" not in s] == [
        ("opora-intake", "post /v1/inbound/web-form")
    ]
