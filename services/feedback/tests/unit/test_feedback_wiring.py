"""The whole service in memory (TestKafkaBroker): ticket and routing records in, invitations,
answers and detractors out, bad records dead-lettered, rollups fed from its own events."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker
from opora_feedback.config import Settings
from opora_feedback.main import create_app
from opora_shared.contracts.common import Channel
from opora_shared.contracts.feedback import (
    DetractorFoundV1,
    SurveyAnswerReceivedV1,
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
)
from opora_shared.contracts.topics import TICKETS
from opora_shared.testing import deliver

from ..conftest import NOW, STAFF


async def test_a_solved_ticket_gets_one_invitation_however_often_the_solve_arrives(
    broker, published, events
):
    await deliver(broker, events.ticket_opened())
    await deliver(broker, events.ticket_assigned(agent_id="anna"))
    await deliver(broker, events.status_changed())
    await deliver(broker, events.status_changed())

    assert [type(e) for e in published] == [SurveyIssuedV1, SurveyIssuedV1]
    assert published[0] == published[1]
    assert published[0].agent_id == "anna"
    assert published[0].url.startswith("https://opora.test/s/")


async def test_an_answer_through_the_api_is_published_without_its_comment(
    client, issue_survey, published
):
    token = await issue_survey()

    created = await client.post(
        f"/v1/surveys/{token}/responses", json={"score": 2, "comment": "Долго ждал"}
    )

    assert created.status_code == 201
    recorded, detractor = published[1:]
    assert isinstance(recorded, SurveyResponseRecordedV1)
    assert isinstance(detractor, DetractorFoundV1)
    assert recorded.has_comment is True
    assert "Долго ждал" not in recorded.model_dump_json() + detractor.model_dump_json()


async def test_a_text_message_answer_from_intake_is_recorded(
    broker, issue_survey, adapters, published
):
    await issue_survey(channel=Channel.SMS)

    await deliver(
        broker,
        SurveyAnswerReceivedV1(
            ticket_id="t-1",
            channel=Channel.SMS,
            source_message_id="sms-77",
            received_at=NOW + timedelta(minutes=3),
            score=5,
        ),
    )

    assert adapters.responses.current["t-1:csat"].via == "sms"
    assert isinstance(published[-1], SurveyResponseRecordedV1)


async def test_an_answer_for_a_ticket_without_a_survey_is_dead_lettered_with_the_reason(app):
    dead: list[dict[str, str]] = []

    @app.state.broker.subscriber(TICKETS.dead_letter, group_id="test-dlq")
    async def keep(body: dict, message: KafkaMessage) -> None:
        dead.append(dict(message.headers))

    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(
            broker,
            SurveyAnswerReceivedV1(
                ticket_id="nobody",
                channel=Channel.SMS,
                source_message_id="sms-1",
                received_at=NOW,
                score=5,
            ),
        )

    assert len(dead) == 1
    assert "no survey was issued" in dead[0]["dlq_reason"]


async def test_the_rollup_consumer_counts_an_issued_survey(settings, adapters, events):
    app = create_app(settings.model_copy(update={"rollups": True}), adapters=adapters)
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, events.ticket_opened())
        await deliver(broker, events.status_changed())
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
            report = await client.get(
                "/v1/reports", params={"from": "2026-02-28", "to": "2026-02-28"}, headers=STAFF
            )

    assert report.json()["total"]["csat_issued"] == 1
    assert report.json()["total"]["ces_issued"] == 1


def test_the_service_refuses_to_start_without_a_token_secret(monkeypatch) -> None:
    monkeypatch.delenv("OPORA_FEEDBACK_TOKEN_SECRET", raising=False)

    with pytest.raises(ValueError, match="token_secret"):
        Settings()


def test_the_service_refuses_to_start_with_broken_rules(settings, adapters, tmp_path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("version: 1\nrules: []\n", encoding="utf-8")

    with pytest.raises(ValueError, match="rules"):
        create_app(settings.model_copy(update={"rules_file": broken}), adapters=adapters)
