"""Tracing and metrics set-up from the standard ``OTEL_*`` variables only, and JSON logs carrying
trace ids.

``OTEL_TRACES_EXPORTER`` picks the exporter (``otlp``, ``zipkin``, ``console`` or ``none``;
``otlp`` is the default when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set, else ``none``); ``zipkin`` sends JSON to
``OTEL_EXPORTER_ZIPKIN_ENDPOINT`` (default ``http://localhost:9411/api/v2/spans``).
``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the process.

Metrics are always readable in the Prometheus text format (each service serves ``/metrics``);
``OTEL_METRICS_EXPORTER=otlp`` (the default when an OTLP endpoint is set) also pushes them over
OTLP every ``OTEL_METRIC_EXPORT_INTERVAL`` milliseconds.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import sys
from dataclasses import dataclass
from datetime import UTC, datetime

from opentelemetry import metrics, trace
from opentelemetry.context import Context
from opentelemetry.exporter.prometheus import PrometheusMetricReader
from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from opora_shared.contracts.topics import PartitionKey, all_topics


def _resource(default_service_name: str) -> Resource:
    """The process as the ``OTEL_*`` variables describe it, named ``default_service_name``
    unless ``OTEL_SERVICE_NAME`` or ``OTEL_RESOURCE_ATTRIBUTES`` name it."""
    detected = Resource.create()
    if str(detected.attributes.get("service.name", "")).startswith("unknown_service"):
        detected = detected.merge(Resource({"service.name": default_service_name}))
    return detected


def stable_semantic_conventions() -> None:
    """HTTP instrumentation in the stable conventions (``http.server.request.duration`` in
    seconds, ``http.route``) unless ``OTEL_SEMCONV_STABILITY_OPT_IN`` says otherwise; read once,
    when the first instrumentation starts."""
    os.environ.setdefault("OTEL_SEMCONV_STABILITY_OPT_IN", "http")


def _exporters(signal: str) -> list[str]:
    """The exporter names ``OTEL_<SIGNAL>_EXPORTER`` asks for, OTLP by default when an OTLP
    endpoint is configured for the signal."""
    names = os.environ.get(f"OTEL_{signal}_EXPORTER") or (
        "otlp"
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get(f"OTEL_EXPORTER_OTLP_{signal}_ENDPOINT")
        else "none"
    )
    return [n.strip() for n in names.split(",")]


def configure_tracing(default_service_name: str) -> TracerProvider:
    """Build the process's tracer provider and make it the global one."""
    stable_semantic_conventions()
    provider = TracerProvider(resource=_resource(default_service_name))
    provider.add_span_processor(KafkaKeyRedactor())  # before any exporter sees the span
    for name in _exporters("TRACES"):
        if name == "console":
            # One span per line on stdout, so that a test or a pipe can read them back.
            exporter: SpanExporter = ConsoleSpanExporter(out=sys.stdout, formatter=span_line)
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name == "zipkin":
            # Reads OTEL_EXPORTER_ZIPKIN_ENDPOINT and OTEL_EXPORTER_ZIPKIN_TIMEOUT itself.
            from opentelemetry.exporter.zipkin.json import ZipkinExporter

            provider.add_span_processor(BatchSpanProcessor(ZipkinExporter()))
        elif name not in ("none", ""):
            raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported here")
    trace.set_tracer_provider(provider)
    # A span per MongoDB command (the command's name, never its documents), parented by the
    # handler or request that issued it; for every client created from now on.
    PymongoInstrumentor().instrument(tracer_provider=provider)
    return provider


_KEY = "messaging.kafka.message.key"
_TOPIC_ATTRIBUTES = ("messaging.destination.name", "messaging.destination_publish.name")
_OPAQUE_KEYS = {PartitionKey.TICKET_ID, PartitionKey.AGENT_ID, PartitionKey.CUSTOMER_ID}
_OPAQUE_KEYED_TOPICS = frozenset(t.name for t in all_topics() if t.key in _OPAQUE_KEYS)


