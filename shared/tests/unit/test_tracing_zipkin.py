"""``OTEL_TRACES_EXPORTER=zipkin`` sends spans as Zipkin v2 JSON to the configured endpoint.

A loopback HTTP server stands in for Zipkin's collector; the stack's real Zipkin is exercised
by deploy/local's integration test.
"""

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opora_shared.telemetry import configure_tracing


class _Collector(ThreadingHTTPServer):
    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _CollectorHandler)
        self.posts: list[tuple[str, list[dict[str, Any]]]] = []


class _CollectorHandler(BaseHTTPRequestHandler):
    server: _Collector

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.server.posts.append((self.path, json.loads(body)))
        self.send_response(202)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[_Collector]:
    server = _Collector()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_spans_are_posted_to_the_zipkin_endpoint_under_the_service_name(
    collector: _Collector, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = collector.server_address[1]
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "zipkin")
    monkeypatch.setenv("OTEL_EXPORTER_ZIPKIN_ENDPOINT", f"http://127.0.0.1:{port}/api/v2/spans")
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    monkeypatch.delenv("OTEL_RESOURCE_ATTRIBUTES", raising=False)
    provider = configure_tracing("opora-sla")
    try:
        with provider.get_tracer("test").start_as_current_span("sla.timer fire"):
            pass
        assert provider.force_flush(10_000)
    finally:
        provider.shutdown()

    [(path, spans)] = collector.posts
    assert path == "/api/v2/spans"
    assert [(s["name"], s["localEndpoint"]["serviceName"]) for s in spans] == [
        ("sla.timer fire", "opora-sla")
    ]
