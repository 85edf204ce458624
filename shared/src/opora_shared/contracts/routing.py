"""Routing decisions, published by routing on ``routing.events.v1`` and keyed by ticket id."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from opora_shared.contracts.base import Event, Id, Model, ShortText
from opora_shared.contracts.topics import ROUTING


class RoutingEvent(Event):
    topic: ClassVar = ROUTING

    ticket_id: Id
    queue: Id
    rule_id: Id | None = None
    rule_version: ShortText | None = None


class CandidateScore(Model):
    """One agent routing weighed, and the key it was ranked by (lower ranks first)."""

    agent_id: Id
    spare: int = Field(description="Free slots on the ticket's channel")
    idle_since: AwareDatetime | None = Field(
        default=None, description="When the agent was last offered a ticket (None: never)"
    )
    rank: ShortText = Field(description="The ranking key, as text")


class RoutingReason(Model):
    """Why this agent: the rule and step that applied, who else could have had it."""

    step: int = Field(default=0, ge=0, description="The rule's step (0 = the strictest)")
    candidates: int = Field(default=0, ge=0, description="Eligible agents considered")
    scores: tuple[CandidateScore, ...] = Field(default=(), description="The best few, in order")
    why: ShortText = ""


class TicketQueuedV1(RoutingEvent):
    ce_type: ClassVar[str] = "opora.routing.queued.v1"

    required_skills: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(default_factory=dict)
    position: int | None = Field(default=None, ge=0)
    step: int = Field(default=0, ge=0, description="The rule's step the ticket waits in")
    reason: ShortText | None = Field(
        default=None, description="Why it waits: no eligible agent, declined, timed out, …"
    )


class TicketOfferedV1(RoutingEvent):
    ce_type: ClassVar[str] = "opora.routing.offered.v1"

    offer_id: Id
    agent_id: Id
    expires_at: AwareDatetime
    reason: RoutingReason | None = None


class TicketAssignedV1(RoutingEvent):
    ce_type: ClassVar[str] = "opora.routing.assigned.v1"

    agent_id: Id
    offer_id: Id | None = None
    team: Id | None = None
    reason: RoutingReason | None = None


class TicketOfferRevokedV1(RoutingEvent):
    """An offer ended without an acceptance: the workspace withdraws it from the agent."""

    ce_type: ClassVar[str] = "opora.routing.offer-revoked.v1"

    offer_id: Id
    agent_id: Id
    cause: Literal["declined", "timed_out", "agent_unavailable", "ticket_closed", "transferred"]


class TicketEscalatedV1(RoutingEvent):
    """The ticket moved up: to another queue, tier or supervisor."""

    ce_type: ClassVar[str] = "opora.routing.escalated.v1"

    level: int = Field(ge=1, le=4)
    from_queue: Id | None = None
    reason: ShortText


ROUTING_EVENTS: tuple[type[RoutingEvent], ...] = (
    TicketQueuedV1,
    TicketOfferedV1,
    TicketOfferRevokedV1,
    TicketAssignedV1,
    TicketEscalatedV1,
)
