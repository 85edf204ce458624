"""What a notification is, and the identities that make sending it exactly-once.

A notification is identified by why it is sent, for which ticket and to whom
(:func:`notification_id`), so every redelivery of the triggering event maps to the same
delivery record, the same e-mail ``Message-ID`` and the same outcome event ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from opora_shared.contracts.common import Channel, CustomerRef
from opora_shared.contracts.feedback import SurveyIssuedV1
from opora_shared.contracts.notifications import (
    NotificationEvent,
    NotificationFailedV1,
    NotificationSentV1,
)
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.privacy import mask_email

_NAMESPACE = uuid.UUID("0d8c2f4e-6a51-4b8e-9c3d-52b7e1a0f9c4")

ACKNOWLEDGED = "ticket.acknowledged"
SURVEY_INVITATION = "survey.invitation"

LANGUAGES = ("en", "ru")
FALLBACK_LANGUAGE = "en"


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def notification_id(intent: str, ticket_id: str, recipient: str) -> str:
    """Stable per (intent, ticket, recipient); the address is compared case-insensitively."""
    return derived_id("notification", intent, ticket_id, recipient.strip().lower())


def message_id(notification_id: str, domain: str) -> str:
    """The e-mail ``Message-ID``: the same for every attempt, so receivers can drop repeats."""
    return f"<{notification_id}@{domain}>"


def template_language(language: str | None) -> str:
    """``ru``, ``ru-RU`` → ``ru``; anything without templates falls back to English."""
    base = (language or "").split("-")[0].strip().lower()
    return base if base in LANGUAGES else FALLBACK_LANGUAGE


@dataclass(frozen=True)
class TemplateSpec:
    """A template family: the variables it needs and an example used for validation and preview."""

    name: str
    example: Mapping[str, str]


TEMPLATES: Mapping[str, TemplateSpec] = {
    spec.name: spec
    for spec in (
        TemplateSpec(
            "ticket_acknowledged",
            {"name": "Иван", "number": "OP-000123", "subject": "Washing machine does not start"},
        ),
        TemplateSpec(
            "survey_invitation",
            {
                "name": "Иван",
                "url": "https://opora.example/s/example-token",
                "expires_on": "2026-03-28",
            },
        ),
    )
}
TEMPLATE_OF_INTENT: Mapping[str, str] = {
    ACKNOWLEDGED: "ticket_acknowledged",
    SURVEY_INVITATION: "survey_invitation",
}


@dataclass(frozen=True)
class Notification:
    """One message to one recipient, with what its template needs."""

    intent: str
    ticket_id: str
    recipient: str
    recipient_name: str | None
    language: str
    context: Mapping[str, str] = field(default_factory=dict)
    channel: Channel = Channel.EMAIL

    @property
    def notification_id(self) -> str:
        return notification_id(self.intent, self.ticket_id, self.recipient)

    @property
    def template(self) -> str:
        return TEMPLATE_OF_INTENT[self.intent]

    @property
    def recipient_masked(self) -> str:
        return mask_email(self.recipient)


def acknowledgement(event: TicketOpenedV1) -> Notification | None:
    """The "we have your request" e-mail, or None when the customer left no e-mail address.

    The language is the ticket's: intake already prefers what the customer stated.
    """
    return _email(
        ACKNOWLEDGED,
        event.ticket_id,
        event.customer,
        event.language,
        number=event.number,
        subject=event.subject,
    )


def survey_invitation(event: SurveyIssuedV1) -> Notification | None:
    """The survey link, or None when the customer has no e-mail address.

    ``send_after`` is not honoured yet: feedback issues invitations to be sent at once.
    """
    return _email(
        SURVEY_INVITATION,
        event.ticket_id,
        event.customer,
        event.language,
        url=event.url,
        expires_on=event.expires_at.date().isoformat(),
    )


def _email(
    intent: str, ticket_id: str, customer: CustomerRef, language: str, **context: str
) -> Notification | None:
    """An e-mail to the customer addressed by first name; None without an e-mail address."""
    if not customer.email:
        return None
    return Notification(
        intent=intent,
        ticket_id=ticket_id,
        recipient=customer.email,
        recipient_name=customer.name,
        language=template_language(language),
        context={"name": _first_name(customer.name), **context},
    )


def _first_name(name: str | None) -> str:
    """«Иван Петров» → «Иван»: the greeting uses the first word of the name."""
    words = (name or "").split()
    return words[0] if words else ""


class DeliveryState(StrEnum):
    SENDING = "sending"  # claimed; an attempt may be under way, may have failed or crashed
    SENT = "sent"
    FAILED = "failed"  # refused for good; no further attempts


@dataclass(frozen=True)
class DeliveryRecord:
    """The exactly-once record of one notification; the address itself is never stored."""

    notification_id: str
    ticket_id: str
    intent: str
    template: str
    language: str
    channel: Channel
    recipient_masked: str
    state: DeliveryState
    created_at: datetime
    updated_at: datetime
    attempts: int = 0
    provider_message_id: str | None = None
    last_error: str | None = None
    outcome: NotificationEvent | None = None

    @classmethod
    def claim(cls, notification: Notification, at: datetime) -> DeliveryRecord:
        return cls(
            notification_id=notification.notification_id,
            ticket_id=notification.ticket_id,
            intent=notification.intent,
            template=notification.template,
            language=notification.language,
            channel=notification.channel,
            recipient_masked=notification.recipient_masked,
            state=DeliveryState.SENDING,
            created_at=at,
            updated_at=at,
        )

    @property
    def settled(self) -> bool:
        """Sent, or refused for good: a redelivery only republishes the outcome."""
        return self.state is not DeliveryState.SENDING and self.outcome is not None


def sent_event(
    notification: Notification, provider_message_id: str, at: datetime
) -> NotificationSentV1:
    return NotificationSentV1(
        event_id=derived_id("notification-sent", notification.notification_id),
        occurred_at=at,
        provider_message_id=provider_message_id,
        **_common(notification),
    )


def failed_event(
    notification: Notification, reason: str, *, attempts: int, will_retry: bool, at: datetime
) -> NotificationFailedV1:
    return NotificationFailedV1(
        event_id=derived_id("notification-failed", notification.notification_id, str(attempts)),
        occurred_at=at,
        reason=reason[:1000],
        attempts=attempts,
        will_retry=will_retry,
        **_common(notification),
    )


def _common(notification: Notification) -> dict[str, str]:
    return {
        "ticket_id": notification.ticket_id,
        "notification_id": notification.notification_id,
        "intent": notification.intent,
        "channel": notification.channel.value,
        "recipient_masked": notification.recipient_masked,
        "template": notification.template,
        "language": notification.language,
    }
