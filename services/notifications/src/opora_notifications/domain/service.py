"""notifications' use case: deliver a notification exactly once per (intent, ticket, recipient).

The delivery record (unique ``_id`` = notification id) is claimed in state ``sending`` before
the message goes out and marked ``sent`` after. What a redelivery of the triggering event
finds there decides what happens:

* ``sent`` (or ``failed`` for good): nothing is sent; the stored outcome event is published
  again with its original id, so consumers drop the repeat.
* ``sending``: either a previous attempt failed transiently, or the process crashed between
  handing the message to the server and marking it sent. The two cannot be told apart without
  asking the server, so the message is sent again — with the same ``Message-ID``, which lets
  receiving systems recognise the duplicate. At-least-once, never silently lost.

A transient failure publishes :class:`NotificationFailedV1` (``will_retry=True``) and raises,
so the shared consumer plumbing redelivers with backoff; a permanent refusal publishes it with
``will_retry=False``, settles the record and returns, so the offset moves on.
"""

from __future__ import annotations

import logging

from opora_shared.contracts.notifications import NotificationEvent
from opora_shared.ports import Clock, Publisher

from opora_notifications.domain.model import DeliveryRecord, Notification, failed_event, sent_event
from opora_notifications.domain.ports import (
    DeliveryError,
    Mailer,
    NotificationStore,
    OutgoingMail,
    Renderer,
)

log = logging.getLogger(__name__)


async def deliver(
    notification: Notification,
    *,
    store: NotificationStore,
    renderer: Renderer,
    mailer: Mailer,
    publisher: Publisher,
    clock: Clock,
) -> NotificationEvent:
    """Send ``notification`` unless it was sent already; publish and return the outcome."""
    record = await store.claim(DeliveryRecord.claim(notification, clock()))
    if record.settled and record.outcome is not None:
        await publisher.publish(record.outcome)
        return record.outcome

    content = renderer.render(notification.template, notification.language, notification.context)
    attempt = await store.start_attempt(notification.notification_id)
    mail = OutgoingMail(
        notification_id=notification.notification_id,
        recipient=notification.recipient,
        recipient_name=notification.recipient_name,
        language=notification.language,
        content=content,
    )
    try:
        provider_message_id = await mailer.send(mail)
    except DeliveryError as exc:
        failed = failed_event(
            notification, exc.reason, attempts=attempt, will_retry=not exc.permanent, at=clock()
        )
        await store.mark_failed(failed, final=exc.permanent)
        await publisher.publish(failed)
        log.warning(
            "notification not delivered",
            extra=_log_fields(notification, attempts=attempt, reason=exc.reason),
        )
        if exc.permanent:
            return failed
        raise

    sent = sent_event(notification, provider_message_id, clock())
    await store.mark_sent(sent)
    await publisher.publish(sent)
    log.info("notification sent", extra=_log_fields(notification, attempts=attempt))
    return sent


def _log_fields(notification: Notification, **extra: object) -> dict[str, object]:
    return {
        "notification_id": notification.notification_id,
        "intent": notification.intent,
        "ticket_id": notification.ticket_id,
        "recipient": notification.recipient_masked,
        **extra,
    }
