"""routing's repository on a real MongoDB-wire server, with writers racing as replicas do.

FerretDB applies a conditional update as a read and a write that another connection can fall
between (with a plain compare-and-set, most of these races end with several winners). Each
racer here has its own client, as each replica has, and exactly one change must win.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from opora_routing.adapters.repository import MongoRepository
from opora_routing.domain.model import RoutingState, Ticket
from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.workspace import AgentProfileChangedV1, Presence
from pymongo import AsyncMongoClient

pytestmark = pytest.mark.integration

AT = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RACERS = 12


@pytest.fixture
async def racers(infra, database_name) -> AsyncIterator[list[MongoRepository]]:
    """One repository per racer, each on its own client (its own connections)."""
    clients: list[AsyncMongoClient[dict[str, object]]] = [
        AsyncMongoClient(infra.mongodb_uri, tz_aware=True) for _ in range(RACERS)
    ]
    yield [MongoRepository(client[database_name]) for client in clients]
    for client in clients:
        await client.close()


def ticket(ticket_id: str) -> Ticket:
    return Ticket(
        ticket_id=ticket_id,
        channel=Channel.CHAT,
        request_type=RequestType.OTHER,
        priority=Priority.NORMAL,
        language="ru",
        opened_at=AT,
    )


async def online_agent(repo, agent_id: str = "anna") -> None:
    await repo.save_profile(
        AgentProfileChangedV1(
            agent_id=agent_id, name="Anna", capacity={Channel.CHAT: RACERS}, languages=("ru",)
        )
    )
    await repo.set_presence(agent_id, Presence.ONLINE)


async def test_racing_reservations_on_one_load_version_let_exactly_one_through(
    repo, racers
) -> None:
    await online_agent(repo)
    [agent] = await repo.agents()

    won = await asyncio.gather(
        *(racer.reserve(agent, ticket(f"t-{n}"), AT) for n, racer in enumerate(racers))
    )

    [after] = await repo.agents()
    assert (sum(won), after.load, len(after.active)) == (1, {Channel.CHAT: 1}, 1)


async def test_racing_releases_of_one_slot_free_it_once(repo, racers) -> None:
    await online_agent(repo)
    [agent] = await repo.agents()
    await repo.reserve(agent, ticket("t-1"), AT)
    [agent] = await repo.agents()
    await repo.reserve(agent, ticket("t-2"), AT)

    freed = await asyncio.gather(*(racer.release("anna", ticket("t-1")) for racer in racers))

    [after] = await repo.agents()
    assert (sum(freed), after.load, after.active) == (1, {Channel.CHAT: 1}, frozenset({"t-2"}))


async def test_racing_changes_from_one_version_apply_once(repo, racers) -> None:
    routing = await repo.track(ticket("t-1"), None)

    changed = await asyncio.gather(
        *(
            racer.change(routing, state=RoutingState.OFFERED, agent_id=f"agent-{n}")
            for n, racer in enumerate(racers)
        )
    )

    stored = await repo.get("t-1")
    winners = [c for c in changed if c is not None]
    assert (len(winners), stored.version, stored.agent_id) == (1, 1, winners[0].agent_id)


async def test_loads_stored_on_profiles_by_an_earlier_version_are_kept(repo) -> None:
    await online_agent(repo)
    await repo._agents.update_one(
        {"_id": "anna"},
        {
            "$set": {
                "load": {"chat": 1},
                "load_version": 3,
                "active": {"t-9": {"ticket_id": "t-9", "channel": "chat", "at": AT}},
            }
        },
    )

    await repo.create_indexes()

    [agent] = await repo.agents()
    assert (agent.load, agent.active, agent.load_version) == ({Channel.CHAT: 1}, {"t-9"}, 3)
