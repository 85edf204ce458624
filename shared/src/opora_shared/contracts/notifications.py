"""Notification outcomes, published by notifications on ``notifications.events.v1``.

The recipient appears only as a masked address: the events are for accounting, not contact.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import AwareDatetime, Field

from opora_shared.contracts.base import Event, Id, LanguageTag, ShortText
from opora_shared.contracts.common import Channel
from opora_shared.contracts.topics import NOTIFICATIONS


class NotificationEvent(Event):
    topic: ClassVar = NOTIFICATIONS

    ticket_id: Id
    notification_id: Id = Field(description="Stable per (intent, ticket, recipient)")
    intent: Id = Field(description="Why it was sent, e.g. 'ticket.acknowledged'")
    channel: Channel
    recipient_masked: ShortText
    template: ShortText
    language: LanguageTag = "en"
    audience: ShortText | None = Field(
        default=None, description="Who it was for: 'customer' or 'staff' (open set)"
    )
    trigger_event_id: Id | None = Field(
        default=None, description="The event that called for it (ticket, sla or feedback event)"
    )
    scheduled_for: AwareDatetime | None = Field(
        default=None,
        description="When it was due: the trigger plus the rule's delay (before quiet hours, "
        "rate limits and retries)",
    )


class NotificationSentV1(NotificationEvent):
    ce_type: ClassVar[str] = "opora.notification.sent.v1"

    provider_message_id: ShortText | None = None


class NotificationFailedV1(NotificationEvent):
    ce_type: ClassVar[str] = "opora.notification.failed.v1"

    reason: ShortText
    attempts: int = Field(ge=1)
    will_retry: bool = False


NOTIFICATION_EVENTS: tuple[type[NotificationEvent], ...] = (
    NotificationSentV1,
    NotificationFailedV1,
)