class KafkaKeyRedactor(SpanProcessor):
    """Record keys in spans as text, and only where the key is an opaque id.

    FastStream puts the record key in ``messaging.kafka.message.key``. On the topics keyed by
    ticket, agent or customer id that is an id; on the raw inbound topic (and its dead letters)
    it is the channel's conversation key, which may be the sender's phone number, so it is
    replaced by a digest that still tells records of one conversation apart.
    """

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        attributes = span.attributes or {}
        key = attributes.get(_KEY)
        if key is None:
            return
        text = key.decode("utf-8", "replace") if isinstance(key, bytes) else str(key)
        topics = {str(attributes.get(a)) for a in _TOPIC_ATTRIBUTES if attributes.get(a)}
        if not topics or not topics <= _OPAQUE_KEYED_TOPICS:
            text = "sha256:" + hashlib.sha256(text.encode()).hexdigest()[:16]
        span.set_attribute(_KEY, text)


@dataclass(frozen=True)
class Metrics:
    """A process's meter provider and the registry its ``/metrics`` endpoint reads."""

    provider: MeterProvider
    registry: CollectorRegistry

    def exposition(self) -> bytes:
        """Every instrument's current value in the Prometheus text format."""
        return generate_latest(self.registry)

    def shutdown(self) -> None:
        self.provider.shutdown()


PROMETHEUS_CONTENT_TYPE = CONTENT_TYPE_LATEST
_metrics: Metrics | None = None


def configure_metrics(default_service_name: str, *, make_global: bool = True) -> Metrics:
    """Build the process's meter provider: a Prometheus reader always, OTLP when configured.

    Made the global provider (the default), FastStream's and FastAPI's instrumentation record
    through it: handler and route duration and errors, the R, E and D of RED.
    """
    global _metrics
    stable_semantic_conventions()
    registry = CollectorRegistry(auto_describe=True)
    readers: list[MetricReader] = [PrometheusMetricReader(registry=registry)]
    for name in _exporters("METRICS"):
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

            readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
        elif name not in ("none", "prometheus", ""):
            raise ValueError(f"OTEL_METRICS_EXPORTER={name!r} is not supported here")
    provider = MeterProvider(resource=_resource(default_service_name), metric_readers=readers)
    configured = Metrics(provider, registry)
    if make_global:
        metrics.set_meter_provider(provider)
        _metrics = configured
    return configured


def current_metrics() -> Metrics | None:
    """The metrics :func:`configure_metrics` made global in this process, if it did."""
    return _metrics


def span_line(span: ReadableSpan) -> str:
    """One span as a JSON line, in the SDK's own field names.

    Written here rather than with ``span.to_json()`` because FastStream records the Kafka key
    as bytes, which the SDK's JSON encoding rejects.
    """
    context = span.get_span_context()
    entry = {
        "name": span.name,
        "context": {
            "trace_id": f"0x{context.trace_id:032x}" if context else None,
            "span_id": f"0x{context.span_id:016x}" if context else None,
        },
        "kind": str(span.kind),
        "parent_id": f"0x{span.parent.span_id:016x}" if span.parent else None,
        "start_time": span.start_time,
        "end_time": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "links": [f"0x{link.context.span_id:016x}" for link in span.links],
        "resource": {"attributes": dict(span.resource.attributes)},
    }
    return json.dumps(entry, default=_json_safe, ensure_ascii=False) + "\n"


def _json_safe(value: object) -> object:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, tuple | list):
        return list(value)
    return str(value)


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line with the current trace and span ids, for log correlation."""

    _RESERVED = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}

    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "service": self.service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        context = trace.get_current_span().get_span_context()
        if context.is_valid:
            entry["trace_id"] = format(context.trace_id, "032x")
            entry["span_id"] = format(context.span_id, "016x")
        entry.update(
            (key, value) for key, value in record.__dict__.items() if key not in self._RESERVED
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(service: str, level: str) -> None:
    """JSON lines on stderr (stdout is left to span output), at the service's level."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "pymongo", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
