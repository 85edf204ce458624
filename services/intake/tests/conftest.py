"""An in-memory stand-in for intake's repository, shared by its unit tests.

It keeps the same rules as the MongoDB adapter (first insert wins, compare-and-set statuses,
merges followed on lookup) so the use cases can be tested without a database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

import pytest
from opora_intake.domain.identity import Identifier, StoredIdentifier
from opora_intake.domain.ports import CustomerProfile, Outcome, TicketRecord
from opora_intake.domain.service import Policy
from opora_shared.contracts.common import TicketStatus
from opora_shared.testing import RecordingPublisher


class FakeRepository:
    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}
        self.tickets: dict[str, TicketRecord] = {}
        self.keys: dict[str, list[str]] = {}  # thread key -> ticket ids, oldest first
        self.counter = 0
        self.customers: dict[str, CustomerProfile] = {}

    async def find_outcome(self, message_key: str) -> Outcome | None:
        return self.outcomes.get(message_key)

    async def save_outcome(self, message_key: str, outcome: Outcome) -> Outcome:
        return self.outcomes.setdefault(message_key, outcome)

    async def find_ticket_by_key(self, key: str) -> TicketRecord | None:
        ids = self.keys.get(key)
        return self.tickets[ids[-1]] if ids else None

    async def find_ticket_by_number(self, number: str) -> TicketRecord | None:
        return next((t for t in self.tickets.values() if t.number == number), None)

    async def get_ticket(self, ticket_id: str) -> TicketRecord | None:
        return self.tickets.get(ticket_id)

    async def create_ticket(self, record: TicketRecord, keys: Sequence[str]) -> TicketRecord:
        if record.ticket_id not in self.tickets:
            self.tickets[record.ticket_id] = record
            await self.add_keys(record.ticket_id, keys)
        return self.tickets[record.ticket_id]

    async def add_keys(self, ticket_id: str, keys: Sequence[str]) -> None:
        for key in keys:
            holders = self.keys.setdefault(key, [])
            if ticket_id not in holders:
                holders.append(ticket_id)

    async def set_status(
        self,
        ticket_id: str,
        status: TicketStatus,
        at: datetime,
        *,
        expected: Sequence[TicketStatus] | None = None,
        changed_by: str | None = None,
    ) -> TicketRecord | None:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return None
        if changed_by is not None and ticket.changed_by == changed_by:
            return ticket
        if expected is not None and ticket.status not in expected:
            return None
        self.tickets[ticket_id] = replace(
            ticket,
            status=status,
            previous_status=ticket.status,
            changed_by=changed_by,
            solved_at=at if status is TicketStatus.SOLVED else ticket.solved_at,
        )
        return ticket

    async def next_number(self) -> int:
        self.counter += 1
        return self.counter

    def _owner(self, customer_id: str) -> str:
        while (into := self.customers[customer_id].merged_into) is not None:
            customer_id = into
        return customer_id

    async def find_identifiers(self, identifiers: Sequence[Identifier]) -> list[StoredIdentifier]:
        wanted = {i.key for i in identifiers}
        return [
            StoredIdentifier(self._owner(profile.customer_id), held)
            for profile in self.customers.values()
            for held in profile.identifiers
            if held.key in wanted
        ]

    async def save_customer(
        self,
        customer_id: str,
        *,
        name: str | None,
        language: str,
        identifiers: Sequence[Identifier],
    ) -> CustomerProfile:
        profile = self.customers.get(customer_id) or CustomerProfile(
            customer_id, None, language, "standard", ()
        )
        added = tuple(i for i in identifiers if i not in profile.identifiers)
        profile = replace(
            profile, name=profile.name or name, identifiers=profile.identifiers + added
        )
        self.customers[customer_id] = profile
        return await self._view(customer_id)

    async def add_suggestions(
        self, customer_id: str, suggestions: dict[str, tuple[str, ...]]
    ) -> None:
        profile = self.customers[customer_id]
        self.customers[customer_id] = replace(
            profile, suggestions={**profile.suggestions, **suggestions}
        )

    async def get_customer(self, customer_id: str) -> CustomerProfile | None:
        return await self._view(customer_id) if customer_id in self.customers else None

    async def set_merged_into(self, customer_id: str, into: str | None) -> CustomerProfile | None:
        before = await self.get_customer(customer_id)
        if before is None:
            return None
        self.customers[customer_id] = replace(
            self.customers[customer_id],
            merged_into=into,
            last_merged_into=into or before.last_merged_into,
            merge_revision=before.merge_revision + 1,
        )
        return before

    async def _view(self, customer_id: str) -> CustomerProfile:
        merged = tuple(
            c.customer_id for c in self.customers.values() if c.merged_into == customer_id
        )
        return replace(self.customers[customer_id], merged=merged)


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture(scope="session")
def policy() -> Policy:
    return Policy()
