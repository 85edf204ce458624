"""What a notification is, the identities that make it exactly-once, and its state machine.

A notification is identified by why it is sent, for which ticket and to whom
(:func:`notification_id`; for rules that repeat per trigger, also by the triggering event), so
every redelivery of the triggering event maps to the same record, the same e-mail
``Message-ID`` and the same outcome event ids.

Its record moves ``scheduled`` → (``held`` | ``retrying``)* → ``sending`` → ``sent`` |
``failed`` | ``cancelled`` | ``suppressed``. Who may act on it is decided by *attempts*: each is
claimed by inserting a document with a unique id (``<notification id>#<n>``), never by a
conditional update (FerretDB's are not atomic), and only the claimant settles it. The record
is a view of its attempts that the next attempt repairs if a crash left it behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from opora_shared.contracts.common import Channel
from opora_shared.contracts.notifications import (
    CancelReason,
    NotificationCancelledV1,
    NotificationEvent,
    NotificationFailedV1,
    NotificationSentV1,
)
from opora_shared.privacy import mask_email

from opora_notifications.domain.rules import Category, Trigger

_NAMESPACE = uuid.UUID("0d8c2f4e-6a51-4b8e-9c3d-52b7e1a0f9c4")

LANGUAGES = ("en", "ru")
FALLBACK_LANGUAGE = "en"
CUSTOMER = "customer"
"""The recipient key of a ticket's customer: a ticket has one, whatever address it has now."""


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def staff_key(email: str) -> str:
    return f"staff:{email.strip().lower()}"


def notification_id(intent: str, ticket_id: str, recipient: str, occurrence: str = "") -> str:
    """Stable per (intent, ticket, recipient), and per triggering event for repeating rules.
    Addresses are compared case-insensitively."""
    parts = ["notification", intent, ticket_id, recipient.strip().lower()]
    if occurrence:
        parts.append(occurrence)
    return derived_id(*parts)


def message_id(notification_id: str, domain: str) -> str:
    """The e-mail ``Message-ID``: the same for every attempt, so receivers can drop repeats."""
    return f"<{notification_id}@{domain}>"


def thread_id(ticket_id: str, domain: str) -> str:
    """The ``References`` root shared by every e-mail about one ticket."""
    return f"<ticket.{ticket_id}@{domain}>"


def template_language(language: str | None) -> str:
    """``ru``, ``ru-RU`` → ``ru``; anything without templates falls back to English."""
    base = (language or "").split("-")[0].strip().lower()
    return base if base in LANGUAGES else FALLBACK_LANGUAGE


def first_name(name: str | None) -> str:
    """«Иван Петров» → «Иван»: the greeting uses the first word of the name."""
    words = (name or "").split()
    return words[0] if words else ""


def mask_phone(phone: str) -> str:
    digits = phone.strip()
    return f"{digits[:2]}***{digits[-2:]}" if len(digits) > 6 else "***"


def mask_address(channel: Channel, address: str) -> str:
    return mask_email(address) if channel is Channel.EMAIL else mask_phone(address)


class Audience(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class DeliveryState(StrEnum):
    SCHEDULED = "scheduled"  # waiting for its time
    HELD = "held"  # deferred by quiet hours, a rate limit, or a ticket not seen yet
    SENDING = "sending"  # an attempt is claimed: under way, or in doubt after a crash
    RETRYING = "retrying"  # a transient failure; the next attempt is planned
    SENT = "sent"
    FAILED = "failed"  # refused for good, or out of attempts: dead-lettered
    CANCELLED = "cancelled"  # its condition no longer held (customer replied, reopened, …)
    SUPPRESSED = "suppressed"  # opted out, survey fatigue, or no channel reaches the recipient


SETTLED_STATES = frozenset(
    {DeliveryState.SENT, DeliveryState.FAILED, DeliveryState.CANCELLED, DeliveryState.SUPPRESSED}
)


class Outcome(StrEnum):
    """How one attempt ended."""

    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SUPPRESSED = "suppressed"
    RETRY = "retry"  # a transient delivery failure
    DEFERRED = "deferred"  # not tried: quiet hours, rate limit, ticket unknown

    @property
    def final(self) -> bool:
        return self not in (Outcome.RETRY, Outcome.DEFERRED)

    @property
    def state(self) -> DeliveryState:
        return _STATE_OF_OUTCOME[self]


_STATE_OF_OUTCOME = {
    Outcome.SENT: DeliveryState.SENT,
    Outcome.FAILED: DeliveryState.FAILED,
    Outcome.CANCELLED: DeliveryState.CANCELLED,
    Outcome.SUPPRESSED: DeliveryState.SUPPRESSED,
    Outcome.RETRY: DeliveryState.RETRYING,
    Outcome.DEFERRED: DeliveryState.HELD,
}


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    state: DeliveryState
    detail: str = ""


@dataclass(frozen=True)
class NotificationRecord:
    """One planned notification to one recipient. Customers' addresses are not stored here:
    they are read from the ticket at send time; staff addresses are (they are resolved when
    the alert is planned, from the assignment of that moment)."""

    notification_id: str
    intent: str
    ticket_id: str
    template: str
    category: Category
    audience: Audience
    recipient_key: str
    trigger: Trigger
    trigger_event_id: str
    triggered_at: datetime
    due_at: datetime
    created_at: datetime
    recipient: str | None = None
    recipient_name: str | None = None
    recipient_language: str | None = None
    recipient_time_zone: str | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)
    awaits_sla: bool = False
    state: DeliveryState = DeliveryState.SCHEDULED
    wake_at: datetime | None = None
    attempts: int = 0
    send_attempts: int = 0
    channel: Channel | None = None
    language: str | None = None
    recipient_masked: str | None = None
    last_error: str | None = None
    provider_message_id: str | None = None
    outcome: NotificationEvent | None = None
    published: bool = True
    updated_at: datetime | None = None
    history: tuple[HistoryEntry, ...] = ()

    @property
    def settled(self) -> bool:
        return self.state in SETTLED_STATES


