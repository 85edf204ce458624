"""The interfaces sla's use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Protocol

from opora_shared.contracts.sla import Metric

from opora_sla.domain.model import LedgerEntry, Outcome, TicketRecord, TimerRow
from opora_sla.domain.policies import SlaConfig


class Repository(Protocol):
    async def load(self, ticket_id: str) -> TicketRecord | None: ...

    async def save(self, record: TicketRecord, *, expected_revision: int | None) -> bool:
        """Write the whole record if the stored one is still at ``expected_revision`` (None:
        there is none yet); False when another writer came first."""
        ...

    async def append_ledger(self, entries: Sequence[LedgerEntry]) -> None:
        """Add entries to the ledger; one whose id is there already is left as it is."""
        ...

    async def ledger(self, ticket_id: str) -> list[LedgerEntry]:
        """The ticket's ledger, in order."""
        ...

    async def put_outcomes(self, outcomes: Sequence[Outcome]) -> None:
        """Store measured outcomes; remove those withdrawn (``measured`` False)."""
        ...

    async def outcomes(
        self, *, since: datetime | None, until: datetime | None, metric: Metric | None
    ) -> list[Outcome]:
        """Outcomes measured in [since, until)."""
        ...

    async def set_timer(self, timer: TimerRow) -> None: ...

    async def drop_timer(self, ticket_id: str, partition: int) -> None: ...

    async def timers(self, partitions: Collection[int]) -> list[TimerRow]:
        """Every timer of tickets in ``partitions``."""
        ...

    def records(
        self, *, opened_from: datetime | None, opened_to: datetime | None
    ) -> AsyncIterator[TicketRecord]:
        """Tickets opened in [opened_from, opened_to), for replays."""
        ...


class Timers(Protocol):
    """When each ticket's clocks next need looking at; one plan per ticket."""

    def arm(self, key: str, when: datetime, group: int = 0) -> None:
        """Look at ``key`` at ``when`` (at once if past); replaces its earlier plan. ``group``
        is the ticket's partition, so that a replica losing it drops its plans."""
        ...

    def disarm(self, key: str) -> None: ...


class Policies(Protocol):
    """The policies and calendars in force; they may change while sla runs."""

    @property
    def current(self) -> SlaConfig: ...


class Versions(Protocol):
    async def version_of(self, fingerprint: str, *, description: str) -> int:
        """The version number of a configuration: the same for the same fingerprint on every
        replica, a new one (the highest yet + 1) for one never seen."""
        ...
