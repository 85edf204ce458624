"""Delivering customers' notifications: once per intent, at their time, on the right channel,
cancelled when they no longer make sense. In-memory adapters and a clock the tests move."""

from __future__ import annotations

import contextlib
from datetime import timedelta

from opora_notifications.domain.model import (
    CUSTOMER,
    Attempt,
    DeliveryState,
    Preferences,
    notification_id,
)
from opora_notifications.domain.ports import DeliveryDeferredError, DeliveryRejectedError
from opora_notifications.domain.service import DeliveryPolicy
from opora_shared.contracts.common import Channel, TicketStatus
from opora_shared.contracts.notifications import NotificationFailedV1, NotificationSentV1
from opora_shared.contracts.tickets import TicketMessageReceivedV1

ACK = notification_id("ticket.acknowledged", "t-1", CUSTOMER)


def _record(desk, intent: str, ticket_id: str = "t-1", occurrence: str = ""):
    return desk.store.records[notification_id(intent, ticket_id, CUSTOMER, occurrence)]


# --- the acknowledgement ------------------------------------------------------------------------


async def test_acknowledgement_waits_for_sla_then_goes_out_with_the_due_time(
    desk, ticket_opened, sla_applied
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.settle()
    assert desk.mail.sent == []  # held for sla's due time, up to wait_for_sla

    await desk.notifier.on_sla_applied(sla_applied(due_in=timedelta(hours=4)))
    await desk.settle()

    (mail,) = desk.mail.sent
    assert mail.content.subject == "[OP-000123] Мы получили ваше обращение"
    assert "Специалист ответит вам до 28 февраля 2026, 16:30" in mail.content.text


async def test_acknowledgement_goes_out_without_the_due_time_when_sla_is_silent(
    desk, ticket_opened
):
    await desk.notifier.on_ticket_opened(ticket_opened())

    await desk.advance(timedelta(seconds=10))

    (mail,) = desk.mail.sent
    assert "Специалист ответит вам в ближайшее время" in mail.content.text


async def test_a_redelivered_opening_sends_one_acknowledgement(desk, ticket_opened, sla_applied):
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.settle()
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.settle()

    assert len(desk.mail.sent) == 1
    sent = [e for e in desk.publisher.published if isinstance(e, NotificationSentV1)]
    assert [e.event_id for e in sent] == [sent[0].event_id]


async def test_the_acknowledgement_is_threaded_under_the_customers_email(
    desk, ticket_opened, sla_applied
):
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.settle()

    assert desk.mail.sent[0].in_reply_to == "<abc@mail.example.com>"


async def test_an_sms_ticket_is_answered_by_sms(desk, ticket_opened, sla_applied):
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(
        ticket_opened(channel=Channel.SMS, phone="+79161234567", email="ivan@example.com")
    )
    await desk.settle()

    assert desk.mail.sent == []
    (sms,) = desk.sms.sent
    assert sms.address == "+79161234567"
    assert sms.content.subject is None
    assert sms.content.text.startswith("Иван, заявка OP-000123 принята.")


async def test_without_an_sms_gateway_an_sms_ticket_falls_back_to_email(
    make_desk, ticket_opened, sla_applied
):
    desk = make_desk(sms=False)
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(
        ticket_opened(channel=Channel.SMS, phone="+79161234567", email="ivan@example.com")
    )
    await desk.settle()

    assert [m.address for m in desk.mail.sent] == ["ivan@example.com"]


async def test_a_customer_with_no_reachable_channel_is_suppressed(desk, ticket_opened):
    await desk.notifier.on_ticket_opened(ticket_opened(email=None, phone=None))
    await desk.advance(timedelta(seconds=10))

    record = desk.store.records[ACK]
    assert record.state is DeliveryState.SUPPRESSED
    assert record.history[-1].detail == "no channel reaches the customer"


async def test_an_english_ticket_is_answered_in_english(desk, ticket_opened, sla_applied):
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(ticket_opened(language="en", name="Ivan Petrov"))
    await desk.settle()

    assert desk.mail.sent[0].content.text.startswith("Hello, Ivan!")


# --- pending reminders and cancellation --------------------------------------------------------


async def test_a_pending_ticket_gets_its_reminder_after_24_hours(desk, ticket_opened, status):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.advance(timedelta(seconds=10))
    pending = status(TicketStatus.PENDING)
    await desk.notifier.on_status_changed(pending)

    await desk.advance(timedelta(hours=23, minutes=59))
    assert [m.intent for m in desk.mail.sent] == ["ticket.acknowledged"]
    await desk.advance(timedelta(minutes=1))

    assert [m.intent for m in desk.mail.sent] == ["ticket.acknowledged", "pending.reminder_1"]
    assert desk.mail.sent[-1].content.subject == "[OP-000123] Мы ждём вашего ответа"


async def test_a_customer_reply_cancels_the_pending_reminders(desk, ticket_opened, status, clock):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.advance(timedelta(seconds=10))
    pending = status(TicketStatus.PENDING)
    await desk.notifier.on_status_changed(pending)
    await desk.advance(timedelta(hours=2))

    await desk.notifier.on_message_received(
        TicketMessageReceivedV1(
            occurred_at=clock(),
            ticket_id="t-1",
            message_id="m-2",
            channel=Channel.EMAIL,
            customer_id="c-1",
        )
    )
    await desk.advance(timedelta(days=7))

    assert [m.intent for m in desk.mail.sent] == ["ticket.acknowledged"]
    reminder = _record(desk, "pending.reminder_1", occurrence=pending.event_id)
    assert reminder.state is DeliveryState.CANCELLED
    assert reminder.history[-1].detail == "cancelled: customer_replied"


async def test_cancellation_is_checked_again_when_the_reminder_is_due(
    desk, ticket_opened, status, clock
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    pending = status(TicketStatus.PENDING)
    await desk.notifier.on_status_changed(pending)
    # The customer's message is known to the ticket, but no handler reconsidered the plan.
    clock.advance(timedelta(hours=1))
    await desk.tickets.customer_wrote("t-1", clock())

    await desk.advance(timedelta(days=1))

    reminder = _record(desk, "pending.reminder_1", occurrence=pending.event_id)
    assert reminder.state is DeliveryState.CANCELLED
    assert "pending.reminder_1" not in [m.intent for m in desk.mail.sent]


async def test_a_ticket_pending_twice_gets_a_reminder_each_time(desk, ticket_opened, status):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.PENDING))
    await desk.advance(timedelta(days=1))
    await desk.notifier.on_status_changed(status(TicketStatus.OPEN))
    await desk.notifier.on_status_changed(status(TicketStatus.PENDING))
    await desk.advance(timedelta(days=1))

    assert [m.intent for m in desk.mail.sent].count("pending.reminder_1") == 2


