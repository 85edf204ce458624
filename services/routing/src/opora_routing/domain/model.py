"""routing's values: agents, tickets and what they require, routing records, deterministic
ids, and the reconciliation of slots a crash left behind. Selection lives in ``selection.py``."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.workspace import Presence

FALLBACK_SKILL = "general"
MIN_PROFICIENCY = 1
DEFAULT_CAPACITY = 1
"""Capacity on every channel for an agent whose profile sets no capacity at all."""

_NAMESPACE = uuid.UUID("0c1d7e52-3f8a-4b6e-9d21-5a7c3e9b1f40")


def derived_id(*parts: str) -> str:
    """A deterministic id, so that a redelivery republishes an event under the same id."""
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def assigned_event_id(ticket_id: str, agent_id: str) -> str:
    return derived_id(ticket_id, "assigned", agent_id)


def offer_id_for(ticket_id: str, agent_id: str, version: int) -> str:
    """The offer's id: the same decision (ticket, agent, record version) gives the same id."""
    return derived_id(ticket_id, "offer", agent_id, str(version))


def queued_event_id(ticket_id: str, version: int = 0) -> str:
    """One id per time the ticket (at that record version) was put in a queue."""
    return derived_id(ticket_id, "queued", str(version))


@dataclass(frozen=True)
class CapacityPolicy:
    """How an agent's per-channel capacities combine (cross-channel concurrency).

    Each channel has its own capacity (the profile's); on top of that ``max_total`` caps the
    items across all channels, and a channel in ``exclusive`` (typically the phone) is taken
    only by an agent with nothing else open, and blocks every other channel while it is held.
    """

    max_total: int | None = None
    exclusive: frozenset[Channel] = frozenset()


NO_CROSS_CHANNEL_LIMIT = CapacityPolicy()


@dataclass(frozen=True)
class Agent:
    agent_id: str
    presence: Presence = Presence.OFFLINE
    name: str = ""
    skills: Mapping[str, int] = field(default_factory=dict)
    languages: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()
    capacity: Mapping[Channel, int] = field(default_factory=dict)
    load: Mapping[Channel, int] = field(default_factory=dict)
    active: frozenset[str] = frozenset()
    last_assigned_at: datetime | None = None
    revision: int = 0
    """Bumped by every profile change; a reservation holds only against the profile it saw."""
    held_since: Mapping[str, datetime] = field(default_factory=dict)
    """When each held slot was reserved (ticket id → time)."""
    load_version: int = 0
    """Bumped by every reservation and release; a reservation holds only against the load it
    saw, so the cross-channel policy is checked on exactly what is stored."""

    @property
    def team(self) -> str | None:
        return self.teams[0] if self.teams else None

    def has_skill(self, skill: str) -> bool:
        return self.skills.get(skill, 0) >= MIN_PROFICIENCY

    def speaks(self, language: str) -> bool:
        if not self.languages:
            return True
        return _primary(language) in {_primary(lang) for lang in self.languages}

    def capacity_for(self, channel: Channel) -> int:
        if not self.capacity:
            return DEFAULT_CAPACITY
        return self.capacity.get(channel, 0)

    def spare(self, channel: Channel, policy: CapacityPolicy = NO_CROSS_CHANNEL_LIMIT) -> int:
        """Free slots on ``channel`` under ``policy``; 0 or less means none."""
        spare = self.capacity_for(channel) - self.load.get(channel, 0)
        total = sum(self.load.values())
        if policy.max_total is not None:
            spare = min(spare, policy.max_total - total)
        if policy.exclusive and total:
            busy_exclusive = any(self.load.get(c, 0) for c in policy.exclusive)
            if busy_exclusive or channel in policy.exclusive:
                return 0
        return spare

    def with_ticket(self, ticket_id: str, channel: Channel, at: datetime) -> Agent:
        """This agent after taking the ticket: what a successful reservation stores."""
        load = dict(self.load)
        load[channel] = load.get(channel, 0) + 1
        return replace(
            self,
            load=load,
            active=self.active | {ticket_id},
            held_since={**self.held_since, ticket_id: at},
            last_assigned_at=at,
            load_version=self.load_version + 1,
        )


