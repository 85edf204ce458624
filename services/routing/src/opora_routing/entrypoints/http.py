"""routing's read-only HTTP API: the agents as routing sees them, and the waiting queue."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.workspace import Presence
from pydantic import BaseModel

from opora_routing.domain.ports import Repository
from opora_routing.domain.selection import queue_order


class AgentRead(BaseModel):
    agent_id: str
    name: str
    presence: Presence
    skills: dict[str, int]
    languages: list[str]
    teams: list[str]
    capacity: dict[Channel, int]
    load: dict[Channel, int]
    active_tickets: list[str]
    last_assigned_at: datetime | None


class QueueEntryRead(BaseModel):
    position: int
    ticket_id: str
    queue: str
    channel: Channel
    request_type: RequestType
    priority: Priority
    language: str
    opened_at: datetime


def build_router(repo: Repository) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["routing"])

    @router.get("/agents")
    async def agents() -> list[AgentRead]:
        """Every agent routing knows, with its current load and held tickets."""
        return [
            AgentRead(
                agent_id=a.agent_id,
                name=a.name,
                presence=a.presence,
                skills=dict(a.skills),
                languages=list(a.languages),
                teams=list(a.teams),
                capacity={c: a.capacity_for(c) for c in Channel if a.capacity_for(c)},
                load={c: n for c, n in a.load.items() if n},
                active_tickets=sorted(a.active),
                last_assigned_at=a.last_assigned_at,
            )
            for a in await repo.agents()
        ]

    @router.get("/queue")
    async def queue() -> list[QueueEntryRead]:
        """Waiting tickets in the order they will be served."""
        tickets = queue_order(r.ticket for r in await repo.waiting())
        return [
            QueueEntryRead(
                position=position,
                ticket_id=t.ticket_id,
                queue=t.queue,
                channel=t.channel,
                request_type=t.request_type,
                priority=t.priority,
                language=t.language,
                opened_at=t.opened_at,
            )
            for position, t in enumerate(tickets)
        ]

    return router
