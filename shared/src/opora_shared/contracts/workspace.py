"""Events the agent workspace publishes: agent profiles and presence, offers, replies, statuses."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import Field

from opora_shared.contracts.base import Event, Id, LanguageTag, ShortText, Text
from opora_shared.contracts.common import Channel
from opora_shared.contracts.topics import WORKSPACE_AGENTS, WORKSPACE_TICKET_ACTIONS

Proficiency = Annotated[int, Field(ge=1, le=5)]


class Presence(StrEnum):
    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class AgentEvent(Event):
    topic: ClassVar = WORKSPACE_AGENTS
    key_field: ClassVar[str] = "agent_id"

    agent_id: Id


class AgentProfileChangedV1(AgentEvent):
    """The whole profile, as it is now (not a patch): the latest one wins."""

    ce_type: ClassVar[str] = "opora.workspace.agent-profile-changed.v1"

    name: ShortText
    email: ShortText | None = None
    skills: dict[str, Proficiency] = Field(default_factory=dict)
    languages: tuple[LanguageTag, ...] = ("en",)
    teams: tuple[Id, ...] = ()
    capacity: dict[Channel, Annotated[int, Field(ge=0, le=100)]] = Field(
        default_factory=dict, description="How many open items of each channel the agent takes"
    )


class AgentPresenceChangedV1(AgentEvent):
    ce_type: ClassVar[str] = "opora.workspace.agent-presence-changed.v1"

    presence: Presence


class TicketActionEvent(Event):
    topic: ClassVar = WORKSPACE_TICKET_ACTIONS

    ticket_id: Id
    agent_id: Id


class OfferAcceptedV1(TicketActionEvent):
    ce_type: ClassVar[str] = "opora.workspace.offer-accepted.v1"

    offer_id: Id


class OfferDeclinedV1(TicketActionEvent):
    ce_type: ClassVar[str] = "opora.workspace.offer-declined.v1"

    offer_id: Id
    reason: ShortText | None = None


class ReplyPostedV1(TicketActionEvent):
    """An agent wrote to the customer (public) or left an internal note (not public)."""

    ce_type: ClassVar[str] = "opora.workspace.reply-posted.v1"

    reply_id: Id
    public: bool = True
    text: Text


class WorkspaceStatus(StrEnum):
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"
    REOPENED = "reopened"


class StatusSetV1(TicketActionEvent):
    ce_type: ClassVar[str] = "opora.workspace.status-set.v1"

    status: WorkspaceStatus
    comment: ShortText | None = None


class TicketTransferRequestedV1(TicketActionEvent):
    """An agent hands a ticket to another queue (tier 2, a specialist, a supervisor)."""

    ce_type: ClassVar[str] = "opora.workspace.transfer-requested.v1"

    to_queue: Id
    reason: ShortText | None = None
    kind: Literal["transfer", "escalate"] = "transfer"


AGENT_EVENTS: tuple[type[AgentEvent], ...] = (AgentProfileChangedV1, AgentPresenceChangedV1)
TICKET_ACTION_EVENTS: tuple[type[TicketActionEvent], ...] = (
    OfferAcceptedV1,
    OfferDeclinedV1,
    ReplyPostedV1,
    StatusSetV1,
    TicketTransferRequestedV1,
)
