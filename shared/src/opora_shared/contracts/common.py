"""Value types shared by several events: channels, customers, priorities, statuses."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import EmailStr, Field, StringConstraints

from opora_shared.contracts.base import Id, LanguageTag, Model, ShortText

Phone = Annotated[str, StringConstraints(pattern=r"^\+?[0-9]{5,15}$")]


class Channel(StrEnum):
    EMAIL = "email"
    WEB_FORM = "web_form"
    CHAT = "chat"
    PHONE = "phone"
    SMS = "sms"
    MESSENGER = "messenger"
    WALK_IN = "walk_in"
    WORKSPACE = "workspace"


class RequestType(StrEnum):
    """The kinds of service a desk recognises, each routed on its own."""

    TECHNICAL_SUPPORT = "technical_support"
    WARRANTY = "warranty"
    POST_WARRANTY = "post_warranty"
    CONSULTATION = "consultation"
    COMPLAINT = "complaint"
    ORDER_STATUS = "order_status"
    LOYALTY = "loyalty"
    FEEDBACK = "feedback"
    OTHER = "other"


class Priority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Higher is more urgent; used to order queues."""
        return _PRIORITY_RANK[self]


_PRIORITY_RANK = {Priority.LOW: 0, Priority.NORMAL: 1, Priority.HIGH: 2, Priority.URGENT: 3}


class TicketStatus(StrEnum):
    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    ON_HOLD = "on_hold"
    SOLVED = "solved"
    CLOSED = "closed"


MAX_STORED_INT = 2**63 - 1
"""The largest integer MongoDB stores (a signed 64-bit one): a bigger one fails at save."""


class Attachment(Model):
    filename: ShortText
    content_type: ShortText = "application/octet-stream"
    size_bytes: int = Field(ge=0, le=MAX_STORED_INT)
    url: ShortText | None = None


class CustomerContact(Model):
    """How a customer identified themselves on a channel; at least one identifier is expected."""

    name: ShortText | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    external_id: ShortText | None = Field(
        default=None, description="The channel's own user id: messenger user, chat visitor id"
    )
    language: LanguageTag | None = None


class CustomerRef(Model):
    """The unified customer profile intake resolved a contact to, with what follow-ups need."""

    customer_id: Id
    name: ShortText | None = None
    email: EmailStr | None = None
    phone: Phone | None = None
    language: LanguageTag = "en"
    tier: ShortText = "standard"
