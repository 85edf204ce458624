"""sla's HTTP API: where a ticket's metrics stand, its ledger, the share of targets met, the
policies in force, and what-if replays of a draft policy.

Bad input gets a 422 naming the field (FastAPI's validation, and the same shape for a draft
policy that does not validate: ``body.policies`` with the file's own error listing).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from importlib.resources.abc import Traversable
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query, status
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.sla import Metric
from pydantic import AfterValidator, AwareDatetime, BaseModel, Field

from opora_sla.domain import service
from opora_sla.domain.calendars import CalendarError, parse_calendars
from opora_sla.domain.metrics import Phase
from opora_sla.domain.model import EntryKind
from opora_sla.domain.policies import PolicyError, SlaConfig, parse_policies
from opora_sla.domain.reports import Dimension, Period, attainment
from opora_sla.domain.service import Desk
from opora_sla.domain.whatif import Side, WhatIf, what_if

History = Callable[[], Awaitable[list[dict[str, Any]]]]


def _in_utc(value: datetime) -> datetime:
    """The instant in UTC; one that UTC cannot hold (0001-01-01T00:00+00:01 is still year 0
    there) is refused, rather than overflowing where it is compared or stored."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall between years 1 and 9999 in UTC") from None


Instant = Annotated[AwareDatetime, AfterValidator(_in_utc)]


# --- schemas ------------------------------------------------------------------------------------


class CycleRead(BaseModel):
    metric: Metric
    cycle: int
    phase: Phase
    target_s: int
    business_hours: bool
    used_s: int = Field(description="Time used on the metric's clock (business time if so)")
    remaining_s: int = Field(description="Negative once breached")
    started_at: datetime
    due_at: datetime | None = Field(description="None while paused short of the target")
    breached: bool
    done_at: datetime | None
    done_by: str | None


class TicketSlaRead(BaseModel):
    ticket_id: str
    measured_at: datetime
    status: TicketStatus | None
    policy_id: str | None
    policy_version: int
    calendar_id: str | None
    why: str | None = Field(description="Which policy applies and which conditions held")
    next_due_at: datetime | None
    metrics: list[CycleRead]


class EntryRead(BaseModel):
    seq: int
    id: str
    kind: EntryKind
    at: datetime
    recorded_at: datetime
    metric: Metric | None
    cycle: int | None
    policy_id: str | None
    policy_version: int
    detail: dict[str, Any]
    event_type: str | None = Field(description="The event it was announced with, if any")


class LedgerRead(BaseModel):
    ticket_id: str
    entries: list[EntryRead]


class ReportRow(BaseModel):
    period: str | None = Field(description="First day of the day, week or month")
    group: dict[str, str]
    met: int
    missed: int
    total: int
    share_met: float


class ReportRead(BaseModel):
    since: datetime | None
    until: datetime | None
    metric: Metric | None
    by: list[Dimension]
    period: Period | None
    tz: str
    rows: list[ReportRow]
    overall: ReportRow


class PolicyRead(BaseModel):
    id: str
    description: str
    when: dict[str, Any]
    targets: dict[str, dict[str, int]] = Field(description="Metric → priority → seconds")


class VersionRead(BaseModel):
    version: int
    fingerprint: str
    description: str
    registered_at: datetime | None


class PoliciesRead(BaseModel):
    version: int
    fingerprint: str
    policies: list[PolicyRead]
    history: list[VersionRead]


class TimersRead(BaseModel):
    partitions: list[int] = Field(description="The partitions (tickets) this replica owns")
    armed: int = Field(description="Tickets with a timer planned in this replica")
    next_due_at: datetime | None


MAX_DRAFT_CHARS = 256_000
"""A policies or calendars file is a few kilobytes; parsing one is work on the request."""


class WhatIfRequest(BaseModel):
    policies: str = Field(
        min_length=1,
        max_length=MAX_DRAFT_CHARS,
        description="The draft policies file (YAML text)",
    )
    calendars: str | None = Field(
        default=None,
        max_length=MAX_DRAFT_CHARS,
        description="A draft calendars file (YAML text); the one in force if unset",
    )
    opened_from: Instant | None = None
    opened_to: Instant | None = None


