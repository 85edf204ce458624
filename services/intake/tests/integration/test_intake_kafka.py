"""intake running in-process against a real Kafka broker and a real MongoDB-wire server:
threading and reopening over the raw topic, dedup across a restart and across two replicas,
the dead-letter path that lets the partition move on, and a score texted back after feedback
issued a survey."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from opora_intake.adapters.repository import MongoRepository
from opora_intake.config import Settings
from opora_intake.main import create_app
from opora_shared.contracts.base import Event, cloudevent_headers
from opora_shared.contracts.common import CustomerContact, TicketStatus
from opora_shared.contracts.feedback import SurveyAnswerReceivedV1, SurveyIssuedV1, SurveyType
from opora_shared.contracts.inbound import InboundChatMessageV1, InboundSmsV1, InboundWebFormV1
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketStatusChangedV1,
)
from opora_shared.contracts.topics import INBOUND_MESSAGES, TICKETS
from opora_shared.contracts.workspace import StatusSetV1, WorkspaceStatus
from opora_shared.testing import KafkaTail
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration

API_KEY = "integration-test-key"


@pytest.fixture
def settings(infra, database_name) -> Settings:
    return Settings(
        kafka_bootstrap_servers=infra.bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=database_name,
        api_keys={"tests": API_KEY},
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One intake replica: its lifespan (broker, MongoDB) and an HTTP client on its routes."""
    app: FastAPI = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://intake", headers={"x-api-key": API_KEY}
        ) as client:
            yield client


@pytest.fixture
async def producer(infra) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


async def publish(producer: AIOKafkaProducer, event: Event) -> None:
    await producer.send_and_wait(
        event.topic.name,
        event.model_dump_json().encode(),
        key=event.partition_key.encode(),
        headers=[(k, v.encode()) for k, v in cloudevent_headers(event, source="tests").items()],
    )


def chat(session: str, n: int, at: datetime | None = None) -> InboundChatMessageV1:
    return InboundChatMessageV1(
        source_message_id=f"{session}-{n}",
        conversation_id=session,
        session_id=session,
        received_at=at or datetime.now(UTC),
        customer=CustomerContact(external_id=f"visitor-{session}"),
        text="Здравствуйте, не приходит код подтверждения" if n == 1 else "Всё ещё не приходит",
    )


def form(ref: str) -> InboundWebFormV1:
    return InboundWebFormV1(
        source_message_id=ref,
        conversation_id=ref,
        received_at=datetime.now(UTC),
        customer=CustomerContact(name="Анна", email=f"{ref}@example.ru"),
        text="Где мой заказ № 48213377?",
        form_id="support",
    )


def for_ticket(ticket_id: str):
    return lambda seen: getattr(seen.event, "ticket_id", None) == ticket_id


