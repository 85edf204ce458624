"""The interfaces feedback's use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from opora_shared.contracts.feedback import SurveyType
from opora_shared.contracts.tickets import TicketOpenedV1

from opora_feedback.domain.model import Survey, SurveyResponse, TicketFacts


class SurveyTokens(Protocol):
    def sign(self, survey_id: str) -> str: ...

    def verify(self, token: str) -> str:
        """The survey id; raises ``InvalidTokenError`` or ``ExpiredTokenError``."""
        ...


class TicketFactsStore(Protocol):
    async def record_opened(self, event: TicketOpenedV1) -> None:
        """Upsert what the opening tells (idempotent)."""
        ...

    async def record_assignment(
        self, ticket_id: str, *, agent_id: str, team: str | None, assigned_at: datetime
    ) -> None:
        """Upsert the assignee unless a later assignment is stored already."""
        ...

    async def get(self, ticket_id: str) -> TicketFacts | None: ...


class SurveyStore(Protocol):
    async def add(self, survey: Survey) -> Survey:
        """Store ``survey`` unless one with its id exists (unique key); return the stored one."""
        ...

    async def get(self, survey_id: str) -> Survey | None: ...


class ResponseStore(Protocol):
    async def get(self, survey_id: str) -> SurveyResponse | None: ...

    async def save(self, response: SurveyResponse, *, survey: Survey) -> None:
        """Insert revision 1, or replace revision ``n - 1`` with ``n``; raises
        ``ConcurrentEditError`` when the stored revision is not the one expected."""
        ...

    async def count(self, survey_type: SurveyType, *, min_score: int | None = None) -> int: ...
