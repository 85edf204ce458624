"""notifications' state in MongoDB, in ways that hold on FerretDB too (no transactions, no TTL
indexes, no atomic conditional updates relied upon).

Collections (all prefixed, since the services may share one database):

* ``notifications``: one record per planned notification (``_id`` = notification id): what,
  for whom, when, its state and history; the view the HTTP API and the timers read.
* ``notification_attempts``: ``_id`` = ``<notification id>#<n>``; inserting it claims attempt
  *n* (the exactly-once authority); its claimant writes the outcome.
* ``notification_quotas``: rate-limit slots and survey-fatigue days, taken by inserting their
  key; ``expires_at`` lets the service delete them (FerretDB has no TTL indexes).
* ``notification_tickets``, ``notification_agents``, ``notification_preferences``,
  ``notification_dead_letters``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.common import Channel, CustomerRef, Priority, RequestType, TicketStatus
from opora_shared.contracts.notifications import NotificationEvent
from opora_shared.mongo import Document, insert_once
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from opora_notifications.domain.model import (
    SETTLED_STATES,
    Agent,
    Attempt,
    Audience,
    DeadLetter,
    DeliveryState,
    HistoryEntry,
    NotificationRecord,
    Outcome,
    Preferences,
)
from opora_notifications.domain.rules import Category, Trigger
from opora_notifications.domain.service import Occurrence
from opora_notifications.domain.tickets import TicketView

_UNSETTLED = [s.value for s in DeliveryState if s not in SETTLED_STATES]


class MongoNotificationStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.notifications = db["notifications"]
        self.attempt_docs = db["notification_attempts"]
        self.letters = db["notification_dead_letters"]

    async def create_indexes(self) -> None:
        await self.notifications.create_index(
            [("ticket_id", ASCENDING), ("created_at", ASCENDING)], name="by_ticket"
        )
        await self.notifications.create_index(
            [("settled", ASCENDING), ("wake_at", ASCENDING)], name="by_wake"
        )
        await self.notifications.create_index([("published", ASCENDING)], name="unpublished")
        await self.attempt_docs.create_index(
            [("notification_id", ASCENDING), ("number", ASCENDING)], name="by_notification"
        )
        await self.letters.create_index(
            [("ticket_id", ASCENDING), ("failed_at", DESCENDING)], name="by_ticket"
        )

    async def plan(self, record: NotificationRecord) -> tuple[NotificationRecord, bool]:
        if await insert_once(self.notifications, _record_document(record)):
            return record, True
        stored = await self.notifications.find_one({"_id": record.notification_id})
        assert stored is not None, "a duplicate key means the record exists"
        return _record(stored), False

    async def get(self, notification_id: str) -> NotificationRecord | None:
        doc = await self.notifications.find_one({"_id": notification_id})
        return _record(doc) if doc else None

    async def save(self, record: NotificationRecord, entry: HistoryEntry | None = None) -> None:
        update: Document = {"$set": _changing(record)}
        if entry is not None:
            update["$push"] = {"history": _entry(entry)}
        await self.notifications.update_one({"_id": record.notification_id}, update)

    async def attempts(self, notification_id: str) -> list[Attempt]:
        cursor = self.attempt_docs.find({"notification_id": notification_id}).sort(
            "number", ASCENDING
        )
        return [_attempt(doc) async for doc in cursor]

    async def claim(self, attempt: Attempt) -> bool:
        return await insert_once(
            self.attempt_docs,
            {
                "_id": attempt.key,
                "notification_id": attempt.notification_id,
                "number": attempt.number,
                "claimed_at": attempt.claimed_at,
                "lease_until": attempt.lease_until,
                "outcome": None,
            },
        )

    async def settle(
        self,
        attempt: Attempt,
        outcome: Outcome,
        *,
        retry_at: datetime | None,
        reason: str | None,
        event: NotificationEvent | None,
    ) -> None:
        await self.attempt_docs.update_one(
            {"_id": attempt.key},
            {
                "$set": {
                    "outcome": outcome.value,
                    "retry_at": retry_at,
                    "reason": reason,
                    **_event_fields(event, "event"),
                }
            },
        )

    async def mark_published(self, notification_id: str) -> None:
        await self.notifications.update_one({"_id": notification_id}, {"$set": {"published": True}})

    async def pull_forward(self, ticket_id: str, at: datetime) -> list[str]:
        query = {"ticket_id": ticket_id, "awaits_sla": True, "attempts": 0, "settled": False}
        ids = [doc["_id"] async for doc in self.notifications.find(query, {"_id": 1})]
        if ids:
            await self.notifications.update_many(
                {"_id": {"$in": ids}},
                {"$set": {"due_at": at, "wake_at": at, "awaits_sla": False}},
            )
        return ids

    async def unsettled(
        self, *, ticket_id: str | None = None, wake_before: datetime | None = None
    ) -> list[NotificationRecord]:
        query: Document = {"settled": False}
        if ticket_id is not None:
            query["ticket_id"] = ticket_id
        if wake_before is not None:
            query["wake_at"] = {"$lte": wake_before}
        return [_record(doc) async for doc in self.notifications.find(query)]

    async def unpublished(self) -> list[NotificationRecord]:
        return [_record(doc) async for doc in self.notifications.find({"published": False})]

    async def for_ticket(self, ticket_id: str) -> list[NotificationRecord]:
        cursor = self.notifications.find({"ticket_id": ticket_id}).sort(
            [("created_at", ASCENDING), ("due_at", ASCENDING)]
        )
        return [_record(doc) async for doc in cursor]

    async def dead_letter(self, letter: DeadLetter) -> None:
        await insert_once(
            self.letters,
            {
                "_id": letter.notification_id,
                "ticket_id": letter.ticket_id,
                "intent": letter.intent,
                "channel": letter.channel.value if letter.channel else None,
                "recipient_masked": letter.recipient_masked,
                "reason": letter.reason,
                "attempts": letter.attempts,
                "failed_at": letter.failed_at,
                "trigger_event_id": letter.trigger_event_id,
            },
        )

    async def dead_letters(self, ticket_id: str | None, limit: int) -> list[DeadLetter]:
        query = {"ticket_id": ticket_id} if ticket_id else {}
        cursor = self.letters.find(query).sort("failed_at", DESCENDING).limit(limit)
        return [
            DeadLetter(
                notification_id=doc["_id"],
                ticket_id=doc["ticket_id"],
                intent=doc["intent"],
                channel=Channel(doc["channel"]) if doc.get("channel") else None,
                recipient_masked=doc.get("recipient_masked"),
                reason=doc["reason"],
                attempts=int(doc.get("attempts", 0)),
                failed_at=doc["failed_at"],
                trigger_event_id=doc.get("trigger_event_id", ""),
            )
            async for doc in cursor
        ]


class MongoQuotas:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.quotas = db["notification_quotas"]

    async def create_indexes(self) -> None:
        await self.quotas.create_index([("holder", ASCENDING)], name="by_holder")
        await self.quotas.create_index([("expires_at", ASCENDING)], name="by_expiry")

    async def take_slot(self, key: str, slots: int, holder: str, expires_at: datetime) -> bool:
        names = [f"{key}:{n}" for n in range(slots)]
        if await self.quotas.find_one({"_id": {"$in": names}, "holder": holder}) is not None:
            return True
        for name in names:
            doc = {"_id": name, "holder": holder, "expires_at": expires_at}
            if await insert_once(self.quotas, doc):
                return True
        return False

    async def take_all(self, keys: Sequence[str], holder: str, expires_at: datetime) -> bool:
        taken: list[str] = []
        for key in keys:
            if await insert_once(
                self.quotas, {"_id": key, "holder": holder, "expires_at": expires_at}
            ):
                taken.append(key)
                continue
            owner = await self.quotas.find_one({"_id": key})
            if owner is not None and owner.get("holder") == holder:
                continue
            if taken:
                await self.quotas.delete_many({"_id": {"$in": taken}, "holder": holder})
            return False
        return True

    async def release(self, holder: str) -> None:
        await self.quotas.delete_many({"holder": holder})

    async def purge(self, now: datetime) -> int:
        result = await self.quotas.delete_many({"expires_at": {"$lte": now}})
        return int(result.deleted_count)


class MongoWaitingRoom:
    """Occurrences parked by ticket until the ticket's opening arrives; one document each,
    keyed by ticket, event and trigger so that parking twice keeps one."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.parked = db["notification_waiting"]

    async def create_indexes(self) -> None:
        await self.parked.create_index([("ticket_id", ASCENDING)], name="by_ticket")
        # FerretDB has no TTL indexes: ``purge`` removes what waited too long.
        await self.parked.create_index([("at", ASCENDING)], name="by_time")

    async def park(self, occurrence: Occurrence) -> None:
        await insert_once(
            self.parked,
            {
                "_id": _waiting_id(occurrence),
                "ticket_id": occurrence.ticket_id,
                "trigger": occurrence.trigger.value,
                "event_id": occurrence.event_id,
                "at": occurrence.at,
                "send_after": occurrence.send_after,
                "auto_change_at": occurrence.auto_change_at,
                "level": occurrence.level,
                "metric": occurrence.metric,
                "team": occurrence.team,
                "agent_id": occurrence.agent_id,
                "facts": dict(occurrence.facts),
            },
        )

    async def waiting(self, ticket_id: str) -> list[Occurrence]:
        found = self.parked.find({"ticket_id": ticket_id}).sort("at", ASCENDING)
        return [
            Occurrence(
                trigger=Trigger(doc["trigger"]),
                ticket_id=doc["ticket_id"],
                event_id=doc["event_id"],
                at=doc["at"],
                send_after=doc.get("send_after"),
                auto_change_at=doc.get("auto_change_at"),
                level=doc.get("level"),
                metric=doc.get("metric"),
                team=doc.get("team"),
                agent_id=doc.get("agent_id"),
                facts=doc.get("facts") or {},
            )
            async for doc in found
        ]

    async def release(self, occurrence: Occurrence) -> None:
        await self.parked.delete_one({"_id": _waiting_id(occurrence)})

    async def purge(self, before: datetime) -> int:
        result = await self.parked.delete_many({"at": {"$lt": before}})
        return int(result.deleted_count)