async def test_reopening_cancels_the_survey_invitation(
    desk, ticket_opened, status, survey_issued, clock
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued(send_after=clock() + timedelta(hours=24)))
    await desk.advance(timedelta(hours=3))
    await desk.notifier.on_status_changed(status(TicketStatus.OPEN, reopened=True))

    await desk.advance(timedelta(days=2))

    assert "survey.invitation" not in [m.intent for m in desk.mail.sent]
    assert _record(desk, "survey.invitation").state is DeliveryState.CANCELLED


async def test_the_survey_goes_out_at_its_send_after(
    desk, ticket_opened, status, survey_issued, clock
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued(send_after=clock() + timedelta(hours=24)))

    await desk.advance(timedelta(hours=23))
    assert "survey.invitation" not in [m.intent for m in desk.mail.sent]
    await desk.advance(timedelta(hours=1))

    survey = next(m for m in desk.mail.sent if m.intent == "survey.invitation")
    assert "https://opora.test/s/t-1-token" in survey.content.text


# --- quiet hours, rate limits, fatigue, opt-out ----------------------------------------------


async def test_quiet_hours_hold_a_follow_up_until_nine_in_the_customers_zone(
    desk, ticket_opened, status, survey_issued, clock
):
    # 22:00 in Moscow; the customer last wrote hours ago.
    clock.now = clock.now.replace(hour=19, minute=0)
    await desk.notifier.on_ticket_opened(ticket_opened(at=clock() - timedelta(hours=5)))
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued())
    await desk.settle()

    survey = _record(desk, "survey.invitation")
    assert survey.state is DeliveryState.HELD
    assert survey.wake_at == clock.now.replace(day=1, month=3, hour=6, minute=0)  # 09:00 MSK

    await desk.advance(timedelta(hours=10, minutes=59))
    assert "survey.invitation" not in [m.intent for m in desk.mail.sent]
    await desk.advance(timedelta(minutes=1))
    assert "survey.invitation" in [m.intent for m in desk.mail.sent]


