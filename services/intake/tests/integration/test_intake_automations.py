"""Ticket automations against a real MongoDB-wire server (FerretDB here, whose conditional
updates are not atomic across connections) and a real Kafka broker: replicas firing the same
automatic change make one change with one event id; a timer and a customer message racing leave
one consistent history; a restarted intake solves a ticket on the due time it stored."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from opora_intake.adapters.repository import MongoRepository
from opora_intake.config import Settings
from opora_intake.domain.automations import (
    Automation,
    AutomationRules,
    automatic_change_by,
    load_automations,
)
from opora_intake.domain.model import derived_id
from opora_intake.domain.service import Policy, accept_message, change_status
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import CustomerContact, TicketStatus
from opora_shared.contracts.inbound import InboundChatMessageV1
from opora_shared.contracts.tickets import TicketStatusChangedV1
from opora_shared.contracts.topics import TICKETS
from opora_shared.contracts.workspace import StatusSetV1, WorkspaceStatus
from opora_shared.testing import KafkaTail, RecordingPublisher
from pymongo import AsyncMongoClient

from .test_intake_kafka import API_KEY, running

pytestmark = pytest.mark.integration

WEEK = timedelta(days=7)


class NoTimers:
    """The test fires by hand: both replicas at the same moment."""

    def schedule(self, key: str, when: datetime, action: Callable[[], Awaitable[None]]) -> None:
        pass

    def cancel(self, key: str) -> None:
        pass


class Replica:
    """One intake replica's automation: its own MongoDB connection, publisher and clock."""

    def __init__(self, uri: str, database: str, now: datetime) -> None:
        self.client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(uri, tz_aware=True)
        self.repo = MongoRepository(self.client[database])
        self.publisher = RecordingPublisher()
        self.automation = Automation(
            repo=self.repo,
            publisher=self.publisher,
            rules=AutomationRules(),
            timers=NoTimers(),
            clock=lambda: now,
        )


@pytest.fixture
async def replicas(infra, database_name) -> AsyncIterator[tuple[Replica, Replica]]:
    now = datetime.now(UTC) + WEEK + timedelta(minutes=1)  # a week after the tickets went pending
    first = Replica(infra.mongodb_uri, database_name, now)
    second = Replica(infra.mongodb_uri, database_name, now)
    await first.repo.create_indexes()
    yield first, second
    await first.client.drop_database(database_name)
    for replica in (first, second):
        await replica.client.close()


def chat(session: str, n: int, at: datetime) -> InboundChatMessageV1:
    return InboundChatMessageV1(
        source_message_id=f"{session}-{n}",
        conversation_id=session,
        session_id=session,
        received_at=at,
        customer=CustomerContact(external_id=f"visitor-{session}"),
        text="Код так и не пришёл" if n > 1 else "Не приходит код подтверждения",
    )


async def pending_ticket(replica: Replica, session: str, at: datetime) -> str:
    outcome = await accept_message(chat(session, 1, at), replica.repo, replica.publisher, Policy())
    action = StatusSetV1(
        occurred_at=at, ticket_id=outcome.ticket_id, agent_id="a-1", status=WorkspaceStatus.PENDING
    )
    await change_status(action, replica.repo, replica.publisher, replica.automation)
    return outcome.ticket_id


def automatic(events: list[Event], ticket_id: str) -> set[str]:
    return {
        e.event_id
        for e in events
        if isinstance(e, TicketStatusChangedV1) and e.ticket_id == ticket_id and e.actor == "system"
    }


async def test_two_replicas_firing_the_same_solve_make_one_change_with_one_event_id(
    replicas,
) -> None:
    first, second = replicas
    at = datetime.now(UTC)
    tickets = [await pending_ticket(first, f"s-{uuid.uuid4().hex[:8]}", at) for _ in range(6)]

    await asyncio.gather(
        *(r.automation.fire(ticket) for ticket in tickets for r in (first, second))
    )

    for ticket in tickets:
        solves = await first.repo.transitions.count_documents(
            {"ticket_id": ticket, "status": TicketStatus.SOLVED.value}
        )
        assert solves == 1
        stored = await first.repo.get_ticket(ticket)
        assert stored is not None
        assert (stored.status, stored.version) == (TicketStatus.SOLVED, 2)
        published = automatic(first.publisher.published + second.publisher.published, ticket)
        assert published == {derived_id("ticket-status-changed", automatic_change_by(ticket, 1))}


async def test_a_customer_message_racing_the_solve_leaves_one_consistent_history(
    replicas,
) -> None:
    first, second = replicas
    at = datetime.now(UTC)
    sessions = [f"s-{uuid.uuid4().hex[:8]}" for _ in range(6)]
    tickets = [await pending_ticket(first, session, at) for session in sessions]
    written = at + WEEK + timedelta(seconds=30)

    await asyncio.gather(
        *(first.automation.fire(ticket) for ticket in tickets),
        *(
            accept_message(chat(session, 2, written), second.repo, second.publisher, Policy())
            for session in sessions
        ),
    )

    for ticket in tickets:
        stored = await first.repo.get_ticket(ticket)
        assert stored is not None
        assert stored.status is TicketStatus.OPEN  # woken, or solved and then reopened
        history = [
            doc
            async for doc in first.repo.transitions.find({"ticket_id": ticket}).sort("version", 1)
        ]
        assert [d["version"] for d in history] == list(range(stored.version))
        for before, after in pairwise(history):
            assert after["previous_status"] == before["status"]


async def test_a_restarted_intake_solves_on_the_due_time_it_stored(
    infra, database_name, tmp_path: Path
) -> None:
    automations = tmp_path / "automations.yaml"
    automations.write_text("solve_pending_after: 5s\nclose_solved_after: off\n")
    settings = Settings(
        kafka_bootstrap_servers=infra.bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=database_name,
        api_keys={"tests": API_KEY},
        automations_file=automations,
    )
    # The process before: it stored the ticket and its due time, then stopped (no timer left).
    before = Replica(infra.mongodb_uri, database_name, datetime.now(UTC))
    before.automation.rules = load_automations(automations)
    await before.repo.create_indexes()
    ticket_id = await pending_ticket(before, f"s-{uuid.uuid4().hex[:8]}", datetime.now(UTC))
    [pending] = [e for e in before.publisher.published if isinstance(e, TicketStatusChangedV1)]
    await before.client.close()
    try:
        async with (
            KafkaTail(infra.bootstrap_servers, TICKETS.name) as tail,
            running(settings),
        ):
            [seen] = await tail.wait_for(
                lambda s: (
                    isinstance(s.event, TicketStatusChangedV1)
                    and s.event.ticket_id == ticket_id
                    and s.event.actor == "system"
                ),
                timeout_s=30,
            )
    finally:
        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_uri)
        await client.drop_database(database_name)
        await client.close()

    solved = seen.event
    assert isinstance(solved, TicketStatusChangedV1)
    assert solved.status is TicketStatus.SOLVED
    assert pending.auto_change_at is not None
    assert solved.occurred_at == pending.auto_change_at
    assert solved.event_id == derived_id("ticket-status-changed", automatic_change_by(ticket_id, 1))
