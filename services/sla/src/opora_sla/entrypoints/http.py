"""sla's read-only HTTP API: a ticket's SLA timers and where they stand."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, status
from opora_shared.contracts.sla import Metric
from pydantic import BaseModel

from opora_sla.domain.model import TimerState
from opora_sla.domain.ports import Repository


class TimerRead(BaseModel):
    metric: Metric
    state: TimerState
    policy_id: str
    policy_version: int
    calendar_id: str
    target_s: int
    started_at: datetime
    warn_at: datetime
    due_at: datetime
    warned: bool
    fulfilled_at: datetime | None


class TicketSlaRead(BaseModel):
    ticket_id: str
    timers: list[TimerRead]


def build_router(repo: Repository) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["sla"])

    @router.get("/tickets/{ticket_id}/sla")
    async def ticket_sla(ticket_id: str) -> TicketSlaRead:
        """The ticket's SLA timers; 404 when no policy was applied to it."""
        timers = await repo.for_ticket(ticket_id)
        if not timers:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no SLA for ticket {ticket_id}")
        return TicketSlaRead(
            ticket_id=ticket_id,
            timers=[
                TimerRead(
                    metric=t.metric,
                    state=t.state,
                    policy_id=t.policy_id,
                    policy_version=t.policy_version,
                    calendar_id=t.calendar_id,
                    target_s=t.target_s,
                    started_at=t.started_at,
                    warn_at=t.warn_at,
                    due_at=t.due_at,
                    warned=t.warned,
                    fulfilled_at=t.fulfilled_at,
                )
                for t in timers
            ],
        )

    return router
