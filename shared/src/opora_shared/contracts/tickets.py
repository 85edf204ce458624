"""Canonical ticket events, published by intake on ``tickets.events.v1`` and keyed by ticket id."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from opora_shared.contracts.base import Event, Id, LanguageTag, ShortText, Text
from opora_shared.contracts.common import (
    Attachment,
    Channel,
    CustomerRef,
    Priority,
    RequestType,
    TicketStatus,
)
from opora_shared.contracts.topics import TICKETS


class TicketEvent(Event):
    topic: ClassVar = TICKETS

    ticket_id: Id


class TicketOpenedV1(TicketEvent):
    """A new ticket, with everything routing, sla and notifications decide on."""

    ce_type: ClassVar[str] = "opora.ticket.opened.v1"

    number: ShortText = Field(description="The human-readable reference the customer can quote")
    channel: Channel
    customer: CustomerRef
    subject: ShortText = ""
    text: Text = ""
    request_type: RequestType = RequestType.OTHER
    priority: Priority = Priority.NORMAL
    language: LanguageTag = "en"
    product: ShortText | None = None
    tags: tuple[ShortText, ...] = ()
    source_message_id: Id = Field(description="The inbound message (or HTTP request) it came from")
    attachments: tuple[Attachment, ...] = ()
    skills: dict[str, Annotated[int, Field(ge=1, le=5)]] = Field(
        default_factory=dict,
        description="Skills routing should require, with the minimum proficiency (1-5)",
    )
    references: dict[str, tuple[ShortText, ...]] = Field(
        default_factory=dict,
        description="Identifiers found in the request, by kind: order, warranty, serial, …",
    )
    classification: tuple[ShortText, ...] = Field(
        default=(),
        description="Why the request type, priority, language and skills are what they are",
    )


class TicketMessageReceivedV1(TicketEvent):
    """A further customer message threaded onto an existing ticket."""

    ce_type: ClassVar[str] = "opora.ticket.message-received.v1"

    message_id: Id
    channel: Channel
    customer_id: Id
    text: Text = ""
    attachments: tuple[Attachment, ...] = ()
    threaded_by: ShortText | None = Field(
        default=None,
        description="What tied the message to the ticket: conversation, e-mail reference, "
        "ticket number",
    )


class TicketUpdatedV1(TicketEvent):
    """Attributes that changed after opening; fields left out did not change."""

    ce_type: ClassVar[str] = "opora.ticket.updated.v1"

    priority: Priority | None = None
    request_type: RequestType | None = None
    language: LanguageTag | None = None
    tags: tuple[ShortText, ...] | None = None
    product: ShortText | None = None


class TicketRepliedV1(TicketEvent):
    """An agent answered the customer (public) or wrote an internal note."""

    ce_type: ClassVar[str] = "opora.ticket.replied.v1"

    reply_id: Id
    agent_id: Id
    public: bool = True
    text: Text = ""


class TicketStatusChangedV1(TicketEvent):
    ce_type: ClassVar[str] = "opora.ticket.status-changed.v1"

    status: TicketStatus
    previous_status: TicketStatus | None = None
    reopened: bool = Field(default=False, description="True when a solved ticket was reopened")
    agent_id: Id | None = None
    actor: Literal["agent", "customer", "system"] = "agent"
    auto_change_at: AwareDatetime | None = Field(
        default=None,
        description="When the system will change the status by itself (actor 'system') if "
        "nothing happens first: a pending ticket solved, a solved ticket closed. Absent when no "
        "automation applies to the new status or it is turned off. Any later status change "
        "calls it off, and so does an agent's public reply to a pending ticket",
    )


TICKET_EVENTS: tuple[type[TicketEvent], ...] = (
    TicketOpenedV1,
    TicketMessageReceivedV1,
    TicketUpdatedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
)
