"""routing's state in MongoDB, so that a restart resumes where it stopped.

Collections:

- ``agents`` (``_id`` = agent id): the latest profile (``skills`` as a list of name/level pairs,
  ``languages``, ``teams``, ``capacity`` per channel), ``presence``, ``revision`` (bumped per
  profile change), ``load`` per channel, ``active`` (one entry per held ticket, keyed by the
  escaped ticket id) and ``last_assigned_at``;
- ``assignments`` (``_id`` = ticket id): the ticket's routing facts, ``state``
  (waiting/assigned/closed), ``agent_id``, ``team``, ``assigned_at`` and ``announced``.

Every write is one conditional single-document update (no transactions: FerretDB has none). A
missing ``load.<channel>`` counts as zero, which ``$lt`` alone would not match.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.workspace import AgentProfileChangedV1, Presence
from opora_shared.mongo import Document
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from opora_routing.domain.model import Agent, Routing, RoutingState, Ticket

_AGENT_DEFAULTS: Document = {"load": {}, "active": {}, "last_assigned_at": None}


class MongoRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._agents = db["agents"]
        self._assignments = db["assignments"]

    async def create_indexes(self) -> None:
        await self._assignments.create_index(
            [("state", ASCENDING), ("rank", DESCENDING), ("ticket.opened_at", ASCENDING)],
            name="queue_order",
        )
        await self._assignments.create_index(
            [("state", ASCENDING), ("announced", ASCENDING)], name="unannounced"
        )

    # --- agents ---------------------------------------------------------------------------

    async def save_profile(self, profile: AgentProfileChangedV1) -> None:
        await self._agents.update_one(
            {"_id": profile.agent_id},
            {
                "$set": {
                    "name": profile.name,
                    "email": profile.email,
                    "skills": [{"name": k, "level": v} for k, v in sorted(profile.skills.items())],
                    "languages": list(profile.languages),
                    "teams": list(profile.teams),
                    "capacity": {str(k): v for k, v in profile.capacity.items()},
                },
                "$inc": {"revision": 1},
                "$setOnInsert": {"presence": Presence.OFFLINE.value, **_AGENT_DEFAULTS},
            },
            upsert=True,
        )

    async def set_presence(self, agent_id: str, presence: Presence) -> None:
        await self._agents.update_one(
            {"_id": agent_id},
            {
                "$set": {"presence": presence.value},
                "$setOnInsert": {
                    "name": "",
                    "skills": [],
                    "languages": [],
                    "teams": [],
                    "capacity": {},
                    "revision": 0,
                    **_AGENT_DEFAULTS,
                },
            },
            upsert=True,
        )

    async def agents(self) -> list[Agent]:
        return [_agent(doc) async for doc in self._agents.find({}).sort("_id", ASCENDING)]

    async def reserve(self, agent: Agent, ticket: Ticket, at: datetime) -> bool:
        channel = ticket.channel.value
        slot = f"active.{field_key(ticket.ticket_id)}"
        result = await self._agents.update_one(
            {
                "_id": agent.agent_id,
                "presence": Presence.ONLINE.value,
                "revision": agent.revision,
                slot: {"$exists": False},
                "$or": [
                    {f"load.{channel}": {"$exists": False}},
                    {f"load.{channel}": {"$lt": agent.capacity_for(ticket.channel)}},
                ],
            },
            {
                "$inc": {f"load.{channel}": 1},
                "$set": {
                    slot: {"ticket_id": ticket.ticket_id, "channel": channel},
                    "last_assigned_at": at,
                },
            },
        )
        return result.modified_count == 1

    async def release(self, agent_id: str, ticket: Ticket) -> bool:
        slot = f"active.{field_key(ticket.ticket_id)}"
        result = await self._agents.update_one(
            {"_id": agent_id, slot: {"$exists": True}},
            {"$inc": {f"load.{ticket.channel.value}": -1}, "$unset": {slot: ""}},
        )
        return result.modified_count == 1

    # --- assignments ----------------------------------------------------------------------

    async def track(self, ticket: Ticket) -> Routing:
        doc = {
            "ticket": _ticket_doc(ticket),
            "rank": ticket.priority.rank,
            "state": RoutingState.WAITING.value,
            "agent_id": None,
            "team": None,
            "assigned_at": None,
            "announced": False,
        }
        try:
            stored = await self._assignments.find_one_and_update(
                {"_id": ticket.ticket_id},
                {"$setOnInsert": doc},
                upsert=True,
                return_document=ReturnDocument.AFTER,
            )
        except DuplicateKeyError:  # two upserts raced; the other one inserted it
            stored = await self._assignments.find_one({"_id": ticket.ticket_id})
        assert stored is not None
        return _routing(stored)

    async def get(self, ticket_id: str) -> Routing | None:
        doc = await self._assignments.find_one({"_id": ticket_id})
        return _routing(doc) if doc else None

    async def find(self, ticket_ids: Iterable[str]) -> dict[str, Routing]:
        ids = sorted(set(ticket_ids))
        return {
            doc["_id"]: _routing(doc) async for doc in self._assignments.find({"_id": {"$in": ids}})
        }

    async def waiting(self) -> list[Routing]:
        cursor = self._assignments.find({"state": RoutingState.WAITING.value}).sort(
            [("rank", DESCENDING), ("ticket.opened_at", ASCENDING), ("_id", ASCENDING)]
        )
        return [_routing(doc) async for doc in cursor]

    async def unannounced(self) -> list[Routing]:
        cursor = self._assignments.find({"state": RoutingState.ASSIGNED.value, "announced": False})
        return [_routing(doc) async for doc in cursor]

    async def claim(
        self, ticket_id: str, agent_id: str, team: str | None, at: datetime
    ) -> Routing | None:
        doc = await self._assignments.find_one_and_update(
            {"_id": ticket_id, "state": RoutingState.WAITING.value},
            {
                "$set": {
                    "state": RoutingState.ASSIGNED.value,
                    "agent_id": agent_id,
                    "team": team,
                    "assigned_at": at,
                    "announced": False,
                }
            },
            return_document=ReturnDocument.AFTER,
        )
        return _routing(doc) if doc else None

    async def mark_announced(self, ticket_id: str) -> None:
        await self._assignments.update_one({"_id": ticket_id}, {"$set": {"announced": True}})

    async def close(self, ticket_id: str) -> Routing | None:
        doc = await self._assignments.find_one_and_update(
            {"_id": ticket_id},
            {"$set": {"state": RoutingState.CLOSED.value}},
            return_document=ReturnDocument.BEFORE,
        )
        return _routing(doc) if doc else None


def field_key(value: str) -> str:
    """``value`` made safe as a document key: no ``.`` anywhere, no leading ``$``."""
    return value.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def _ticket_doc(ticket: Ticket) -> Document:
    return {
        "channel": ticket.channel.value,
        "request_type": ticket.request_type.value,
        "priority": ticket.priority.value,
        "language": ticket.language,
        "opened_at": ticket.opened_at,
    }


def _agent(doc: Document) -> Agent:
    capacity: dict[str, Any] = doc.get("capacity") or {}
    load: dict[str, Any] = doc.get("load") or {}
    active: dict[str, Any] = doc.get("active") or {}
    return Agent(
        agent_id=doc["_id"],
        presence=Presence(doc.get("presence", Presence.OFFLINE.value)),
        name=doc.get("name", ""),
        skills={s["name"]: int(s["level"]) for s in doc.get("skills") or []},
        languages=tuple(doc.get("languages") or ()),
        teams=tuple(doc.get("teams") or ()),
        capacity={Channel(k): int(v) for k, v in capacity.items() if k in _CHANNELS},
        load={Channel(k): int(v) for k, v in load.items() if k in _CHANNELS},
        active=frozenset(entry["ticket_id"] for entry in active.values()),
        last_assigned_at=doc.get("last_assigned_at"),
        revision=int(doc.get("revision", 0)),
    )


_CHANNELS = frozenset(c.value for c in Channel)


def _routing(doc: Document) -> Routing:
    facts = doc["ticket"]
    return Routing(
        ticket=Ticket(
            ticket_id=doc["_id"],
            channel=Channel(facts["channel"]),
            request_type=RequestType(facts["request_type"]),
            priority=Priority(facts["priority"]),
            language=facts["language"],
            opened_at=facts["opened_at"],
        ),
        state=RoutingState(doc["state"]),
        agent_id=doc.get("agent_id"),
        team=doc.get("team"),
        assigned_at=doc.get("assigned_at"),
        announced=bool(doc.get("announced", False)),
    )
