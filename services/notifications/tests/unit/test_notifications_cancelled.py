"""A notification not sent on purpose is announced once on notifications.events.v1: cancelled
because its condition no longer holds, or suppressed by the customer's wishes and limits."""

from __future__ import annotations

import contextlib
from datetime import timedelta

import pytest
from opora_notifications.domain.model import CUSTOMER, Preferences, derived_id, notification_id
from opora_notifications.domain.rules import CancelIf
from opora_shared.contracts.common import Channel, TicketStatus
from opora_shared.contracts.notifications import CancelReason, NotificationCancelledV1
from opora_shared.contracts.tickets import TicketMessageReceivedV1


def _cancelled(desk) -> list[NotificationCancelledV1]:
    return [e for e in desk.publisher.published if isinstance(e, NotificationCancelledV1)]


def _customer_wrote(clock) -> TicketMessageReceivedV1:
    return TicketMessageReceivedV1(
        event_id="message-2",
        occurred_at=clock(),
        ticket_id="t-1",
        message_id="m-2",
        channel=Channel.EMAIL,
        customer_id="c-1",
    )


async def test_a_customer_reply_announces_each_cancelled_reminder_once(
    desk, ticket_opened, status, clock
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    pending = status(TicketStatus.PENDING)
    await desk.notifier.on_status_changed(pending)
    await desk.advance(timedelta(hours=2))

    message = _customer_wrote(clock)
    await desk.notifier.on_message_received(message)
    await desk.notifier.on_message_received(message)  # redelivered
    await desk.advance(timedelta(days=7))

    cancelled = _cancelled(desk)
    assert sorted(e.intent for e in cancelled) == [
        "pending.autoclose_warning",
        "pending.reminder_1",
        "pending.reminder_2",
    ]
    assert {e.reason for e in cancelled} == {CancelReason.CUSTOMER_REPLIED}
    reminder = next(e for e in cancelled if e.intent == "pending.reminder_1")
    nid = notification_id("pending.reminder_1", "t-1", CUSTOMER, pending.event_id)
    assert reminder.notification_id == nid
    assert reminder.event_id == derived_id("notification-cancelled", nid)
    assert reminder.audience == "customer"
    assert reminder.category == "reminders"
    assert reminder.trigger_event_id == pending.event_id


async def test_the_cancelled_event_carries_no_personal_data(desk, ticket_opened, status, clock):
    await desk.notifier.on_ticket_opened(ticket_opened(phone="+79161234567"))
    await desk.notifier.on_status_changed(status(TicketStatus.PENDING))
    clock.advance(timedelta(hours=1))
    await desk.notifier.on_message_received(_customer_wrote(clock))

    body = _cancelled(desk)[0].model_dump_json()
    for personal in ("ivan.petrov@example.com", "+79161234567", "Иван", "c-1"):
        assert personal not in body


async def test_reopening_announces_the_survey_invitation_cancelled(
    desk, ticket_opened, status, survey_issued, clock
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued(send_after=clock() + timedelta(hours=24)))
    await desk.advance(timedelta(hours=3))
    await desk.notifier.on_status_changed(status(TicketStatus.OPEN, reopened=True))

    await desk.advance(timedelta(days=2))

    (survey,) = [e for e in _cancelled(desk) if e.intent == "survey.invitation"]
    assert survey.reason is CancelReason.REOPENED
    assert survey.category == "surveys"


async def test_an_opt_out_is_announced_as_such(desk, ticket_opened, status, survey_issued):
    await desk.preferences.save(Preferences("c-1", opted_out=frozenset({"surveys"})))
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued())
    await desk.settle()

    (survey,) = _cancelled(desk)
    assert survey.intent == "survey.invitation"
    assert survey.reason is CancelReason.OPTED_OUT
    assert survey.detail == "opted out of surveys"


async def test_survey_fatigue_is_announced_as_such(desk, ticket_opened, status, survey_issued):
    for ticket_id in ("t-1", "t-2"):
        await desk.notifier.on_ticket_opened(ticket_opened(ticket_id=ticket_id))
        await desk.notifier.on_status_changed(status(TicketStatus.SOLVED, ticket_id=ticket_id))
        await desk.notifier.on_survey_issued(survey_issued(ticket_id=ticket_id))
        await desk.settle()

    (second,) = _cancelled(desk)
    assert (second.ticket_id, second.reason) == ("t-2", CancelReason.SURVEY_FATIGUE)


async def test_a_customer_no_channel_reaches_is_announced_as_such(desk, ticket_opened):
    await desk.notifier.on_ticket_opened(ticket_opened(email=None, phone=None))
    await desk.advance(timedelta(seconds=10))

    (acknowledgement,) = _cancelled(desk)
    assert acknowledgement.intent == "ticket.acknowledged"
    assert acknowledgement.reason is CancelReason.NO_CHANNEL


async def test_a_withdrawn_rule_is_announced_as_such(make_desk, rules, ticket_opened, status):
    desk = make_desk()
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.PENDING))
    desk.notifier.rules = rules.model_copy(
        update={
            "notifications": tuple(
                r for r in rules.notifications if r.intent != "pending.reminder_1"
            )
        }
    )

    await desk.advance(timedelta(days=1))

    (withdrawn,) = _cancelled(desk)
    assert (withdrawn.intent, withdrawn.reason) == (
        "pending.reminder_1",
        CancelReason.RULE_WITHDRAWN,
    )


async def test_an_announcement_a_crash_kept_from_kafka_is_published_with_the_same_id(
    desk, ticket_opened
):
    desk.publisher.failures = 1
    await desk.notifier.on_ticket_opened(ticket_opened(email=None, phone=None))
    with contextlib.suppress(ConnectionError):
        await desk.advance(timedelta(seconds=10))
    assert desk.publisher.published == []

    await desk.notifier.recover()
    await desk.settle()

    (acknowledgement,) = _cancelled(desk)
    nid = notification_id("ticket.acknowledged", "t-1", CUSTOMER)
    assert acknowledgement.event_id == derived_id("notification-cancelled", nid)


@pytest.mark.parametrize("condition", list(CancelIf))
def test_every_cancelling_condition_has_a_reason_in_the_contract(condition: CancelIf) -> None:
    assert CancelReason(condition.value).value == condition.value


async def test_a_cancellation_whose_publish_failed_is_announced_when_the_fact_comes_again(
    desk, ticket_opened, status, clock
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.PENDING))
    clock.advance(timedelta(hours=1))
    message = _customer_wrote(clock)
    desk.publisher.failures = 1
    with contextlib.suppress(ConnectionError):  # the consumer will deliver the message again
        await desk.notifier.on_message_received(message)
    assert _cancelled(desk) == []

    await desk.notifier.on_message_received(message)

    cancelled = _cancelled(desk)
    assert len(cancelled) == len({e.event_id for e in cancelled}) == 3
