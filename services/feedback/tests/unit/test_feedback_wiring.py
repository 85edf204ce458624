"""The whole service in memory: ticket and routing records in, surveys and answers out."""

from __future__ import annotations

import httpx
import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker
from opora_feedback.config import Settings
from opora_feedback.main import Adapters, create_app
from opora_shared.contracts.topics import FEEDBACK
from opora_shared.testing import deliver


@pytest.fixture
def app(facts, surveys, responses, clock):
    settings = Settings(
        token_secret="wiring-test-secret-0123456789",
        public_base_url="https://opora.test",
    )
    return create_app(
        settings, adapters=Adapters(facts=facts, surveys=surveys, responses=responses, clock=clock)
    )


@pytest.fixture
def published(app):
    """What the service publishes on feedback.events.v1, as (ce_type, ce_id, body)."""
    seen: list[tuple[str, str, dict]] = []

    @app.state.broker.subscriber(FEEDBACK.name, group_id="test-observer")
    async def observe(body: dict, message: KafkaMessage) -> None:
        seen.append((message.headers["ce_type"], message.headers["ce_id"], body))

    return seen


async def test_a_solved_ticket_gets_one_survey_however_often_the_solve_arrives(
    app, published, events
):
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, events.ticket_opened())
        await deliver(broker, events.ticket_assigned(agent_id="anna"))
        await deliver(broker, events.status_changed())
        await deliver(broker, events.status_changed())

    assert [t for t, _, _ in published] == ["opora.survey.issued.v1"] * 2
    assert published[0][1] == published[1][1]
    body = published[0][2]
    assert body["agent_id"] == "anna"
    assert body["url"].startswith("https://opora.test/s/")


async def test_an_answer_through_the_api_is_published_without_its_comment(app, published, events):
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, events.ticket_opened())
        await deliver(broker, events.status_changed())
        token = published[0][2]["url"].rsplit("/s/", 1)[1]
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
            created = await client.post(
                f"/v1/surveys/{token}/responses", json={"score": 2, "comment": "Долго ждал"}
            )
            report = await client.get("/v1/reports/csat")

    assert created.status_code == 201
    assert created.json()["revision"] == 1
    types = [t for t, _, _ in published]
    assert types[1:] == ["opora.survey.response-recorded.v1", "opora.survey.detractor-found.v1"]
    assert published[1][2]["has_comment"] is True
    assert "Долго ждал" not in str(published[1][2])
    assert report.json() == {"responses": 1, "satisfied": 0, "csat_percent": 0.0}


async def test_a_forged_token_is_refused_by_the_api(app) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        response = await client.post("/v1/surveys/forged.token/responses", json={"score": 5})

    assert response.status_code == 404
    assert "not valid" in response.json()["detail"]


def test_the_service_refuses_to_start_without_a_token_secret(monkeypatch) -> None:
    monkeypatch.delenv("OPORA_FEEDBACK_TOKEN_SECRET", raising=False)

    with pytest.raises(ValueError, match="token_secret"):
        Settings()