def _waiting_id(occurrence: Occurrence) -> str:
    return f"{occurrence.ticket_id}:{occurrence.event_id}:{occurrence.trigger.value}"


class MongoTicketStore:
    """Each event sets only its own fields; the tickets topic is consumed in order per ticket,
    and the guards below make a redelivered older event change nothing."""

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tickets = db["notification_tickets"]

    async def get(self, ticket_id: str) -> TicketView | None:
        doc = await self.tickets.find_one({"_id": ticket_id})
        return _ticket(doc) if doc else None

    async def opened(self, view: TicketView) -> None:
        facts: Document = {
            "number": view.number,
            "subject": view.subject,
            "channel": view.channel.value if view.channel else None,
            "request_type": view.request_type.value if view.request_type else None,
            "priority": view.priority.value if view.priority else None,
            "language": view.language,
            "product": view.product,
            "references": {k: list(v) for k, v in view.references.items()},
            "customer": view.customer.model_dump(mode="json") if view.customer else None,
            "source_message_id": view.source_message_id,
            "opened_at": view.opened_at,
        }
        await self._upsert(
            view.ticket_id, {"$set": facts, "$setOnInsert": {"status": TicketStatus.NEW.value}}
        )

    async def status_changed(
        self, ticket_id: str, status: TicketStatus, at: datetime, *, reopened: bool
    ) -> None:
        newer = {
            "_id": ticket_id,
            "$or": [{"status_at": None}, {"status_at": {"$lte": at}}],
        }
        try:
            await self.tickets.update_one(
                newer, {"$set": {"status": status.value, "status_at": at}}, upsert=True
            )
        except DuplicateKeyError:
            return  # the stored status is newer: this is a redelivered older change
        if reopened:
            await self._upsert(ticket_id, {"$max": {"reopened_at": at}})

    async def customer_wrote(self, ticket_id: str, at: datetime) -> None:
        await self._upsert(ticket_id, {"$max": {"last_customer_message_at": at}})

    async def agent_replied(self, ticket_id: str, at: datetime) -> None:
        await self._upsert(ticket_id, {"$max": {"last_agent_reply_at": at}})

    async def updated(self, ticket_id: str, fields: Mapping[str, Any]) -> None:
        values = {k: getattr(v, "value", v) for k, v in fields.items()}
        await self._upsert(ticket_id, {"$set": values})

    async def assigned(
        self, ticket_id: str, *, agent_id: str, team: str | None, queue: str, at: datetime
    ) -> None:
        newer = {"_id": ticket_id, "$or": [{"assigned_at": None}, {"assigned_at": {"$lte": at}}]}
        update = {"$set": {"agent_id": agent_id, "team": team, "queue": queue, "assigned_at": at}}
        try:
            await self.tickets.update_one(newer, update, upsert=True)
        except DuplicateKeyError:
            return

    async def sla_applied(
        self, ticket_id: str, reply_due_at: datetime | None, at: datetime
    ) -> None:
        newer = {"_id": ticket_id, "$or": [{"sla_at": None}, {"sla_at": {"$lte": at}}]}
        update = {"$set": {"reply_due_at": reply_due_at, "sla_at": at}}
        try:
            await self.tickets.update_one(newer, update, upsert=True)
        except DuplicateKeyError:
            return

    async def survey_facts(
        self,
        ticket_id: str,
        *,
        customer: CustomerRef,
        channel: Channel,
        language: str,
        request_type: str,
    ) -> None:
        current = await self.tickets.find_one({"_id": ticket_id})
        known = current or {}
        fill = {
            "customer": customer.model_dump(mode="json"),
            "channel": channel.value,
            "language": language,
            "request_type": request_type,
        }
        missing = {k: v for k, v in fill.items() if not known.get(k)}
        if missing:
            await self._upsert(ticket_id, {"$set": missing})

    async def _upsert(self, ticket_id: str, update: Document) -> None:
        for _ in range(3):  # two first writers may both insert; the loser retries as an update
            try:
                await self.tickets.update_one({"_id": ticket_id}, update, upsert=True)
                return
            except DuplicateKeyError:
                continue


class MongoAgentStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.agents = db["notification_agents"]

    async def save(self, agent: Agent) -> None:
        await self.agents.replace_one(
            {"_id": agent.agent_id},
            {
                "name": agent.name,
                "email": agent.email,
                "languages": list(agent.languages),
                "teams": list(agent.teams),
            },
            upsert=True,
        )

    async def get(self, agent_id: str) -> Agent | None:
        doc = await self.agents.find_one({"_id": agent_id})
        if doc is None:
            return None
        return Agent(
            agent_id=doc["_id"],
            name=doc.get("name", ""),
            email=doc.get("email"),
            languages=tuple(doc.get("languages", ())),
            teams=tuple(doc.get("teams", ())),
        )


class MongoPreferenceStore:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.preferences = db["notification_preferences"]

    async def get(self, customer_id: str) -> Preferences | None:
        doc = await self.preferences.find_one({"_id": customer_id})
        if doc is None:
            return None
        return Preferences(
            customer_id=doc["_id"],
            opted_out=frozenset(doc.get("opted_out", ())),
            blocked_channels=frozenset(Channel(c) for c in doc.get("blocked_channels", ())),
            preferred_channels=tuple(Channel(c) for c in doc.get("preferred_channels", ())),
            time_zone=doc.get("time_zone"),
            updated_at=doc.get("updated_at"),
        )

    async def save(self, preferences: Preferences) -> None:
        await self.preferences.replace_one(
            {"_id": preferences.customer_id},
            {
                "opted_out": sorted(preferences.opted_out),
                "blocked_channels": sorted(c.value for c in preferences.blocked_channels),
                "preferred_channels": [c.value for c in preferences.preferred_channels],
                "time_zone": preferences.time_zone,
                "updated_at": preferences.updated_at,
            },
            upsert=True,
        )


