"""intake's state in MongoDB: tickets, the outcome of every inbound message, customer profiles.

Collections (the data model is described in the service README):

* ``tickets``: ``_id`` = ticket id; ``number`` (unique); ``keys``, the thread keys later messages
  find it by (multikey index); ``status``, ``solved_at``, and ``changed_by``/``previous_status``,
  which let a redelivered message or action recognise the change it made itself;
  ``status_version``, ``status_changed_at`` and ``auto_change_at`` (indexed), when the
  automation moves the ticket on;
* ``ticket_transitions``: ``_id`` = ``<ticket id>:<version>``, each change of a ticket out of a
  version (status, previous status, time, ``changed_by``, the automation's due time), inserted
  before the ticket is updated: the insert is the claim that lets one writer only change a
  version, and whoever finds a claim not yet applied to the ticket applies it; an automatic
  change also keeps its event until it is ``published``;
* ``inbound_outcomes``: ``_id`` = channel and provider message id, the dedup record: what the
  message became and the events it caused, republished as they are on a repeat;
* ``customers``: one profile per person; ``identifiers`` (kind, value, verified) with their keys
  in ``identifier_keys`` (multikey index), ``merged_into``, ``suggestions``;
* ``counters``: ticket numbers;
* ``survey_invitations``: ``_id`` = ticket id, the survey feedback issued for it (customer,
  questions, when sent and when it expires), to recognise a score texted back; indexed by
  customer and expiry.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.common import Channel, TicketStatus
from opora_shared.contracts.customers import IdentifierKind
from opora_shared.contracts.feedback import SurveyType
from opora_shared.contracts.tickets import TicketStatusChangedV1
from opora_shared.mongo import Document, insert_once, upsert
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from opora_intake.domain.identity import Identifier, StoredIdentifier
from opora_intake.domain.ports import (
    CustomerProfile,
    NumberTakenError,
    Outcome,
    StatusChange,
    TicketRecord,
)
from opora_intake.domain.surveys import EXPIRED_KEPT, Invitation

log = logging.getLogger(__name__)

MAX_MERGE_HOPS = 8
CAS_ATTEMPTS = 8
CATCH_UP_LIMIT = 16
MAX_OPEN_INVITATIONS = 20


class MongoRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self.tickets = db["tickets"]
        self.outcomes = db["inbound_outcomes"]
        self.customers = db["customers"]
        self.counters = db["counters"]
        self.invitations = db["survey_invitations"]
        self.transitions = db["ticket_transitions"]

    async def create_indexes(self) -> None:
        await self.tickets.create_index([("keys", ASCENDING)], name="ticket_keys")
        try:
            await self.tickets.create_index(
                [("number", ASCENDING)], name="ticket_number", unique=True
            )
        except OperationFailure as exc:
            # Stored tickets already share a number (FerretDB's non-atomic $inc, before this
            # index existed). Refusing to start would stop every channel; the numbers are
            # reported so an operator can renumber, and creation is retried on the next start.
            log.error(
                "unique index on ticket numbers not created: %s; duplicated numbers: %s",
                exc,
                await self.duplicated_numbers(),
            )
        await self.tickets.create_index([("auto_change_at", ASCENDING)], name="ticket_auto_change")
        await self.transitions.create_index(
            [("ticket_id", ASCENDING), ("changed_by", ASCENDING)], name="transition_by"
        )
        await self.transitions.create_index(
            [("published", ASCENDING)], name="transition_unpublished"
        )
        await self.customers.create_index(
            [("identifier_keys", ASCENDING)], name="customer_identifiers"
        )
        await self.customers.create_index([("merged_into", ASCENDING)], name="customer_merged")
        await self.invitations.create_index(
            [("customer_id", ASCENDING), ("expires_at", ASCENDING)], name="invitation_customer"
        )

    async def duplicated_numbers(self, limit: int = 20) -> list[str]:
        pipeline: list[Document] = [
            {"$group": {"_id": "$number", "n": {"$sum": 1}}},
            {"$match": {"n": {"$gt": 1}}},
            {"$limit": limit},
        ]
        cursor = await self.tickets.aggregate(pipeline)
        return sorted([str(doc["_id"]) async for doc in cursor])

    # --- outcomes ---------------------------------------------------------------------------

    async def find_outcome(self, message_key: str) -> Outcome | None:
        doc = await self.outcomes.find_one({"_id": message_key})
        return _outcome(doc) if doc else None

    async def save_outcome(self, message_key: str, outcome: Outcome) -> Outcome:
        stored = {
            "_id": message_key,
            "ticket_id": outcome.ticket_id,
            "number": outcome.number,
            "opened": outcome.opened,
            "events": [
                {"type": e.ce_type, "event": e.model_dump(mode="json")} for e in outcome.events
            ],
        }
        if await insert_once(self.outcomes, stored):
            return outcome
        existing = await self.find_outcome(message_key)
        if existing is None:  # inserted by someone else a moment ago, so it must be there
            raise RuntimeError(f"outcome of {message_key} vanished")
        return existing

    # --- tickets ----------------------------------------------------------------------------

    async def find_ticket_by_key(self, key: str) -> TicketRecord | None:
        doc = await self.tickets.find_one({"keys": key}, sort=[("opened_seq", DESCENDING)])
        return await self._current(doc)

    async def find_ticket_by_number(self, number: str) -> TicketRecord | None:
        return await self._current(await self.tickets.find_one({"number": number}))

    async def get_ticket(self, ticket_id: str) -> TicketRecord | None:
        return await self._current(await self.tickets.find_one({"_id": ticket_id}))

    async def _current(self, doc: Document | None) -> TicketRecord | None:
        """The ticket with every change claimed for it applied. A change is claimed before it
        is written to the ticket, and on FerretDB a slow conditional update can even overwrite
        a newer one; the claims are the truth, so a reader completes what it finds missing."""
        if doc is None:
            return None
        ticket = _ticket(doc)
        for _ in range(CATCH_UP_LIMIT):
            claimed = await self.transitions.find_one(
                {"_id": _transition_id(ticket.ticket_id, ticket.version)}
            )
            if claimed is None:
                return ticket
            change = _transition(claimed)
            await self._apply(change)
            ticket = change.applied_to(ticket)
        return ticket

    async def create_ticket(self, record: TicketRecord, keys: Sequence[str]) -> TicketRecord:
        try:
            return await self._create_ticket(record, keys)
        except DuplicateKeyError:
            existing = await self.get_ticket(record.ticket_id)
            if existing is not None:
                return existing
            # FerretDB's $inc is not atomic under concurrency: two tickets drew one number.
            raise NumberTakenError(record.number) from None

    async def _create_ticket(self, record: TicketRecord, keys: Sequence[str]) -> TicketRecord:
        doc = await upsert(
            self.tickets,
            {"_id": record.ticket_id},
            {
                "$setOnInsert": {
                    "number": record.number,
                    "status": record.status.value,
                    "customer_id": record.customer_id,
                    "channel": record.channel.value if record.channel else None,
                    "keys": list(keys),
                    "opened_seq": int(record.number.rsplit("-", 1)[-1]),
                    "status_version": 0,
                }
            },
        )
        return _ticket(doc)

    async def add_keys(self, ticket_id: str, keys: Sequence[str]) -> None:
        await self.tickets.update_one(
            {"_id": ticket_id}, {"$addToSet": {"keys": {"$each": list(keys)}}}
        )

    async def set_status(
        self,
        ticket_id: str,
        status: TicketStatus,
        at: datetime,
        *,
        expected: Sequence[TicketStatus] | None = None,
        expected_version: int | None = None,
        changed_by: str | None = None,
        auto_change_at: datetime | None = None,
        event: TicketStatusChangedV1 | None = None,
    ) -> StatusChange | None:
        """Claim the ticket's current version by inserting its transition, then apply it; a
        version claimed by someone else is applied for them and the decision made again."""
        for _ in range(CAS_ATTEMPTS):
            ticket = await self.get_ticket(ticket_id)
            if ticket is None:
                return None
            if changed_by is not None and (made := await self._made_by(ticket, changed_by, at)):
                return made
            if expected_version is not None and ticket.version != expected_version:
                return None
            if expected is not None and ticket.status not in expected:
                return None
            change = StatusChange(
                ticket_id=ticket_id,
                version=ticket.version,
                status=status,
                previous_status=ticket.status,
                at=at,
                changed_by=changed_by,
                auto_change_at=auto_change_at,
                event=event,
            )
            if await self._claim(change):
                return change
        raise RuntimeError(f"ticket {ticket_id} kept changing under a status update")

    async def disarm(self, ticket_id: str, version: int, changed_by: str, at: datetime) -> bool:
        ticket = await self.get_ticket(ticket_id)
        if ticket is None or ticket.version != version:
            return False
        return await self._claim(
            StatusChange(
                ticket_id=ticket_id,
                version=version,
                status=ticket.status,
                previous_status=ticket.status,
                at=at,
                changed_by=changed_by,
                disarm=True,
            )
        )

    async def _claim(self, change: StatusChange) -> bool:
        """Insert the transition out of ``change.version`` and apply it; False when another
        change claimed that version first (the next read of the ticket applies that one)."""
        if not await insert_once(self.transitions, _transition_doc(change)):
            return False
        await self._apply(change)
        return True

    async def _made_by(
        self, ticket: TicketRecord, changed_by: str, at: datetime
    ) -> StatusChange | None:
        """The change ``changed_by`` made to the ticket before, if any (``ticket`` is current:
        every change claimed for it is applied)."""
        doc = await self.transitions.find_one(
            {"ticket_id": ticket.ticket_id, "changed_by": changed_by}
        )
        if doc is not None:
            return _transition(doc)  # applied: ``ticket`` is current
        if ticket.changed_by == changed_by and ticket.previous_status is not None:
            # The last change, made before transitions were kept.
            return StatusChange(
                ticket_id=ticket.ticket_id,
                version=max(ticket.version - 1, 0),
                status=ticket.status,
                previous_status=ticket.previous_status,
                at=ticket.status_changed_at or at,
                changed_by=changed_by,
            )
        return None

    async def _apply(self, change: StatusChange) -> None:
        """Write the claimed change onto the ticket if it is still at the change's version;
        writing the same values twice is harmless, so anyone may complete a claim."""
        fields: Document = {"status_version": change.version + 1}
        if change.disarm:
            fields["auto_change_at"] = None
        else:
            fields |= {
                "status": change.status.value,
                "previous_status": change.previous_status.value,
                "changed_by": change.changed_by,
                "status_changed_at": change.at,
                "auto_change_at": change.auto_change_at,
            }
            if change.status is TicketStatus.SOLVED:
                fields["solved_at"] = change.at
        # Tickets stored before versions were kept have none: they are at version 0.
        version: Any = change.version if change.version else {"$in": [0, None]}
        await self.tickets.update_one(
            {"_id": change.ticket_id, "status_version": version}, {"$set": fields}
        )

    async def due_automations(self, before: datetime) -> list[TicketRecord]:
        cursor = self.tickets.find({"auto_change_at": {"$lte": before}})
        return [_ticket(doc) async for doc in cursor]

    async def unpublished_changes(self) -> list[StatusChange]:
        return [_transition(doc) async for doc in self.transitions.find({"published": False})]

    async def mark_published(self, ticket_id: str, version: int) -> None:
        await self.transitions.update_one(
            {"_id": _transition_id(ticket_id, version)}, {"$set": {"published": True}}
        )

    async def next_number(self) -> int:
        doc = await upsert(self.counters, {"_id": "ticket_number"}, {"$inc": {"value": 1}})
        return int(doc["value"])

    # --- customers --------------------------------------------------------------------------

    async def find_identifiers(self, identifiers: Sequence[Identifier]) -> list[StoredIdentifier]:
        if not identifiers:
            return []
        wanted = {i.key for i in identifiers}
        found: list[StoredIdentifier] = []
        async for doc in self.customers.find({"identifier_keys": {"$in": sorted(wanted)}}):
            owner = await self._resolved_id(doc)
            found += [
                StoredIdentifier(owner, identifier)
                for identifier in _identifiers(doc)
                if identifier.key in wanted
            ]
        return found

    async def _resolved_id(self, doc: Document) -> str:
        """Follow ``merged_into`` to the profile that absorbed this one."""
        current = doc
        for _ in range(MAX_MERGE_HOPS):
            into = current.get("merged_into")
            if not into:
                break
            nxt = await self.customers.find_one({"_id": into})
            if nxt is None:
                break
            current = nxt
        return str(current["_id"])

    async def save_customer(
        self,
        customer_id: str,
        *,
        name: str | None,
        language: str,
        identifiers: Sequence[Identifier],
    ) -> CustomerProfile:
        change: Document = {
            "$setOnInsert": {"language": language, "tier": "standard", "suggestions": {}},
        }
        if identifiers:
            change["$addToSet"] = {
                "identifiers": {
                    "$each": [
                        {"kind": i.kind.value, "value": i.value, "verified": i.verified}
                        for i in identifiers
                    ]
                },
                "identifier_keys": {"$each": [i.key for i in identifiers]},
            }
        doc = await upsert(self.customers, {"_id": customer_id}, change)
        if name and not doc.get("name"):
            await self.customers.update_one({"_id": customer_id}, {"$set": {"name": name}})
            doc["name"] = name
        return await self._profile(doc)

    async def add_suggestions(
        self, customer_id: str, suggestions: dict[str, tuple[str, ...]]
    ) -> None:
        await self.customers.update_one(
            {"_id": customer_id},
            {"$set": {f"suggestions.{other}": list(ev) for other, ev in suggestions.items()}},
        )

    async def get_customer(self, customer_id: str) -> CustomerProfile | None:
        doc = await self.customers.find_one({"_id": customer_id})
        return await self._profile(doc) if doc else None

    async def set_merged_into(self, customer_id: str, into: str | None) -> CustomerProfile | None:
        change: Document = {"$set": {"merged_into": into}, "$inc": {"merge_revision": 1}}
        if into is not None:
            change["$set"]["last_merged_into"] = into
        doc = await self.customers.find_one_and_update(
            {"_id": customer_id}, change, return_document=ReturnDocument.BEFORE
        )
        return await self._profile(doc) if doc else None

    async def _profile(self, doc: Document) -> CustomerProfile:
        merged = [d["_id"] async for d in self.customers.find({"merged_into": doc["_id"]})]
        return CustomerProfile(
            customer_id=str(doc["_id"]),
            name=doc.get("name"),
            language=doc.get("language", "en"),
            tier=doc.get("tier", "standard"),
            identifiers=tuple(_identifiers(doc)),
            merged_into=doc.get("merged_into"),
            last_merged_into=doc.get("last_merged_into"),
            merge_revision=int(doc.get("merge_revision", 0)),
            merged=tuple(str(m) for m in merged),
            suggestions={k: tuple(v) for k, v in (doc.get("suggestions") or {}).items()},
        )

    # --- survey invitations ------------------------------------------------------------------

    async def save_invitation(self, invitation: Invitation) -> None:
        stored = {
            "survey_id": invitation.survey_id,
            "customer_id": invitation.customer_id,
            "channel": invitation.channel.value,
            "survey_type": invitation.survey_type.value,
            "questions": [q.value for q in invitation.questions],
            "issued_at": invitation.issued_at,
            "send_after": invitation.send_after,
            "expires_at": invitation.expires_at,
        }
        try:
            # Matches the ticket's invitation only when it is not newer; otherwise the upsert
            # tries to insert a second document with the ticket's _id and is refused.
            await self.invitations.update_one(
                {"_id": invitation.ticket_id, "issued_at": {"$lte": invitation.issued_at}},
                {"$set": stored},
                upsert=True,
            )
        except DuplicateKeyError:
            log.info("a later-issued invitation is kept", extra={"ticket": invitation.ticket_id})
        await self.invitations.delete_many(
            {
                "customer_id": invitation.customer_id,
                "expires_at": {"$lt": invitation.issued_at - EXPIRED_KEPT},
            }
        )

    async def open_invitations(self, customer_ids: Sequence[str], at: datetime) -> list[Invitation]:
        cursor = (
            self.invitations.find(
                {"customer_id": {"$in": list(customer_ids)}, "expires_at": {"$gt": at}}
            )
            .sort([("send_after", DESCENDING), ("_id", ASCENDING)])
            .limit(MAX_OPEN_INVITATIONS)
        )
        return [_invitation(doc) async for doc in cursor]


def _invitation(doc: Document) -> Invitation:
    return Invitation(
        ticket_id=str(doc["_id"]),
        survey_id=doc["survey_id"],
        customer_id=doc["customer_id"],
        channel=Channel(doc["channel"]),
        survey_type=SurveyType(doc["survey_type"]),
        questions=tuple(SurveyType(q) for q in doc["questions"]),
        issued_at=doc["issued_at"],
        send_after=doc["send_after"],
        expires_at=doc["expires_at"],
    )


def _identifiers(doc: Document) -> list[Identifier]:
    return [
        Identifier(IdentifierKind(i["kind"]), i["value"], bool(i["verified"]))
        for i in doc.get("identifiers", [])
    ]


def _ticket(doc: Document) -> TicketRecord:
    previous = doc.get("previous_status")
    return TicketRecord(
        ticket_id=doc["_id"],
        number=doc["number"],
        status=TicketStatus(doc["status"]),
        customer_id=doc["customer_id"],
        channel=Channel(doc["channel"]) if doc.get("channel") else None,
        solved_at=doc.get("solved_at"),
        changed_by=doc.get("changed_by"),
        previous_status=TicketStatus(previous) if previous else None,
        version=int(doc.get("status_version") or 0),
        status_changed_at=doc.get("status_changed_at"),
        auto_change_at=doc.get("auto_change_at"),
    )


def _transition_id(ticket_id: str, version: int) -> str:
    return f"{ticket_id}:{version}"


def _transition_doc(change: StatusChange) -> Document:
    doc: Document = {
        "_id": _transition_id(change.ticket_id, change.version),
        "ticket_id": change.ticket_id,
        "version": change.version,
        "status": change.status.value,
        "previous_status": change.previous_status.value,
        "at": change.at,
        "changed_by": change.changed_by,
        "auto_change_at": change.auto_change_at,
        "disarm": change.disarm,
    }
    if change.event is not None:
        doc |= {"event": change.event.model_dump(mode="json"), "published": False}
    return doc


def _transition(doc: Document) -> StatusChange:
    event = doc.get("event")
    return StatusChange(
        ticket_id=doc["ticket_id"],
        version=int(doc["version"]),
        status=TicketStatus(doc["status"]),
        previous_status=TicketStatus(doc["previous_status"]),
        at=doc["at"],
        changed_by=doc.get("changed_by"),
        auto_change_at=doc.get("auto_change_at"),
        disarm=bool(doc.get("disarm")),
        event=TicketStatusChangedV1.model_validate(event) if event else None,
        published=bool(doc.get("published", True)),
    )


def _outcome(doc: Document) -> Outcome:
    stored = doc.get("events") or [{"type": doc["event_type"], "event": doc["event"]}]  # ≤ 0.1
    events = tuple(EVENTS_BY_TYPE[e["type"]].model_validate(e["event"]) for e in stored)
    return Outcome(doc["ticket_id"], doc["number"], opened=doc["opened"], events=events)
