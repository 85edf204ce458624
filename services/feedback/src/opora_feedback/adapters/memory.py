"""In-memory adapters with the MongoDB ones' semantics (unique keys, revisions only forwards,
rollup offsets and versions): the unit tests run the use cases and the wiring on them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime

from opora_shared.contracts.feedback import DetractorFoundV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketUpdatedV1

from opora_feedback.domain.model import ConcurrentEditError, Survey, SurveyResponse, TicketFacts
from opora_feedback.domain.rollups import Node, Positioned, by_node, fold


class MemoryTicketFacts:
    def __init__(self) -> None:
        self.tickets: dict[str, TicketFacts] = {}
        self.assigned_at: dict[str, datetime] = {}

    async def record_opened(self, event: TicketOpenedV1) -> None:
        known = self.tickets.get(event.ticket_id, TicketFacts(event.ticket_id))
        self.tickets[event.ticket_id] = replace(
            known,
            number=event.number,
            channel=event.channel,
            request_type=known.request_type or event.request_type,
            customer=event.customer,
            language=event.language,
        )

    async def record_updated(self, event: TicketUpdatedV1) -> None:
        known = self.tickets.get(event.ticket_id, TicketFacts(event.ticket_id))
        self.tickets[event.ticket_id] = replace(
            known,
            request_type=event.request_type or known.request_type,
            language=event.language or known.language,
        )

    async def record_assignment(
        self, ticket_id: str, *, agent_id: str, team: str | None, assigned_at: datetime
    ) -> None:
        if ticket_id in self.assigned_at and self.assigned_at[ticket_id] > assigned_at:
            return
        self.assigned_at[ticket_id] = assigned_at
        known = self.tickets.get(ticket_id, TicketFacts(ticket_id))
        self.tickets[ticket_id] = replace(known, agent_id=agent_id, team=team)

    async def get(self, ticket_id: str) -> TicketFacts | None:
        return self.tickets.get(ticket_id)


class MemorySurveys:
    def __init__(self) -> None:
        self.surveys: dict[str, Survey] = {}

    async def add(self, survey: Survey) -> Survey:
        return self.surveys.setdefault(survey.ticket_id, survey)

    async def get(self, ticket_id: str) -> Survey | None:
        return self.surveys.get(ticket_id)


class MemoryResponses:
    def __init__(self) -> None:
        self.revisions: dict[tuple[str, int], SurveyResponse] = {}
        self.current: dict[str, SurveyResponse] = {}
        self.attribution: dict[str, Survey] = {}

    async def get(self, response_id: str) -> SurveyResponse | None:
        return self.current.get(response_id)

    async def settle(self, response: SurveyResponse, *, survey: Survey) -> None:
        current = self.current.get(response.response_id)
        if current is None or current.revision < response.revision:
            self.current[response.response_id] = response

    async def revision(self, response_id: str, revision: int) -> SurveyResponse | None:
        return self.revisions.get((response_id, revision))

    async def save(self, response: SurveyResponse, *, survey: Survey) -> None:
        key = (response.response_id, response.revision)
        if key in self.revisions:
            revision = response.revision
            while (response.response_id, revision + 1) in self.revisions:
                revision += 1
            await self.settle(self.revisions[(response.response_id, revision)], survey=survey)
            raise ConcurrentEditError(response.response_id)
        self.revisions[key] = response
        self.attribution[response.response_id] = survey
        current = self.current.get(response.response_id)
        if current is None or current.revision < response.revision:
            self.current[response.response_id] = response

    async def for_ticket(self, ticket_id: str) -> list[SurveyResponse]:
        found = [r for r in self.current.values() if r.ticket_id == ticket_id]
        return sorted(found, key=lambda r: r.survey_type.value)

    async def for_agent(
        self, agent_id: str, *, since: datetime, until: datetime, limit: int
    ) -> list[SurveyResponse]:
        found = [
            r
            for rid, r in self.current.items()
            if self.attribution[rid].issued.agent_id == agent_id and since <= r.updated_at < until
        ]
        return sorted(found, key=lambda r: r.updated_at, reverse=True)[:limit]

    async def forget_comment(self, response_id: str, revision: int) -> None:
        key = (response_id, revision)
        if key in self.revisions:
            self.revisions[key] = replace(self.revisions[key], comment=None)
        current = self.current.get(response_id)
        if current is not None and current.revision == revision:
            self.current[response_id] = replace(current, comment=None)


class MemoryTaskQueue:
    def __init__(self) -> None:
        self.tasks: dict[str, datetime] = {}

    async def put(self, key: str, due_at: datetime) -> None:
        self.tasks[key] = due_at

    async def due(self, now: datetime, limit: int) -> list[str]:
        ready = sorted((at, key) for key, at in self.tasks.items() if at <= now)
        return [key for _, key in ready[:limit]]

    async def done(self, key: str) -> None:
        self.tasks.pop(key, None)


class MemoryDetractors:
    def __init__(self) -> None:
        self.claimed: dict[str, DetractorFoundV1] = {}

    async def claim(self, event: DetractorFoundV1) -> DetractorFoundV1:
        return self.claimed.setdefault(event.survey_id, event)


class MemoryRollups:
    def __init__(self) -> None:
        self.claims: dict[str, tuple[int, int]] = {}
        self.nodes: dict[str, Node] = {}

    async def admit(self, entries: Sequence[tuple[str, Positioned]]) -> list[Positioned]:
        admitted = []
        for key, entry in entries:
            position = (entry.partition, entry.offset)
            if self.claims.setdefault(key, position) == position:
                admitted.append(entry)
        return admitted

    async def fold(self, entries: Iterable[Positioned]) -> int:
        changed = 0
        for node_id, node_entries in by_node(entries).items():
            node = self.nodes.get(node_id) or Node(node_id)
            if fold(node, node_entries):
                node.version += 1
                self.nodes[node_id] = node
                changed += 1
        return changed

    async def read(self, node_ids: Sequence[str]) -> dict[str, Node]:
        return {n: self.nodes[n] for n in node_ids if n in self.nodes}
