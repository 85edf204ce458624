"""Tracing set-up from the standard ``OTEL_*`` variables only, and JSON logs carrying trace ids.

``OTEL_TRACES_EXPORTER`` picks the exporter (``otlp``, ``console`` or ``none``; ``otlp`` is the
default when ``OTEL_EXPORTER_OTLP_ENDPOINT`` or ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`` is set,
else ``none``); ``OTEL_SERVICE_NAME`` and ``OTEL_RESOURCE_ATTRIBUTES`` name the process.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
)


def configure_tracing(default_service_name: str) -> TracerProvider:
    """Build the process's tracer provider and make it the global one."""
    resource = Resource.create({"service.name": default_service_name}).merge(Resource.create())
    provider = TracerProvider(resource=resource)
    exporter_names = os.environ.get("OTEL_TRACES_EXPORTER") or (
        "otlp"
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        else "none"
    )
    for name in (n.strip() for n in exporter_names.split(",")):
        if name == "console":
            # One span per line on stdout, so that a test or a pipe can read them back.
            exporter: SpanExporter = ConsoleSpanExporter(out=sys.stdout, formatter=span_line)
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        elif name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        elif name not in ("none", ""):
            raise ValueError(f"OTEL_TRACES_EXPORTER={name!r} is not supported here")
    trace.set_tracer_provider(provider)
    return provider


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
