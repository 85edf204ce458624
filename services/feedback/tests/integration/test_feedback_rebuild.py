"""``opora-feedback rebuild-rollups`` on a real Kafka broker and MongoDB-wire server: wrong
rollups replaced by a recount of the stored invitations and answers, the folder then resuming
from its committed offsets without counting again what the rebuild counted, and the rebuild
holding the rollup group while a folder stands by.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from opora_feedback.adapters.assignor import SingleOwnerAssignor
from opora_feedback.adapters.rollup_group import RollupGroupHold
from opora_feedback.adapters.rollups import MongoRollupStore
from opora_feedback.config import Settings
from opora_feedback.domain.metrics import answer_tally
from opora_feedback.domain.rollups import Contribution, Slice, rebuild
from opora_feedback.entrypoints.rebuild import rebuild_rollups
from opora_feedback.main import create_app
from opora_shared.contracts.feedback import SurveyType
from opora_shared.contracts.topics import FEEDBACK
from opora_shared.testing import KafkaTail, event_producer
from pymongo import AsyncMongoClient

from ..conftest import RULES
from .test_feedback_kafka import KEY, STAFF, invitation, rollups_caught_up, skip_to_the_end

pytestmark = pytest.mark.integration


@pytest.fixture
async def db(infra, database_name) -> AsyncIterator[Any]:
    mongo: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield mongo[database_name]
    await mongo.drop_database(database_name)
    await mongo.close()


@pytest.fixture
def settings(infra, database_name, tmp_path) -> Settings:
    rules = tmp_path / "surveys.yaml"
    rules.write_text(RULES, encoding="utf-8")
    return Settings(
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


@asynccontextmanager
async def feedback(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
            yield client


async def answer(client: httpx.AsyncClient, url: str, score: int) -> None:
    token = url.rsplit("/s/", 1)[1]
    response = await client.post(f"/v1/surveys/{token}/responses", json={"score": score})
    assert response.status_code in (200, 201), response.text


async def todays_csat(client: httpx.AsyncClient) -> dict[str, tuple[int, int]]:
    today = datetime.now(UTC).date().isoformat()
    response = await client.get(
        "/v1/reports", params={"from": today, "to": today, "group_by": "agent"}, headers=STAFF
    )
    return {r["key"]: (r["csat_responses"], r["csat_satisfied"]) for r in response.json()["rows"]}


async def test_a_rebuild_counts_what_is_stored_and_the_folder_skips_what_it_counted(
    infra, settings, db
):
    await skip_to_the_end(infra.bootstrap_servers)
    tag = uuid.uuid4().hex[:6]
    async with (
        event_producer(infra.bootstrap_servers) as publish,
        KafkaTail(infra.bootstrap_servers, FEEDBACK.name) as tail,
    ):
        # Answers stored and published while no folder runs: the rebuild counts them, and
        # the folder reads their records only afterwards.
        async with feedback(settings.model_copy(update={"rollups": False})) as client:
            first = await invitation(publish, tail, f"rb-{tag}-1", db)
            second = await invitation(publish, tail, f"rb-{tag}-2", db)
            await answer(client, first.url, 5)
            await answer(client, second.url, 1)
            await answer(client, first.url, 2)  # an edit: 5 becomes 2
        wrong = Contribution(
            datetime.now(UTC).date(),
            Slice(f"agent-rb-{tag}-1", "integration", "email", "other"),
            answer_tally(SurveyType.CSAT, 5),
        )
        await MongoRollupStore(db).replace_all(rebuild([wrong, wrong, wrong]).values())
        dry_run, done = io.StringIO(), io.StringIO()

        differed = await rebuild_rollups(settings, dry_run=True, out=dry_run)
        rebuilt = await rebuild_rollups(settings, dry_run=False, grace_s=0, out=done)

        async with feedback(settings) as client:  # resumes from the committed offsets
            third = await invitation(publish, tail, f"rb-{tag}-3", db)
            await answer(client, third.url, 4)
            await rollups_caught_up(infra.bootstrap_servers)
            report = await todays_csat(client)
    after = await rebuild_rollups(settings, dry_run=True, out=io.StringIO())

    assert (differed, rebuilt, after) == (1, 0, 0), dry_run.getvalue() + done.getvalue()
    assert report == {
        f"agent-rb-{tag}-1": (1, 0),
        f"agent-rb-{tag}-2": (1, 0),
        f"agent-rb-{tag}-3": (1, 1),
    }
    assert "dropped generation 0" in done.getvalue()


async def test_the_rebuild_holds_the_rollup_group_while_a_folder_stands_by(infra):
    group = f"rebuild-hold-{uuid.uuid4().hex[:8]}"
    folder = AIOKafkaConsumer(
        FEEDBACK.name,
        bootstrap_servers=infra.bootstrap_servers,
        group_id=group,
        client_id="feedback",  # as the service's consumers are called
        partition_assignment_strategy=(SingleOwnerAssignor,),
    )
    await folder.start()

    async def folder_holds(wanted: int) -> int:
        deadline = time.monotonic() + 30
        while len(folder.assignment()) != wanted and time.monotonic() < deadline:
            await folder.getmany(timeout_ms=100)
        return len(folder.assignment())

    try:
        before = await folder_holds(FEEDBACK.partitions)
        async with RollupGroupHold(
            infra.bootstrap_servers, topic=FEEDBACK.name, group=group
        ) as hold:
            during = await folder_holds(0)
            held = len(hold.consumer.assignment())
            await hold.check()
        after = await folder_holds(FEEDBACK.partitions)
    finally:
        await folder.stop()

    assert (before, during, held, after) == (
        FEEDBACK.partitions,
        0,
        FEEDBACK.partitions,
        FEEDBACK.partitions,
    )
