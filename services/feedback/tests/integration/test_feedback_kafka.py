"""feedback on a real Kafka broker and a real MongoDB-wire server: a solved ticket's invitation,
answers reaching the report through the rollup consumer (once, however often they are
published), an answer that intake received by text message, and the consumer group electing
one rollup writer.

Events are published on the real topics with CloudEvents headers; the app runs in this process
with its production wiring; answers go through its HTTP API over ASGI.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from opora_feedback.adapters.assignor import SingleOwnerAssignor
from opora_feedback.config import Settings
from opora_feedback.handlers import GROUP, ROLLUP_GROUP
from opora_feedback.main import create_app
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, RequestType
from opora_shared.contracts.feedback import (
    SurveyAnswerReceivedV1,
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
)
from opora_shared.contracts.topics import FEEDBACK, ROUTING, TICKETS
from opora_shared.testing import KafkaTail, event_producer, skip_group_to_end
from pymongo import AsyncMongoClient

from ..conftest import RULES

pytestmark = pytest.mark.integration

KEY = "integration-key-0123456789"
STAFF = {"Authorization": f"Bearer {KEY}"}

Publish = Callable[[Event], Awaitable[None]]


@pytest.fixture
async def publish(infra) -> AsyncIterator[Publish]:
    async with event_producer(infra.bootstrap_servers) as send:
        yield send


async def skip_to_the_end(bootstrap: str) -> None:
    """Commit both groups' offsets at the end of what they consume: a test reads only what it
    publishes, not what earlier tests left on the shared topics."""
    await skip_group_to_end(bootstrap, GROUP, [TICKETS.name, ROUTING.name])
    await skip_group_to_end(bootstrap, ROLLUP_GROUP, [FEEDBACK.name])


@pytest.fixture
async def db(infra, database_name) -> AsyncIterator[Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri)
    yield mongo[database_name]
    await mongo.drop_database(database_name)
    await mongo.close()


@pytest.fixture
async def feedback(infra, database_name, db, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its production wiring, started from the end of its topics."""
    rules = tmp_path / "surveys.yaml"
    rules.write_text(RULES, encoding="utf-8")
    settings = Settings(
        kafka_bootstrap_servers=infra.bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=database_name,
        token_secret="integration-secret-0123456789",
        public_base_url="http://feedback.test",
        rules_file=rules,
        api_keys={"lead": KEY},
        outbox_interval_s=0,
        retention_interval_s=0,
        graceful_timeout_s=5,
    )
    await skip_to_the_end(infra.bootstrap_servers)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
            yield client


@pytest.fixture
async def tail(infra) -> AsyncIterator[KafkaTail]:
    async with KafkaTail(infra.bootstrap_servers, FEEDBACK.name) as reading:
        yield reading


async def rollups_caught_up(bootstrap: str, timeout_s: float = 45) -> None:
    """Wait until the rollup consumer committed everything published on feedback's topic."""
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await probe.start()
    await admin.start()
    try:
        partitions = [TopicPartition(FEEDBACK.name, p) for p in range(FEEDBACK.partitions)]
        ends = await probe.end_offsets(partitions)
        deadline = time.monotonic() + timeout_s
        while True:
            committed = await admin.list_consumer_group_offsets(ROLLUP_GROUP)
            behind = {
                tp: end
                for tp, end in ends.items()
                if committed.get(tp, None) is None or committed[tp].offset < end
            }
            if not behind:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"the rollup consumer is behind on {sorted(behind)}")
            await asyncio.sleep(0.2)
    finally:
        await admin.close()
        await probe.stop()


def ticket_events(ticket_id: str, *, channel: Channel = Channel.EMAIL) -> list[Event]:
    from ..conftest import assigned, opened, status_changed

    return [
        opened(ticket_id, request_type=RequestType.OTHER, channel=channel, language="en"),
        assigned(ticket_id, agent_id=f"agent-{ticket_id}", team="integration"),
        status_changed(ticket_id),
    ]


async def invitation(
    publish: Publish, tail: KafkaTail, ticket_id: str, db: Any, **kw: Any
) -> SurveyIssuedV1:
    """Open, assign and solve a ticket; the invitation feedback issues. The solve waits until
    feedback has read the assignment, which travels on another topic."""
    opening, assignment, solve = ticket_events(ticket_id, **kw)
    await publish(opening)
    await publish(assignment)
    deadline = time.monotonic() + 30
    while not await db["tickets"].find_one({"_id": ticket_id, "agent_id": {"$exists": True}}):
        assert time.monotonic() < deadline, "feedback never read the assignment"
        await asyncio.sleep(0.1)
    await publish(solve)
    (seen,) = await tail.wait_for(
        lambda s: isinstance(s.event, SurveyIssuedV1) and s.event.ticket_id == ticket_id
    )
    assert isinstance(seen.event, SurveyIssuedV1)
    return seen.event


