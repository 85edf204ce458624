"""A ticket's timeline: the facts sla keeps about it, from which every metric is measured.

sla stores what happened to a ticket (opened, a customer message, an agent's reply, a status
change, an assignment, a changed attribute) rather than running counters, so that the clocks
can be measured again under another policy or calendar: a re-scored ticket and a what-if replay
both replay its timeline. Instants are kept to the whole second (business-time arithmetic is in
whole seconds, so used and remaining time stay exact integers).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType

from opora_shared.contracts.common import Channel, Priority, RequestType, TicketStatus
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
    TicketUpdatedV1,
)

from opora_sla.domain.policies import Profile


class FactKind(StrEnum):
    OPENED = "opened"
    CUSTOMER_MESSAGE = "customer_message"
    AGENT_REPLY = "agent_reply"
    STATUS = "status"
    ASSIGNED = "assigned"
    UPDATED = "updated"


ATTRIBUTES = ("priority", "channel", "request_type", "tier", "team", "agent_id", "product")
"""What OPENED, UPDATED and ASSIGNED facts may set (UPDATED and ASSIGNED only what changed)."""


def to_second(at: datetime) -> datetime:
    """``at`` in UTC without its fraction of a second; a naive datetime is refused."""
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"a fact's time must be timezone-aware, got {at!r}")
    return at.astimezone(UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Fact:
    """One thing that happened to a ticket, keyed by the event it came from."""

    id: str
    kind: FactKind
    at: datetime
    ref: str | None = None
    """The reply or message id."""
    public: bool = True
    """An agent's reply the customer sees (False: an internal note)."""
    status: TicketStatus | None = None
    reopened: bool = False
    attributes: Mapping[str, str | None] = field(default_factory=lambda: MappingProxyType({}))

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", to_second(self.at))
        unknown = set(self.attributes) - set(ATTRIBUTES)
        if unknown:
            raise ValueError(f"unknown ticket attributes {sorted(unknown)}")
        if not isinstance(self.attributes, MappingProxyType):
            object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))


def in_order(facts: Iterable[Fact]) -> list[Fact]:
    """Facts by time, the opening first among equals, otherwise as they arrived. Events of one
    ticket arrive in order on one topic, but an assignment (another topic) may overtake."""
    indexed = list(enumerate(facts))
    indexed.sort(key=lambda item: (item[1].at, item[1].kind is not FactKind.OPENED, item[0]))
    return [fact for _, fact in indexed]


def opening(facts: Iterable[Fact]) -> Fact | None:
    return next((fact for fact in facts if fact.kind is FactKind.OPENED), None)


def profile(facts: Iterable[Fact]) -> Profile:
    """The ticket as it is now: its opening attributes with every later change applied (an
    attribute given as None leaves it as it was)."""
    current = Profile()
    for fact in in_order(facts):
        get = fact.attributes.get
        current = Profile(
            priority=Priority(get("priority") or current.priority),
            channel=Channel(channel) if (channel := get("channel")) else current.channel,
            request_type=RequestType(get("request_type") or current.request_type),
            tier=get("tier") or current.tier,
            team=get("team") or current.team,
            agent_id=get("agent_id") or current.agent_id,
            product=get("product") or current.product,
        )
    return current


# --- from the events sla consumes ----------------------------------------------------------------

TicketFactEvent = (
    TicketOpenedV1
    | TicketMessageReceivedV1
    | TicketRepliedV1
    | TicketStatusChangedV1
    | TicketUpdatedV1
    | TicketAssignedV1
)


def fact_of(event: TicketFactEvent) -> Fact:
    """What an event tells sla about its ticket."""
    if isinstance(event, TicketOpenedV1):
        return Fact(
            event.event_id,
            FactKind.OPENED,
            event.occurred_at,
            attributes={
                "priority": event.priority.value,
                "channel": event.channel.value,
                "request_type": event.request_type.value,
                "tier": event.customer.tier,
                "product": event.product,
            },
        )
    if isinstance(event, TicketMessageReceivedV1):
        return Fact(
            event.event_id, FactKind.CUSTOMER_MESSAGE, event.occurred_at, ref=event.message_id
        )
    if isinstance(event, TicketRepliedV1):
        return Fact(
            event.event_id,
            FactKind.AGENT_REPLY,
            event.occurred_at,
            ref=event.reply_id,
            public=event.public,
        )
    if isinstance(event, TicketStatusChangedV1):
        return Fact(
            event.event_id,
            FactKind.STATUS,
            event.occurred_at,
            status=event.status,
            reopened=event.reopened,
        )
    if isinstance(event, TicketUpdatedV1):
        return Fact(
            event.event_id,
            FactKind.UPDATED,
            event.occurred_at,
            attributes={
                "priority": event.priority.value if event.priority else None,
                "request_type": event.request_type.value if event.request_type else None,
                "product": event.product,
            },
        )
    return Fact(
        event.event_id,
        FactKind.ASSIGNED,
        event.occurred_at,
        attributes={"team": event.team, "agent_id": event.agent_id},
    )


def cause_of(fact: Fact) -> str:
    """How ``SlaAppliedV1.reason`` names a fact that changed the targets."""
    if fact.kind is FactKind.STATUS and fact.status is not None:
        return f"status {fact.status.value}" + (" (reopened)" if fact.reopened else "")
    if fact.kind in (FactKind.UPDATED, FactKind.ASSIGNED):
        changed = ", ".join(f"{k} {v}" for k, v in fact.attributes.items() if v is not None)
        return f"{fact.kind.value}: {changed}" if changed else fact.kind.value
    return {
        FactKind.OPENED: "ticket opened",
        FactKind.CUSTOMER_MESSAGE: "customer message",
        FactKind.AGENT_REPLY: "agent reply",
    }.get(fact.kind, fact.kind.value)
