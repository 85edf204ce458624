"""Creates every topic of Opora's catalogue on a broker, idempotently."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

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
    timeout: float = 60.0,
) -> list[str]:
    """Create the missing topics of ``specs`` (default: the whole catalogue); return their names."""
    wanted = {spec.name: spec for spec in (all_topics() if specs is None else specs)}
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=30000)
    await admin.start()
    created: list[str] = []
    deadline = time.monotonic() + timeout
    try:
        while True:
            existing = set(await admin.list_topics())
            missing = [spec for name, spec in wanted.items() if name not in existing]
            if not missing:
                return created
            response = await admin.create_topics([new_topic(s) for s in missing])
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
            if not retry:
                return created
            await asyncio.sleep(0.5)
    finally:
        await admin.close()
