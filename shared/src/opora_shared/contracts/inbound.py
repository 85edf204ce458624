"""Inbound customer messages, as channel adapters publish them on ``intake.inbound-messages.v1``.

One model per channel. Each carries the provider's own message id (``source_message_id``), which
intake uses to drop the duplicates that providers' webhook retries produce.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from opora_shared.contracts.base import Event, Id, LanguageTag, ShortText, Text
from opora_shared.contracts.common import (
    MAX_STORED_INT,
    Attachment,
    Channel,
    CustomerContact,
    Priority,
    RequestType,
)
from opora_shared.contracts.topics import INBOUND_MESSAGES


class InboundMessage(Event):
    """What every channel's inbound message has in common."""

    topic: ClassVar = INBOUND_MESSAGES
    key_field: ClassVar[str] = "conversation_id"
    channel: ClassVar[Channel]

    source_message_id: Id = Field(description="The provider's id of this message, for dedup")
    conversation_id: Id = Field(
        description="The channel's thread key: e-mail thread root, chat session, call id, sender"
    )
    received_at: AwareDatetime
    customer: CustomerContact
    text: Text = ""
    language: LanguageTag | None = None
    attachments: tuple[Attachment, ...] = ()
    request_type: RequestType | None = Field(
        default=None, description="The adapter's hint (a chosen form type, an IVR menu)"
    )
    priority: Priority | None = None


class InboundEmailV1(InboundMessage):
    ce_type: ClassVar[str] = "opora.inbound.email.v1"
    channel: ClassVar[Channel] = Channel.EMAIL

    message_id: ShortText = Field(description="RFC 5322 Message-ID")
    in_reply_to: ShortText | None = None
    references: tuple[ShortText, ...] = ()
    to: tuple[ShortText, ...] = ()
    subject: ShortText = ""
    html: Text | None = None


class InboundWebFormV1(InboundMessage):
    ce_type: ClassVar[str] = "opora.inbound.web-form.v1"
    channel: ClassVar[Channel] = Channel.WEB_FORM

    form_id: ShortText
    subject: ShortText = ""
    product: ShortText | None = None
    fields: dict[str, ShortText] = Field(default_factory=dict)


class InboundChatMessageV1(InboundMessage):
    ce_type: ClassVar[str] = "opora.inbound.chat.v1"
    channel: ClassVar[Channel] = Channel.CHAT

    session_id: Id
    bot_transcript: tuple[Text, ...] = Field(
        default=(), description="What the chat bot and the customer said before hand-over"
    )


class InboundCallV1(InboundMessage):
    ce_type: ClassVar[str] = "opora.inbound.call.v1"
    channel: ClassVar[Channel] = Channel.PHONE

    call_id: Id
    ivr_selections: tuple[ShortText, ...] = Field(
        default=(),
        description="The keys pressed at each IVR menu level, in order ('1', '2-3'); a "
        "post-call survey adds one 'survey:<csat|nps|ces>:<score>' per question answered",
    )
    transcript: Text | None = None
    recording_url: ShortText | None = None
    callback_requested: bool = False
    duration_s: int | None = Field(default=None, ge=0, le=MAX_STORED_INT)


class InboundSmsV1(InboundMessage):
    ce_type: ClassVar[str] = "opora.inbound.sms.v1"
    channel: ClassVar[Channel] = Channel.SMS


class InboundMessengerMessageV1(InboundMessage):
    ce_type: ClassVar[str] = "opora.inbound.messenger.v1"
    channel: ClassVar[Channel] = Channel.MESSENGER

    network: Literal["telegram", "whatsapp", "vk", "viber", "facebook", "instagram", "other"]
    chat_id: Id


class InboundWalkInV1(InboundMessage):
    ce_type: ClassVar[str] = "opora.inbound.walk-in.v1"
    channel: ClassVar[Channel] = Channel.WALK_IN

    kind: Literal["visit", "complaint_book"] = "visit"
    location: ShortText
    recorded_by: Id | None = Field(default=None, description="The staff member who typed it in")


INBOUND_EVENTS: tuple[type[InboundMessage], ...] = (
    InboundEmailV1,
    InboundWebFormV1,
    InboundChatMessageV1,
    InboundCallV1,
    InboundSmsV1,
    InboundMessengerMessageV1,
    InboundWalkInV1,
)
