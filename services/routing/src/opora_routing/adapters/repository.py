"""routing's state in MongoDB, so that a restart resumes where it stopped.

Collections:

- ``agents`` (``_id`` = agent id): the latest profile (``skills`` as a list of name/level pairs,
  ``languages``, ``teams``, ``capacity`` per channel), ``presence`` and ``revision`` (bumped per
  profile change). Written only from ``workspace.agents.v1``, whose key is the agent id, so one
  replica at a time writes an agent's profile;
- ``agent_loads`` (``_id`` = agent id): ``load`` per channel, ``active`` (one entry per held
  ticket, keyed by the escaped ticket id), ``last_assigned_at`` and ``load_version`` (bumped per
  reservation and release). Written by every replica, on any ticket's event;
- ``assignments`` (``_id`` = ticket id): the ticket's routing facts (with the rule, step and
  requirement it waits under, its deadline, preferred agent and decliners), ``state``
  (waiting/offered/assigned/closed), ``agent_id``, ``team``, ``offer_id``,
  ``offer_expires_at``, ``next_step_at``, ``assigned_at``, ``announced``, ``reason``,
  ``history`` (every queue, offer and transfer, in order) and ``version``;
- ``claims`` (``_id`` = what is being changed and from which version, e.g.
  ``ticket:<id>:<version>``): held for the moment of one change.

No transactions (FerretDB has none), and no reliance on a conditional update being atomic:
FerretDB applies one as a read and a write that another connection's update can fall between,
so two replicas could both "win" the same compare-and-set, or one could write back a document
the other had just changed. Every change of a load or an assignment therefore first inserts the
claim for the version it starts from; the unique ``_id`` lets one writer through, the change is
then made against that version, and the claim is deleted. A claim left by a replica that died
between the two is taken over after ``CLAIM_STALE``. On MongoDB the claim is redundant with the
conditional update, and costs one small insert and delete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.workspace import AgentProfileChangedV1, Presence
from opora_shared.mongo import Document, insert_once
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase

from opora_routing.domain.model import Agent, Requirement, Routing, RoutingState, Ticket

_NO_LOAD: Document = {"load": {}, "active": {}, "last_assigned_at": None, "load_version": 0}
_LOAD_FIELDS = tuple(_NO_LOAD)

CLAIM_STALE = timedelta(seconds=10)
"""A claim older than this was left by a replica that died mid-change; another may take it."""

RELEASE_ATTEMPTS = 20


class Claims:
    """Short-lived claims on "change X from version N": one writer each, by unique ``_id``."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._claims = collection

    async def take(self, key: str) -> bool:
        now = datetime.now(UTC)
        if await insert_once(self._claims, {"_id": key, "at": now}):
            return True
        held = await self._claims.find_one({"_id": key})
        if held is not None:
            at: datetime = held["at"]
            if now - (at if at.tzinfo else at.replace(tzinfo=UTC)) < CLAIM_STALE:
                return False
            await self._claims.delete_one({"_id": key, "at": held["at"]})
        return await insert_once(self._claims, {"_id": key, "at": now})

    async def drop(self, key: str) -> None:
        await self._claims.delete_one({"_id": key})


