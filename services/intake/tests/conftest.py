"""Fakes of intake's ports, shared by its unit tests."""

from __future__ import annotations

from dataclasses import replace

import pytest
from opora_intake.domain.model import derived_id
from opora_intake.domain.ports import Outcome, TicketRecord
from opora_shared.contracts.common import CustomerContact, CustomerRef, TicketStatus
from opora_shared.testing import RecordingPublisher


class FakeRepository:
    def __init__(self) -> None:
        self.outcomes: dict[str, Outcome] = {}
        self.tickets: dict[str, TicketRecord] = {}
        self.conversations: dict[str, str] = {}
        self.counter = 0
        self.customers: dict[str, CustomerRef] = {}

    async def find_outcome(self, message_key: str) -> Outcome | None:
        return self.outcomes.get(message_key)

    async def save_outcome(self, message_key: str, outcome: Outcome) -> Outcome:
        return self.outcomes.setdefault(message_key, outcome)

    async def find_open_ticket(self, conversation_key: str) -> TicketRecord | None:
        ticket = self.tickets.get(self.conversations.get(conversation_key, ""))
        return ticket if ticket and ticket.status is not TicketStatus.CLOSED else None

    async def create_ticket(self, record: TicketRecord, conversation_key: str) -> TicketRecord:
        self.conversations[conversation_key] = record.ticket_id
        return self.tickets.setdefault(record.ticket_id, record)

    async def set_status(self, ticket_id: str, status: TicketStatus) -> TicketStatus | None:
        ticket = self.tickets.get(ticket_id)
        if ticket is None:
            return None
        self.tickets[ticket_id] = replace(ticket, status=status)
        return ticket.status

    async def next_number(self) -> int:
        self.counter += 1
        return self.counter

    async def resolve_customer(self, contact: CustomerContact, language: str) -> CustomerRef:
        key = str(contact.email or contact.phone or contact.external_id)
        return self.customers.setdefault(
            key,
            CustomerRef(
                customer_id=derived_id("customer", key),
                name=contact.name,
                email=contact.email,
                phone=contact.phone,
                language=language,
            ),
        )


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()
