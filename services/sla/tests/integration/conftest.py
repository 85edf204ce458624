"""sla against a real Kafka broker and a real MongoDB-wire server: settings with a policies
file whose targets are seconds, a producer that publishes like intake and routing do, and sla
replicas started in this process.

Every replica joins the production consumer group ``sla``. Before replicas start, the group's
committed offsets are moved to the end of the topics sla consumes, so a test's replicas read
only what that test publishes; after they start, the tests wait until the group has settled,
so that no rebalance pauses consumption in the middle of a timed behaviour.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from fastapi import FastAPI
from opora_shared.contracts.base import Event, cloudevent_headers
from opora_shared.testing import drop_database
from opora_sla.config import Settings
from opora_sla.handlers import CONSUMED, GROUP
from opora_sla.main import create_app

POLICIES = """\
defaults:
  hours: calendar
  calendar: 24x7
  warnings: ["50%"]
  escalations: [{level: 1, after: 1s}]
  pauses: {pending: [requester_wait]}
policies:
  - id: integration
    targets:
      first_reply: {urgent: 2s, normal: 4s, low: 1h}
      requester_wait: {high: 3s}
"""
"""Urgent: first reply warned at 1 s, breached at 2 s, escalated at 3 s. Normal: breached at
4 s. High: requester wait of 3 s, paused while pending. Low: nothing due soon."""

Publish = Callable[[Event], Awaitable[None]]


@pytest.fixture
def settings(infra, database_name, tmp_path: Path) -> Settings:
    policies = tmp_path / "policies.yaml"
    policies.write_text(POLICIES, encoding="utf-8")
    return Settings(
        kafka_bootstrap_servers=infra.bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=database_name,
        policies_file=policies,
        graceful_timeout_s=5,
    )


@pytest.fixture
async def publish(infra) -> AsyncIterator[Publish]:
    """Publish an event as its producer does: its topic, keyed, CloudEvents headers, acks=all."""
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    await producer.start()

    async def send(event: Event) -> None:
        headers = cloudevent_headers(event, source="tests")
        await producer.send_and_wait(
            event.topic.name,
            event.model_dump_json().encode(),
            key=event.partition_key.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )

    yield send
    await producer.stop()


@pytest.fixture(autouse=True)
async def dropped_database(infra, database_name) -> AsyncIterator[None]:
    yield
    await asyncio.to_thread(drop_database, infra.mongodb_uri, database_name)


async def skip_to_the_end(bootstrap_servers: str) -> None:
    """Commit the group's offsets at the end of every topic sla consumes."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        described = await admin.describe_topics([topic.name for topic in CONSUMED])
    finally:
        await admin.close()
    partitions = [
        TopicPartition(topic["topic"], p["partition"])
        for topic in described
        for p in topic["partitions"]
    ]
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, group_id=GROUP, enable_auto_commit=False
    )
    await consumer.start()
    try:
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        deadline = time.monotonic() + 30
        while True:
            try:
                await consumer.commit(ends)
                return
            except KafkaError:
                # Members of a replica stopped by an earlier test stay in the group until they
                # have left; the group takes outside commits once they are gone.
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    finally:
        await consumer.stop()


async def settled(bootstrap_servers: str, members: int, timeout_s: float = 30) -> None:
    """Wait until the group is stable with ``members`` consumers (one per replica)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    deadline = time.monotonic() + timeout_s
    try:
        while True:
            [response] = await admin.describe_consumer_groups([GROUP])
            [group] = response.to_object()["groups"]
            if group["state"] == "Stable" and len(group["members"]) == members:
                return
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"group {GROUP} not settled with {members} members within {timeout_s:.0f} s: "
                    f"{group['state']} with {len(group['members'])}"
                )
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


@asynccontextmanager
async def running(*replicas: Settings, skip: bool = True) -> AsyncIterator[list[FastAPI]]:
    """sla replicas in this process (one app each); ``skip`` starts them at the topics' end."""
    bootstrap = replicas[0].kafka_bootstrap_servers
    if skip:
        await skip_to_the_end(bootstrap)
    apps = []
    async with AsyncExitStack() as stack:
        for settings in replicas:
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
            apps.append(app)
        await settled(bootstrap, len(replicas))
        yield apps
