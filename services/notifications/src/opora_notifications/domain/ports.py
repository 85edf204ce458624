"""The interfaces notifications' use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from opora_shared.contracts.common import Channel, CustomerRef, TicketStatus
from opora_shared.contracts.notifications import NotificationEvent

from opora_notifications.domain.model import (
    Agent,
    Attempt,
    DeadLetter,
    HistoryEntry,
    NotificationRecord,
    Outcome,
    Preferences,
)
from opora_notifications.domain.templates import Context
from opora_notifications.domain.tickets import TicketView

if TYPE_CHECKING:
    from opora_notifications.domain.service import Occurrence


@dataclass(frozen=True)
class RenderedMessage:
    """E-mail: subject, text and HTML. SMS and messengers: the text alone."""

    text: str
    subject: str | None = None
    html: str | None = None


@dataclass(frozen=True)
class OutgoingMessage:
    notification_id: str
    intent: str
    channel: Channel
    address: str
    """An e-mail address, a phone number, or (messengers) the inbound message to answer."""
    recipient_name: str | None
    language: str
    content: RenderedMessage
    ticket_id: str
    ticket_number: str | None = None
    customer_id: str | None = None
    phone: str | None = None
    in_reply_to: str | None = None
    """The customer's own e-mail ``Message-ID`` the ticket began with, to thread under."""
    unsubscribe_url: str | None = None


class UnknownTemplateError(LookupError):
    """No template family of that name."""


class TemplateContextError(ValueError):
    """The context lacks a variable the template needs, or the variant does not exist."""


class DeliveryError(Exception):
    """The channel did not take the message. ``reason`` never contains the address."""

    permanent = False

    def __init__(self, reason: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class DeliveryRejectedError(DeliveryError):
    """Refused for good (a 5xx to the recipient, a 4xx from a webhook): retrying cannot help."""

    permanent = True


class DeliveryDeferredError(DeliveryError):
    """A temporary refusal (SMTP 4xx, HTTP 429 or 5xx): worth more tries."""


class ChannelUnavailableError(DeliveryError):
    """The server cannot be reached or will not talk to us (down, timeout, bad credentials)."""


class Renderer(Protocol):
    def render(
        self, template: str, language: str, context: Context, *, short: bool = False
    ) -> RenderedMessage:
        """Raises :class:`UnknownTemplateError` or :class:`TemplateContextError`."""
        ...


class Sender(Protocol):
    async def send(self, message: OutgoingMessage) -> str:
        """Hand the message to the channel; return the provider's message id.

        Raises a :class:`DeliveryError`.
        """
        ...


class NotificationStore(Protocol):
    async def plan(self, record: NotificationRecord) -> tuple[NotificationRecord, bool]:
        """Insert ``record`` unless its id exists (unique key); the stored one, and whether
        this call inserted it."""
        ...

    async def get(self, notification_id: str) -> NotificationRecord | None: ...

    async def save(self, record: NotificationRecord, entry: HistoryEntry | None = None) -> None:
        """Write the record's changing fields (state, times, outcome), appending ``entry``."""
        ...

    async def attempts(self, notification_id: str) -> list[Attempt]: ...

    async def claim(self, attempt: Attempt) -> bool:
        """Insert the attempt (unique ``<id>#<n>``); False when another claimed it first."""
        ...

    async def settle(
        self,
        attempt: Attempt,
        outcome: Outcome,
        *,
        retry_at: datetime | None,
        reason: str | None,
        event: NotificationEvent | None,
    ) -> None:
        """Record how a claimed attempt ended (only its claimant calls this)."""
        ...

    async def mark_published(self, notification_id: str) -> None: ...

    async def pull_forward(self, ticket_id: str, at: datetime) -> list[str]:
        """Notifications of the ticket waiting for sla, not yet attempted: due at ``at`` now."""
        ...

    async def unsettled(
        self, *, ticket_id: str | None = None, wake_before: datetime | None = None
    ) -> list[NotificationRecord]: ...

    async def unpublished(self) -> list[NotificationRecord]:
        """Settled records whose outcome event may not have reached Kafka."""
        ...

    async def for_ticket(self, ticket_id: str) -> list[NotificationRecord]: ...

    async def dead_letter(self, letter: DeadLetter) -> None: ...

    async def dead_letters(self, ticket_id: str | None, limit: int) -> list[DeadLetter]: ...


class Quotas(Protocol):
    """Counted limits kept as unique keys: a slot is taken by inserting its key."""

    async def take_slot(self, key: str, slots: int, holder: str, expires_at: datetime) -> bool:
        """Take one of ``key:0`` … ``key:<slots-1>``; True if one was free (or ``holder``
        already holds one)."""
        ...

    async def take_all(self, keys: Sequence[str], holder: str, expires_at: datetime) -> bool:
        """Take every key or none (in order; on a conflict the ones taken are given back)."""
        ...

    async def release(self, holder: str) -> None: ...

    async def purge(self, now: datetime) -> int: ...


class TicketStore(Protocol):
    async def get(self, ticket_id: str) -> TicketView | None: ...

    async def opened(self, view: TicketView) -> None: ...

    async def status_changed(
        self, ticket_id: str, status: TicketStatus, at: datetime, *, reopened: bool
    ) -> None:
        """Only a change newer than the stored one applies (redeliveries replay old ones)."""
        ...

    async def customer_wrote(self, ticket_id: str, at: datetime) -> None: ...

    async def agent_replied(self, ticket_id: str, at: datetime) -> None: ...

    async def updated(self, ticket_id: str, fields: Mapping[str, Any]) -> None: ...

    async def assigned(
        self, ticket_id: str, *, agent_id: str, team: str | None, queue: str, at: datetime
    ) -> None: ...

    async def sla_applied(
        self, ticket_id: str, reply_due_at: datetime | None, at: datetime
    ) -> None: ...

    async def survey_facts(
        self,
        ticket_id: str,
        *,
        customer: CustomerRef,
        channel: Channel,
        language: str,
        request_type: str,
    ) -> None:
        """Fill what a survey tells about a ticket whose opening was not seen."""
        ...


class WaitingRoom(Protocol):
    """Facts about tickets whose opening notifications has not read yet: the opening is on the
    tickets topic and may come after a routing, sla or feedback event about the same ticket
    (another topic, another partition, perhaps another replica). They wait here, by ticket,
    until the opening arrives, instead of holding their partition up with redeliveries."""

    async def park(self, occurrence: Occurrence) -> None:
        """Keep ``occurrence`` (once, however often it is parked)."""
        ...

    async def waiting(self, ticket_id: str) -> list[Occurrence]:
        """What waits for the ticket, oldest first."""
        ...

    async def release(self, occurrence: Occurrence) -> None: ...

    async def purge(self, before: datetime) -> int:
        """Forget what happened before ``before`` and still waits: the opening of a ticket
        this deployment never read (it started after it) will not come."""
        ...


class AgentStore(Protocol):
    async def save(self, agent: Agent) -> None: ...

    async def get(self, agent_id: str) -> Agent | None: ...


class PreferenceStore(Protocol):
    async def get(self, customer_id: str) -> Preferences | None: ...

    async def save(self, preferences: Preferences) -> None: ...


class Timers(Protocol):
    def schedule(self, key: str, when: datetime, action: Callable[[], Awaitable[None]]) -> None: ...

    def cancel(self, key: str) -> None: ...
