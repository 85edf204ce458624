"""sla's storage in memory, with the MongoDB adapter's semantics: records written whole from the
revision they were read at, a ledger that keeps the first entry under an id, and timers by
partition. The unit tests and the benchmarks use it; the service never does."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime

from opora_shared.contracts.sla import Metric

from opora_sla.domain.model import LedgerEntry, Outcome, TicketRecord, TimerRow


class MemoryRepository:
    def __init__(self) -> None:
        self.tickets: dict[str, TicketRecord] = {}
        self.entries: dict[str, LedgerEntry] = {}
        self.outcome_store: dict[str, Outcome] = {}
        self.timer_store: dict[str, TimerRow] = {}
        self.saves = 0

    async def load(self, ticket_id: str) -> TicketRecord | None:
        return self.tickets.get(ticket_id)

    async def save(self, record: TicketRecord, *, expected_revision: int | None) -> bool:
        stored = self.tickets.get(record.ticket_id)
        if (stored is None) != (expected_revision is None):
            return False
        if stored is not None and stored.revision != expected_revision:
            return False
        self.tickets[record.ticket_id] = record
        self.saves += 1
        return True

    async def records(
        self, *, opened_from: datetime | None, opened_to: datetime | None
    ) -> AsyncIterator[TicketRecord]:
        for record in list(self.tickets.values()):
            opened = record.opened_at
            if opened is None:
                continue
            if opened_from is not None and opened < opened_from:
                continue
            if opened_to is not None and opened >= opened_to:
                continue
            yield record

    async def append_ledger(self, entries: Sequence[LedgerEntry]) -> None:
        for entry in entries:
            self.entries.setdefault(entry.id, entry)

    async def ledger(self, ticket_id: str) -> list[LedgerEntry]:
        found = [e for e in self.entries.values() if e.ticket_id == ticket_id]
        return sorted(found, key=lambda e: e.seq)

    async def put_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.measured:
                self.outcome_store[outcome.key] = outcome
            else:
                self.outcome_store.pop(outcome.key, None)

    async def outcomes(
        self, *, since: datetime | None, until: datetime | None, metric: Metric | None
    ) -> list[Outcome]:
        found = []
        for outcome in self.outcome_store.values():
            at = outcome.measured_at
            if metric is not None and outcome.metric is not metric:
                continue
            if since is not None and (at is None or at < since):
                continue
            if until is not None and (at is None or at >= until):
                continue
            found.append(outcome)
        return found

    async def set_timer(self, timer: TimerRow) -> None:
        self.timer_store[timer.ticket_id] = timer

    async def drop_timer(self, ticket_id: str, partition: int) -> None:
        self.timer_store.pop(ticket_id, None)

    async def timers(self, partitions: Collection[int]) -> list[TimerRow]:
        wanted = set(partitions)
        return [row for row in self.timer_store.values() if row.partition in wanted]


class MemoryVersions:
    def __init__(self) -> None:
        self.known: dict[str, int] = {}

    async def version_of(self, fingerprint: str, *, description: str) -> int:
        return self.known.setdefault(fingerprint, len(self.known) + 1)
