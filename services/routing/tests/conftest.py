"""An in-memory fake of routing's repository (same conditional semantics), and a publisher."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from opora_routing.domain.model import (
    NO_CROSS_CHANNEL_LIMIT,
    Agent,
    CapacityPolicy,
    Requirement,
    Routing,
    RoutingState,
    Ticket,
)
from opora_routing.domain.service import Desk, Escalation, Placement
from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.contracts.workspace import AgentProfileChangedV1, Presence
from opora_shared.testing import FixedClock, RecordingPublisher

T0 = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)


class FakeRepository:
    def __init__(self) -> None:
        self.agent_state: dict[str, Agent] = {}
        self.routings: dict[str, Routing] = {}
        self.histories: dict[str, list[dict[str, Any]]] = {}
        self.fail_changes = False
        self.overtaken = 0
        """How many next changes find that another replica changed the record just before."""

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
            or stored.load_version != agent.load_version
            or ticket.ticket_id in stored.active
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
            stored,
            load=load,
            active=stored.active - {ticket.ticket_id},
            load_version=stored.load_version + 1,
        )
        return True

    async def track(self, ticket: Ticket, next_step_at: datetime | None) -> Routing:
        if ticket.ticket_id not in self.routings:
            self.routings[ticket.ticket_id] = Routing(ticket, next_step_at=next_step_at)
            self.histories[ticket.ticket_id] = [{"at": ticket.opened_at, "what": "queued"}]
        return self.routings[ticket.ticket_id]

    async def get(self, ticket_id: str) -> Routing | None:
        return self.routings.get(ticket_id)

    async def find(self, ticket_ids: Iterable[str]) -> dict[str, Routing]:
        return {t: self.routings[t] for t in ticket_ids if t in self.routings}

    async def waiting(self) -> list[Routing]:
        return [r for r in self.routings.values() if r.state is RoutingState.WAITING]

    async def in_state(self, state: RoutingState, agent_id: str | None = None) -> list[Routing]:
        return [
            r
            for r in self.routings.values()
            if r.state is state and (agent_id is None or r.agent_id == agent_id)
        ]

    async def with_timers(self) -> list[Routing]:
        return [
            r
            for r in self.routings.values()
            if r.state is RoutingState.OFFERED
            or (r.state is RoutingState.WAITING and r.next_step_at is not None)
        ]

    async def unannounced(self) -> list[Routing]:
        return [
            r
            for r in self.routings.values()
            if r.state in (RoutingState.OFFERED, RoutingState.ASSIGNED) and not r.announced
        ]

    async def change(
        self,
        routing: Routing,
        *,
        history: dict[str, Any] | None = None,
        ticket: Ticket | None = None,
        **fields: Any,
    ) -> Routing | None:
        if self.fail_changes:
            raise ConnectionError("simulated crash after the reservation")
        current = self.routings[routing.ticket.ticket_id]
        if self.overtaken:
            self.overtaken -= 1
            self.routings[routing.ticket.ticket_id] = replace(current, version=current.version + 1)
            return None
        if current.version != routing.version:
            return None
        updated = replace(current, **fields, version=current.version + 1)
        if ticket is not None:
            updated = replace(updated, ticket=ticket)
        self.routings[routing.ticket.ticket_id] = updated
        if history is not None:
            self.histories[routing.ticket.ticket_id].append(history)
        return updated

    async def history(self, ticket_id: str) -> list[dict[str, Any]]:
        return list(self.histories.get(ticket_id, []))

    async def mark_announced(self, routing: Routing) -> None:
        current = self.routings[routing.ticket.ticket_id]
        if current.version == routing.version:
            self.routings[routing.ticket.ticket_id] = replace(current, announced=True)


class FakeTimers:
    """Records what is scheduled; tests fire timers by hand."""

    def __init__(self) -> None:
        self.planned: dict[str, tuple[datetime, Any]] = {}

    def schedule(self, key: str, when: datetime, action: Any) -> None:
        self.planned[key] = (when, action)

    def cancel(self, key: str) -> None:
        self.planned.pop(key, None)

    async def fire(self, key: str) -> None:
        _, action = self.planned.pop(key)
        await action()


@dataclass(frozen=True)
class StaticRules:
    """Rules for unit tests: one queue per request type, the ticket's skill at ≥ 1, then any
    agent after ``relax_after``; offers lapse after ``timeout``."""

    capacity: CapacityPolicy = NO_CROSS_CHANNEL_LIMIT
    strategy: str = "most_spare"
    return_open_tickets_on_offline: bool = False
    timeout: timedelta = timedelta(seconds=60)
    relax_after: timedelta | None = None

    def place(self, ticket: Ticket, waited: timedelta) -> Placement:
        relaxed = self.relax_after is not None and waited >= self.relax_after
        skills = {} if relaxed else {ticket.request_type.value: 1}
        return Placement(
            rule_id="test-rule",
            rule_version="test-1",
            step=1 if relaxed else 0,
            requirement=Requirement(
                queue=ticket.request_type.value, skills=skills, language=ticket.language
            ),
            next_step_in=None if relaxed else self.relax_after,
            why="any agent" if relaxed else f"{ticket.request_type.value} ≥ 1",
        )

    def offer_timeout(self, channel: Channel) -> timedelta:
        return self.timeout

    def escalate(self, ticket: Ticket, kind: str) -> Escalation:
        if kind == "breach":
            return Escalation(Priority.URGENT, "escalations", None, "SLA breached")
        ranks = list(Priority)
        raised = ranks[min(ranks.index(ticket.priority) + 1, len(ranks) - 1)]
        return Escalation(raised, None, None, "SLA warning")


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


@pytest.fixture
def timers() -> FakeTimers:
    return FakeTimers()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def desk(repo, publisher, timers, clock) -> Desk:
    return Desk(repo=repo, publisher=publisher, rules=StaticRules(), timers=timers, now=clock)
