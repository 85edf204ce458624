"""Holding the rollup consumer group while the rollups are rebuilt.

The rebuild joins ``feedback-rollups`` as a member of its own. ``SingleOwnerAssignor`` gives
every partition to the member with the smallest id, and Kafka makes member ids from the client
id, so a client id that sorts before ``feedback`` makes the rebuild that member: the replicas'
folders hand their partitions over and stand by, as they do for one another, without being
stopped. The rebuild then consumes and commits nothing: the group's committed offsets stay
where the last folder left them, and when the rebuild leaves, the next rebalance gives the
partitions back to a replica, which resumes from those offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

from opora_feedback.adapters.assignor import SingleOwnerAssignor

log = logging.getLogger(__name__)

CLIENT_ID = "0-feedback-rollup-rebuild"  # sorts before "feedback-…": the group's owner
TAKE_OVER_TIMEOUT_S = 60.0


class RollupGroupError(RuntimeError):
    """The rebuild could not hold, or did not keep, every partition of the rollup group."""


class RollupGroupHold:
    """Every partition of ``topic`` in ``group``, held until the context exits.

    ``positions`` are the group's committed offsets when the hold began; ``check`` raises when
    the hold no longer has every partition or someone committed since. ``security`` is passed
    to the consumer as it is: ``opora_shared.messaging.kafka_client_kwargs(settings)``."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        topic: str,
        group: str,
        timeout_s: float = TAKE_OVER_TIMEOUT_S,
        security: Mapping[str, Any] | None = None,
    ) -> None:
        self.topic = topic
        self.timeout_s = timeout_s
        self.consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=bootstrap_servers,
            group_id=group,
            client_id=CLIENT_ID,
            partition_assignment_strategy=(SingleOwnerAssignor,),
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            # A pause of the event loop (a large recount decoding documents) must not cost the
            # membership: heartbeats may be late by up to this.
            session_timeout_ms=30_000,
            heartbeat_interval_ms=3_000,
            **(security or {}),
        )
        self.partitions: set[TopicPartition] = set()
        self.positions: dict[int, int | None] = {}
        self._keepalive: asyncio.Task[None] | None = None

    async def __aenter__(self) -> RollupGroupHold:
        await self.consumer.start()
        try:
            await self._take_over()
        except BaseException:
            await self.consumer.stop()
            raise
        self._keepalive = asyncio.create_task(self._stay())
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
        await self.consumer.stop()  # commits nothing: auto-commit is off

    async def _take_over(self) -> None:
        deadline = time.monotonic() + self.timeout_s
        while not self.partitions:
            found = self.consumer.partitions_for_topic(self.topic)
            if found:
                self.partitions = {TopicPartition(self.topic, p) for p in found}
            elif time.monotonic() > deadline:
                raise RollupGroupError(f"topic {self.topic} has no partitions")
            else:
                await asyncio.sleep(0.1)
        while set(self.consumer.assignment()) != self.partitions:
            if time.monotonic() > deadline:
                raise RollupGroupError(
                    f"the rollup group did not hand every partition of {self.topic} to the "
                    f"rebuild within {self.timeout_s:g} s (is another rebuild running?)"
                )
            await self._poll(timeout_ms=200)
        self.positions = await self._committed()
        log.info("rollup group held by the rebuild", extra={"positions": self.positions})

    async def _poll(self, *, timeout_ms: int) -> None:
        # Polling drives the group protocol; whatever it fetches is dropped, and pausing keeps
        # it from fetching more.
        self.consumer.pause(*self.consumer.assignment())
        await self.consumer.getmany(timeout_ms=timeout_ms, max_records=1)
        self.consumer.pause(*self.consumer.assignment())

    async def _stay(self) -> None:
        while True:
            await self._poll(timeout_ms=1_000)

    async def _committed(self) -> dict[int, int | None]:
        return {
            tp.partition: await self.consumer.committed(tp)
            for tp in sorted(self.partitions, key=lambda tp: tp.partition)
        }

    async def check(self) -> None:
        """Raise unless the hold has every partition (again, after a rebalance that a replica
        joining or leaving started) and nobody committed since it began."""
        deadline = time.monotonic() + self.timeout_s
        while set(self.consumer.assignment()) != self.partitions:
            if time.monotonic() > deadline:
                raise RollupGroupError("the rebuild lost partitions of the rollup group")
            await asyncio.sleep(0.2)
        if await self._committed() != self.positions:
            raise RollupGroupError("offsets of the rollup group were committed during the rebuild")