async def test_a_customer_in_the_conversation_is_not_held_by_quiet_hours(
    desk, ticket_opened, status, survey_issued, clock
):
    clock.now = clock.now.replace(hour=19, minute=0)  # 22:00 in Moscow
    await desk.notifier.on_ticket_opened(ticket_opened(at=clock() - timedelta(minutes=10)))
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued())
    await desk.settle()

    assert "survey.invitation" in [m.intent for m in desk.mail.sent]


async def test_the_customers_own_time_zone_decides_quiet_hours(
    desk, ticket_opened, status, survey_issued, clock
):
    clock.now = clock.now.replace(hour=19, minute=0)  # 22:00 in Moscow, 14:00 in New York
    await desk.preferences.save(Preferences("c-1", time_zone="America/New_York"))
    await desk.notifier.on_ticket_opened(ticket_opened(at=clock() - timedelta(hours=5)))
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued())
    await desk.settle()

    assert "survey.invitation" in [m.intent for m in desk.mail.sent]


async def test_the_rate_limit_defers_what_is_over_it_to_the_next_window(
    desk, ticket_opened, status
):
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.advance(timedelta(seconds=10))
    for _ in range(6):  # a pending ticket flapping: a solved notice each time
        await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
        await desk.settle()
        await desk.advance(timedelta(seconds=1))

    solved = [m for m in desk.mail.sent if m.intent == "ticket.solved"]
    assert len(solved) == 5  # the limit is 5 an hour; the acknowledgement does not count
    held = [r for r in desk.store.records.values() if r.state is DeliveryState.HELD]
    assert len(held) == 1
    await desk.advance(timedelta(hours=1))
    assert len([m for m in desk.mail.sent if m.intent == "ticket.solved"]) == 6


async def test_a_second_survey_within_seven_days_is_suppressed(
    desk, ticket_opened, status, survey_issued
):
    for ticket_id in ("t-1", "t-2"):
        await desk.notifier.on_ticket_opened(ticket_opened(ticket_id=ticket_id))
        await desk.notifier.on_status_changed(status(TicketStatus.SOLVED, ticket_id=ticket_id))
        await desk.notifier.on_survey_issued(survey_issued(ticket_id=ticket_id))
        await desk.settle()
        await desk.advance(timedelta(days=3))

    surveys = [m for m in desk.mail.sent if m.intent == "survey.invitation"]
    assert [m.ticket_id for m in surveys] == ["t-1"]
    second = _record(desk, "survey.invitation", ticket_id="t-2")
    assert second.state is DeliveryState.SUPPRESSED
    assert second.history[-1].detail == "survey fatigue"


async def test_a_survey_eight_days_later_is_sent(desk, ticket_opened, status, survey_issued):
    for ticket_id in ("t-1", "t-2"):
        await desk.notifier.on_ticket_opened(ticket_opened(ticket_id=ticket_id))
        await desk.notifier.on_status_changed(status(TicketStatus.SOLVED, ticket_id=ticket_id))
        await desk.notifier.on_survey_issued(survey_issued(ticket_id=ticket_id))
        await desk.settle()
        await desk.advance(timedelta(days=8))

    surveys = [m.ticket_id for m in desk.mail.sent if m.intent == "survey.invitation"]
    assert surveys == ["t-1", "t-2"]


async def test_an_opted_out_category_is_not_sent(desk, ticket_opened, status, survey_issued):
    await desk.preferences.save(Preferences("c-1", opted_out=frozenset({"surveys"})))
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued())
    await desk.settle()

    assert "survey.invitation" not in [m.intent for m in desk.mail.sent]
    assert "ticket.solved" in [m.intent for m in desk.mail.sent]
    assert _record(desk, "survey.invitation").history[-1].detail == "opted out of surveys"


