"""intake's state in MongoDB: tickets, the outcome of every inbound message, customers.

Collections: ``tickets`` (``_id`` = ticket id; ``conversation`` indexed), ``inbound_outcomes``
(``_id`` = channel and provider message id: the dedup record), ``customers`` (one profile,
found by e-mail, phone or channel id), ``counters`` (ticket numbers).
"""

from __future__ import annotations

from typing import Any

from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.common import CustomerContact, CustomerRef, TicketStatus
from opora_shared.mongo import Document, insert_once
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from opora_intake.domain.model import derived_id
from opora_intake.domain.ports import Outcome, TicketRecord

_OPEN = [s.value for s in TicketStatus if s is not TicketStatus.CLOSED]


class MongoRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tickets = db["tickets"]
        self.outcomes = db["inbound_outcomes"]
        self.customers = db["customers"]
        self.counters = db["counters"]

    async def create_indexes(self) -> None:
        await self.tickets.create_index([("conversation", ASCENDING), ("status", ASCENDING)])
        for identifier in ("email", "phone", "external_id"):
            await self.customers.create_index(
                [(identifier, ASCENDING)], name=f"customer_{identifier}"
            )

    async def find_outcome(self, message_key: str) -> Outcome | None:
        doc = await self.outcomes.find_one({"_id": message_key})
        return _outcome(doc) if doc else None

    async def save_outcome(self, message_key: str, outcome: Outcome) -> Outcome:
        stored = {
            "_id": message_key,
            "ticket_id": outcome.ticket_id,
            "number": outcome.number,
            "opened": outcome.opened,
            "event_type": outcome.event.ce_type,
            "event": outcome.event.model_dump(mode="json"),
        }
        if await insert_once(self.outcomes, stored):
            return outcome
        existing = await self.find_outcome(message_key)
        if existing is None:  # inserted by someone else a moment ago, so it must be there
            raise RuntimeError(f"outcome of {message_key} vanished")
        return existing

    async def find_open_ticket(self, conversation_key: str) -> TicketRecord | None:
        doc = await self.tickets.find_one(
            {"conversation": conversation_key, "status": {"$in": _OPEN}},
            sort=[("opened_seq", -1)],
        )
        return _ticket(doc) if doc else None

    async def create_ticket(self, record: TicketRecord, conversation_key: str) -> TicketRecord:
        doc = await self.tickets.find_one_and_update(
            {"_id": record.ticket_id},
            {
                "$setOnInsert": {
                    "number": record.number,
                    "status": record.status.value,
                    "customer_id": record.customer_id,
                    "conversation": conversation_key,
                    "opened_seq": int(record.number.rsplit("-", 1)[-1]),
                }
            },
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return _ticket(_upserted(doc))

    async def set_status(self, ticket_id: str, status: TicketStatus) -> TicketStatus | None:
        doc = await self.tickets.find_one_and_update(
            {"_id": ticket_id},
            {"$set": {"status": status.value}},
            return_document=ReturnDocument.BEFORE,
        )
        return TicketStatus(doc["status"]) if doc else None

    async def next_number(self) -> int:
        doc = await self.counters.find_one_and_update(
            {"_id": "ticket_number"},
            {"$inc": {"value": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return int(_upserted(doc)["value"])

    async def resolve_customer(self, contact: CustomerContact, language: str) -> CustomerRef:
        """Find the profile by channel id, then e-mail, then phone; create it when none matches."""
        identifiers = {
            key: value
            for key, value in (
                ("external_id", contact.external_id),
                ("email", contact.email),
                ("phone", contact.phone),
            )
            if value
        }
        doc: dict[str, Any] | None = None
        for key, value in identifiers.items():
            doc = await self.customers.find_one({key: value})
            if doc:
                break
        if doc is None:
            first = next(iter(identifiers.items()), ("anonymous", contact.name or "?"))
            customer_id = derived_id("customer", *first)
        else:
            customer_id = doc["_id"]
        updates: dict[str, Any] = {k: v for k, v in identifiers.items() if not (doc or {}).get(k)}
        if contact.name and not (doc or {}).get("name"):
            updates["name"] = contact.name
        change: Document = {"$setOnInsert": {"language": language}}
        if updates:
            change["$set"] = updates
        doc = _upserted(
            await self.customers.find_one_and_update(
                {"_id": customer_id}, change, upsert=True, return_document=ReturnDocument.AFTER
            )
        )
        return CustomerRef(
            customer_id=customer_id,
            name=doc.get("name"),
            email=doc.get("email"),
            phone=doc.get("phone"),
            language=doc.get("language", language),
            tier=doc.get("tier", "standard"),
        )


def _upserted(doc: Document | None) -> Document:
    if doc is None:  # an upsert returning the document after the update always finds one
        raise RuntimeError("upsert returned no document")
    return doc


def _ticket(doc: Document) -> TicketRecord:
    return TicketRecord(
        ticket_id=doc["_id"],
        number=doc["number"],
        status=TicketStatus(doc["status"]),
        customer_id=doc["customer_id"],
    )


def _outcome(doc: Document) -> Outcome:
    event = EVENTS_BY_TYPE[doc["event_type"]].model_validate(doc["event"])
    return Outcome(doc["ticket_id"], doc["number"], opened=doc["opened"], event=event)
