"""Reading topics as a bench watches them: from their end at ``start()``, every partition
assigned (no consumer group, so nothing is committed and nothing is shared), each keyed record
handed to ``take``."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class TopicReader:
    def __init__(self, bootstrap_servers: str, topics: Sequence[str]) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.topics = list(topics)
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, enable_auto_commit=False
        )
        self._task: asyncio.Task[None] | None = None

    def take(self, record: ConsumerRecord[bytes, bytes]) -> None:
        """One record with a key, in partition order."""
        raise NotImplementedError

    async def start(self) -> None:
        partitions = await self._partitions()
        await self._consumer.start()
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for partition in partitions:  # fixes the position now, before anything is sent
            await self._consumer.position(partition)
        self._task = asyncio.create_task(self._read())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._consumer.stop()

    async def wait(self, done: Callable[[], int], total: int, stall_s: float) -> None:
        """Until ``done()`` reaches ``total``, or has not grown for ``stall_s``."""
        last, seen = time.monotonic(), 0
        while (now := done()) < total:
            if now > seen:
                last, seen = time.monotonic(), now
            elif time.monotonic() - last > stall_s:
                return
            if self._task is not None and self._task.done():
                self._task.result()  # the reader failed: say why
            await asyncio.sleep(0.05)

    async def _partitions(self, timeout_s: float = 30.0) -> list[TopicPartition]:
        """Every partition of the topics, once the broker lists them all (a topic created a
        moment ago may not have its partitions yet)."""
        deadline = time.monotonic() + timeout_s
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap_servers)
        await admin.start()
        try:
            while True:
                described = await admin.describe_topics(self.topics)
                found = {t["topic"]: [p["partition"] for p in t["partitions"]] for t in described}
                if all(found.get(t) for t in self.topics):
                    return [TopicPartition(t, p) for t, ps in found.items() for p in sorted(ps)]
                if time.monotonic() > deadline:
                    raise RuntimeError(f"bench: topics without partitions: {found}")
                await asyncio.sleep(0.2)
        finally:
            await admin.close()

    async def _read(self) -> None:
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    if record.key is not None:
                        self.take(record)
