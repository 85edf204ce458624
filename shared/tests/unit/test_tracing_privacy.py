"""Record keys in spans: text, and never a conversation key that may be a phone number."""

from __future__ import annotations

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opora_shared.contracts.topics import INBOUND_MESSAGES, TICKETS
from opora_shared.telemetry import KafkaKeyRedactor

KEY = "messaging.kafka.message.key"


@pytest.fixture
def record_span():
    exported = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(KafkaKeyRedactor())
    provider.add_span_processor(SimpleSpanProcessor(exported))
    tracer = provider.get_tracer("test")

    def record(topic: str, key: bytes) -> str:
        attributes = {"messaging.destination_publish.name": topic, KEY: key}
        tracer.start_span(f"{topic} process", attributes=attributes).end()
        return str(exported.get_finished_spans()[-1].attributes[KEY])

    return record


def test_a_ticket_id_key_is_kept_as_text(record_span) -> None:
    assert record_span(TICKETS.name, b"t-5006196b") == "t-5006196b"


def test_a_conversation_key_is_replaced_by_a_digest(record_span) -> None:
    recorded = record_span(INBOUND_MESSAGES.name, b"+79161234567")

    assert "9161234567" not in recorded
    assert recorded.startswith("sha256:")


def test_one_conversation_keeps_one_digest(record_span) -> None:
    first = record_span(INBOUND_MESSAGES.name, b"+79161234567")
    again = record_span(INBOUND_MESSAGES.name, b"+79161234567")
    other = record_span(INBOUND_MESSAGES.name, b"+79031112233")

    assert first == again != other
