"""In-memory stand-ins for the shared ports, for services' unit tests (fakes over mocks)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
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


# --- consumer groups and producers for integration tests ---------------------------------------


async def skip_group_to_end(
    bootstrap_servers: str, group: str, topics: Iterable[str], *, timeout_s: float = 30
) -> None:
    """Commit ``group``'s offsets at the end of ``topics``, so that a test's consumers read only
    what the test publishes, not what earlier tests left on the shared topics."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics(list(topics))
    finally:
        await admin.close()
    partitions = [
        TopicPartition(t["topic"], p["partition"]) for t in described for p in t["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                await consumer.commit(ends)
                return
            except KafkaError:
                # Members of a replica stopped or killed by an earlier test stay in the group
                # until their session ends; the group takes outside commits once they are gone.
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def wait_group_stable(
    bootstrap_servers: str, group: str, members: int, *, timeout_s: float = 30
) -> None:
    """Wait until ``group`` is stable with ``members`` consumers, so that no rebalance pauses
    consumption in the middle of a timed behaviour."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            [response] = await admin.describe_consumer_groups([group])
            [described] = response.to_object()["groups"]
            if described["state"] == "Stable" and len(described["members"]) == members:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"group {group} not settled with {members} members within {timeout_s:.0f} s: "
                    f"{described['state']} with {len(described['members'])}"
                )
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


@asynccontextmanager
async def event_producer(
    bootstrap_servers: str,
) -> AsyncIterator[Callable[[Event], Awaitable[None]]]:
    """Publish events as their producers do: their topic, keyed, CloudEvents headers, acks=all."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap_servers, acks="all")
    await producer.start()

    async def send(event: Event) -> None:
        headers = cloudevent_headers(event, source="tests")
        await producer.send_and_wait(
            event.topic.name,
            event.model_dump_json().encode(),
            key=event.partition_key.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )

    try:
        yield send
    finally:
        await producer.stop()