async def test_a_customer_who_opted_out_of_everything_gets_nothing(desk, ticket_opened):
    await desk.preferences.save(Preferences("c-1", opted_out=frozenset({"all"})))
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.advance(timedelta(seconds=10))

    assert desk.mail.sent == []


async def test_a_blocked_channel_is_skipped_for_the_next_one(desk, ticket_opened, sla_applied):
    await desk.preferences.save(Preferences("c-1", blocked_channels=frozenset({Channel.SMS})))
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(
        ticket_opened(channel=Channel.SMS, phone="+79161234567", email="ivan@example.com")
    )
    await desk.settle()

    assert desk.sms.sent == []
    assert len(desk.mail.sent) == 1


# --- failures, retries, crashes ----------------------------------------------------------------


async def test_a_transient_failure_is_retried_later_and_then_sent(desk, ticket_opened, sla_applied):
    desk.mail.failures.append(DeliveryDeferredError("recipient refused with [451]"))
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.settle()

    record = desk.store.records[ACK]
    assert record.state is DeliveryState.RETRYING
    (failed,) = desk.publisher.published
    assert isinstance(failed, NotificationFailedV1)
    assert failed.will_retry is True
    assert timedelta(seconds=3) <= record.wake_at - desk.clock() <= timedelta(seconds=30)

    await desk.advance(timedelta(seconds=30))

    assert desk.store.records[ACK].state is DeliveryState.SENT
    assert desk.store.records[ACK].send_attempts == 2
    assert isinstance(desk.publisher.published[-1], NotificationSentV1)


async def test_a_permanent_failure_is_dead_lettered_and_reported(desk, ticket_opened, sla_applied):
    desk.mail.failures.append(DeliveryRejectedError("recipient refused with [550]"))
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.settle()

    record = desk.store.records[ACK]
    assert record.state is DeliveryState.FAILED
    (failed,) = desk.publisher.published
    assert isinstance(failed, NotificationFailedV1)
    assert failed.will_retry is False
    assert failed.recipient_masked == "i***@example.com"
    assert desk.store.letters[ACK].reason == "recipient refused with [550]"


async def test_delivery_gives_up_after_the_last_attempt(make_desk, ticket_opened, sla_applied):
    desk = make_desk(
        policy=DeliveryPolicy(quick_tries=1, max_send_attempts=3, horizon=timedelta(days=1))
    )
    desk.mail.failures += [DeliveryDeferredError("421")] * 3
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(ticket_opened())
    for _ in range(3):
        await desk.advance(timedelta(minutes=5))

    assert desk.store.records[ACK].state is DeliveryState.FAILED
    assert desk.store.letters[ACK].reason == "gave up: 421"
    assert [e.will_retry for e in desk.publisher.published] == [True, True, False]


async def test_an_attempt_left_in_doubt_by_a_crash_is_sent_again_with_the_same_id(
    desk, ticket_opened, sla_applied, clock
):
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(ticket_opened())
    # A replica claimed attempt 1 and died before settling it.
    await desk.store.claim(Attempt(ACK, 1, clock(), clock() + timedelta(seconds=120)))
    await desk.settle()
    assert desk.mail.sent == []  # its lease still runs: somebody may be sending

    await desk.advance(timedelta(seconds=120))

    (mail,) = desk.mail.sent
    assert mail.notification_id == ACK
    assert [a.number for a in await desk.store.attempts(ACK)] == [1, 2]


async def test_two_replicas_firing_the_same_timer_send_once(make_desk, ticket_opened, sla_applied):
    first = make_desk()
    second = make_desk(store=first.store, tickets=first.tickets)
    await first.notifier.on_sla_applied(sla_applied())
    await first.notifier.on_ticket_opened(ticket_opened())
    await second.notifier.on_ticket_opened(ticket_opened())

    await first.settle()
    await second.settle()

    assert len(first.mail.sent) + len(second.mail.sent) == 1


