"""The walking skeleton, driven from outside through HTTP and Kafka only.

A customer request reaches intake twice over (HTTP and the raw topic); each becomes a ticket,
routing offers it to the agent with the skill, who accepts; sla arms a first-reply deadline;
notifications e-mails an acknowledgement over SMTP; when the agent solves the ticket, feedback
issues a survey whose CSAT answer ends up in MongoDB. Every span caused by the HTTP request is
in one trace.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from opora_intake.entrypoints.auth import SIGNATURE_HEADER, sign
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerContact, RequestType
from opora_shared.contracts.inbound import InboundEmailV1, InboundWebFormV1
from opora_shared.contracts.topics import FEEDBACK, NOTIFICATIONS, ROUTING, SLA, TICKETS
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    Presence,
    StatusSetV1,
    WorkspaceStatus,
)
from opora_shared.testing import event_producer
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.e2e

WATCHED = (TICKETS, ROUTING, SLA, NOTIFICATIONS, FEEDBACK)
RUN = uuid.uuid4().hex[:8]


class Recorder:
    """Reads every watched topic from the start and keeps (type, value, headers)."""

    def __init__(self) -> None:
        self.records: list[tuple[str, dict[str, Any], dict[str, str]]] = []

    async def wait_for(
        self, ce_type: str, match: Callable[[dict[str, Any]], bool], within: float = 60.0
    ) -> tuple[dict[str, Any], dict[str, str]]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            for kind, value, headers in self.records:
                if kind == ce_type and match(value):
                    return value, headers
            await asyncio.sleep(0.2)
        seen = sorted({kind for kind, _, _ in self.records})
        raise AssertionError(f"no {ce_type} within {within:.0f} s; types seen: {seen}")


@pytest.fixture
async def recorder(infra) -> AsyncIterator[Recorder]:
    consumer = AIOKafkaConsumer(
        *(t.name for t in WATCHED),
        bootstrap_servers=infra.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    recorder = Recorder()

    async def pump() -> None:
        async for record in consumer:
            headers = {k: v.decode() for k, v in record.headers}
            recorder.records.append((headers.get("ce_type", ""), json.loads(record.value), headers))

    task = asyncio.create_task(pump())
    yield recorder
    task.cancel()
    await consumer.stop()


@pytest.fixture
async def producer(infra) -> AsyncIterator[Callable[[Event], Awaitable[None]]]:
    async with event_producer(infra.bootstrap_servers) as publish:
        yield publish


def trace_id(headers: dict[str, str]) -> str:
    return headers["traceparent"].split("-")[1]


def spans_by_service(services) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for name in services.processes:
        lines = services.spans_file(name).read_text().splitlines()
        found[name] = [json.loads(line) for line in lines if line.startswith("{")]
    return found


async def test_a_request_travels_through_all_five_services(
    services, infra, recorder, producer
) -> None:
    agent_id = f"agent-{RUN}"
    await producer(
        AgentProfileChangedV1(
            agent_id=agent_id,
            name="Мария Соколова",
            # Skill names as intake's classification asks for them and routing's rules require.
            skills={"technical": 4, "product:appliances": 3},
            languages=("ru", "en"),
            teams=("support",),
            capacity={Channel.EMAIL: 5, Channel.WEB_FORM: 5},
        )
    )
    await producer(AgentPresenceChangedV1(agent_id=agent_id, presence=Presence.ONLINE))
    # Wait until routing knows the agent is online, so the assignment is caused by the request
    # (and belongs to its trace) rather than by the agent's arrival draining the queue.
    async with httpx.AsyncClient(base_url=services.url("routing"), timeout=10) as http:
        for _ in range(300):
            agents = (await http.get("/v1/agents")).text
            if agent_id in agents and "online" in agents:
                break
            await asyncio.sleep(0.2)

    form = InboundWebFormV1(
        source_message_id=f"form-{RUN}",
        conversation_id=f"form-{RUN}",
        received_at=datetime.now(UTC),
        customer=CustomerContact(name="Иван", email=f"ivan.{RUN}@example.com"),
        text="Здравствуйте! Стиральная машина не включается после ремонта.",
        form_id="support",
        request_type=RequestType.TECHNICAL_SUPPORT,
    )
    body = form.model_dump_json().encode()
    signature = sign(body, services.web_form_secret, int(time.time()))
    async with httpx.AsyncClient(base_url=services.url("intake"), timeout=30) as http:
        response = await http.post(
            "/v1/inbound/web-form",
            content=body,
            headers={"content-type": "application/json", SIGNATURE_HEADER: signature},
        )
    assert response.status_code == 201, response.text
    ticket_id = response.json()["ticket_id"]

    by_ticket = lambda value: value.get("ticket_id") == ticket_id  # noqa: E731
    opened, opened_headers = await recorder.wait_for("opora.ticket.opened.v1", by_ticket)
    offered, offered_headers = await recorder.wait_for("opora.routing.offered.v1", by_ticket)
    await producer(
        OfferAcceptedV1(ticket_id=ticket_id, agent_id=agent_id, offer_id=offered["offer_id"])
    )
    assigned, _ = await recorder.wait_for("opora.routing.assigned.v1", by_ticket)
    applied, applied_headers = await recorder.wait_for("opora.sla.applied.v1", by_ticket)
    sent, sent_headers = await recorder.wait_for("opora.notification.sent.v1", by_ticket)

    assert opened["number"] == response.json()["number"]
    assert offered["agent_id"] == agent_id
    assert assigned["offer_id"] == offered["offer_id"]
    assert "first_reply" in [t["metric"] for t in applied["targets"]]
    assert sent["intent"] == "ticket.acknowledged"
    acknowledgement = await _mail_to(services.smtp, f"ivan.{RUN}@example.com")
    assert opened["number"] in str(acknowledgement["Subject"])

    # The raw topic is the other way in: an e-mail published by an adapter.
    email = InboundEmailV1(
        source_message_id=f"mail-{RUN}",
        conversation_id=f"<mail-{RUN}@example.org>",
        message_id=f"<mail-{RUN}@example.org>",
        received_at=datetime.now(UTC),
        customer=CustomerContact(name="Anna", email=f"anna.{RUN}@example.org"),
        subject="Order status",
        text="Hello, where is my order 1234?",
    )
    await producer(email)
    await recorder.wait_for(
        "opora.ticket.opened.v1", lambda v: v.get("source_message_id") == f"email:mail-{RUN}"
    )

    # The agent solves the first ticket; feedback issues a survey and records the answer.
    await producer(
        StatusSetV1(ticket_id=ticket_id, agent_id=agent_id, status=WorkspaceStatus.SOLVED)
    )
    issued, _ = await recorder.wait_for("opora.survey.issued.v1", by_ticket)
    await _mail_to(services.smtp, f"ivan.{RUN}@example.com", containing=issued["url"])
    token = issued["url"].rsplit("/", 1)[-1]
    async with httpx.AsyncClient(base_url=services.url("feedback"), timeout=30) as http:
        answer = await http.post(f"/v1/surveys/{token}/responses", json={"score": 5})
    assert answer.status_code in (200, 201), answer.text
    recorded, _ = await recorder.wait_for("opora.survey.response-recorded.v1", by_ticket)
    assert recorded["score"] == 5

    async with AsyncMongoClient(infra.mongodb_uri) as client:
        stored = await client[services.database_of("feedback")]["survey_responses"].find_one(
            {"ticket_id": ticket_id}
        )
    assert stored is not None
    assert stored["score"] == 5

    # One trace from the HTTP request through every Kafka hop it caused.
    request_trace = trace_id(opened_headers)
    assert {trace_id(h) for h in (offered_headers, applied_headers, sent_headers)} == {
        request_trace
    }
    await asyncio.sleep(1.0)  # let the last spans reach the exporters' output
    spans = spans_by_service(services)
    in_trace = {
        name
        for name, service_spans in spans.items()
        for span in service_spans
        if span["context"]["trace_id"] == f"0x{request_trace}"
    }
    assert in_trace == {"intake", "routing", "sla", "notifications", "feedback"}
    http_spans = [
        s for s in spans["intake"] if s["kind"] == "SpanKind.SERVER" and s["parent_id"] is None
    ]
    assert any(s["context"]["trace_id"] == f"0x{request_trace}" for s in http_spans)


async def _mail_to(smtp, address: str, containing: str = "", within: float = 30.0):
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for message in smtp.messages:
            if address in str(message["To"]) and containing in _body(message):
                return message
        await asyncio.sleep(0.2)
    raise AssertionError(f"no e-mail to {address} containing {containing!r} in {within:.0f} s")


def _body(message) -> str:
    parts = message.walk() if message.is_multipart() else [message]
    return "\n".join(
        part.get_payload(decode=True).decode(part.get_content_charset() or "utf-8")
        for part in parts
        if part.get_content_type() in ("text/plain", "text/html")
    )
