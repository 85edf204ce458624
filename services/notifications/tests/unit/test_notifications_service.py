"""Delivering a notification exactly once per (intent, ticket, recipient)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from opora_notifications.adapters.templates import JinjaRenderer
from opora_notifications.domain.model import DeliveryRecord, DeliveryState, acknowledgement
from opora_notifications.domain.ports import (
    MailDeferredError,
    MailRejectedError,
    MailServerUnavailableError,
)
from opora_notifications.domain.service import deliver
from opora_shared.contracts.notifications import NotificationFailedV1, NotificationSentV1


@pytest.fixture
def notification(ticket_opened):
    return acknowledgement(ticket_opened())


@pytest.fixture
def send(notification, store, mailer, publisher, clock):
    renderer = JinjaRenderer.load()

    async def run(which=None):
        return await deliver(
            which or notification,
            store=store,
            renderer=renderer,
            mailer=mailer,
            publisher=publisher,
            clock=clock,
        )

    return run


async def test_first_delivery_sends_and_marks_the_record_sent(send, store, mailer, notification):
    outcome = await send()

    assert isinstance(outcome, NotificationSentV1)
    assert [m.recipient for m in mailer.sent] == ["ivan.petrov@example.com"]
    assert store.records[notification.notification_id].state is DeliveryState.SENT


async def test_sent_mail_is_rendered_in_the_customers_language(send, mailer):
    await send()

    assert mailer.sent[0].content.subject == "[OP-000123] Мы получили ваше обращение"
    assert "Добрый день, Иван" in mailer.sent[0].content.text


async def test_redelivery_after_sending_republishes_the_same_event_without_sending(
    send, mailer, publisher
):
    await send()
    await send()

    assert len(mailer.sent) == 1
    first, second = publisher.published
    assert first == second
    assert first.event_id == second.event_id


async def test_a_record_left_sending_by_a_crash_is_sent_again_with_the_same_message_id(
    send, store, mailer, notification, clock
):
    # The process died after the server took the message but before it was marked sent.
    store.records[notification.notification_id] = replace(
        DeliveryRecord.claim(notification, clock()), attempts=1
    )

    await send()

    assert len(mailer.sent) == 1
    assert mailer.sent[0].notification_id == notification.notification_id
    assert store.records[notification.notification_id].attempts == 2


async def test_a_temporary_failure_publishes_failed_and_raises_for_a_retry(
    send, store, mailer, publisher, notification
):
    mailer.failure = MailDeferredError("recipient refused with [451]")

    with pytest.raises(MailDeferredError):
        await send()

    (failed,) = publisher.published
    assert isinstance(failed, NotificationFailedV1)
    assert failed.will_retry is True
    assert failed.attempts == 1
    assert store.records[notification.notification_id].state is DeliveryState.SENDING


async def test_the_retry_after_a_temporary_failure_sends(send, mailer, publisher):
    mailer.failure = MailServerUnavailableError("ConnectionRefusedError")
    with pytest.raises(MailServerUnavailableError):
        await send()
    mailer.failure = None

    await send()

    assert len(mailer.sent) == 1
    assert isinstance(publisher.published[-1], NotificationSentV1)


async def test_an_unavailable_server_is_an_infrastructure_error_for_the_plumbing() -> None:
    assert isinstance(MailServerUnavailableError("down"), ConnectionError)


async def test_a_permanent_refusal_settles_as_failed_without_raising(
    send, store, mailer, notification
):
    mailer.failure = MailRejectedError("recipient refused with [550]")

    outcome = await send()

    assert isinstance(outcome, NotificationFailedV1)
    assert outcome.will_retry is False
    assert store.records[notification.notification_id].state is DeliveryState.FAILED


async def test_a_redelivery_after_a_permanent_refusal_neither_sends_nor_changes_the_event(
    send, mailer, publisher
):
    mailer.failure = MailRejectedError("recipient refused with [550]")
    await send()
    mailer.failure = None

    await send()

    assert mailer.sent == []
    assert publisher.published[0] == publisher.published[1]


async def test_published_events_carry_only_the_masked_address(send, publisher):
    await send()

    dumped = publisher.published[0].model_dump_json()
    assert "ivan.petrov@example.com" not in dumped
    assert "i***@example.com" in dumped
