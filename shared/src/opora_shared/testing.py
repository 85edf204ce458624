"""In-memory stand-ins for the shared ports, for services' unit tests (fakes over mocks)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.base import Event, cloudevent_headers

E = TypeVar("E", bound=Event)


class RecordingPublisher:
    """Keeps what a service publishes; ``failures`` makes that many next publishes raise the
    ``ConnectionError`` an unreachable broker gives."""

    def __init__(self) -> None:
        self.published: list[Event] = []
        self.failures = 0

    async def publish(self, event: Event) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("simulated Kafka outage")
        self.published.append(event)


class FixedClock:
    """A clock that stands still until a test moves it; call it for the time."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta) -> None:
        self.now += delta


async def deliver(broker: KafkaBroker, event: Event, *, source: str = "test") -> None:
    """Publish ``event`` the way an outside producer does: on its topic, keyed, with headers."""
    await broker.publish(
        event.model_dump(mode="json"),
        topic=event.topic.name,
        key=event.partition_key.encode(),
        headers=cloudevent_headers(event, source=source),
    )


@dataclass(frozen=True)
class Seen:
    """One record read by ``KafkaTail``: its topic, headers, raw value and decoded event."""

    topic: str
    headers: dict[str, str]
    value: bytes
    offset: int
    event: Event | None


class KafkaTail:
    """Reads ``topics`` on a real broker from the moment it is entered, for integration tests.

    Every partition is assigned directly (no consumer group) and positioned at its end before
    ``__aenter__`` returns, so what a test publishes afterwards is never missed.
    """

    def __init__(self, bootstrap_servers: str, *topics: str) -> None:
        self.topics = topics
        self.seen: list[Seen] = []
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False
        )

    async def __aenter__(self) -> KafkaTail:
        await self._consumer.start()
        partitions: list[TopicPartition] = []
        for topic in self.topics:
            found = await self._partitions_of(topic)
            partitions += [TopicPartition(topic, p) for p in sorted(found)]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self._consumer.position(tp)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._consumer.stop()

    async def _partitions_of(self, topic: str) -> set[int]:
        for _ in range(50):
            found = self._consumer.partitions_for_topic(topic)
            if found:
                return set(found)
            await self._consumer._client.force_metadata_update()  # aiokafka: no public refresh
            await asyncio.sleep(0.1)
        raise LookupError(f"topic {topic} does not exist")

    async def wait_for(
        self, predicate: Callable[[Seen], bool], *, count: int = 1, timeout_s: float = 30
    ) -> list[Seen]:
        """At least ``count`` records matching ``predicate`` (all read so far are kept)."""
        deadline = asyncio.get_running_loop().time() + timeout_s
        while True:
            matching = [s for s in self.seen if predicate(s)]
            if len(matching) >= count:
                return matching
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(
                    f"{len(matching)} of {count} matching records within {timeout_s:.0f} s "
                    f"on {', '.join(self.topics)}"
                )
            batches = await self._consumer.getmany(timeout_ms=200)
            for records in batches.values():
                self.seen += [_seen(record) for record in records]

    def events(self, event_type: type[E]) -> list[E]:
        return [s.event for s in self.seen if isinstance(s.event, event_type)]


def _seen(record: Any) -> Seen:
    headers = {k: v.decode(errors="replace") for k, v in record.headers}
    event_type = EVENTS_BY_TYPE.get(headers.get("ce_type", ""))
    event: Event | None = None
    if event_type is not None and record.value is not None:
        try:
            event = event_type.model_validate_json(record.value)
        except ValueError:
            event = None
    return Seen(record.topic, headers, record.value or b"", record.offset, event)


def drop_database(mongodb_uri: str, database: str) -> None:
    """Removes a test's database, so runs on a long-lived local FerretDB leave nothing behind."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(mongodb_uri, serverSelectionTimeoutMS=5000)
    try:
        client.drop_database(database)
    finally:
        client.close()