@dataclass(frozen=True)
class Requirement:
    """What an agent must have to be offered a ticket at its current routing step."""

    queue: str
    skills: Mapping[str, int] = field(default_factory=dict)
    """Skill → minimum proficiency (1-5); all of them are required."""
    team: str | None = None
    """Only members of this team qualify (None: anyone)."""
    language: str | None = None
    """The agent must speak it (None: any language will do)."""


@dataclass(frozen=True)
class Ticket:
    """What routing needs to know about a ticket."""

    ticket_id: str
    channel: Channel
    request_type: RequestType
    priority: Priority
    language: str
    opened_at: datetime
    tier: str = "standard"
    product: str | None = None
    skills: Mapping[str, int] = field(default_factory=dict)
    """The skills intake's classification asked for."""
    deadline: datetime | None = None
    """The nearest SLA due time (from sla's events); earlier is served first."""
    requirement: Requirement | None = None
    """Set by the routing rules; None until a rule matched (the skeleton's defaults apply)."""
    preferred_agent: str | None = None
    """A reopened ticket's previous agent, offered it first when eligible."""
    declined_by: frozenset[str] = frozenset()
    """Agents who declined or let an offer of it lapse; not offered it again."""
    rule_id: str | None = None
    rule_version: str | None = None
    step: int = 0
    step_since: datetime | None = None

    @property
    def queue(self) -> str:
        return self.requirement.queue if self.requirement else self.request_type.value

    @property
    def requirement_team(self) -> str | None:
        return self.requirement.team if self.requirement else None

    @property
    def required_skills(self) -> dict[str, int]:
        if self.requirement is not None:
            return dict(self.requirement.skills)
        return {self.request_type.value: MIN_PROFICIENCY}


class RoutingState(StrEnum):
    WAITING = "waiting"
    OFFERED = "offered"
    """Offered to one agent, whose slot is held until they accept, decline or it lapses."""
    ASSIGNED = "assigned"
    CLOSED = "closed"
    """Solved or closed: never assigned again, its agent's capacity is free."""


@dataclass(frozen=True)
class Routing:
    """Routing's record of one ticket: waiting, assigned to an agent, or closed."""

    ticket: Ticket
    state: RoutingState = RoutingState.WAITING
    agent_id: str | None = None
    team: str | None = None
    assigned_at: datetime | None = None
    announced: bool = False
    """Whether the event of the current state (offered, assigned) was published."""
    offer_id: str | None = None
    offer_expires_at: datetime | None = None
    next_step_at: datetime | None = None
    """When the ticket's rule relaxes to its next step while it waits (None: last step)."""
    reason: Mapping[str, object] | None = None
    """Why the current offer went to its agent (the RoutingReason of the events)."""
    version: int = 0
    """Bumped by every change of the record; each change is conditional on the one it saw."""


@dataclass(frozen=True)
class Reconciliation:
    """Reservations left behind by a crash between reserving a slot and recording the choice."""

    adopt: list[tuple[Routing, Agent]]
    """The ticket still waits while an agent holds a slot for it: finish that assignment."""
    release: list[tuple[Routing, Agent]]
    """The slot is held for a ticket that is closed or went to someone else: free it."""


ORPHAN_GRACE = timedelta(seconds=60)
"""How long a slot may be held for a ticket that still waits before it counts as left behind
by a crash: a younger one is another dispatch between its reservation and its offer."""


def reconcile(
    agents: Iterable[Agent], routings: Mapping[str, Routing], now: datetime
) -> Reconciliation:
    adopt: list[tuple[Routing, Agent]] = []
    release: list[tuple[Routing, Agent]] = []
    for agent in agents:
        for ticket_id in sorted(agent.active):
            routing = routings.get(ticket_id)
            if routing is None:
                continue
            if routing.state is RoutingState.WAITING:
                held = agent.held_since.get(ticket_id)
                if held is None or now - held >= ORPHAN_GRACE:
                    adopt.append((routing, agent))
            elif routing.state is RoutingState.CLOSED or routing.agent_id != agent.agent_id:
                release.append((routing, agent))
    return Reconciliation(adopt, release)


def _primary(language: str) -> str:
    return language.split("-")[0].lower()
