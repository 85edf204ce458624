"""In-memory stand-ins for the shared ports, for services' unit tests (fakes over mocks)."""

from __future__ import annotations

from datetime import datetime, timedelta

from faststream.kafka import KafkaBroker

from opora_shared.contracts.base import Event, cloudevent_headers


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
