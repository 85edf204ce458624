"""sla's state in MongoDB (or FerretDB): tickets, their ledger and outcomes, timers, versions.

- ``sla_tickets`` (``_id`` = ticket id): the :class:`TicketRecord`: ``partition``,
  ``revision``, ``version``, ``opened_at``, ``facts`` (the timeline), ``applied`` (the targets
  last announced), ``applications``, ``announced`` (happening keys), ``ledger_size``,
  ``reported`` (``{key, digest}`` per outcome written: FerretDB stores no nested arrays),
  ``next_due``, ``tracking``. Written whole, only from the revision it was read at (the
  revision read and compared first; a new one by insert).
- ``sla_ledger`` (``_id`` = entry id): append-only; ``ticket_id``, ``seq``, ``kind``, ``at``,
  ``recorded_at``, ``policy_id``, ``policy_version``, ``metric``, ``cycle``, ``detail``,
  ``event_type``, ``event``. Inserted once (a repeat is a duplicate key, ignored).
- ``sla_outcomes`` (``_id`` = ``ticket:metric:cycle``): met or not, when, and the team,
  agent, channel, request type and priority reports group by.
- ``sla_timers_<partition>`` (``_id`` = ticket id): ``d`` (due; None while every clock is
  paused), ``v`` (version). One collection per Kafka partition: a replica taking over partitions
  reads only theirs, all at once; documents are small because each is read at every take-over.
- ``sla_versions`` (``_id`` = version number): ``fingerprint``, ``description``,
  ``registered_at``; a version is claimed by inserting its number.

No transactions, TTL indexes or change streams (FerretDB has none); keys of stored maps never
hold user text (so no ``.`` or ``$`` in field names).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable, Collection, Sequence
from datetime import datetime
from functools import partial
from typing import Any, TypeVar

from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.sla import Metric
from opora_shared.mongo import Document, insert_once
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, OperationFailure

from opora_sla.domain.model import (
    AppliedTargets,
    EntryKind,
    LedgerEntry,
    Outcome,
    TicketRecord,
    TimerRow,
)
from opora_sla.domain.timeline import Fact, FactKind

T = TypeVar("T")

BUSY_ATTEMPTS = 25
"""FerretDB on SQLite answers a write that meets another one with "database is locked"
(SQLITE_BUSY) instead of waiting; such a write is tried again after a short random pause."""


def _busy(error: OperationFailure) -> bool:
    text = str(error)
    return "SQLITE_BUSY" in text or "database is locked" in text


async def patiently(write: Callable[[], Awaitable[T]]) -> T:
    """Run ``write``, again while the store reports itself busy (MongoDB never does)."""
    for attempt in range(BUSY_ATTEMPTS):
        try:
            return await write()
        except DuplicateKeyError:
            raise
        except OperationFailure as error:
            if not _busy(error) or attempt == BUSY_ATTEMPTS - 1:
                raise
        await asyncio.sleep(random.uniform(0.002, 0.02) * min(attempt + 1, 5))  # noqa: S311
    raise AssertionError("unreachable")


TICKETS = "sla_tickets"
LEDGER = "sla_ledger"
OUTCOMES = "sla_outcomes"
TIMERS = "sla_timers"
"""The prefix of the timers' collections, one per partition: ``sla_timers_3``."""
VERSIONS = "sla_versions"


class MongoRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._tickets = db[TICKETS]
        self._ledger = db[LEDGER]
        self._outcomes = db[OUTCOMES]
        self._db = db

    async def create_indexes(self) -> None:
        await self._tickets.create_index([("opened_at", ASCENDING)], name="opened")
        await self._ledger.create_index(
            [("ticket_id", ASCENDING), ("seq", ASCENDING)], name="ticket_order"
        )
        await self._outcomes.create_index([("measured_at", ASCENDING)], name="measured")

    # --- tickets ---------------------------------------------------------------------------------

    async def load(self, ticket_id: str) -> TicketRecord | None:
        doc = await self._tickets.find_one({"_id": ticket_id})
        return record_of(doc) if doc else None

    async def save(self, record: TicketRecord, *, expected_revision: int | None) -> bool:
        doc = document_of(record)
        if expected_revision is None:
            return await patiently(partial(insert_once, self._tickets, doc))
        # Read, compare, replace, each by _id alone: FerretDB looks a document up by its _id
        # only when the filter is nothing else (any other filter scans the collection), and its
        # conditional updates are not atomic anyway. One writer per ticket is what partition
        # ownership and the ticket lock give; the revision check catches a writer that is not.
        stored = await self._tickets.find_one({"_id": record.ticket_id}, {"revision": 1})
        if stored is None or stored.get("revision") != expected_revision:
            return False
        await patiently(partial(self._replace, self._tickets, doc))
        return True

    async def records(
        self, *, opened_from: datetime | None, opened_to: datetime | None
    ) -> AsyncIterator[TicketRecord]:
        opened: Document = {"$ne": None}
        if opened_from is not None:
            opened["$gte"] = opened_from
        if opened_to is not None:
            opened["$lt"] = opened_to
        async for doc in self._tickets.find({"opened_at": opened}):
            yield record_of(doc)

    # --- ledger and outcomes ----------------------------------------------------------------------

    async def append_ledger(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            await patiently(partial(insert_once, self._ledger, entry_document(entry)))

    async def ledger(self, ticket_id: str) -> list[LedgerEntry]:
        cursor = self._ledger.find({"ticket_id": ticket_id}).sort("seq", ASCENDING)
        return [entry_of(doc) async for doc in cursor]

    async def put_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.measured:
                doc = outcome_document(outcome)
                await patiently(partial(self._replace, self._outcomes, doc))
            else:
                await patiently(partial(self._outcomes.delete_one, {"_id": outcome.key}))

    @staticmethod
    async def _replace(collection: Any, doc: Document) -> None:
        await collection.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def outcomes(
        self, *, since: datetime | None, until: datetime | None, metric: Metric | None
    ) -> list[Outcome]:
        query: Document = {}
        when: Document = {}
        if since is not None:
            when["$gte"] = since
        if until is not None:
            when["$lt"] = until
        if when:
            query["measured_at"] = when
        if metric is not None:
            query["metric"] = metric.value
        return [outcome_of(doc) async for doc in self._outcomes.find(query)]

    # --- timers -----------------------------------------------------------------------------------

    def timers_of(self, partition: int) -> Any:
        return self._db[f"{TIMERS}_{partition}"]

    async def set_timer(self, timer: TimerRow) -> None:
        timers = self.timers_of(timer.partition)
        await patiently(partial(self._replace, timers, timer_document(timer)))

    async def drop_timer(self, ticket_id: str, partition: int) -> None:
        await patiently(partial(self.timers_of(partition).delete_one, {"_id": ticket_id}))

    async def timers(self, partitions: Collection[int]) -> list[TimerRow]:
        found = await asyncio.gather(*(self._timers_in(p) for p in sorted(partitions)))
        return [row for rows in found for row in rows]

    async def _timers_in(self, partition: int) -> list[TimerRow]:
        cursor = self.timers_of(partition).find({}).batch_size(10_000)
        return [timer_of(doc, partition) async for doc in cursor]


class MongoVersions:
    """Numbers configurations by fingerprint; two replicas racing for a number both end up
    with the one whose insert won (the ``_id`` is unique)."""

    ATTEMPTS = 20

    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._versions = db[VERSIONS]

    async def version_of(self, fingerprint: str, *, description: str) -> int:
        for _ in range(self.ATTEMPTS):
            known = await self._versions.find_one({"fingerprint": fingerprint})
            if known is not None:
                return int(known["_id"])
            latest = await self._versions.find_one({}, sort=[("_id", DESCENDING)])
            number = int(latest["_id"]) + 1 if latest else 1
            try:
                await self._versions.insert_one(
                    {
                        "_id": number,
                        "fingerprint": fingerprint,
                        "description": description,
                        "registered_at": utc_now(),
                    }
                )
            except DuplicateKeyError:
                continue  # another replica took the number: look again
            return number
        raise RuntimeError("could not register the SLA configuration's version")

    async def find(self, fingerprint: str) -> int | None:
        """The version of a fingerprint already registered, without registering it."""
        known = await self._versions.find_one({"fingerprint": fingerprint})
        return int(known["_id"]) if known else None

    async def history(self) -> list[Document]:
        return [doc async for doc in self._versions.find({}).sort("_id", ASCENDING)]


# --- documents ---------------------------------------------------------------------------------


def document_of(record: TicketRecord) -> Document:
    return {
        "_id": record.ticket_id,
        "partition": record.partition,
        "revision": record.revision,
        "version": record.version,
        "opened_at": record.opened_at,
        "facts": [_fact_document(fact) for fact in record.facts],
        "applied": _applied_document(record.applied),
        "applications": record.applications,
        "announced": sorted(record.announced),
        "ledger_size": record.ledger_size,
        "reported": [
            {"key": key, "digest": digest} for key, digest in sorted(record.reported.items())
        ],
        "next_due": record.next_due,
        "tracking": record.tracking,
    }


def record_of(doc: Document) -> TicketRecord:
    return TicketRecord(
        ticket_id=doc["_id"],
        partition=doc.get("partition"),
        facts=tuple(_fact_of(fact) for fact in doc.get("facts", ())),
        revision=int(doc.get("revision", 0)),
        version=doc.get("version"),
        applied=_applied_of(doc.get("applied")),
        applications=int(doc.get("applications", 0)),
        announced=frozenset(doc.get("announced", ())),
        ledger_size=int(doc.get("ledger_size", 0)),
        reported={item["key"]: item["digest"] for item in doc.get("reported", ())},
        next_due=doc.get("next_due"),
        tracking=bool(doc.get("tracking", False)),
        opened_at=doc.get("opened_at"),
    )


def timer_document(timer: TimerRow) -> Document:
    # Short field names: a replica taking over partitions reads every one of these, and
    # FerretDB's time per document grows with its size.
    return {"_id": timer.ticket_id, "d": timer.due_at, "v": timer.version}


def timer_of(doc: Document, partition: int) -> TimerRow:
    return TimerRow(doc["_id"], partition, doc.get("d"), int(doc["v"]))


def _fact_document(fact: Fact) -> Document:
    doc: Document = {"id": fact.id, "kind": fact.kind.value, "at": fact.at}
    if fact.ref is not None:
        doc["ref"] = fact.ref
    if not fact.public:
        doc["public"] = False
    if fact.status is not None:
        doc["status"] = fact.status.value
    if fact.reopened:
        doc["reopened"] = True
    if fact.attributes:
        doc["attributes"] = dict(fact.attributes)
    return doc


def _fact_of(doc: Document) -> Fact:
    return Fact(
        id=doc["id"],
        kind=FactKind(doc["kind"]),
        at=doc["at"],
        ref=doc.get("ref"),
        public=bool(doc.get("public", True)),
        status=TicketStatus(doc["status"]) if doc.get("status") else None,
        reopened=bool(doc.get("reopened", False)),
        attributes=doc.get("attributes") or {},
    )


def _applied_document(applied: AppliedTargets | None) -> Document | None:
    if applied is None:
        return None
    return {
        "policy_id": applied.policy_id,
        "calendar_id": applied.calendar_id,
        "version": applied.version,
        "targets": [
            {"metric": metric.value, "target_s": target_s, "business_hours": business, "due": due}
            for metric, target_s, business, due in applied.targets
        ],
    }


def _applied_of(doc: Document | None) -> AppliedTargets | None:
    if doc is None:
        return None
    return AppliedTargets(
        policy_id=doc["policy_id"],
        calendar_id=doc["calendar_id"],
        version=int(doc.get("version", 0)),
        targets=tuple(
            (Metric(t["metric"]), int(t["target_s"]), bool(t["business_hours"]), t.get("due"))
            for t in doc["targets"]
        ),
    )


def entry_document(entry: LedgerEntry) -> Document:
    return {
        "_id": entry.id,
        "ticket_id": entry.ticket_id,
        "seq": entry.seq,
        "kind": entry.kind.value,
        "at": entry.at,
        "recorded_at": entry.recorded_at,
        "policy_id": entry.policy_id,
        "policy_version": entry.policy_version,
        "metric": entry.metric.value if entry.metric else None,
        "cycle": entry.cycle,
        "detail": dict(entry.detail),
        "event_type": entry.event_type,
        "event": dict(entry.event) if entry.event is not None else None,
    }


def entry_of(doc: Document) -> LedgerEntry:
    return LedgerEntry(
        id=doc["_id"],
        ticket_id=doc["ticket_id"],
        seq=int(doc["seq"]),
        kind=EntryKind(doc["kind"]),
        at=doc["at"],
        recorded_at=doc["recorded_at"],
        policy_id=doc.get("policy_id"),
        policy_version=int(doc.get("policy_version", 0)),
        metric=Metric(doc["metric"]) if doc.get("metric") else None,
        cycle=doc.get("cycle"),
        detail=doc.get("detail") or {},
        event_type=doc.get("event_type"),
        event=doc.get("event"),
    )


_OUTCOME_FIELDS = (
    "ticket_id",
    "cycle",
    "measured",
    "met",
    "done",
    "measured_at",
    "target_s",
    "used_s",
    "business_hours",
    "policy_id",
    "policy_version",
    "team",
    "agent_id",
    "channel",
    "request_type",
    "priority",
)


def outcome_document(outcome: Outcome) -> Document:
    doc: Document = {"_id": outcome.key, "metric": outcome.metric.value}
    doc.update({name: getattr(outcome, name) for name in _OUTCOME_FIELDS})
    return doc


def outcome_of(doc: Document) -> Outcome:
    fields: dict[str, Any] = {name: doc.get(name) for name in _OUTCOME_FIELDS}
    fields["metric"] = Metric(doc["metric"])
    return Outcome(**fields)