# --- documents ↔ records ----------------------------------------------------------------------


def _event_fields(event: NotificationEvent | None, prefix: str) -> Document:
    if event is None:
        return {}
    return {f"{prefix}_type": event.ce_type, prefix: event.model_dump(mode="json")}


def _event(doc: Document, prefix: str) -> NotificationEvent | None:
    kind = doc.get(f"{prefix}_type")
    if not kind:
        return None
    event = EVENTS_BY_TYPE[kind].model_validate(doc[prefix])
    assert isinstance(event, NotificationEvent)
    return event


def _entry(entry: HistoryEntry) -> Document:
    return {"at": entry.at, "state": entry.state.value, "detail": entry.detail}


def _changing(record: NotificationRecord) -> Document:
    return {
        "state": record.state.value,
        "settled": record.state in SETTLED_STATES,
        "due_at": record.due_at,
        "wake_at": record.wake_at,
        "awaits_sla": record.awaits_sla,
        "attempts": record.attempts,
        "send_attempts": record.send_attempts,
        "channel": record.channel.value if record.channel else None,
        "language": record.language,
        "recipient_masked": record.recipient_masked,
        "last_error": record.last_error,
        "provider_message_id": record.provider_message_id,
        "published": record.published,
        "updated_at": record.updated_at,
        "outcome_type": record.outcome.ce_type if record.outcome else None,
        "outcome": record.outcome.model_dump(mode="json") if record.outcome else None,
    }


