"""Consumer lag per group and partition, as an OpenTelemetry gauge.

Each replica reports the partitions it owns: the records between its group's committed offset
and the partition's end (the high watermark its consumer last fetched). Summed over replicas,
``opora.kafka.consumer.lag`` is the group's lag, which is what Kafka's own tools show; a group
with no member left reports nothing, which the service-down alert covers.

The committed offsets are read from the group coordinator every ``interval_s`` seconds, one
request per owned partition, off the consuming path; the gauge reports the last reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker
from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, MeterProvider, Observation

log = logging.getLogger(__name__)

Consumers = Callable[[], Iterable[tuple[str, AIOKafkaConsumer]]]


def broker_consumers(broker: KafkaBroker) -> Consumers:
    """Every running consumer of ``broker``'s subscribers, with its group."""

    def running() -> Iterator[tuple[str, AIOKafkaConsumer]]:
        for subscriber in broker.subscribers:
            consumer: Any = getattr(subscriber, "consumer", None)
            group = getattr(subscriber, "group_id", None)
            if consumer is not None and group:
                yield group, consumer

    return running


class ConsumerLag:
    def __init__(
        self,
        consumers: Consumers,
        *,
        meter_provider: MeterProvider | None = None,
        interval_s: float = 15.0,
    ) -> None:
        self._consumers = consumers
        self._interval_s = interval_s
        self._lag: dict[tuple[str, str, int], int] = {}
        self._task: asyncio.Task[None] | None = None
        meter = metrics.get_meter("opora.kafka", meter_provider=meter_provider)
        meter.create_observable_gauge(
            "opora.kafka.consumer.lag",
            callbacks=[self._observe],
            unit="{message}",
            description="Records not yet committed by the group, per partition this replica owns",
        )

    async def refresh(self) -> dict[tuple[str, str, int], int]:
        """Read every owned partition's lag now; the gauge reports this reading."""
        reading: dict[tuple[str, str, int], int] = {}
        for group, consumer in list(self._consumers()):
            for tp in sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition)):
                lag = await _lag_of(consumer, tp)
                if lag is not None:
                    reading[(group, tp.topic, tp.partition)] = lag
        self._lag = reading
        return reading

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="consumer-lag")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:  # a rebalance or a broker restart: try again at the next tick
                log.warning("could not read consumer lag", exc_info=True)
            await asyncio.sleep(self._interval_s)

    def _observe(self, _: CallbackOptions) -> Iterable[Observation]:
        for (group, topic, partition), lag in self._lag.items():
            yield Observation(
                lag,
                {
                    "messaging.system": "kafka",
                    "messaging.consumer.group.name": group,
                    "messaging.destination.name": topic,
                    "messaging.destination.partition.id": str(partition),
                },
            )


async def _lag_of(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    end: int | None = consumer.highwater(tp)
    if end is None:  # nothing fetched from it yet
        return None
    committed: int | None = await consumer.committed(tp)
    return max(0, end - (committed or 0))