async def test_raw_chat_messages_of_one_session_thread_onto_one_ticket(
    settings, producer, infra
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    async with KafkaTail(infra.bootstrap_servers, TICKETS.name) as tail, running(settings):
        await publish(producer, chat(session, 1))
        await publish(producer, chat(session, 2))
        [opened] = await tail.wait_for(
            lambda s: (
                isinstance(s.event, TicketOpenedV1)
                and s.event.source_message_id == f"chat:{session}-1"
            )
        )
        [_, joined] = await tail.wait_for(for_ticket(opened.event.ticket_id), count=2)

    assert isinstance(joined.event, TicketMessageReceivedV1)
    assert joined.event.threaded_by == "conversation"


async def test_a_raw_message_after_solved_reopens_the_ticket(settings, producer, infra) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    async with KafkaTail(infra.bootstrap_servers, TICKETS.name) as tail, running(settings) as api:
        first = await api.post("/v1/inbound/chat", json=chat(session, 1).model_dump(mode="json"))
        ticket_id = first.json()["ticket_id"]
        solved = StatusSetV1(ticket_id=ticket_id, agent_id="agent-1", status=WorkspaceStatus.SOLVED)
        assert (
            await api.post("/v1/workspace/status", json=solved.model_dump(mode="json"))
        ).is_success
        await publish(producer, chat(session, 2, at=datetime.now(UTC) + timedelta(hours=1)))
        changes = await tail.wait_for(
            lambda s: isinstance(s.event, TicketStatusChangedV1) and s.event.ticket_id == ticket_id,
            count=2,
        )

    reopened = changes[-1].event
    assert reopened.reopened
    assert reopened.status is TicketStatus.OPEN


async def test_a_retry_after_a_restart_keeps_one_ticket(settings, infra) -> None:
    message = form(f"f-{uuid.uuid4().hex[:8]}").model_dump(mode="json")
    async with KafkaTail(infra.bootstrap_servers, TICKETS.name) as tail:
        async with running(settings) as api:
            first = await api.post("/v1/inbound/web-form", json=message)
        async with running(settings) as api:  # a new process, the same database
            again = await api.post("/v1/inbound/web-form", json=message)
        opened = await tail.wait_for(
            lambda s: (
                isinstance(s.event, TicketOpenedV1)
                and s.event.ticket_id == first.json()["ticket_id"]
            ),
            count=2,
        )

    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["ticket_id"] == first.json()["ticket_id"]
    assert again.json()["repeat"]
    assert len({s.event.event_id for s in opened}) == 1  # the repeat carries the same event id


async def test_two_replicas_given_the_same_message_open_one_ticket(settings) -> None:
    message = form(f"f-{uuid.uuid4().hex[:8]}").model_dump(mode="json")
    async with running(settings) as one, running(settings) as two:
        answers = await asyncio.gather(
            *(api.post("/v1/inbound/web-form", json=message) for api in (one, two, one, two))
        )

    assert len({a.json()["ticket_id"] for a in answers}) == 1
    assert len({a.json()["number"] for a in answers}) == 1


async def test_a_bad_raw_record_goes_to_the_dead_letter_topic_and_the_next_one_passes(
    settings, producer, infra
) -> None:
    session = f"s-{uuid.uuid4().hex[:8]}"
    garbage = b'{"source_message_id": 42, "this is": "not a chat message"'
    headers = {**cloudevent_headers(chat(session, 1), source="tests")}
    topics = (TICKETS.name, INBOUND_MESSAGES.dead_letter)
    async with KafkaTail(infra.bootstrap_servers, *topics) as tail, running(settings):
        await producer.send_and_wait(
            INBOUND_MESSAGES.name,
            garbage,
            key=session.encode(),
            headers=[(k, v.encode()) for k, v in headers.items()],
        )
        await publish(producer, chat(session, 1))  # same key, so the same partition
        [dead] = await tail.wait_for(
            lambda s: s.topic == INBOUND_MESSAGES.dead_letter and s.value == garbage
        )
        await tail.wait_for(
            lambda s: (
                isinstance(s.event, TicketOpenedV1)
                and s.event.source_message_id == f"chat:{session}-1"
            )
        )

    assert dead.headers["dlq_reason"]
    assert dead.headers["dlq_source_offset"].isdigit()
    assert dead.headers["dlq_source_topic"] == INBOUND_MESSAGES.name


def for_answer(ticket_id: str):
    about = for_ticket(ticket_id)
    return lambda seen: isinstance(seen.event, SurveyAnswerReceivedV1) and about(seen)


def text(phone: str, ref: str, body: str, at: datetime) -> InboundSmsV1:
    return InboundSmsV1(
        source_message_id=ref,
        conversation_id=phone,
        received_at=at,
        customer=CustomerContact(phone=phone),
        text=body,
    )


async def invitation_kept(infra, database: str, customer_id: str, timeout_s: float = 30) -> None:
    """Wait until intake has stored the customer's invitation (it publishes nothing for it)."""
    async with AsyncMongoClient(infra.mongodb_uri, tz_aware=True) as client:
        repo = MongoRepository(client[database])
        deadline = asyncio.get_running_loop().time() + timeout_s
        while not await repo.open_invitations([customer_id], datetime.now(UTC)):
            assert asyncio.get_running_loop().time() < deadline, "the invitation was not stored"
            await asyncio.sleep(0.1)


async def test_a_score_texted_back_after_the_survey_is_published_as_its_answer(
    settings, producer, infra
) -> None:
    phone = f"+7916{uuid.uuid4().int % 10**7:07d}"
    now = datetime.now(UTC)
    async with KafkaTail(infra.bootstrap_servers, TICKETS.name) as tail, running(settings) as api:
        question = text(phone, f"{phone}-1", "Где заказ?", now)
        first = await api.post("/v1/inbound/sms", json=question.model_dump(mode="json"))
        ticket_id = first.json()["ticket_id"]
        solved = StatusSetV1(ticket_id=ticket_id, agent_id="agent-1", status=WorkspaceStatus.SOLVED)
        assert (
            await api.post("/v1/workspace/status", json=solved.model_dump(mode="json"))
        ).is_success
        [opened] = await tail.wait_for(
            lambda s: isinstance(s.event, TicketOpenedV1) and s.event.ticket_id == ticket_id
        )
        assert isinstance(opened.event, TicketOpenedV1)
        await publish(
            producer,
            SurveyIssuedV1(
                ticket_id=ticket_id,
                survey_id=f"survey-{ticket_id}",
                survey_type=SurveyType.CSAT,
                channel=opened.event.channel,
                request_type=opened.event.request_type,
                customer=opened.event.customer,
                url="https://opora.example/s/token",
                send_after=now,
                expires_at=now + timedelta(days=28),
            ),
        )
        await invitation_kept(infra, settings.mongodb_database, opened.event.customer.customer_id)
        reply = text(phone, f"{phone}-2", "2 - долго", now + timedelta(seconds=1))
        await publish(producer, reply)
        await publish(producer, reply)  # the provider's retry
        answers = await tail.wait_for(
            for_answer(ticket_id),
            count=2,
        )

    first_answer, retried = (a.event for a in answers)
    assert isinstance(first_answer, SurveyAnswerReceivedV1)
    assert (first_answer.score, first_answer.comment, first_answer.source_message_id) == (
        2,
        "долго",
        f"{phone}-2",
    )
    assert retried == first_answer
    assert not [e for e in tail.events(TicketMessageReceivedV1) if e.ticket_id == ticket_id]
