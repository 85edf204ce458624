"""The interfaces feedback's use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from opora_shared.contracts.feedback import DetractorFoundV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketUpdatedV1

from opora_feedback.domain.model import Survey, SurveyResponse, TicketFacts
from opora_feedback.domain.rollups import Node, Positioned


class SurveyTokens(Protocol):
    def sign(self, ticket_id: str) -> str: ...

    def verify(self, token: str) -> str:
        """The ticket id; raises ``InvalidTokenError`` or ``ExpiredTokenError``."""
        ...


class TicketFactsStore(Protocol):
    async def record_opened(self, event: TicketOpenedV1) -> None:
        """Upsert what the opening tells (idempotent)."""
        ...

    async def record_updated(self, event: TicketUpdatedV1) -> None:
        """Upsert the request type and language when they changed (idempotent)."""
        ...

    async def record_assignment(
        self, ticket_id: str, *, agent_id: str, team: str | None, assigned_at: datetime
    ) -> None:
        """Upsert the assignee unless a later assignment is stored already."""
        ...

    async def get(self, ticket_id: str) -> TicketFacts | None: ...


class SurveyStore(Protocol):
    async def add(self, survey: Survey) -> Survey:
        """Store the ticket's invitation unless it has one (a unique key); return the stored."""
        ...

    async def get(self, ticket_id: str) -> Survey | None: ...


class ResponseStore(Protocol):
    async def get(self, response_id: str) -> SurveyResponse | None:
        """The current answer (its latest revision but for a writer's crash, see ``save``)."""
        ...

    async def save(self, response: SurveyResponse, *, survey: Survey) -> None:
        """Claim revision n (a unique key) and make it the current answer; when revision n
        exists already, bring the current answer up to the latest revision and raise
        ``ConcurrentEditError``."""
        ...

    async def settle(self, response: SurveyResponse, *, survey: Survey) -> None:
        """Make a stored revision the current answer unless a later one is."""
        ...

    async def revision(self, response_id: str, revision: int) -> SurveyResponse | None: ...

    async def for_ticket(self, ticket_id: str) -> list[SurveyResponse]: ...

    async def for_agent(
        self, agent_id: str, *, since: datetime, until: datetime, limit: int
    ) -> list[SurveyResponse]: ...

    async def forget_comment(self, response_id: str, revision: int) -> None:
        """Remove the comment's text from that revision, and from the current answer if it is
        still that revision; scores and everything else stay."""
        ...


class TaskQueue(Protocol):
    """A small collection of keyed pending work with a due time (the outbox, comment expiry)."""

    async def put(self, key: str, due_at: datetime) -> None: ...

    async def due(self, now: datetime, limit: int) -> list[str]: ...

    async def done(self, key: str) -> None: ...


class DetractorStore(Protocol):
    async def claim(self, event: DetractorFoundV1) -> DetractorFoundV1:
        """The invitation's detractor: ``event`` when it is the first, else the one stored."""
        ...


class RollupStore(Protocol):
    async def admit(self, entries: Sequence[tuple[str, Positioned]]) -> list[Positioned]:
        """The entries not counted before: each is claimed by its key (a survey's issue, an
        answer's revision); an entry whose key another record claimed is a duplicate."""
        ...

    async def fold(self, entries: Iterable[Positioned]) -> int:
        """Add the entries to every node they touch, each node once; the nodes changed."""
        ...

    async def read(self, node_ids: Sequence[str]) -> dict[str, Node]: ...