async def test_an_outcome_a_crash_kept_from_kafka_is_published_at_start(
    desk, ticket_opened, sla_applied
):
    desk.publisher.failures = 1
    await desk.notifier.on_sla_applied(sla_applied())
    await desk.notifier.on_ticket_opened(ticket_opened())
    with contextlib.suppress(ConnectionError):
        await desk.settle()
    assert desk.publisher.published == []

    await desk.notifier.recover()  # re-arms what is unsettled in the view; the firing repairs it
    await desk.settle()

    (sent,) = desk.publisher.published
    assert isinstance(sent, NotificationSentV1)
    assert len(desk.mail.sent) == 1


async def test_a_rule_removed_before_its_time_cancels_its_notification(
    make_desk, rules, ticket_opened, status
):
    desk = make_desk()
    await desk.notifier.on_ticket_opened(ticket_opened())
    pending = status(TicketStatus.PENDING)
    await desk.notifier.on_status_changed(pending)
    desk.notifier.rules = rules.model_copy(
        update={
            "notifications": tuple(
                r for r in rules.notifications if not r.intent.startswith("pending.")
            )
        }
    )

    await desk.advance(timedelta(days=1))

    reminder = _record(desk, "pending.reminder_1", occurrence=pending.event_id)
    assert reminder.state is DeliveryState.CANCELLED


async def test_what_is_due_beyond_the_horizon_is_armed_when_the_horizon_reaches_it(
    make_desk, ticket_opened, status
):
    desk = make_desk(policy=DeliveryPolicy(quick_tries=1, horizon=timedelta(hours=6)))
    await desk.notifier.recover()  # arms the refill: every 3 hours, the next 6 hours
    await desk.notifier.on_ticket_opened(ticket_opened())
    pending = status(TicketStatus.PENDING)
    await desk.notifier.on_status_changed(pending)
    reminder = notification_id("pending.reminder_1", "t-1", CUSTOMER, pending.event_id)
    assert desk.timers.when(reminder) is None

    await desk.advance(timedelta(hours=21))
    assert desk.timers.when(reminder) == desk.store.records[reminder].due_at
    await desk.advance(timedelta(hours=3))

    assert "pending.reminder_1" in [m.intent for m in desk.mail.sent]


async def test_a_redelivered_trigger_during_a_send_does_not_interrupt_it(
    rules, renderer, ticket_opened, sla_applied
):
    import asyncio

    from opora_notifications.adapters.memory import (
        MemoryAgentStore,
        MemoryNotificationStore,
        MemoryPreferenceStore,
        MemoryQuotas,
        MemoryTicketStore,
        MemoryWaitingRoom,
    )
    from opora_notifications.domain.directory import load_directory
    from opora_notifications.domain.service import Notifier
    from opora_shared.contracts.base import utc_now
    from opora_shared.testing import RecordingPublisher
    from opora_shared.timers import TimerScheduler

    class SlowSender:
        def __init__(self) -> None:
            self.started, self.release, self.sent = asyncio.Event(), asyncio.Event(), []

        async def send(self, message):
            self.started.set()
            await self.release.wait()
            self.sent.append(message)
            return "id"

    sender, timers, store = SlowSender(), TimerScheduler(), MemoryNotificationStore()
    notifier = Notifier(
        store=store,
        tickets=MemoryTicketStore(),
        waiting=MemoryWaitingRoom(),
        agents=MemoryAgentStore(),
        preferences=MemoryPreferenceStore(),
        quotas=MemoryQuotas(),
        renderer=renderer,
        senders={Channel.EMAIL: sender},
        publisher=RecordingPublisher(),
        rules=rules,
        directory=load_directory(),
        timers=timers,
        clock=utc_now,
    )
    opened = ticket_opened(at=utc_now())
    try:
        await notifier.on_ticket_opened(opened)
        await notifier.on_sla_applied(sla_applied())
        await asyncio.wait_for(sender.started.wait(), 5)

        await notifier.on_ticket_opened(opened)  # re-arms the timer whose send is under way
        sender.release.set()
        for _ in range(100):
            if store.records[ACK].state is DeliveryState.SENT:
                break
            await asyncio.sleep(0.01)
    finally:
        await timers.shutdown()

    assert len(sender.sent) == 1
    assert store.records[ACK].state is DeliveryState.SENT
    assert [a.number for a in await store.attempts(ACK)] == [1]
