"""The MongoDB store against a real MongoDB-wire server (MongoDB or FerretDB).

The server comes from the session ``infra`` fixture; each test uses a database of its own.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from opora_notifications.adapters.repository import MongoNotificationStore
from opora_notifications.domain.model import (
    DeliveryRecord,
    DeliveryState,
    acknowledgement,
    failed_event,
    sent_event,
)
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration
AT = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
async def mongo_store(infra):
    client = AsyncMongoClient(infra.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5_000)
    name = f"test_notifications_{uuid.uuid4().hex[:8]}"
    store = MongoNotificationStore(client[name])
    await store.create_indexes()
    yield store
    await client.drop_database(name)
    await client.close()


async def test_a_claim_is_kept_once_and_settles_as_sent(mongo_store, ticket_opened):
    notification = acknowledgement(ticket_opened())
    record = DeliveryRecord.claim(notification, AT)

    assert await mongo_store.claim(record) == record
    assert await mongo_store.start_attempt(notification.notification_id) == 1
    sent = sent_event(notification, "<id@opora.local>", AT)
    await mongo_store.mark_sent(sent)
    again = await mongo_store.claim(DeliveryRecord.claim(notification, AT))

    assert again.state is DeliveryState.SENT
    assert again.attempts == 1
    assert again.outcome == sent
    raw = await mongo_store.notifications.find_one({"_id": notification.notification_id})
    assert "ivan.petrov@example.com" not in str(raw)


async def test_a_final_failure_is_stored_with_its_event(mongo_store, ticket_opened):
    notification = acknowledgement(ticket_opened())
    await mongo_store.claim(DeliveryRecord.claim(notification, AT))
    failed = failed_event(
        notification, "recipient refused with [550]", attempts=1, will_retry=False, at=AT
    )

    await mongo_store.mark_failed(failed, final=True)
    (listed,) = await mongo_store.for_ticket(notification.ticket_id)

    assert listed.state is DeliveryState.FAILED
    assert listed.outcome == failed
    assert listed.last_error == "recipient refused with [550]"
