"""sla's use cases as plain functions over the ports: take a ticket fact, look at a ticket when
its clock reaches a point, re-score it under new policies, take over a partition's timers.

Each of them *settles* one ticket, under that ticket's lock: read its record, add the new fact,
measure the timeline under the policies in force, decide what is new
(:func:`~opora_sla.domain.decisions.decide`), announce it (ledger entries inserted under their
ids, events published, outcomes stored), then write the record from the revision it was read
at, and plan the ticket's timer.

Nothing is lost, and what is announced again carries the same id:

- the record, which says what was announced, is written only after the announcements; a crash
  before it leaves the cause in place (the Kafka record is delivered again, the timer is still
  due, the version has not moved), and settling again decides the same entries under the same
  ids: the ledger keeps the first, consumers drop the repeated events;
- the ticket's timer document moves *earlier* before the record is written and *later* only
  after, so a crash leaves a timer that fires too early (harmless: it settles the ticket again)
  and never one that fires too late.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Collection
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace

from opora_shared.contracts import EVENTS_BY_TYPE
from opora_shared.contracts.base import Event, utc_now
from opora_shared.ports import Clock, Publisher

from opora_sla.domain.decisions import decide
from opora_sla.domain.metrics import Evaluation, evaluate
from opora_sla.domain.model import Decision, LedgerEntry, TicketRecord, TimerRow
from opora_sla.domain.policies import SlaConfig
from opora_sla.domain.ports import Policies, Repository, Timers
from opora_sla.domain.timeline import Fact, cause_of

log = logging.getLogger(__name__)

SETTLE_ATTEMPTS = 5


class ConcurrentChangeError(RuntimeError):
    """Another writer changed the ticket every time it was read; the caller retries later."""


class TicketLocks:
    """One lock per ticket, held while it is settled, so a timer and a Kafka event of the same
    ticket never interleave in this process. Locks are dropped when nobody holds or awaits
    them."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (None, 0))
        if lock is None:
            lock = asyncio.Lock()
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users <= 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


@dataclass
class Desk:
    """What the use cases work with."""

    repo: Repository
    publisher: Publisher
    timers: Timers
    policies: Policies
    now: Clock = utc_now
    locks: TicketLocks = field(default_factory=TicketLocks)


async def record_fact(
    fact: Fact, ticket_id: str, desk: Desk, *, partition: int | None = None
) -> None:
    """A ticket event arrived (at least once): add its fact and settle the ticket."""
    async with desk.locks.hold(ticket_id):
        await _settle(ticket_id, desk, fact=fact, partition=partition, cause=cause_of(fact))


async def fire(ticket_id: str, desk: Desk, partition: int | None = None) -> None:
    """A ticket's timer is due: announce what its clocks reached and plan the next point. A
    ticket measured under an older version of the policies is re-scored on the way."""
    async with desk.locks.hold(ticket_id):
        await _settle(ticket_id, desk, cause=None, partition=partition)


async def adopt(partitions: Collection[int], desk: Desk) -> list[tuple[str, int]]:
    """This replica now owns ``partitions``: arm their tickets' timers from the store. Returns
    the tickets (and partitions) measured under another version than the one in force: look
    at them at once, which re-scores them."""
    began = time.monotonic()
    rows = await desk.repo.timers(partitions)
    for row in rows:
        if row.due_at is not None:
            desk.timers.arm(row.ticket_id, row.due_at, row.partition)
    version = desk.policies.current.version
    stale = [(row.ticket_id, row.partition) for row in rows if row.version != version]
    log.info(
        "armed SLA timers",
        extra={
            "partitions": sorted(partitions),
            "timers": len(rows),
            "stale": len(stale),
            "seconds": round(time.monotonic() - began, 3),
        },
    )
    return stale


async def stale(partitions: Collection[int], desk: Desk) -> list[tuple[str, int]]:
    """The tickets of ``partitions`` measured under another version than the one in force."""
    version = desk.policies.current.version
    rows = await desk.repo.timers(partitions)
    return [(row.ticket_id, row.partition) for row in rows if row.version != version]


