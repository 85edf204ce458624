"""A customer answers the survey by texting a digit back, through the five running services.

An SMS opens a ticket in intake; an agent solves it; feedback issues the survey and intake
keeps the invitation. The customer then texts "2 - …": intake recognises the answer and
publishes ``SurveyAnswerReceivedV1`` instead of reopening the ticket, and feedback records it
as an SMS answer, in MongoDB and on its topic.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from opora_intake.adapters.repository import MongoRepository
from opora_shared.contracts.common import CustomerContact
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyResponseRecordedV1
from opora_shared.contracts.inbound import InboundSmsV1
from opora_shared.contracts.topics import FEEDBACK
from opora_shared.testing import KafkaTail
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.e2e

RUN = uuid.uuid4().hex[:8]
PHONE = f"+7916{int(RUN, 16) % 10**7:07d}"


def sms(n: int, text: str, at: datetime) -> InboundSmsV1:
    return InboundSmsV1(
        source_message_id=f"e2e-sms-{RUN}-{n}",
        conversation_id=PHONE,
        received_at=at,
        customer=CustomerContact(phone=PHONE),
        text=text,
    )


async def invitation_kept(services, infra, customer_id: str, at: datetime) -> None:
    """intake reads the invitation from feedback's topic on its own time: wait until it has."""
    deadline = time.monotonic() + 30
    async with AsyncMongoClient(infra.mongodb_uri, tz_aware=True) as client:
        intake = MongoRepository(client[services.database_of("intake")])
        while not await intake.open_invitations([customer_id], at):
            assert time.monotonic() < deadline, "intake never kept the survey invitation"
            await asyncio.sleep(0.2)


async def test_a_digit_texted_back_is_recorded_by_feedback(services, infra) -> None:
    headers = {"x-api-key": services.intake_api_key or ""}
    async with (
        KafkaTail(infra.bootstrap_servers, FEEDBACK.name) as tail,
        httpx.AsyncClient(base_url=services.url("intake"), headers=headers, timeout=30) as intake,
    ):
        question = sms(1, "Здравствуйте, когда привезут заказ 40598812?", datetime.now(UTC))
        opened = await intake.post("/v1/inbound/sms", json=question.model_dump(mode="json"))
        assert opened.status_code == 201, opened.text
        ticket_id = opened.json()["ticket_id"]
        solved = {"ticket_id": ticket_id, "agent_id": f"e2e-agent-{RUN}", "status": "solved"}
        assert (await intake.post("/v1/workspace/status", json=solved)).status_code == 200

        def about(kind: type[Any]) -> Callable[[Any], bool]:
            return lambda s: isinstance(s.event, kind) and s.event.ticket_id == ticket_id

        (issued,) = await tail.wait_for(about(SurveyIssuedV1), timeout_s=60)
        assert isinstance(issued.event, SurveyIssuedV1)
        # The reply comes once the invitation is due (feedback may delay it after the solve).
        answered_at = max(datetime.now(UTC), issued.event.send_after) + timedelta(seconds=1)
        await invitation_kept(services, infra, issued.event.customer.customer_id, answered_at)

        reply = await intake.post(
            "/v1/inbound/sms",
            json=sms(2, "2 - долго ждали", answered_at).model_dump(mode="json"),
        )
        (recorded,) = await tail.wait_for(about(SurveyResponseRecordedV1), timeout_s=60)

    assert reply.status_code == 200, reply.text
    assert (reply.json()["ticket_id"], reply.json()["survey_answer"]) == (ticket_id, True)
    assert isinstance(recorded.event, SurveyResponseRecordedV1)
    assert (recorded.event.score, recorded.event.answered_via) == (2, "sms")
    async with AsyncMongoClient(infra.mongodb_uri) as client:
        stored = await client[services.database_of("feedback")]["survey_responses"].find_one(
            {"_id": f"{ticket_id}:csat"}
        )
    assert stored is not None
    assert (stored["score"], stored["comment"], stored["via"]) == (2, "долго ждали", "sms")