class TallyRead(BaseModel):
    targets: int
    breached: int
    share_met: float


class SideRead(BaseModel):
    tickets_with_policy: int
    tickets_breached: int
    total: TallyRead
    by_metric: dict[str, TallyRead]
    by_policy: dict[str, int]


class WhatIfRead(BaseModel):
    until: datetime
    tickets: int
    current_version: int
    current: SideRead
    draft: SideRead
    newly_breached_count: int
    no_longer_breached_count: int
    newly_breached: list[str]
    no_longer_breached: list[str]


# --- routes -------------------------------------------------------------------------------------


def build_router(
    desk: Desk,
    *,
    history: History | None = None,
    calendars_directory: Traversable | None = None,
    timers: Callable[[], TimersRead] | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["sla"])

    @router.get("/timers")
    async def timers_here() -> TimersRead:
        """This replica's share of the timers: the partitions it owns, how many are armed."""
        return timers() if timers else TimersRead(partitions=[], armed=0, next_due_at=None)

    @router.get("/tickets/{ticket_id}/sla")
    async def ticket_sla(ticket_id: str) -> TicketSlaRead:
        """Where each of the ticket's metrics stands now; 404 for a ticket sla never saw."""
        found = await service.measure(ticket_id, desk)
        if found is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no SLA for ticket {ticket_id}")
        _, evaluation = found
        policy = evaluation.policy
        return TicketSlaRead(
            ticket_id=ticket_id,
            measured_at=evaluation.until,
            status=evaluation.status,
            policy_id=policy.policy_id if policy else None,
            policy_version=desk.policies.current.version,
            calendar_id=policy.calendar_id if policy else None,
            why=policy.why if policy else None,
            next_due_at=evaluation.next_due,
            metrics=[
                CycleRead(
                    metric=c.metric,
                    cycle=c.cycle,
                    phase=c.phase,
                    target_s=c.target_s,
                    business_hours=c.business_hours,
                    used_s=c.used_s,
                    remaining_s=c.remaining_s,
                    started_at=c.started_at,
                    due_at=c.due_at,
                    breached=c.breached,
                    done_at=c.done_at,
                    done_by=c.done_by,
                )
                for c in evaluation.cycles
            ],
        )

    @router.get("/tickets/{ticket_id}/ledger")
    async def ticket_ledger(ticket_id: str) -> LedgerRead:
        """The ticket's append-only SLA ledger, oldest first; 404 when it has none."""
        entries = await desk.repo.ledger(ticket_id)
        if not entries:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no SLA ledger for ticket {ticket_id}")
        return LedgerRead(
            ticket_id=ticket_id,
            entries=[
                EntryRead(
                    seq=e.seq,
                    id=e.id,
                    kind=e.kind,
                    at=e.at,
                    recorded_at=e.recorded_at,
                    metric=e.metric,
                    cycle=e.cycle,
                    policy_id=e.policy_id,
                    policy_version=e.policy_version,
                    detail=dict(e.detail),
                    event_type=e.event_type,
                )
                for e in entries
            ],
        )

    @router.get("/reports/targets")
    async def targets_report(
        since: Annotated[Instant | None, Query(description="Decided at or after")] = None,
        until: Annotated[Instant | None, Query(description="Decided before")] = None,
        metric: Metric | None = None,
        by: Annotated[list[Dimension] | None, Query(description="Group by (repeatable)")] = None,
        period: Period | None = None,
        tz: Annotated[str, Query(description="IANA time zone of the periods")] = "UTC",
    ) -> ReportRead:
        """The share of targets met, by team, agent, channel, request type, metric, priority or
        policy, and by day, week or month."""
        zone = _zone(tz)
        outcomes = await desk.repo.outcomes(since=since, until=until, metric=metric)
        dimensions = list(dict.fromkeys(by or ()))
        rows = attainment(outcomes, by=dimensions, period=period, zone=zone)
        overall = attainment(outcomes)
        return ReportRead(
            since=since,
            until=until,
            metric=metric,
            by=dimensions,
            period=period,
            tz=tz,
            rows=[_row(row) for row in rows],
            overall=_row(overall[0])
            if overall
            else ReportRow(period=None, group={}, met=0, missed=0, total=0, share_met=0.0),
        )

    @router.get("/policies")
    async def policies() -> PoliciesRead:
        """The policies in force, their version, and the versions registered so far."""
        config = desk.policies.current
        return PoliciesRead(
            version=config.version,
            fingerprint=config.fingerprint,
            policies=[
                PolicyRead(
                    id=p.id,
                    description=p.description,
                    when=p.when.model_dump(mode="json", exclude_none=True),
                    targets={
                        metric.value: {prio.value: s for prio, s in spec.within.items()}
                        for metric, spec in p.targets.items()
                    },
                )
                for p in config.policies.policies
            ],
            history=[
                VersionRead(
                    version=int(doc["_id"]),
                    fingerprint=str(doc.get("fingerprint", "")),
                    description=str(doc.get("description", "")),
                    registered_at=doc.get("registered_at"),
                )
                for doc in (await history() if history else [])
            ],
        )

    @router.post("/what-if")
    async def what_if_replay(request: WhatIfRequest) -> WhatIfRead:
        """Replay the tickets opened in a range under a draft policy (and calendars) and under
        the policies in force: how many targets each breaches, and which tickets differ."""
        current = desk.policies.current
        # Parsing a draft and replaying are CPU work: off the event loop, so that the timers
        # and the consumer group's heartbeats go on meanwhile.
        draft = await asyncio.to_thread(_draft, request, current, calendars_directory)
        records = [
            record
            async for record in desk.repo.records(
                opened_from=request.opened_from, opened_to=request.opened_to
            )
        ]
        report = await asyncio.to_thread(what_if, records, current, draft, desk.now())
        return what_if_read(report, current.version)

    return router


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [{"loc": ["query", "tz"], "msg": f"unknown time zone {name!r}", "type": "value_error"}],
        ) from None


