"""Routing decisions, published by routing on ``routing.events.v1`` and keyed by ticket id."""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import AwareDatetime, Field

from opora_shared.contracts.base import Event, Id, ShortText
from opora_shared.contracts.topics import ROUTING


class RoutingEvent(Event):
    topic: ClassVar = ROUTING

    ticket_id: Id
    queue: Id
    rule_id: Id | None = None
    rule_version: ShortText | None = None


class TicketQueuedV1(RoutingEvent):
    ce_type: ClassVar[str] = "opora.routing.queued.v1"

    required_skills: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(default_factory=dict)
    position: int | None = Field(default=None, ge=0)


class TicketOfferedV1(RoutingEvent):
    ce_type: ClassVar[str] = "opora.routing.offered.v1"

    offer_id: Id
    agent_id: Id
    expires_at: AwareDatetime


class TicketAssignedV1(RoutingEvent):
    ce_type: ClassVar[str] = "opora.routing.assigned.v1"

    agent_id: Id
    offer_id: Id | None = None
    team: Id | None = None


class TicketEscalatedV1(RoutingEvent):
    """The ticket moved up: to another queue, tier or supervisor."""

    ce_type: ClassVar[str] = "opora.routing.escalated.v1"

    level: int = Field(ge=1, le=4)
    from_queue: Id | None = None
    reason: ShortText


ROUTING_EVENTS: tuple[type[RoutingEvent], ...] = (
    TicketQueuedV1,
    TicketOfferedV1,
    TicketAssignedV1,
    TicketEscalatedV1,
)
