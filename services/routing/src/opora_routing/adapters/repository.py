"""routing's state in MongoDB, so that a restart resumes where it stopped.

Collections:

- ``agents`` (``_id`` = agent id): the latest profile (``skills`` as a list of name/level pairs,
  ``languages``, ``teams``, ``capacity`` per channel), ``presence``, ``revision`` (bumped per
  profile change), ``load`` per channel, ``active`` (one entry per held ticket, keyed by the
  escaped ticket id) and ``last_assigned_at``;
- ``assignments`` (``_id`` = ticket id): the ticket's routing facts (with the rule, step and
  requirement it waits under, its deadline, preferred agent and decliners), ``state``
  (waiting/offered/assigned/closed), ``agent_id``, ``team``, ``offer_id``,
  ``offer_expires_at``, ``next_step_at``, ``assigned_at``, ``announced``, ``reason``,
  ``history`` (every queue, offer and transfer, in order) and ``version``.

Every write is one conditional single-document update (no transactions: FerretDB has none):
an agent's slot is taken only against the load and profile it was chosen on (``load_version``,
``revision``), and a ticket changes state only from the version it was read at.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.workspace import AgentProfileChangedV1, Presence
from opora_shared.mongo import Document, upsert
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from opora_routing.domain.model import Agent, Requirement, Routing, RoutingState, Ticket

_AGENT_DEFAULTS: Document = {
    "load": {},
    "active": {},
    "last_assigned_at": None,
    "load_version": 0,
}


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
        await self._assignments.create_index(
            [("agent_id", ASCENDING), ("state", ASCENDING)], name="by_agent"
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
        return result.modified_count == 1

    async def release(self, agent_id: str, ticket: Ticket) -> bool:
        slot = f"active.{field_key(ticket.ticket_id)}"
        result = await self._agents.update_one(
            {"_id": agent_id, slot: {"$exists": True}},
            {
                "$inc": {f"load.{ticket.channel.value}": -1, "load_version": 1},
                "$unset": {slot: ""},
            },
        )
        return result.modified_count == 1

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
        return _routing(
            await upsert(self._assignments, {"_id": ticket.ticket_id}, {"$setOnInsert": doc})
        )

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
        doc = await self._assignments.find_one_and_update(
            {"_id": routing.ticket.ticket_id, "version": routing.version},
            update,
            return_document=ReturnDocument.AFTER,
        )
        return _routing(doc) if doc else None

    async def history(self, ticket_id: str) -> list[Document]:
        doc = await self._assignments.find_one({"_id": ticket_id}, {"history": 1})
        return list((doc or {}).get("history") or [])

    async def mark_announced(self, routing: Routing) -> None:
        await self._assignments.update_one(
            {"_id": routing.ticket.ticket_id, "version": routing.version},
            {"$set": {"announced": True}},
        )


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
        held_since={e["ticket_id"]: e["at"] for e in active.values() if e.get("at") is not None},
        last_assigned_at=doc.get("last_assigned_at"),
        revision=int(doc.get("revision", 0)),
        load_version=int(doc.get("load_version", 0)),
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