def _row(row: Any) -> ReportRow:
    return ReportRow(
        period=row.period.isoformat() if row.period else None,
        group={dimension.value: value for dimension, value in row.group},
        met=row.met,
        missed=row.missed,
        total=row.total,
        share_met=round(row.share_met, 4),
    )


def _draft(request: WhatIfRequest, current: SlaConfig, directory: Traversable | None) -> SlaConfig:
    try:
        policies = parse_policies(request.policies, source="policies")
    except PolicyError as error:
        raise _invalid("policies", str(error)) from None
    calendars = current.calendars
    if request.calendars is not None:
        try:
            calendars = parse_calendars(request.calendars, source="calendars", directory=directory)
        except CalendarError as error:
            raise _invalid("calendars", str(error)) from None
    try:
        return SlaConfig.build(policies, calendars, version=0)
    except PolicyError as error:
        raise _invalid("policies", str(error)) from None


def _invalid(field: str, message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [{"loc": ["body", field], "msg": message, "type": "value_error"}],
    )


def _side(side: Side) -> SideRead:
    return SideRead(
        tickets_with_policy=side.tickets_with_policy,
        tickets_breached=side.tickets_breached,
        total=TallyRead(
            targets=side.total.targets,
            breached=side.total.breached,
            share_met=round(side.total.share_met, 4),
        ),
        by_metric={
            metric.value: TallyRead(
                targets=t.targets, breached=t.breached, share_met=round(t.share_met, 4)
            )
            for metric, t in sorted(side.by_metric.items())
        },
        by_policy=dict(sorted(side.by_policy.items())),
    )


def what_if_read(report: WhatIf, current_version: int) -> WhatIfRead:
    return WhatIfRead(
        until=report.until,
        tickets=report.tickets,
        current_version=current_version,
        current=_side(report.current),
        draft=_side(report.draft),
        newly_breached_count=report.newly_breached_count,
        no_longer_breached_count=report.no_longer_breached_count,
        newly_breached=report.newly_breached,
        no_longer_breached=report.no_longer_breached,
    )
