"""Fixtures shared by feedback's tests: a fixed clock, rules, the in-memory adapters, builders
of the events feedback consumes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from faststream.kafka import KafkaMessage
from opora_feedback.adapters.tokens import SignedSurveyTokens
from opora_feedback.domain import service
from opora_feedback.domain.model import SurveyPolicy
from opora_feedback.domain.rules import SurveyRules, parse_rules
from opora_feedback.main import Adapters
from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.common import Channel, CustomerRef, RequestType, TicketStatus
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.topics import FEEDBACK
from opora_shared.testing import FixedClock, RecordingPublisher
from pydantic import SecretStr

SECRET = SecretStr("test-secret-for-survey-links")
NOW = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)

RULES = """\
version: "test-1"
invitations: {delay_hours: 0}
links: {expire_after_days: 28}
answers: {edit_window_days: 14}
comments: {retention_days: 90}
reports: {timezone: UTC}
csat:
  reasons_up_to: 3
  reasons:
    - {id: slow, en: It took too long, ru: Слишком долго}
    - {id: not-solved, en: My problem is not solved, ru: Проблема не решена}
rules:
  - id: text-messages
    when: {channel: [sms, phone]}
    ask: [csat]
  - id: loyalty
    when: {request_type: [loyalty]}
    ask: [nps, csat]
  - id: fixes
    when: {request_type: [warranty, technical_support]}
    ask: [csat, ces]
  - id: no-survey-for-feedback
    when: {request_type: [feedback]}
    ask: []
  - id: everything-else
    ask: [csat]
"""


@pytest.fixture
def rules() -> SurveyRules:
    return parse_rules(RULES)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(NOW)


@pytest.fixture
def policy(rules) -> SurveyPolicy:
    return SurveyPolicy(public_base_url="https://opora.test/", rules=rules)


@pytest.fixture
def tokens(clock, policy) -> SignedSurveyTokens:
    return SignedSurveyTokens(SECRET, ttl=policy.token_max_age, clock=clock)


@pytest.fixture
def adapters(clock) -> Adapters:
    return Adapters.in_memory(clock)


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def answering(adapters, publisher, policy) -> service.Answering:
    return service.Answering(
        surveys=adapters.surveys,
        responses=adapters.responses,
        detractors=adapters.detractors,
        outbox=adapters.outbox,
        comment_expiry=adapters.comment_expiry,
        publisher=publisher,
        policy=policy,
    )


def opened(
    ticket_id: str = "t-1",
    *,
    name: str = "Иван Петров",
    language: str = "ru",
    request_type: RequestType = RequestType.WARRANTY,
    channel: Channel = Channel.MESSENGER,
) -> TicketOpenedV1:
    return TicketOpenedV1(
        event_id=f"opened-{ticket_id}",
        ticket_id=ticket_id,
        number="OP-000123",
        channel=channel,
        customer=CustomerRef(
            customer_id="c-1", name=name, email="ivan@example.com", language=language
        ),
        request_type=request_type,
        language=language,
        source_message_id=f"m-{ticket_id}",
    )


def assigned(
    ticket_id: str = "t-1",
    *,
    agent_id: str = "anna",
    team: str = "appliances",
    at: datetime | None = None,
) -> TicketAssignedV1:
    return TicketAssignedV1(
        ticket_id=ticket_id,
        queue="warranty",
        agent_id=agent_id,
        team=team,
        occurred_at=at or datetime(2026, 2, 27, 10, tzinfo=UTC),
    )


def status_changed(
    ticket_id: str = "t-1", status: TicketStatus = TicketStatus.SOLVED
) -> TicketStatusChangedV1:
    return TicketStatusChangedV1(
        event_id=f"status-{ticket_id}-{status}", ticket_id=ticket_id, status=status
    )


@pytest.fixture
def events():
    """Builders of the events feedback consumes."""

    class Events:
        ticket_opened = staticmethod(opened)
        ticket_assigned = staticmethod(assigned)
        status_changed = staticmethod(status_changed)

    return Events


@pytest.fixture
def settings(tmp_path):
    """Settings of a feedback app on the test rules, with a staff key."""
    from opora_feedback.config import Settings

    rules_file = tmp_path / "surveys.yaml"
    rules_file.write_text(RULES, encoding="utf-8")
    return Settings(
        token_secret="unit-test-secret-0123456789",
        public_base_url="https://opora.test",
        rules_file=rules_file,
        api_keys={"lead": "lead-key-0123456789"},
        outbox_interval_s=0,
        retention_interval_s=0,
        # TestKafkaBroker gives every record offset 0, which the rollups read as a redelivery:
        # tests that need rollups fold records with real positions themselves.
        rollups=False,
    )


STAFF = {"Authorization": "Bearer lead-key-0123456789"}


@pytest.fixture
def app(settings, adapters):
    from opora_feedback.main import create_app

    return create_app(settings, adapters=adapters)


@pytest.fixture
def published(app) -> list:
    """What the app publishes on feedback.events.v1, decoded, in order."""
    seen: list = []

    @app.state.broker.subscriber(FEEDBACK.name, group_id="test-observer")
    async def observe(body: dict, message: KafkaMessage) -> None:
        seen.append(EVENTS_BY_TYPE[message.headers["ce_type"]].model_validate(body))

    return seen


@pytest.fixture
async def broker(app, published):
    from faststream.kafka import TestKafkaBroker

    async with TestKafkaBroker(app.state.broker) as broker:
        yield broker


@pytest.fixture
async def client(app, broker):
    import httpx

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://feedback") as client:
        yield client


@pytest.fixture
def issue_survey(broker, adapters, events):
    """Open, assign and solve a ticket through Kafka; return its survey link's token."""
    from opora_shared.testing import deliver

    async def issue(ticket_id: str = "t-1", **opening) -> str:
        await deliver(broker, events.ticket_opened(ticket_id, **opening))
        await deliver(broker, events.ticket_assigned(ticket_id))
        await deliver(broker, events.status_changed(ticket_id))
        return adapters.surveys.surveys[ticket_id].issued.url.rsplit("/s/", 1)[1]

    return issue
