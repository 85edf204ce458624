"""sla's state in MongoDB: one document per ticket and metric in ``timers``.

``_id`` = ``"<ticket id>:<metric>"``; fields: ``ticket_id``, ``metric``, the policy
(``policy_id``, ``policy_version``, ``calendar_id``), ``applied_at``, ``started_at``,
``target_s``, ``due_at``, ``warn_at``, ``warning_threshold``, ``state``
(armed/fulfilled/breached), ``warned``, ``warning_published``, ``breach_published``,
``fulfilled_at``, ``fulfilled_by``. Timers are created by an upsert of ``$setOnInsert`` only, so
a redelivered ticket never moves one; state changes are conditional on the current state.
Expiry of old timers is the application's job (no TTL indexes on FerretDB).
"""

from __future__ import annotations

from datetime import datetime

from opora_shared.contracts.sla import Metric
from opora_shared.mongo import Document
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from opora_sla.domain.model import Timer, TimerState
from opora_sla.domain.ports import Announcement

_ARMED = TimerState.ARMED.value
_PUBLISHED_FLAG: dict[Announcement, str] = {
    "warning": "warning_published",
    "breach": "breach_published",
}


class MongoRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._timers = db["timers"]

    async def create_indexes(self) -> None:
        await self._timers.create_index([("ticket_id", ASCENDING)], name="ticket")
        await self._timers.create_index([("state", ASCENDING)], name="state")

    async def arm(self, timer: Timer) -> Timer:
        try:
            doc = await self._timers.find_one_and_update(
                {"_id": timer.key},
                {"$setOnInsert": _document(timer)},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # a concurrent upsert inserted it first
            doc = await self._timers.find_one({"_id": timer.key})
        assert doc is not None
        return _timer(doc)

    async def get(self, key: str) -> Timer | None:
        doc = await self._timers.find_one({"_id": key})
        return _timer(doc) if doc else None

    async def for_ticket(self, ticket_id: str) -> list[Timer]:
        cursor = self._timers.find({"ticket_id": ticket_id}).sort("due_at", ASCENDING)
        return [_timer(doc) async for doc in cursor]

    async def pending(self) -> list[Timer]:
        cursor = self._timers.find(
            {
                "$or": [
                    {"state": _ARMED},
                    {"warned": True, "warning_published": False},
                    {"state": TimerState.BREACHED.value, "breach_published": False},
                ]
            }
        )
        return [_timer(doc) async for doc in cursor]

    async def mark_warned(self, key: str) -> Timer | None:
        return await self._move(
            {"_id": key, "state": _ARMED, "warned": False},
            {"warned": True, "warning_published": False},
        )

    async def mark_breached(self, key: str) -> Timer | None:
        return await self._move(
            {"_id": key, "state": _ARMED},
            {"state": TimerState.BREACHED.value, "breach_published": False},
        )

    async def mark_fulfilled(self, key: str, at: datetime, reply_id: str) -> Timer | None:
        return await self._move(
            {"_id": key, "state": _ARMED},
            {"state": TimerState.FULFILLED.value, "fulfilled_at": at, "fulfilled_by": reply_id},
        )

    async def mark_published(self, key: str, what: Announcement) -> None:
        await self._timers.update_one({"_id": key}, {"$set": {_PUBLISHED_FLAG[what]: True}})

    async def _move(self, condition: Document, changes: Document) -> Timer | None:
        doc = await self._timers.find_one_and_update(
            condition, {"$set": changes}, return_document=ReturnDocument.AFTER
        )
        return _timer(doc) if doc else None


def _document(timer: Timer) -> Document:
    return {
        "ticket_id": timer.ticket_id,
        "metric": timer.metric.value,
        "policy_id": timer.policy_id,
        "policy_version": timer.policy_version,
        "calendar_id": timer.calendar_id,
        "applied_at": timer.applied_at,
        "started_at": timer.started_at,
        "target_s": timer.target_s,
        "due_at": timer.due_at,
        "warn_at": timer.warn_at,
        "warning_threshold": timer.warning_threshold,
        "state": timer.state.value,
        "warned": timer.warned,
        "warning_published": timer.warning_published,
        "breach_published": timer.breach_published,
        "fulfilled_at": timer.fulfilled_at,
        "fulfilled_by": timer.fulfilled_by,
    }


def _timer(doc: Document) -> Timer:
    return Timer(
        ticket_id=doc["ticket_id"],
        metric=Metric(doc["metric"]),
        policy_id=doc["policy_id"],
        policy_version=int(doc["policy_version"]),
        calendar_id=doc["calendar_id"],
        applied_at=doc["applied_at"],
        started_at=doc["started_at"],
        target_s=int(doc["target_s"]),
        due_at=doc["due_at"],
        warn_at=doc["warn_at"],
        warning_threshold=doc["warning_threshold"],
        state=TimerState(doc["state"]),
        warned=bool(doc.get("warned", False)),
        warning_published=bool(doc.get("warning_published", False)),
        breach_published=bool(doc.get("breach_published", False)),
        fulfilled_at=doc.get("fulfilled_at"),
        fulfilled_by=doc.get("fulfilled_by"),
    )
