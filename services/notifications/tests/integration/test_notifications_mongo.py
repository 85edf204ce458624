"""The MongoDB stores against a real MongoDB-wire server (FerretDB locally): unique claims, quota
keys, newer-wins ticket updates, and the queries the timers are re-armed from.

The server comes from the session ``infra`` fixture; each test uses a database of its own.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from opora_notifications.adapters.repository import (
    MongoNotificationStore,
    MongoPreferenceStore,
    MongoQuotas,
    MongoTicketStore,
    MongoWaitingRoom,
)
from opora_notifications.domain.model import (
    CUSTOMER,
    Attempt,
    Audience,
    DeliveryState,
    HistoryEntry,
    NotificationRecord,
    Outcome,
    Preferences,
    notification_id,
)
from opora_notifications.domain.rules import Category, Trigger
from opora_notifications.domain.service import Occurrence
from opora_notifications.domain.tickets import TicketView
from opora_shared.contracts.common import Channel, CustomerRef, TicketStatus
from opora_shared.contracts.notifications import NotificationSentV1
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration
AT = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
async def db(infra, database_name):
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5_000)
    yield client[database_name]
    await client.drop_database(database_name)
    await client.close()


@pytest.fixture
async def store(db) -> MongoNotificationStore:
    store = MongoNotificationStore(db)
    await store.create_indexes()
    return store


@pytest.fixture
async def quotas(db) -> MongoQuotas:
    quotas = MongoQuotas(db)
    await quotas.create_indexes()
    return quotas


def record(intent: str = "ticket.acknowledged", *, due: datetime = AT) -> NotificationRecord:
    return NotificationRecord(
        notification_id=notification_id(intent, "t-1", CUSTOMER),
        intent=intent,
        ticket_id="t-1",
        template="ticket_acknowledged",
        category=Category.SERVICE,
        audience=Audience.CUSTOMER,
        recipient_key=CUSTOMER,
        trigger=Trigger.TICKET_OPENED,
        trigger_event_id="opened-t-1",
        triggered_at=AT,
        due_at=due,
        wake_at=due,
        created_at=AT,
        awaits_sla=True,
        facts={"url": "https://x", "remaining_s": 900},
        history=(HistoryEntry(AT, DeliveryState.SCHEDULED, "due"),),
    )


async def test_a_plan_is_stored_once_and_read_back_whole(store):
    planned = record()

    _first, created = await store.plan(planned)
    again, created_again = await store.plan(record())

    assert created is True
    assert created_again is False
    assert again == planned


async def test_only_one_of_two_racing_claims_of_an_attempt_wins(store):
    nid = record().notification_id
    claims = [Attempt(nid, 1, AT, AT + timedelta(minutes=2)) for _ in range(2)]

    won = await asyncio.gather(*(store.claim(c) for c in claims))

    assert sorted(won) == [False, True]


async def test_a_settled_attempt_keeps_its_outcome_event(store):
    planned, _ = await store.plan(record())
    attempt = Attempt(planned.notification_id, 1, AT, AT + timedelta(minutes=2))
    await store.claim(attempt)
    event = NotificationSentV1(
        ticket_id="t-1",
        notification_id=planned.notification_id,
        intent=planned.intent,
        channel=Channel.EMAIL,
        recipient_masked="i***@example.com",
        template="ticket_acknowledged",
        provider_message_id="<x@opora.local>",
    )

    await store.settle(attempt, Outcome.SENT, retry_at=None, reason="sent", event=event)
    (stored,) = await store.attempts(planned.notification_id)

    assert stored.outcome is Outcome.SENT
    assert stored.event == event


async def test_the_record_view_is_saved_with_its_history(store):
    planned, _ = await store.plan(record())
    sent = replace(planned, state=DeliveryState.SENT, published=False, wake_at=None)

    await store.save(sent, HistoryEntry(AT, DeliveryState.SENT, "sent on email"))
    found = await store.get(planned.notification_id)

    assert found is not None
    assert found.state is DeliveryState.SENT
    assert [h.detail for h in found.history] == ["due", "sent on email"]
    assert [r.notification_id for r in await store.unpublished()] == [planned.notification_id]
    assert await store.unsettled() == []


async def test_only_what_is_due_within_the_horizon_is_listed_for_arming(store):
    await store.plan(record("soon", due=AT + timedelta(hours=1)))
    await store.plan(record("later", due=AT + timedelta(days=5)))

    listed = await store.unsettled(wake_before=AT + timedelta(hours=6))

    assert [r.intent for r in listed] == ["soon"]


async def test_pulling_forward_moves_what_waits_for_sla(store):
    planned, _ = await store.plan(record(due=AT + timedelta(seconds=10)))

    moved = await store.pull_forward("t-1", AT)

    assert moved == [planned.notification_id]
    found = await store.get(planned.notification_id)
    assert found is not None
    assert found.due_at == AT
    assert found.awaits_sla is False


async def test_rate_slots_run_out_and_a_holder_keeps_its_own(quotas):
    expires = AT + timedelta(hours=1)

    taken = [await quotas.take_slot("rate:c-1:7", 2, holder, expires) for holder in "abc"]
    again = await quotas.take_slot("rate:c-1:7", 2, "a", expires)

    assert taken == [True, True, False]
    assert again is True


async def test_racing_fatigue_claims_let_exactly_one_survey_through(quotas):
    expires = AT + timedelta(days=9)
    days_a = [f"fatigue:c-1:{d}" for d in range(100, 108)]
    days_b = [f"fatigue:c-1:{d}" for d in range(103, 111)]

    won = await asyncio.gather(
        quotas.take_all(days_a, "survey-a", expires), quotas.take_all(days_b, "survey-b", expires)
    )

    assert sorted(won) == [False, True]
    await quotas.release("survey-a")
    await quotas.release("survey-b")
    assert await quotas.take_all(days_b, "survey-c", expires) is True


async def test_expired_quota_keys_are_purged(quotas):
    await quotas.take_slot("rate:c-1:7", 1, "a", AT)

    assert await quotas.purge(AT + timedelta(seconds=1)) == 1


async def test_a_redelivered_older_status_change_does_not_overwrite_a_newer_one(db):
    tickets = MongoTicketStore(db)
    await tickets.opened(
        TicketView(
            ticket_id="t-1",
            number="OP-1",
            customer=CustomerRef(customer_id="c-1", email="ivan@example.com"),
            opened_at=AT,
        )
    )
    await tickets.status_changed(
        "t-1", TicketStatus.PENDING, AT + timedelta(hours=1), reopened=False
    )
    await tickets.status_changed(
        "t-1", TicketStatus.SOLVED, AT + timedelta(hours=2), reopened=False
    )

    await tickets.status_changed(
        "t-1", TicketStatus.PENDING, AT + timedelta(hours=1), reopened=False
    )

    found = await tickets.get("t-1")
    assert found is not None
    assert found.status is TicketStatus.SOLVED
    assert found.customer is not None
    assert found.customer.email == "ivan@example.com"


async def test_the_latest_customer_message_is_kept_whatever_the_order(db):
    tickets = MongoTicketStore(db)

    await tickets.customer_wrote("t-1", AT + timedelta(hours=2))
    await tickets.customer_wrote("t-1", AT + timedelta(hours=1))

    found = await tickets.get("t-1")
    assert found is not None
    assert found.last_customer_message_at == AT + timedelta(hours=2)


async def test_preferences_round_trip(db):
    preferences = MongoPreferenceStore(db)
    saved = Preferences(
        "c-1",
        opted_out=frozenset({"surveys"}),
        blocked_channels=frozenset({Channel.SMS}),
        preferred_channels=(Channel.MESSENGER,),
        time_zone="Asia/Omsk",
        updated_at=AT,
    )

    await preferences.save(saved)

    assert await preferences.get("c-1") == saved


def early(trigger: Trigger, event_id: str, at: datetime) -> Occurrence:
    return Occurrence(
        trigger, "t-9", event_id, at, level=1, metric="first_reply", facts={"score": 2}
    )


async def test_an_occurrence_parked_twice_waits_once_and_reads_back_whole(db):
    room = MongoWaitingRoom(db)
    await room.create_indexes()
    breach = early(Trigger.SLA_BREACHED, "e-2", AT + timedelta(minutes=5))
    warning = early(Trigger.SLA_WARNING, "e-1", AT)

    for occurrence in (breach, warning, breach):
        await room.park(occurrence)

    assert await room.waiting("t-9") == [warning, breach]


async def test_a_released_occurrence_waits_no_more(db):
    room = MongoWaitingRoom(db)
    warning = early(Trigger.SLA_WARNING, "e-1", AT)
    await room.park(warning)

    await room.release(warning)

    assert await room.waiting("t-9") == []


async def test_what_waited_too_long_is_purged(db):
    room = MongoWaitingRoom(db)
    old, recent = early(Trigger.SLA_WARNING, "e-1", AT), early(Trigger.SLA_BREACHED, "e-2", AT)
    recent = replace(recent, at=AT + timedelta(days=2))
    await room.park(old)
    await room.park(recent)

    purged = await room.purge(AT + timedelta(days=1))

    assert (purged, await room.waiting("t-9")) == (1, [recent])