@dataclass(frozen=True)
class Attempt:
    """One claimed attempt (``_id`` = ``<notification id>#<number>``, inserted once)."""

    notification_id: str
    number: int
    claimed_at: datetime
    lease_until: datetime
    outcome: Outcome | None = None
    retry_at: datetime | None = None
    reason: str | None = None
    event: NotificationEvent | None = None

    @property
    def key(self) -> str:
        return attempt_key(self.notification_id, self.number)


def attempt_key(notification_id: str, number: int) -> str:
    return f"{notification_id}#{number}"


# --- what to do with a notification now ---------------------------------------------------------


@dataclass(frozen=True)
class Wait:
    until: datetime


@dataclass(frozen=True)
class Claim:
    number: int
    in_doubt: bool = False
    """The previous attempt was claimed but never settled: its process died, maybe after the
    channel had taken the message. Sending again may duplicate it (same ``Message-ID``)."""


@dataclass(frozen=True)
class Done:
    outcome: Outcome


Step = Wait | Claim | Done


def next_step(record: NotificationRecord, attempts: Sequence[Attempt], now: datetime) -> Step:
    """Decided from the attempts alone (the record's state may lag behind a crash)."""
    if not attempts:
        return Wait(record.due_at) if record.due_at > now else Claim(1)
    last = max(attempts, key=lambda a: a.number)
    if last.outcome is None:
        if last.lease_until > now:
            return Wait(last.lease_until)
        return Claim(last.number + 1, in_doubt=True)
    if last.outcome.final:
        return Done(last.outcome)
    retry_at = last.retry_at or now
    return Wait(retry_at) if retry_at > now else Claim(last.number + 1)


# --- outcome events ---------------------------------------------------------------------------


def sent_event(
    record: NotificationRecord,
    *,
    channel: Channel,
    language: str,
    recipient_masked: str,
    provider_message_id: str,
    at: datetime,
) -> NotificationSentV1:
    return NotificationSentV1(
        event_id=derived_id("notification-sent", record.notification_id),
        occurred_at=at,
        provider_message_id=provider_message_id,
        **_common(record, channel, language, recipient_masked),
    )


def failed_event(
    record: NotificationRecord,
    *,
    channel: Channel,
    language: str,
    recipient_masked: str,
    reason: str,
    attempts: int,
    will_retry: bool,
    at: datetime,
) -> NotificationFailedV1:
    return NotificationFailedV1(
        event_id=derived_id("notification-failed", record.notification_id, str(attempts)),
        occurred_at=at,
        reason=reason[:1000],
        attempts=attempts,
        will_retry=will_retry,
        **_common(record, channel, language, recipient_masked),
    )


def cancelled_event(
    record: NotificationRecord, *, reason: CancelReason, detail: str, at: datetime
) -> NotificationCancelledV1:
    """Not sent on purpose. One id per notification: it settles as cancelled or suppressed once,
    and a republication after a crash repeats the same event."""
    return NotificationCancelledV1(
        event_id=derived_id("notification-cancelled", record.notification_id),
        occurred_at=at,
        ticket_id=record.ticket_id,
        notification_id=record.notification_id,
        intent=record.intent,
        reason=reason,
        audience=record.audience.value,
        template=record.template,
        category=record.category.value,
        detail=detail[:1000],
        trigger_event_id=record.trigger_event_id,
        scheduled_for=record.due_at,
    )


def _common(
    record: NotificationRecord, channel: Channel, language: str, recipient_masked: str
) -> dict[str, Any]:
    return {
        "ticket_id": record.ticket_id,
        "notification_id": record.notification_id,
        "intent": record.intent,
        "channel": channel,
        "recipient_masked": recipient_masked,
        "template": record.template,
        "language": language,
        "audience": record.audience.value,
        "trigger_event_id": record.trigger_event_id,
        "scheduled_for": record.due_at,
    }


# --- who else is known ------------------------------------------------------------------------


@dataclass(frozen=True)
class Agent:
    """An agent as the workspace's profile describes them."""

    agent_id: str
    name: str
    email: str | None
    languages: tuple[str, ...] = ()
    teams: tuple[str, ...] = ()


@dataclass(frozen=True)
class Preferences:
    """What a customer asked of us: categories opted out of (``all`` for everything), channels
    not to use, channels to prefer, and their time zone."""

    customer_id: str
    opted_out: frozenset[str] = frozenset()
    blocked_channels: frozenset[Channel] = frozenset()
    preferred_channels: tuple[Channel, ...] = ()
    time_zone: str | None = None
    updated_at: datetime | None = None

    def allows(self, category: Category) -> bool:
        return "all" not in self.opted_out and category.value not in self.opted_out


@dataclass(frozen=True)
class DeadLetter:
    notification_id: str
    ticket_id: str
    intent: str
    channel: Channel | None
    recipient_masked: str | None
    reason: str
    attempts: int
    failed_at: datetime
    trigger_event_id: str
