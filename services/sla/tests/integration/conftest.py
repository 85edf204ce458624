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
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from fastapi import FastAPI
from opora_shared.contracts.base import Event
from opora_shared.testing import drop_database, event_producer, skip_group_to_end, wait_group_stable
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
    async with event_producer(infra.bootstrap_servers) as send:
        yield send


@pytest.fixture(autouse=True)
async def dropped_database(infra, database_name) -> AsyncIterator[None]:
    yield
    await asyncio.to_thread(drop_database, infra.mongodb_uri, database_name)


async def skip_to_the_end(bootstrap_servers: str) -> None:
    """Commit the group's offsets at the end of every topic sla consumes."""
    await skip_group_to_end(bootstrap_servers, GROUP, [topic.name for topic in CONSUMED])


async def settled(bootstrap_servers: str, members: int, timeout_s: float = 30) -> None:
    """Wait until the group is stable with ``members`` consumers (one per replica)."""
    await wait_group_stable(bootstrap_servers, GROUP, members, timeout_s=timeout_s)


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
