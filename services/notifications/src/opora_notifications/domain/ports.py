"""The interfaces notifications' use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

from opora_shared.contracts.notifications import NotificationFailedV1, NotificationSentV1

from opora_notifications.domain.model import DeliveryRecord


@dataclass(frozen=True)
class RenderedMail:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class OutgoingMail:
    notification_id: str
    recipient: str
    recipient_name: str | None
    language: str
    content: RenderedMail


class UnknownTemplateError(LookupError):
    """No template family of that name."""


class TemplateContextError(ValueError):
    """The context lacks a variable the template needs."""


class DeliveryError(Exception):
    """The mail server did not take the message. ``reason`` never contains the address."""

    permanent = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MailRejectedError(DeliveryError):
    """Refused for good (a 5xx reply to the recipient or the content): retrying cannot help."""

    permanent = True


class MailDeferredError(DeliveryError):
    """A temporary refusal (4xx): worth a few more tries."""


class MailServerUnavailableError(DeliveryError, ConnectionError):
    """The server cannot be reached or will not talk to us (down, timeout, bad credentials).

    It is a ``ConnectionError``, so the shared consumer plumbing treats it as infrastructure:
    retried with backoff for as long as it lasts, never dead-lettered.
    """


class Renderer(Protocol):
    def render(self, template: str, language: str, context: Mapping[str, str]) -> RenderedMail:
        """Raises :class:`UnknownTemplateError` or :class:`TemplateContextError`."""
        ...


class Mailer(Protocol):
    async def send(self, mail: OutgoingMail) -> str:
        """Hand the message to the mail server; return the provider's message id.

        Raises a :class:`DeliveryError`.
        """
        ...


class NotificationStore(Protocol):
    async def claim(self, record: DeliveryRecord) -> DeliveryRecord:
        """Insert ``record`` unless one with its id exists (unique key); return the stored one."""
        ...

    async def start_attempt(self, notification_id: str) -> int:
        """Count one more delivery attempt; return the count."""
        ...

    async def mark_sent(self, event: NotificationSentV1) -> None: ...

    async def mark_failed(self, event: NotificationFailedV1, *, final: bool) -> None:
        """Note a failed attempt; ``final`` settles the record as failed with ``event``."""
        ...

    async def for_ticket(self, ticket_id: str) -> list[DeliveryRecord]: ...
