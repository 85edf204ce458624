"""Creates every topic of Opora's catalogue on a broker, idempotently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from opora_shared.contracts.topics import TopicSpec, all_topics

_RETRIABLE_CODES = frozenset({5, 7, 41})  # leader not available, request timed out, not controller


class TopicCreationError(RuntimeError):
    """The broker refused to create a topic."""


def new_topic(spec: TopicSpec) -> NewTopic:
    """The admin-client request for one catalogue entry (replication factor 1)."""
    return NewTopic(
        name=spec.name,
        num_partitions=spec.partitions,
        replication_factor=1,
        topic_configs=spec.kafka_config(),
    )


async def create_topics(
    bootstrap_servers: str,
    specs: Iterable[TopicSpec] | None = None,
    timeout_s: float = 60.0,
) -> list[str]:
    """Create the missing topics of ``specs`` (default: the whole catalogue); return their names."""
    wanted = {spec.name: spec for spec in (all_topics() if specs is None else specs)}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=30000)
    await admin.start()
    created: list[str] = []
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            existing = set(await admin.list_topics())
            missing = [spec for name, spec in wanted.items() if name not in existing]
            if not missing or not await _create(admin, missing, created, deadline):
                break
            await asyncio.sleep(0.5)
        await _wait_for_leaders(admin, wanted, deadline)
    finally:
        await admin.close()
    if created:
        await _wait_until_served(bootstrap_servers, [wanted[name] for name in created], deadline)
    return created


async def _create(
    admin: AIOKafkaAdminClient, specs: list[TopicSpec], created: list[str], deadline: float
) -> bool:
    """Send one CreateTopics request; True when some topics should be retried."""
    response = await admin.create_topics([new_topic(s) for s in specs])
    retry = False
    for error in response.topic_errors:
        name, code = error[0], error[1]
        if code == 0:
            created.append(name)
        elif code == TopicAlreadyExistsError.errno:
            continue
        elif code in _RETRIABLE_CODES and time.monotonic() < deadline:
            retry = True
        else:
            message = error[2] if len(error) > 2 else ""
            raise TopicCreationError(f"cannot create {name}: error {code} {message}")
    return retry


async def _wait_for_leaders(
    admin: AIOKafkaAdminClient, specs: dict[str, TopicSpec], deadline: float
) -> None:
    """Wait until every partition has a leader, so the first produce does not bounce."""
    while True:
        described = await admin.describe_topics(list(specs))
        ready = {
            topic["topic"]
            for topic in described
            if topic["error_code"] == 0
            and len(topic["partitions"]) == specs[topic["topic"]].partitions
            and all(p["error_code"] == 0 and p["leader"] >= 0 for p in topic["partitions"])
        }
        if ready >= specs.keys():
            return
        if time.monotonic() > deadline:
            lagging = ", ".join(sorted(specs.keys() - ready))
            raise TopicCreationError(f"partitions without a leader: {lagging}")
        await asyncio.sleep(0.2)


async def _wait_until_served(
    bootstrap_servers: str, specs: list[TopicSpec], deadline: float
) -> None:
    """Wait until each new partition's leader answers ListOffsets.

    The broker's metadata names a leader a moment before its replica manager takes the
    partition over; a produce in that gap bounces with NOT_LEADER and a logged retry.
    """
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap_servers, group_id=None)
    await consumer.start()
    try:
        partitions = [TopicPartition(s.name, p) for s in specs for p in range(s.partitions)]
        timeout = max(1.0, deadline - time.monotonic())
        await asyncio.wait_for(consumer.end_offsets(partitions), timeout)
    finally:
        await consumer.stop()
