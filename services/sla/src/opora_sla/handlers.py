"""sla's Kafka entry points: ticket events and routing's assignments become facts of tickets;
the consumer group's partition assignment decides which replica owns which tickets' timers.

One consumer reads ``tickets.events.v1`` and ``routing.events.v1`` together, with the range
assignor: both topics are keyed by ticket id and have as many partitions, so partition *p* of
both goes to the same replica, which therefore sees every event of its tickets and is the only
one arming their timers. When the group rebalances, timers are held and running ones finish
before partitions are given up; afterwards the plans of partitions lost are dropped and those
of partitions gained are read from MongoDB.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.coordinator.assignors.range import RangePartitionAssignor
from faststream import AckPolicy, Context
from faststream.kafka import KafkaRouter
from faststream.message import StreamMessage
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
    TicketUpdatedV1,
)
from opora_shared.contracts.topics import ROUTING, TICKETS

from opora_sla.adapters.scheduler import HeapScheduler
from opora_sla.domain import service
from opora_sla.domain.service import Desk
from opora_sla.domain.timeline import TicketFactEvent, fact_of

log = logging.getLogger(__name__)

GROUP = "sla"
CONSUMED = (TICKETS, ROUTING)
OWNING_TOPIC = TICKETS.name
"""Partitions are counted on this topic; ``routing.events.v1`` must have as many."""

PARTITION: Any = Context("message.raw_message.partition")
"""The partition the record came from: the ticket's, on both topics."""

FACT_EVENTS: tuple[type[TicketFactEvent], ...] = (
    TicketOpenedV1,
    TicketMessageReceivedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
    TicketUpdatedV1,
    TicketAssignedV1,
)


class Ownership(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    """The partitions this replica owns, and their timers."""

    RETRY_MAX_S = 30.0

    def __init__(self, desk: Desk, scheduler: HeapScheduler) -> None:
        self.desk = desk
        self.scheduler = scheduler
        self.owned: frozenset[int] = frozenset()
        self._retries: set[asyncio.Task[None]] = set()

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self.scheduler.hold()
        await self.scheduler.drain()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        now_owned = frozenset(tp.partition for tp in assigned if tp.topic == OWNING_TOPIC)
        others = {tp.partition for tp in assigned if tp.topic != OWNING_TOPIC}
        if others != now_owned:
            log.error(
                "the consumed topics are not co-partitioned: timers may be armed by a replica "
                "that does not see every event of the ticket",
                extra={"tickets": sorted(now_owned), "routing": sorted(others)},
            )
        lost, gained = self.owned - now_owned, now_owned - self.owned
        dropped = self.scheduler.disarm_groups(lost)
        self.owned = now_owned
        try:
            if gained:
                await self._adopt_or_retry(gained)
        finally:
            self.scheduler.release()
        log.info(
            "SLA partitions assigned",
            extra={"owned": sorted(now_owned), "gained": sorted(gained), "dropped": dropped},
        )

    async def _adopt_or_retry(self, partitions: frozenset[int]) -> None:
        """Adopt now; if the store is away, keep trying in the background (the partitions'
        events are handled meanwhile, and each settles and re-arms its own ticket)."""
        try:
            await self.adopt(partitions)
        except Exception:
            log.exception("arming the timers of new partitions failed; retrying")
            task = asyncio.create_task(self._retry(partitions))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _retry(self, partitions: frozenset[int]) -> None:
        delay = 0.5
        while partitions := partitions & self.owned:
            await asyncio.sleep(delay)
            try:
                await self.adopt(partitions & self.owned)
                return
            except Exception:
                log.warning("arming the timers of new partitions failed again", exc_info=True)
                delay = min(delay * 2, self.RETRY_MAX_S)

    async def stop(self) -> None:
        for task in self._retries:
            task.cancel()
        await asyncio.gather(*self._retries, return_exceptions=True)

    async def adopt(self, partitions: frozenset[int]) -> None:
        stale = await service.adopt(partitions, self.desk)
        now = self.desk.now()
        for ticket_id, partition in stale:
            self.scheduler.arm(ticket_id, now, partition)

    async def rescore(self) -> int:
        """Look at every owned ticket measured under an older version, as soon as possible."""
        stale = await service.stale(self.owned, self.desk)
        now = self.desk.now()
        for ticket_id, partition in stale:
            self.scheduler.arm(ticket_id, now, partition)
        return len(stale)


def register(router: KafkaRouter, desk: Desk, ownership: ConsumerRebalanceListener) -> None:
    subscriber = router.subscriber(
        *(topic.name for topic in CONSUMED),
        group_id=GROUP,
        ack_policy=AckPolicy.NACK_ON_ERROR,
        auto_offset_reset="earliest",
        partition_assignment_strategy=(RangePartitionAssignor,),
        listener=ownership,
        title=f"{GROUP}:{','.join(topic.name for topic in CONSUMED)}",
        description="Ticket events and routing's assignments, co-partitioned by ticket id.",
    )
    known = {event_type.ce_type for event_type in FACT_EVENTS}

    def of_type(event_type: type[TicketFactEvent]) -> Callable[[StreamMessage[Any]], bool]:
        return lambda msg: msg.headers.get("ce_type") == event_type.ce_type

    async def record(event: TicketFactEvent, partition: int) -> None:
        await service.record_fact(fact_of(event), event.ticket_id, desk, partition=partition)

    @subscriber(filter=lambda msg: msg.headers.get("ce_type") not in known)
    async def skip() -> None:
        log.debug("skipped a record of a type sla does not handle")

    @subscriber(filter=of_type(TicketOpenedV1))
    async def on_ticket_opened(event: TicketOpenedV1, partition: int = PARTITION) -> None:
        await record(event, partition)

    @subscriber(filter=of_type(TicketMessageReceivedV1))
    async def on_customer_message(
        event: TicketMessageReceivedV1, partition: int = PARTITION
    ) -> None:
        await record(event, partition)

    @subscriber(filter=of_type(TicketRepliedV1))
    async def on_agent_reply(event: TicketRepliedV1, partition: int = PARTITION) -> None:
        await record(event, partition)

    @subscriber(filter=of_type(TicketStatusChangedV1))
    async def on_status_changed(event: TicketStatusChangedV1, partition: int = PARTITION) -> None:
        await record(event, partition)

    @subscriber(filter=of_type(TicketUpdatedV1))
    async def on_ticket_updated(event: TicketUpdatedV1, partition: int = PARTITION) -> None:
        await record(event, partition)

    @subscriber(filter=of_type(TicketAssignedV1))
    async def on_ticket_assigned(event: TicketAssignedV1, partition: int = PARTITION) -> None:
        await record(event, partition)
