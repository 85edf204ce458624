"""notifications' state in MongoDB: one delivery record per notification.

Collection ``notifications``: ``_id`` = notification id (uuid5 of intent, ticket and recipient;
the unique key that makes sending exactly-once), ``ticket_id`` (indexed), ``intent``,
``template``, ``language``, ``channel``, ``recipient_masked`` (the address itself is never
stored), ``state`` (``sending`` | ``sent`` | ``failed``), ``attempts``, ``last_error``,
``provider_message_id``, ``created_at``, ``updated_at``, and once settled ``outcome_type`` and
``outcome`` (the published event's JSON, republished unchanged on redelivery).
"""

from __future__ import annotations

from datetime import datetime

from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import Channel
from opora_shared.contracts.notifications import (
    NotificationEvent,
    NotificationFailedV1,
    NotificationSentV1,
)
from opora_shared.mongo import Document, insert_once
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from opora_notifications.domain.model import DeliveryRecord, DeliveryState


class MongoNotificationStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.notifications = db["notifications"]

    async def create_indexes(self) -> None:
        await self.notifications.create_index(
            [("ticket_id", ASCENDING), ("created_at", ASCENDING)], name="by_ticket"
        )

    async def claim(self, record: DeliveryRecord) -> DeliveryRecord:
        if await insert_once(self.notifications, _document(record)):
            return record
        stored = await self.notifications.find_one({"_id": record.notification_id})
        assert stored is not None, "a duplicate key means the record exists"
        return _record(stored)

    async def start_attempt(self, notification_id: str) -> int:
        doc = await self.notifications.find_one_and_update(
            {"_id": notification_id},
            {"$inc": {"attempts": 1}, "$set": {"updated_at": utc_now()}},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            raise LookupError(f"no delivery record {notification_id}")
        return int(doc["attempts"])

    async def mark_sent(self, event: NotificationSentV1) -> None:
        await self.notifications.update_one(
            {"_id": event.notification_id},
            {
                "$set": {
                    "state": DeliveryState.SENT.value,
                    "provider_message_id": event.provider_message_id,
                    "last_error": None,
                    "updated_at": event.occurred_at,
                    **_outcome(event),
                }
            },
        )

    async def mark_failed(self, event: NotificationFailedV1, *, final: bool) -> None:
        update: Document = {"last_error": event.reason, "updated_at": event.occurred_at}
        if final:
            update |= {"state": DeliveryState.FAILED.value, **_outcome(event)}
        await self.notifications.update_one({"_id": event.notification_id}, {"$set": update})

    async def for_ticket(self, ticket_id: str) -> list[DeliveryRecord]:
        cursor = self.notifications.find({"ticket_id": ticket_id}).sort("created_at", ASCENDING)
        return [_record(doc) async for doc in cursor]


def _outcome(event: NotificationEvent) -> Document:
    return {"outcome_type": event.ce_type, "outcome": event.model_dump(mode="json")}


def _document(record: DeliveryRecord) -> Document:
    return {
        "_id": record.notification_id,
        "ticket_id": record.ticket_id,
        "intent": record.intent,
        "template": record.template,
        "language": record.language,
        "channel": record.channel.value,
        "recipient_masked": record.recipient_masked,
        "state": record.state.value,
        "attempts": record.attempts,
        "last_error": record.last_error,
        "provider_message_id": record.provider_message_id,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
    }


def _record(doc: Document) -> DeliveryRecord:
    outcome: NotificationEvent | None = None
    if doc.get("outcome_type"):
        event = EVENTS_BY_TYPE[doc["outcome_type"]].model_validate(doc["outcome"])
        assert isinstance(event, NotificationEvent)
        outcome = event
    created_at: datetime = doc["created_at"]
    return DeliveryRecord(
        notification_id=doc["_id"],
        ticket_id=doc["ticket_id"],
        intent=doc["intent"],
        template=doc["template"],
        language=doc["language"],
        channel=Channel(doc["channel"]),
        recipient_masked=doc["recipient_masked"],
        state=DeliveryState(doc["state"]),
        created_at=created_at,
        updated_at=doc.get("updated_at", created_at),
        attempts=int(doc.get("attempts", 0)),
        provider_message_id=doc.get("provider_message_id"),
        last_error=doc.get("last_error"),
        outcome=outcome,
    )
