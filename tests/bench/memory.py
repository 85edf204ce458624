"""In-memory adapters for measuring intake's use cases without I/O.

``IndexedRepository`` is intake's own ``MemoryRepository`` (the unit tests use it too).

:class:`SerialisingPublisher` turns each event into the Kafka record ``EventPublisher`` sends
(FastStream's JSON encoding of ``model_dump(mode="json")``, the key, CloudEvents headers as
bytes) and counts them; :class:`DiscardingPublisher` only counts.
"""

from __future__ import annotations

from faststream.message.utils import encode_message
from opora_intake.adapters.memory import MemoryRepository
from opora_shared.contracts.base import Event, cloudevent_headers, source_of

IndexedRepository = MemoryRepository


class DiscardingPublisher:
    """Counts events and drops them: the use case without the cost of encoding."""

    def __init__(self) -> None:
        self.events = 0

    async def publish(self, event: Event) -> None:
        self.events += 1


SOURCE = source_of("intake")


def kafka_record(event: Event) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Value, key and headers as ``EventPublisher.publish`` hands them to the Kafka producer."""
    value, _content_type = encode_message(event.model_dump(mode="json"), None)
    headers = cloudevent_headers(event, source=SOURCE)
    return value, event.partition_key.encode(), [(k, v.encode()) for k, v in headers.items()]


class SerialisingPublisher:
    """Encodes every event as its Kafka record; keeps counts and sizes, not the records."""

    def __init__(self) -> None:
        self.events = 0
        self.value_bytes = 0
        self.by_type: dict[str, int] = {}

    async def publish(self, event: Event) -> None:
        value, _key, _headers = kafka_record(event)
        self.events += 1
        self.value_bytes += len(value)
        self.by_type[event.ce_type] = self.by_type.get(event.ce_type, 0) + 1


__all__ = [
    "DiscardingPublisher",
    "IndexedRepository",
    "SerialisingPublisher",
    "kafka_record",
]
