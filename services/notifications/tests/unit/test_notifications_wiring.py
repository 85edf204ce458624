"""The whole service in memory: Kafka records in (TestKafkaBroker), e-mails and events out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker
from opora_notifications.adapters.templates import JinjaRenderer
from opora_notifications.config import Settings
from opora_notifications.main import Adapters, create_app
from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyType
from opora_shared.contracts.topics import NOTIFICATIONS
from opora_shared.testing import deliver


@pytest.fixture
def app(store, mailer):
    adapters = Adapters(store=store, mailer=mailer, renderer=JinjaRenderer.load())
    return create_app(Settings(), adapters=adapters)


@pytest.fixture
def outcomes(app):
    """What the service publishes on notifications.events.v1, as (ce_type, ce_id, body)."""
    seen: list[tuple[str, str, dict]] = []

    @app.state.broker.subscriber(NOTIFICATIONS.name, group_id="test-observer")
    async def observe(body: dict, message: KafkaMessage) -> None:
        seen.append((message.headers["ce_type"], message.headers["ce_id"], body))

    return seen


async def test_ticket_opened_sends_one_acknowledgement_however_often_it_arrives(
    app, mailer, outcomes, ticket_opened
):
    event = ticket_opened()
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, event)
        await deliver(broker, event)

    assert len(mailer.sent) == 1
    assert mailer.sent[0].content.subject.startswith("[OP-000123]")
    assert [ce_type for ce_type, _, _ in outcomes] == ["opora.notification.sent.v1"] * 2
    assert outcomes[0][1] == outcomes[1][1]
    assert outcomes[0][2]["recipient_masked"] == "i***@example.com"


async def test_ticket_opened_without_email_sends_nothing(app, mailer, outcomes, ticket_opened):
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, ticket_opened(email=None))

    assert mailer.sent == []
    assert outcomes == []


async def test_survey_issued_sends_the_invitation_with_its_link(app, mailer, outcomes):
    now = datetime(2026, 2, 28, tzinfo=UTC)
    issued = SurveyIssuedV1(
        ticket_id="t-1",
        survey_id="t-1:csat",
        survey_type=SurveyType.CSAT,
        channel=Channel.EMAIL,
        request_type=RequestType.WARRANTY,
        customer=CustomerRef(customer_id="c-1", name="Ivan", email="ivan@example.com"),
        url="https://opora.test/s/signed-token",
        expires_at=now + timedelta(days=28),
        send_after=now,
        language="en",
    )
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, issued)

    (mail,) = mailer.sent
    assert "https://opora.test/s/signed-token" in mail.content.text
    assert outcomes[0][2]["intent"] == "survey.invitation"


async def test_notifications_of_a_ticket_are_listed_with_masked_recipients(app, ticket_opened):
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, ticket_opened(ticket_id="t-9"))
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as client:
        response = await client.get("/v1/notifications", params={"ticket_id": "t-9"})

    assert response.status_code == 200
    (listed,) = response.json()
    assert listed["state"] == "sent"
    assert listed["recipient_masked"] == "i***@example.com"
    assert "ivan.petrov@example.com" not in response.text


async def test_template_preview_renders_the_requested_language(app) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as client:
        response = await client.post(
            "/v1/templates/ticket_acknowledged/preview",
            json={"language": "ru", "context": {"name": "Иван", "number": "OP-7"}},
        )

    assert response.status_code == 200
    assert response.json()["subject"] == "[OP-7] Мы получили ваше обращение"
    assert "Добрый день, Иван" in response.json()["html"]


async def test_preview_of_an_unknown_template_is_404(app) -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as client:
        response = await client.post("/v1/templates/nope/preview", json={})

    assert response.status_code == 404