async def report_until(
    client: httpx.AsyncClient, agent: str, done: Callable[[dict[str, Any]], bool]
) -> dict[str, Any]:
    """The agent's row of today's report, once ``done`` holds for it (the rollup consumer
    works behind the answers)."""
    deadline = time.monotonic() + 45
    row: dict[str, Any] = {}
    while time.monotonic() < deadline:
        today = datetime.now(UTC).date().isoformat()
        response = await client.get(
            "/v1/reports",
            params={"from": today, "to": today, "group_by": "agent"},
            headers=STAFF,
        )
        rows = {r["key"]: r for r in response.json()["rows"]}
        row = rows.get(agent, {})
        if row and done(row):
            return row
        await asyncio.sleep(0.3)
    raise AssertionError(f"the report never showed what was expected for {agent}: {row}")


async def test_an_answer_reaches_the_report_once_however_often_it_is_published(
    infra, feedback, publish, tail, db
):
    ticket = f"it-{uuid.uuid4().hex[:8]}"
    issued = await invitation(publish, tail, ticket, db)
    token = issued.url.rsplit("/s/", 1)[1]

    first = await feedback.post(f"/v1/surveys/{token}/responses", json={"score": 2})
    edit = await feedback.post(f"/v1/surveys/{token}/responses", json={"score": 5})
    recorded = await tail.wait_for(
        lambda s: isinstance(s.event, SurveyResponseRecordedV1) and s.event.ticket_id == ticket,
        count=2,
    )
    for seen in recorded:  # published again, as the outbox sweep would after a lost ack
        assert seen.event is not None
        await publish(seen.event)
    await publish(issued)  # and the invitation, as a second solve does

    row = await report_until(feedback, issued.agent_id or "", lambda r: r["csat_satisfied"] == 1)
    await asyncio.sleep(1.0)  # anything counted twice would show by now
    row = await report_until(feedback, issued.agent_id or "", lambda r: True)

    assert (first.status_code, edit.status_code) == (201, 200)
    assert (row["csat_issued"], row["csat_responses"], row["csat_satisfied"]) == (1, 1, 1)
    assert row["csat_percent"] == 100.0


async def test_a_text_message_answer_from_intake_is_recorded_and_reported(
    feedback, publish, tail, db
):
    ticket = f"it-{uuid.uuid4().hex[:8]}"
    issued = await invitation(publish, tail, ticket, db, channel=Channel.SMS)
    reply = SurveyAnswerReceivedV1(
        ticket_id=ticket,
        channel=Channel.SMS,
        source_message_id=f"sms-{ticket}",
        received_at=datetime.now(UTC),
        score=1,
        comment="никто не перезвонил",
    )

    await publish(reply)
    await publish(reply)  # the provider's retry
    row = await report_until(feedback, issued.agent_id or "", lambda r: r["csat_responses"] == 1)
    answers = await feedback.get(f"/v1/tickets/{ticket}/responses", headers=STAFF)

    assert row["csat_percent"] == 0.0
    [answer] = answers.json()
    assert (answer["score"], answer["answered_via"], answer["revision"]) == (1, "sms", 1)


async def test_the_rollup_group_gives_every_partition_to_one_member_then_to_another(infra):
    group = f"assignor-test-{uuid.uuid4().hex[:8]}"
    consumers = [
        AIOKafkaConsumer(
            FEEDBACK.name,
            bootstrap_servers=infra.bootstrap_servers,
            group_id=group,
            partition_assignment_strategy=(SingleOwnerAssignor,),
        )
        for _ in range(2)
    ]
    for consumer in consumers:
        await consumer.start()

    async def owned(members: list[AIOKafkaConsumer], wanted: list[int]) -> list[int]:
        deadline = time.monotonic() + 30
        while True:
            for member in members:
                await member.getmany(timeout_ms=100)
            counts = sorted(len(m.assignment()) for m in members)
            if counts == wanted or time.monotonic() > deadline:
                return counts

    try:
        both = await owned(consumers, [0, FEEDBACK.partitions])
        owner = next(c for c in consumers if c.assignment())
        standby = next(c for c in consumers if c is not owner)
        await owner.stop()
        after = await owned([standby], [FEEDBACK.partitions])
    finally:
        for consumer in consumers:
            await consumer.stop()

    assert both == [0, FEEDBACK.partitions]
    assert after == [FEEDBACK.partitions]