class MongoRepository:
    def __init__(self, db: AsyncDatabase[Document]) -> None:
        self._agents = db["agents"]
        self._loads = db["agent_loads"]
        self._assignments = db["assignments"]
        self._claims = Claims(db["claims"])

    async def create_indexes(self) -> None:
        await self._assignments.create_index(
            [("state", ASCENDING), ("rank", DESCENDING), ("ticket.opened_at", ASCENDING)],
            name="queue_order",
        )
        await self._assignments.create_index(
            [("state", ASCENDING), ("announced", ASCENDING)], name="unannounced"
        )
        await self._assignments.create_index(
            [("agent_id", ASCENDING), ("state", ASCENDING)], name="by_agent"
        )
        await self._move_loads_out_of_profiles()

    async def _move_loads_out_of_profiles(self) -> None:
        """Data written before loads had their own collection keeps them on the profile."""
        async for doc in self._agents.find({"load_version": {"$exists": True}}):
            moved = {k: doc.get(k, _NO_LOAD[k]) for k in _LOAD_FIELDS}
            await insert_once(self._loads, {"_id": doc["_id"], **moved})
            await self._agents.update_one(
                {"_id": doc["_id"]}, {"$unset": dict.fromkeys(_LOAD_FIELDS, "")}
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
                "$setOnInsert": {"presence": Presence.OFFLINE.value},
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
                },
            },
            upsert=True,
        )

    async def agents(self) -> list[Agent]:
        loads = {doc["_id"]: doc async for doc in self._loads.find({})}
        return [
            _agent(doc, loads.get(doc["_id"]) or _NO_LOAD)
            async for doc in self._agents.find({}).sort("_id", ASCENDING)
        ]

    async def reserve(self, agent: Agent, ticket: Ticket, at: datetime) -> bool:
        channel = ticket.channel.value
        slot = f"active.{field_key(ticket.ticket_id)}"
        current = await self._agents.find_one(
            {"_id": agent.agent_id, "presence": Presence.ONLINE.value, "revision": agent.revision},
            {"_id": 1},
        )
        if current is None:
            return False
        key = f"load:{agent.agent_id}:{agent.load_version}"
        if not await self._claims.take(key):
            return False
        try:
            if agent.load_version == 0:
                await insert_once(self._loads, {"_id": agent.agent_id, **_NO_LOAD})
            result = await self._loads.update_one(
                {
                    "_id": agent.agent_id,
                    "load_version": agent.load_version,
                    slot: {"$exists": False},
                },
                {
                    "$inc": {f"load.{channel}": 1, "load_version": 1},
                    "$set": {
                        slot: {"ticket_id": ticket.ticket_id, "channel": channel, "at": at},
                        "last_assigned_at": at,
                    },
                },
            )
        finally:
            await self._claims.drop(key)
        return result.modified_count == 1

    async def release(self, agent_id: str, ticket: Ticket) -> bool:
        slot = field_key(ticket.ticket_id)
        for attempt in range(RELEASE_ATTEMPTS):
            doc = await self._loads.find_one({"_id": agent_id})
            if doc is None or slot not in (doc.get("active") or {}):
                return False
            version = int(doc.get("load_version", 0))
            key = f"load:{agent_id}:{version}"
            if await self._claims.take(key):
                try:
                    result = await self._loads.update_one(
                        {"_id": agent_id, "load_version": version},
                        {
                            "$inc": {f"load.{ticket.channel.value}": -1, "load_version": 1},
                            "$unset": {f"active.{slot}": ""},
                        },
                    )
                finally:
                    await self._claims.drop(key)
                if result.modified_count == 1:
                    return True
            await asyncio.sleep(0.005 * (attempt + 1))  # another replica is changing this load
        raise RuntimeError(f"could not release {agent_id}'s slot for {ticket.ticket_id}; retrying")

    # --- assignments ----------------------------------------------------------------------

    async def track(self, ticket: Ticket, next_step_at: datetime | None) -> Routing:
        doc = {
            "ticket": _ticket_doc(ticket),
            "rank": ticket.priority.rank,
            "state": RoutingState.WAITING.value,
            "agent_id": None,
            "team": None,
            "assigned_at": None,
            "announced": False,
            "next_step_at": next_step_at,
            "version": 0,
            "history": [_entry(ticket.opened_at, "queued", queue=ticket.queue)],
        }
        if not await insert_once(self._assignments, {"_id": ticket.ticket_id, **doc}):
            stored = await self._assignments.find_one({"_id": ticket.ticket_id})
            if stored is None:
                raise RuntimeError(f"assignment of {ticket.ticket_id} vanished")
            return _routing(stored)
        return _routing({"_id": ticket.ticket_id, **doc})

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

    async def waiting_per_queue(self) -> dict[str, int]:
        """How many tickets wait in each queue (for the operations gauge)."""
        cursor = await self._assignments.aggregate(
            [
                {"$match": {"state": RoutingState.WAITING.value}},
                {"$group": {"_id": "$ticket.requirement.queue", "tickets": {"$sum": 1}}},
            ]
        )
        return {str(doc["_id"] or "none"): int(doc["tickets"]) async for doc in cursor}

    async def agents_per_presence(self) -> dict[str, int]:
        cursor = await self._agents.aggregate(
            [{"$group": {"_id": "$presence", "agents": {"$sum": 1}}}]
        )
        return {str(doc["_id"]): int(doc["agents"]) async for doc in cursor}

    async def in_state(self, state: RoutingState, agent_id: str | None = None) -> list[Routing]:
        query: Document = {"state": state.value}
        if agent_id is not None:
            query["agent_id"] = agent_id
        return [_routing(doc) async for doc in self._assignments.find(query)]

    async def with_timers(self) -> list[Routing]:
        """Tickets with a pending offer expiry or rule step: what a restart re-arms."""
        cursor = self._assignments.find(
            {
                "$or": [
                    {"state": RoutingState.OFFERED.value},
                    {"state": RoutingState.WAITING.value, "next_step_at": {"$ne": None}},
                ]
            }
        )
        return [_routing(doc) async for doc in cursor]

    async def unannounced(self) -> list[Routing]:
        cursor = self._assignments.find(
            {
                "state": {"$in": [RoutingState.OFFERED.value, RoutingState.ASSIGNED.value]},
                "announced": False,
            }
        )
        return [_routing(doc) async for doc in cursor]

    async def change(
        self,
        routing: Routing,
        *,
        history: Document | None = None,
        ticket: Ticket | None = None,
        **fields: Any,
    ) -> Routing | None:
        """Apply ``fields`` (and a new ``ticket``) if the record is still at ``routing``'s
        version; the new record, or None when someone changed it first."""
        changes: Document = {
            k: (v.value if isinstance(v, RoutingState) else v) for k, v in fields.items()
        }
        if ticket is not None:
            changes["ticket"] = _ticket_doc(ticket)
            changes["rank"] = ticket.priority.rank
        update: Document = {"$set": changes, "$inc": {"version": 1}}
        if history is not None:
            update["$push"] = {"history": history}
        key = _ticket_claim(routing)
        if not await self._claim_while_current(key, routing):
            return None
        try:
            doc = await self._assignments.find_one_and_update(
                {"_id": routing.ticket.ticket_id, "version": routing.version},
                update,
                return_document=ReturnDocument.AFTER,
            )
        finally:
            await self._claims.drop(key)
        return _routing(doc) if doc else None

    async def _claim_while_current(self, key: str, routing: Routing) -> bool:
        """Take the claim on changing ``routing`` from its version, waiting while another
        writer holds it; False once the record has moved past that version."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CLAIM_STALE.total_seconds() + 1
        pause = 0.002
        while not await self._claims.take(key):
            current = await self._assignments.find_one(
                {"_id": routing.ticket.ticket_id}, {"version": 1}
            )
            if current is None or int(current.get("version", 0)) != routing.version:
                return False
            if loop.time() > deadline:
                raise RuntimeError(f"{key} stays claimed; retrying later")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        return True

    async def history(self, ticket_id: str) -> list[Document]:
        doc = await self._assignments.find_one({"_id": ticket_id}, {"history": 1})
        return list((doc or {}).get("history") or [])

    async def mark_announced(self, routing: Routing) -> None:
        """Under the same claim as a change, so that it never writes back a state changed
        meanwhile; a record already past this version is left for the next dispatch."""
        key = _ticket_claim(routing)
        if not await self._claim_while_current(key, routing):
            return
        try:
            await self._assignments.update_one(
                {"_id": routing.ticket.ticket_id, "version": routing.version},
                {"$set": {"announced": True}},
            )
        finally:
            await self._claims.drop(key)


def _ticket_claim(routing: Routing) -> str:
    return f"ticket:{routing.ticket.ticket_id}:{routing.version}"


def _entry(at: datetime, what: str, **details: Any) -> Document:
    return {"at": at, "what": what, **{k: v for k, v in details.items() if v is not None}}


history_entry = _entry


def field_key(value: str) -> str:
    """``value`` made safe as a document key: no ``.`` anywhere, no leading ``$``."""
    return value.replace("%", "%25").replace(".", "%2E").replace("$", "%24")


def _ticket_doc(ticket: Ticket) -> Document:
    requirement = ticket.requirement
    return {
        "channel": ticket.channel.value,
        "request_type": ticket.request_type.value,
        "priority": ticket.priority.value,
        "language": ticket.language,
        "opened_at": ticket.opened_at,
        "tier": ticket.tier,
        "product": ticket.product,
        "skills": dict(ticket.skills),
        "deadline": ticket.deadline,
        "preferred_agent": ticket.preferred_agent,
        "declined_by": sorted(ticket.declined_by),
        "rule_id": ticket.rule_id,
        "rule_version": ticket.rule_version,
        "step": ticket.step,
        "step_since": ticket.step_since,
        "requirement": None
        if requirement is None
        else {
            "queue": requirement.queue,
            "skills": [{"name": k, "level": v} for k, v in sorted(requirement.skills.items())],
            "team": requirement.team,
            "language": requirement.language,
        },
    }


def _agent(doc: Document, loads: Document) -> Agent:
    capacity: dict[str, Any] = doc.get("capacity") or {}
    load: dict[str, Any] = loads.get("load") or {}
    active: dict[str, Any] = loads.get("active") or {}
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
        held_since={e["ticket_id"]: e["at"] for e in active.values() if e.get("at") is not None},
        last_assigned_at=loads.get("last_assigned_at"),
        revision=int(doc.get("revision", 0)),
        load_version=int(loads.get("load_version", 0)),
    )


_CHANNELS = frozenset(c.value for c in Channel)


def _routing(doc: Document) -> Routing:
    facts = doc["ticket"]
    req = facts.get("requirement")
    return Routing(
        ticket=Ticket(
            ticket_id=doc["_id"],
            channel=Channel(facts["channel"]),
            request_type=RequestType(facts["request_type"]),
            priority=Priority(facts["priority"]),
            language=facts["language"],
            opened_at=facts["opened_at"],
            tier=facts.get("tier", "standard"),
            product=facts.get("product"),
            skills=dict(facts.get("skills") or {}),
            deadline=facts.get("deadline"),
            preferred_agent=facts.get("preferred_agent"),
            declined_by=frozenset(facts.get("declined_by") or ()),
            rule_id=facts.get("rule_id"),
            rule_version=facts.get("rule_version"),
            step=int(facts.get("step", 0)),
            step_since=facts.get("step_since"),
            requirement=None
            if req is None
            else Requirement(
                queue=req["queue"],
                skills={s["name"]: int(s["level"]) for s in req.get("skills") or []},
                team=req.get("team"),
                language=req.get("language"),
            ),
        ),
        state=RoutingState(doc["state"]),
        agent_id=doc.get("agent_id"),
        team=doc.get("team"),
        assigned_at=doc.get("assigned_at"),
        announced=bool(doc.get("announced", False)),
        offer_id=doc.get("offer_id"),
        offer_expires_at=doc.get("offer_expires_at"),
        next_step_at=doc.get("next_step_at"),
        reason=doc.get("reason"),
        version=int(doc.get("version", 0)),
    )
