"""Notification outcomes, published by notifications on ``notifications.events.v1``.

Every notification (one intent, one ticket, one recipient) ends in exactly one of: sent, failed
for good, or not sent on purpose (cancelled); failed attempts that will be retried are reported
too. The recipient appears only as a masked address, or only by kind when no channel was chosen:
the events are for accounting, not contact.
"""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from opora_shared.contracts.base import Event, Id, LanguageTag, ShortText
from opora_shared.contracts.common import Channel
from opora_shared.contracts.topics import NOTIFICATIONS


class NotificationEvent(Event):
    """What every event on notifications.events.v1 says: which notification it is about."""

    topic: ClassVar = NOTIFICATIONS

    ticket_id: Id
    notification_id: Id = Field(description="Stable per (intent, ticket, recipient)")
    intent: Id = Field(description="Why it was sent, e.g. 'ticket.acknowledged'")


class DeliveryEvent(NotificationEvent):
    """A notification handed to a channel: sent on it, or failed on it."""

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


class NotificationSentV1(DeliveryEvent):
    ce_type: ClassVar[str] = "opora.notification.sent.v1"

    provider_message_id: ShortText | None = None


class NotificationFailedV1(DeliveryEvent):
    ce_type: ClassVar[str] = "opora.notification.failed.v1"

    reason: ShortText
    attempts: int = Field(ge=1)
    will_retry: bool = False


class CancelReason(StrEnum):
    """Why a notification was not sent. Closed: a new reason is a new event version."""

    # Its condition no longer holds (the rule's cancel_if, checked again when it is due).
    CUSTOMER_REPLIED = "customer_replied"
    AGENT_REPLIED = "agent_replied"
    STATUS_CHANGED = "status_changed"
    REOPENED = "reopened"
    RULE_WITHDRAWN = "rule_withdrawn"  # the rule was removed or disabled before it was due
    # Suppressed: the customer's wishes or limits.
    OPTED_OUT = "opted_out"  # of the notification's category, or of everything
    NO_CHANNEL = "no_channel"  # no address on an allowed, unblocked channel we can send on
    SURVEY_FATIGUE = "survey_fatigue"  # the customer had a survey within the fatigue period


class NotificationCancelledV1(NotificationEvent):
    """A notification that will not be sent, on purpose: its condition no longer held (the
    customer replied, the ticket was reopened…) or it was suppressed (an opt-out, survey
    fatigue, no channel reaching the customer). Published once per notification, like sent and
    failed; the recipient is named only by kind (no address: none may have been chosen).
    A rate limit or quiet hours only hold a notification; they never cancel it."""

    ce_type: ClassVar[str] = "opora.notification.cancelled.v1"

    reason: CancelReason
    audience: ShortText = Field(description="Who it was for: 'customer' or 'staff' (open set)")
    template: ShortText
    category: ShortText | None = Field(
        default=None, description="What it was for (service, reminders, surveys…; open set)"
    )
    detail: ShortText | None = Field(
        default=None, description="The reason in words, for people; no personal data"
    )
    trigger_event_id: Id | None = Field(
        default=None, description="The event that called for it (ticket, sla or feedback event)"
    )
    scheduled_for: AwareDatetime | None = Field(
        default=None, description="When it was due: the trigger plus the rule's delay"
    )


NOTIFICATION_EVENTS: tuple[type[NotificationEvent], ...] = (
    NotificationSentV1,
    NotificationFailedV1,
    NotificationCancelledV1,
)
