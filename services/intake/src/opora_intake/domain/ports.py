"""The interfaces intake's handlers need; adapters implement them, tests fake them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from opora_shared.contracts.base import Event
from opora_shared.contracts.common import CustomerContact, CustomerRef, TicketStatus


@dataclass(frozen=True)
class TicketRecord:
    ticket_id: str
    number: str
    status: TicketStatus
    customer_id: str


@dataclass(frozen=True)
class Outcome:
    """What an inbound message became, kept so a redelivery republishes the same event."""

    ticket_id: str
    number: str
    opened: bool
    event: Event


class Repository(Protocol):
    async def find_outcome(self, message_key: str) -> Outcome | None: ...

    async def save_outcome(self, message_key: str, outcome: Outcome) -> Outcome:
        """Store ``outcome`` unless one exists already; return the stored one."""
        ...

    async def find_open_ticket(self, conversation_key: str) -> TicketRecord | None: ...

    async def create_ticket(self, record: TicketRecord, conversation_key: str) -> TicketRecord:
        """Create the ticket unless it exists; return what is stored."""
        ...

    async def set_status(self, ticket_id: str, status: TicketStatus) -> TicketStatus | None:
        """Set the status; return the previous one, or None for an unknown ticket."""
        ...

    async def next_number(self) -> int: ...

    async def resolve_customer(self, contact: CustomerContact, language: str) -> CustomerRef: ...
