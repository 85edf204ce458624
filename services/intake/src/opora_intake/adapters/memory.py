"""intake's repository in memory, with the MongoDB adapter's rules: the first insert wins,
upserts add to sets, a status change claims the ticket's version first, merges are followed on
lookup. Every
lookup the MongoDB adapter has an index for has a dictionary here, so a benchmark over
thousands of messages measures intake rather than this stand-in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.tickets import TicketStatusChangedV1

from opora_intake.domain.identity import Identifier, StoredIdentifier
from opora_intake.domain.ports import CustomerProfile, Outcome, StatusChange, TicketRecord
from opora_intake.domain.surveys import EXPIRED_KEPT, Invitation

MAX_MERGE_HOPS = 8


class MemoryRepository:
    """intake's repository in memory, for unit tests and benchmarks."""

    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}
        self.tickets: dict[str, TicketRecord] = {}
        self._by_key: dict[str, list[str]] = {}  # thread key → ticket ids, oldest first
        self._by_number: dict[str, str] = {}
        self._counter = 0
        self.customers: dict[str, CustomerProfile] = {}
        self._by_identifier: dict[str, list[str]] = {}  # identifier key → customer ids
        self._merged_into_me: dict[str, list[str]] = {}
        self.invitations: dict[str, Invitation] = {}  # by ticket id
        self.transitions: dict[tuple[str, int], StatusChange] = {}  # by ticket id and version
        self._made_by: dict[tuple[str, str], StatusChange] = {}  # by ticket id and changed_by
        self._invited: dict[str, set[str]] = {}  # customer id → ticket ids

    # --- outcomes ---
    async def find_outcome(self, message_key: str) -> Outcome | None:
        return self.outcomes.get(message_key)

    async def save_outcome(self, message_key: str, outcome: Outcome) -> Outcome:
        return self.outcomes.setdefault(message_key, outcome)

    # --- tickets ---
    async def find_ticket_by_key(self, key: str) -> TicketRecord | None:
        ids = self._by_key.get(key)
        return self.tickets[ids[-1]] if ids else None

    async def find_ticket_by_number(self, number: str) -> TicketRecord | None:
        ticket_id = self._by_number.get(number)
        return self.tickets[ticket_id] if ticket_id else None

    async def get_ticket(self, ticket_id: str) -> TicketRecord | None:
        return self.tickets.get(ticket_id)

    async def create_ticket(self, record: TicketRecord, keys: Sequence[str]) -> TicketRecord:
        if record.ticket_id not in self.tickets:
            self.tickets[record.ticket_id] = record
            self._by_number[record.number] = record.ticket_id
            await self.add_keys(record.ticket_id, keys)
        return self.tickets[record.ticket_id]

    async def add_keys(self, ticket_id: str, keys: Sequence[str]) -> None:
        for key in keys:
            holders = self._by_key.setdefault(key, [])
            if ticket_id not in holders:
                holders.append(ticket_id)

    async def set_status(
        self,
        ticket_id: str,
        status: TicketStatus,
        at: datetime,
        *,
        expected: Sequence[TicketStatus] | None = None,
        expected_version: int | None = None,
        changed_by: str | None = None,
        auto_change_at: datetime | None = None,
        event: TicketStatusChangedV1 | None = None,
    ) -> StatusChange | None:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return None
        if changed_by is not None and (made := self._made_by.get((ticket_id, changed_by))):
            return made
        if expected_version is not None and ticket.version != expected_version:
            return None
        if expected is not None and ticket.status not in expected:
            return None
        change = StatusChange(
            ticket_id=ticket_id,
            version=ticket.version,
            status=status,
            previous_status=ticket.status,
            at=at,
            changed_by=changed_by,
            auto_change_at=auto_change_at,
            event=event,
        )
        self._claim(change)
        return change

    async def disarm(self, ticket_id: str, version: int, changed_by: str, at: datetime) -> bool:
        ticket = self.tickets.get(ticket_id)
        if ticket is None or ticket.version != version:
            return False
        self._claim(
            StatusChange(
                ticket_id=ticket_id,
                version=version,
                status=ticket.status,
                previous_status=ticket.status,
                at=at,
                changed_by=changed_by,
                disarm=True,
            )
        )
        return True

    def _claim(self, change: StatusChange) -> None:
        key = (change.ticket_id, change.version)
        assert key not in self.transitions, "one change per version"
        self.transitions[key] = change
        if change.changed_by is not None:
            self._made_by[(change.ticket_id, change.changed_by)] = change
        self.tickets[change.ticket_id] = change.applied_to(self.tickets[change.ticket_id])

    async def due_automations(self, before: datetime) -> list[TicketRecord]:
        return [
            t
            for t in self.tickets.values()
            if t.auto_change_at is not None and t.auto_change_at <= before
        ]

    async def unpublished_changes(self) -> list[StatusChange]:
        return [c for c in self.transitions.values() if c.event is not None and not c.published]

    async def mark_published(self, ticket_id: str, version: int) -> None:
        change = self.transitions[(ticket_id, version)]
        self.transitions[(ticket_id, version)] = published = replace(change, published=True)
        if change.changed_by is not None:
            self._made_by[(ticket_id, change.changed_by)] = published

    async def next_number(self) -> int:
        self._counter += 1
        return self._counter

    # --- customers ---
    def _owner(self, customer_id: str) -> str:
        for _ in range(MAX_MERGE_HOPS):
            into = self.customers[customer_id].merged_into
            if into is None or into not in self.customers:
                break
            customer_id = into
        return customer_id

    async def find_identifiers(self, identifiers: Sequence[Identifier]) -> list[StoredIdentifier]:
        wanted = {i.key for i in identifiers}
        holders = dict.fromkeys(
            c for key in sorted(wanted) for c in self._by_identifier.get(key, ())
        )
        return [
            StoredIdentifier(self._owner(customer_id), held)
            for customer_id in holders
            for held in self.customers[customer_id].identifiers
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
        added = tuple(dict.fromkeys(i for i in identifiers if i not in profile.identifiers))
        for identifier in added:
            holders = self._by_identifier.setdefault(identifier.key, [])
            if customer_id not in holders:
                holders.append(customer_id)
        self.customers[customer_id] = replace(
            profile, name=profile.name or name, identifiers=profile.identifiers + added
        )
        return self._view(customer_id)

    async def add_suggestions(
        self, customer_id: str, suggestions: dict[str, tuple[str, ...]]
    ) -> None:
        profile = self.customers[customer_id]
        self.customers[customer_id] = replace(
            profile, suggestions={**profile.suggestions, **suggestions}
        )

    async def get_customer(self, customer_id: str) -> CustomerProfile | None:
        return self._view(customer_id) if customer_id in self.customers else None

    async def set_merged_into(self, customer_id: str, into: str | None) -> CustomerProfile | None:
        before = await self.get_customer(customer_id)
        if before is None:
            return None
        if before.merged_into is not None:
            self._merged_into_me[before.merged_into].remove(customer_id)
        if into is not None:
            self._merged_into_me.setdefault(into, []).append(customer_id)
        self.customers[customer_id] = replace(
            self.customers[customer_id],
            merged_into=into,
            last_merged_into=into or before.last_merged_into,
            merge_revision=before.merge_revision + 1,
        )
        return before

    def _view(self, customer_id: str) -> CustomerProfile:
        merged = tuple(self._merged_into_me.get(customer_id, ()))
        return replace(self.customers[customer_id], merged=merged)

    # --- survey invitations ---
    async def save_invitation(self, invitation: Invitation) -> None:
        kept = self.invitations.get(invitation.ticket_id)
        if kept is None or kept.issued_at <= invitation.issued_at:
            if kept is not None:
                self._invited[kept.customer_id].discard(kept.ticket_id)
            self.invitations[invitation.ticket_id] = invitation
            self._invited.setdefault(invitation.customer_id, set()).add(invitation.ticket_id)
        held = self._invited.get(invitation.customer_id, set())
        for ticket_id in list(held):
            if self.invitations[ticket_id].expires_at < invitation.issued_at - EXPIRED_KEPT:
                held.discard(ticket_id)
                del self.invitations[ticket_id]

    async def open_invitations(self, customer_ids: Sequence[str], at: datetime) -> list[Invitation]:
        return [
            self.invitations[ticket_id]
            for customer_id in customer_ids
            for ticket_id in sorted(self._invited.get(customer_id, ()))
            if at < self.invitations[ticket_id].expires_at
        ]
