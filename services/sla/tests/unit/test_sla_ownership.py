"""Which replica arms which timers: the partitions the consumer group assigns it."""

from __future__ import annotations

import asyncio

from aiokafka import TopicPartition
from opora_shared.contracts.topics import ROUTING, TICKETS
from opora_sla.domain import service
from opora_sla.domain.timeline import fact_of
from opora_sla.handlers import Ownership

from ..conftest import config, opened, settle


def partitions(*numbers: int) -> set[TopicPartition]:
    return {TopicPartition(topic.name, n) for topic in (TICKETS, ROUTING) for n in numbers}


async def open_in(desk, ticket_id: str, partition: int) -> None:
    event = opened(ticket_id)
    await service.record_fact(fact_of(event), ticket_id, desk, partition=partition)


async def test_gained_partitions_are_armed_and_lost_ones_dropped(desk, scheduler) -> None:
    await open_in(desk, "in-1", 1)
    await open_in(desk, "in-2", 2)
    scheduler.disarm("in-1")
    scheduler.disarm("in-2")
    owner = Ownership(desk, scheduler)

    await owner.on_partitions_assigned(partitions(1, 2))
    assert set(scheduler.planned) == {"in-1", "in-2"}

    await owner.on_partitions_revoked(partitions(1, 2))
    await owner.on_partitions_assigned(partitions(2))

    assert set(scheduler.planned) == {"in-2"}
    assert owner.owned == {2}


async def test_timers_are_held_while_the_group_rebalances(desk, scheduler, clock) -> None:
    owner = Ownership(desk, scheduler)
    await owner.on_partitions_assigned(partitions(0))
    fired: list[str] = []

    async def record_fire(key: str, group: int) -> None:
        fired.append(key)

    scheduler.bind(record_fire)
    scheduler.arm("t-1", clock.now(), 0)

    await owner.on_partitions_revoked(partitions(0))
    await settle()
    assert fired == []

    await owner.on_partitions_assigned(partitions(0))
    await settle()
    assert fired == ["t-1"]


async def test_tickets_under_an_older_version_are_looked_at_on_adoption(
    desk, scheduler, policies, clock
) -> None:
    await open_in(desk, "t-1", 3)
    policies.current = config(version=2)
    owner = Ownership(desk, scheduler)

    await owner.on_partitions_assigned(partitions(3))

    assert scheduler.planned["t-1"] == clock.now()


async def test_timers_are_armed_once_the_store_is_back(desk, repo, scheduler) -> None:
    await open_in(desk, "t-1", 4)
    scheduler.disarm("t-1")
    reading = repo.timers
    away = [True]

    async def timers(partitions):
        if away[0]:
            raise ConnectionError("MongoDB is away")
        return await reading(partitions)

    repo.timers = timers
    owner = Ownership(desk, scheduler)
    owner.RETRY_MAX_S = 0.01

    await owner.on_partitions_assigned(partitions(4))
    assert "t-1" not in scheduler
    away[0] = False
    for _ in range(100):
        if "t-1" in scheduler:
            break
        await asyncio.sleep(0.01)

    assert "t-1" in scheduler
    await owner.stop()