def _record_document(record: NotificationRecord) -> Document:
    return {
        "_id": record.notification_id,
        "ticket_id": record.ticket_id,
        "intent": record.intent,
        "template": record.template,
        "category": record.category.value,
        "audience": record.audience.value,
        "recipient_key": record.recipient_key,
        "recipient": record.recipient,
        "recipient_name": record.recipient_name,
        "recipient_language": record.recipient_language,
        "recipient_time_zone": record.recipient_time_zone,
        "trigger": record.trigger.value,
        "trigger_event_id": record.trigger_event_id,
        "triggered_at": record.triggered_at,
        "created_at": record.created_at,
        "facts": dict(record.facts),
        "history": [_entry(e) for e in record.history],
        **_changing(record),
    }


def _record(doc: Document) -> NotificationRecord:
    return NotificationRecord(
        notification_id=doc["_id"],
        intent=doc["intent"],
        ticket_id=doc["ticket_id"],
        template=doc["template"],
        category=Category(doc["category"]),
        audience=Audience(doc["audience"]),
        recipient_key=doc["recipient_key"],
        trigger=Trigger(doc["trigger"]),
        trigger_event_id=doc["trigger_event_id"],
        triggered_at=doc["triggered_at"],
        due_at=doc["due_at"],
        created_at=doc["created_at"],
        recipient=doc.get("recipient"),
        recipient_name=doc.get("recipient_name"),
        recipient_language=doc.get("recipient_language"),
        recipient_time_zone=doc.get("recipient_time_zone"),
        facts=doc.get("facts") or {},
        awaits_sla=bool(doc.get("awaits_sla")),
        state=DeliveryState(doc["state"]),
        wake_at=doc.get("wake_at"),
        attempts=int(doc.get("attempts", 0)),
        send_attempts=int(doc.get("send_attempts", 0)),
        channel=Channel(doc["channel"]) if doc.get("channel") else None,
        language=doc.get("language"),
        recipient_masked=doc.get("recipient_masked"),
        last_error=doc.get("last_error"),
        provider_message_id=doc.get("provider_message_id"),
        outcome=_event(doc, "outcome"),
        published=bool(doc.get("published", True)),
        updated_at=doc.get("updated_at"),
        history=tuple(
            HistoryEntry(e["at"], DeliveryState(e["state"]), e.get("detail", ""))
            for e in doc.get("history", ())
        ),
    )


def _attempt(doc: Document) -> Attempt:
    return Attempt(
        notification_id=doc["notification_id"],
        number=int(doc["number"]),
        claimed_at=doc["claimed_at"],
        lease_until=doc["lease_until"],
        outcome=Outcome(doc["outcome"]) if doc.get("outcome") else None,
        retry_at=doc.get("retry_at"),
        reason=doc.get("reason"),
        event=_event(doc, "event"),
    )


def _ticket(doc: Document) -> TicketView:
    def enum(kind: Any, key: str) -> Any:
        value = doc.get(key)
        return kind(value) if value else None

    customer = doc.get("customer")
    return TicketView(
        ticket_id=doc["_id"],
        number=doc.get("number"),
        subject=doc.get("subject") or "",
        channel=enum(Channel, "channel"),
        request_type=enum(RequestType, "request_type"),
        priority=enum(Priority, "priority"),
        language=doc.get("language"),
        product=doc.get("product"),
        references={k: tuple(v) for k, v in (doc.get("references") or {}).items()},
        customer=CustomerRef.model_validate(customer) if customer else None,
        source_message_id=doc.get("source_message_id"),
        opened_at=doc.get("opened_at"),
        status=enum(TicketStatus, "status"),
        status_at=doc.get("status_at"),
        reopened_at=doc.get("reopened_at"),
        last_customer_message_at=doc.get("last_customer_message_at"),
        last_agent_reply_at=doc.get("last_agent_reply_at"),
        agent_id=doc.get("agent_id"),
        team=doc.get("team"),
        queue=doc.get("queue"),
        reply_due_at=doc.get("reply_due_at"),
    )
