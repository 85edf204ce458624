"""An in-memory fake of routing's repository (same conditional semantics), and a publisher."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from opora_routing.domain.model import Agent, Routing, RoutingState, Ticket
from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.contracts.workspace import AgentProfileChangedV1, Presence
from opora_shared.testing import RecordingPublisher

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class FakeRepository:
    def __init__(self) -> None:
        self.agent_state: dict[str, Agent] = {}
        self.routings: dict[str, Routing] = {}
        self.fail_claims = False

    async def save_profile(self, profile: AgentProfileChangedV1) -> None:
        current = self.agent_state.get(profile.agent_id, Agent(profile.agent_id))
        self.agent_state[profile.agent_id] = replace(
            current,
            name=profile.name,
            skills=dict(profile.skills),
            languages=tuple(profile.languages),
            teams=tuple(profile.teams),
            capacity=dict(profile.capacity),
            revision=current.revision + 1,
        )

    async def set_presence(self, agent_id: str, presence: Presence) -> None:
        current = self.agent_state.get(agent_id, Agent(agent_id))
        self.agent_state[agent_id] = replace(current, presence=presence)

    async def agents(self) -> list[Agent]:
        return [self.agent_state[k] for k in sorted(self.agent_state)]

    async def reserve(self, agent: Agent, ticket: Ticket, at: datetime) -> bool:
        stored = self.agent_state[agent.agent_id]
        if (
            stored.presence is not Presence.ONLINE
            or stored.revision != agent.revision
            or ticket.ticket_id in stored.active
            or stored.load.get(ticket.channel, 0) >= agent.capacity_for(ticket.channel)
        ):
            return False
        self.agent_state[agent.agent_id] = stored.with_ticket(ticket.ticket_id, ticket.channel, at)
        return True

    async def release(self, agent_id: str, ticket: Ticket) -> bool:
        stored = self.agent_state[agent_id]
        if ticket.ticket_id not in stored.active:
            return False
        load = dict(stored.load)
        load[ticket.channel] -= 1
        self.agent_state[agent_id] = replace(
            stored, load=load, active=stored.active - {ticket.ticket_id}
        )
        return True

    async def track(self, ticket: Ticket) -> Routing:
        return self.routings.setdefault(ticket.ticket_id, Routing(ticket))

    async def get(self, ticket_id: str) -> Routing | None:
        return self.routings.get(ticket_id)

    async def find(self, ticket_ids: Iterable[str]) -> dict[str, Routing]:
        return {t: self.routings[t] for t in ticket_ids if t in self.routings}

    async def waiting(self) -> list[Routing]:
        return [r for r in self.routings.values() if r.state is RoutingState.WAITING]

    async def unannounced(self) -> list[Routing]:
        return [
            r
            for r in self.routings.values()
            if r.state is RoutingState.ASSIGNED and not r.announced
        ]

    async def claim(
        self, ticket_id: str, agent_id: str, team: str | None, at: datetime
    ) -> Routing | None:
        routing = self.routings[ticket_id]
        if self.fail_claims:
            raise ConnectionError("simulated crash after the reservation")
        if routing.state is not RoutingState.WAITING:
            return None
        self.routings[ticket_id] = replace(
            routing,
            state=RoutingState.ASSIGNED,
            agent_id=agent_id,
            team=team,
            assigned_at=at,
            announced=False,
        )
        return self.routings[ticket_id]

    async def mark_announced(self, ticket_id: str) -> None:
        self.routings[ticket_id] = replace(self.routings[ticket_id], announced=True)

    async def close(self, ticket_id: str) -> Routing | None:
        before = self.routings.get(ticket_id)
        if before is not None:
            self.routings[ticket_id] = replace(before, state=RoutingState.CLOSED)
        return before


def profile(
    agent_id: str,
    *,
    skills: dict[str, int] | None = None,
    languages: tuple[str, ...] = ("ru", "en"),
    capacity: dict[Channel, int] | None = None,
    teams: tuple[str, ...] = ("tier1",),
) -> AgentProfileChangedV1:
    return AgentProfileChangedV1(
        agent_id=agent_id,
        name=agent_id.title(),
        skills={"warranty": 3} if skills is None else skills,
        languages=languages,
        teams=teams,
        capacity={Channel.CHAT: 2} if capacity is None else capacity,
    )


def opened(
    ticket_id: str,
    *,
    minutes: int = 0,
    channel: Channel = Channel.CHAT,
    request_type: RequestType = RequestType.WARRANTY,
    priority: Priority = Priority.NORMAL,
    language: str = "ru",
) -> TicketOpenedV1:
    return TicketOpenedV1(
        event_id=f"evt-{ticket_id}",
        occurred_at=T0 + timedelta(minutes=minutes),
        ticket_id=ticket_id,
        number=f"OP-{ticket_id}",
        channel=channel,
        customer={"customer_id": "cus-1"},
        request_type=request_type,
        priority=priority,
        language=language,
        source_message_id=f"msg-{ticket_id}",
    )


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()