async def measure(ticket_id: str, desk: Desk) -> tuple[TicketRecord, Evaluation] | None:
    """Where a ticket's metrics stand now (for reading; nothing is written)."""
    record = await desk.repo.load(ticket_id)
    if record is None:
        return None
    return record, evaluate(record.facts, desk.policies.current, desk.now())


async def _settle(
    ticket_id: str,
    desk: Desk,
    *,
    cause: str | None,
    fact: Fact | None = None,
    partition: int | None = None,
) -> None:
    for _ in range(SETTLE_ATTEMPTS):
        stored = await desk.repo.load(ticket_id)
        if stored is None and fact is None:  # a timer left by a ticket no longer stored
            await _place_timer(TicketRecord(ticket_id, partition=partition), desk)
            return
        record = stored or TicketRecord(ticket_id, partition=partition)
        if record.partition is None and partition is not None:
            record = replace(record, partition=partition)
        new = fact if fact is not None and fact.id not in record.fact_ids else None
        facts = (*record.facts, new) if new is not None else record.facts
        config = desk.policies.current
        if cause is None:
            cause = "clock" if record.version in (None, config.version) else rescored(config)
        now = desk.now()
        # Facts are known to have happened: one stamped a little ahead of this clock counts.
        evaluation = evaluate(facts, config, max([now, *(f.at for f in facts)]))
        decision = decide(
            record,
            facts,
            evaluation,
            config,
            now=now,
            at=new.at if new is not None else now,
            cause=cause,
        )
        if decision is None and record == stored:
            await _place_timer(record, desk)
            return
        updated = replace(decision.record if decision else record, revision=record.revision + 1)
        if updated.next_due is not None and (
            record.next_due is None or updated.next_due < record.next_due
        ):
            await _write_timer(updated, desk, version=record.version)
        if decision is not None:
            await _announce(decision, desk)
        expected = None if stored is None else stored.revision
        if not await desk.repo.save(updated, expected_revision=expected):
            log.info("ticket changed while settling; reading it again", extra={"ticket": ticket_id})
            continue
        if _timer_of(updated) != _timer_of(record):
            await _place_timer(updated, desk)
        elif updated.next_due is not None:
            desk.timers.arm(ticket_id, updated.next_due, updated.partition or 0)
        return
    raise ConcurrentChangeError(f"ticket {ticket_id} kept changing while being settled")


async def _announce(decision: Decision, desk: Desk) -> None:
    """Insert the ledger entries, publish their events, store the outcomes. Every step may be
    repeated after a crash: entries are keyed, events carry derived ids, outcomes are replaced."""
    if decision.entries:
        await desk.repo.append_ledger(decision.entries)
    for entry in decision.entries:
        event = event_of(entry)
        if event is not None:
            await desk.publisher.publish(event)
    if decision.outcomes:
        await desk.repo.put_outcomes(decision.outcomes)


def _timer_of(record: TicketRecord) -> tuple[object, ...]:
    """What the ticket's timer document holds."""
    return (record.tracking, record.next_due, record.version, record.partition)


def event_of(entry: LedgerEntry) -> Event | None:
    """The event a ledger entry was announced with, exactly as it was first built."""
    if entry.built is not None:
        return entry.built
    if entry.event_type is None or entry.event is None:
        return None
    return EVENTS_BY_TYPE[entry.event_type].model_validate(dict(entry.event))


async def _write_timer(record: TicketRecord, desk: Desk, *, version: int | None) -> None:
    await desk.repo.set_timer(
        TimerRow(record.ticket_id, record.partition or 0, record.next_due, version or 0)
    )


async def _place_timer(record: TicketRecord, desk: Desk) -> None:
    """Store the ticket's timer as the record says, and plan it in this process."""
    if record.tracking:
        await _write_timer(record, desk, version=record.version)
        if record.next_due is not None:
            desk.timers.arm(record.ticket_id, record.next_due, record.partition or 0)
            return
    else:
        await desk.repo.drop_timer(record.ticket_id, record.partition or 0)
    desk.timers.disarm(record.ticket_id)


def rescored(config: SlaConfig) -> str:
    return f"policies and calendars v{config.version}"
