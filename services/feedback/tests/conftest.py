"""In-memory fakes of feedback's ports, shared by its tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opora_feedback.adapters.tokens import SignedSurveyTokens
from opora_feedback.domain.model import (
    ConcurrentEditError,
    Survey,
    SurveyPolicy,
    SurveyResponse,
    TicketFacts,
)
from opora_shared.contracts.common import Channel, CustomerRef, RequestType, TicketStatus
from opora_shared.contracts.feedback import SurveyType
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.testing import FixedClock, RecordingPublisher
from pydantic import SecretStr

SECRET = SecretStr("test-secret-for-survey-links")


class FakeFacts:
    def __init__(self) -> None:
        self.tickets: dict[str, TicketFacts] = {}
        self.assigned_at: dict[str, datetime] = {}

    async def record_opened(self, event: TicketOpenedV1) -> None:
        known = self.tickets.get(event.ticket_id, TicketFacts(event.ticket_id))
        self.tickets[event.ticket_id] = TicketFacts(
            ticket_id=event.ticket_id,
            number=event.number,
            channel=event.channel,
            request_type=event.request_type,
            customer=event.customer,
            language=event.language,
            agent_id=known.agent_id,
            team=known.team,
        )

    async def record_assignment(self, ticket_id, *, agent_id, team, assigned_at) -> None:
        if ticket_id in self.assigned_at and self.assigned_at[ticket_id] > assigned_at:
            return
        self.assigned_at[ticket_id] = assigned_at
        known = self.tickets.get(ticket_id, TicketFacts(ticket_id))
        self.tickets[ticket_id] = TicketFacts(
            **{**known.__dict__, "agent_id": agent_id, "team": team}
        )

    async def get(self, ticket_id: str) -> TicketFacts | None:
        return self.tickets.get(ticket_id)


class FakeSurveys:
    def __init__(self) -> None:
        self.surveys: dict[str, Survey] = {}

    async def add(self, survey: Survey) -> Survey:
        return self.surveys.setdefault(survey.survey_id, survey)

    async def get(self, survey_id: str) -> Survey | None:
        return self.surveys.get(survey_id)


class FakeResponses:
    def __init__(self) -> None:
        self.responses: dict[str, SurveyResponse] = {}

    async def get(self, survey_id: str) -> SurveyResponse | None:
        return self.responses.get(survey_id)

    async def save(self, response: SurveyResponse, *, survey: Survey) -> None:
        stored = self.responses.get(response.survey_id)
        expected = None if response.revision == 1 else response.revision - 1
        if (stored.revision if stored else None) != expected:
            raise ConcurrentEditError(response.survey_id)
        self.responses[response.survey_id] = response

    async def count(self, survey_type: SurveyType, *, min_score: int | None = None) -> int:
        return sum(
            1
            for r in self.responses.values()
            if r.survey_type is survey_type and (min_score is None or r.score >= min_score)
        )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 2, 28, 9, 30, tzinfo=UTC))


@pytest.fixture
def policy() -> SurveyPolicy:
    return SurveyPolicy(
        public_base_url="https://opora.test/",
        token_ttl=timedelta(days=28),
        edit_window=timedelta(days=14),
    )


@pytest.fixture
def tokens(clock, policy) -> SignedSurveyTokens:
    return SignedSurveyTokens(SECRET, ttl=policy.token_ttl, clock=clock)


@pytest.fixture
def facts() -> FakeFacts:
    return FakeFacts()


@pytest.fixture
def surveys() -> FakeSurveys:
    return FakeSurveys()


@pytest.fixture
def responses() -> FakeResponses:
    return FakeResponses()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


def opened(ticket_id: str = "t-1", *, name: str = "Иван Петров", language: str = "ru"):
    return TicketOpenedV1(
        event_id=f"opened-{ticket_id}",
        ticket_id=ticket_id,
        number="OP-000123",
        channel=Channel.MESSENGER,
        customer=CustomerRef(
            customer_id="c-1", name=name, email="ivan@example.com", language=language
        ),
        request_type=RequestType.WARRANTY,
        language=language,
        source_message_id="m-1",
    )


def assigned(ticket_id: str = "t-1", *, agent_id: str = "anna", at: datetime | None = None):
    return TicketAssignedV1(
        ticket_id=ticket_id,
        queue="warranty",
        agent_id=agent_id,
        team="appliances",
        occurred_at=at or datetime(2026, 2, 27, 10, tzinfo=UTC),
    )


def status_changed(ticket_id: str = "t-1", status: TicketStatus = TicketStatus.SOLVED):
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
