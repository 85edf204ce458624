"""Consumer lag per group and partition, as a polled gauge (``opora.kafka.consumer.lag``).

Each replica reports the partitions it owns: the records between its group's committed offset
and the partition's end (the high watermark its consumer last fetched). Summed over replicas
it is the group's lag, which is what Kafka's own tools show; a group with no member left
reports nothing, which the service-down alert covers. The committed offsets are read from the
group coordinator, one request per owned partition per reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka import KafkaBroker

from opora_shared.gauges import PolledGauge, Reading

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


def consumer_lag(consumers: Consumers) -> PolledGauge:
    async def read() -> Reading:
        reading: Reading = []
        for group, consumer in list(consumers()):
            for tp in sorted(consumer.assignment(), key=lambda tp: (tp.topic, tp.partition)):
                lag = await _lag_of(consumer, tp)
                if lag is not None:
                    attributes = {
                        "messaging.system": "kafka",
                        "messaging.consumer.group.name": group,
                        "messaging.destination.name": tp.topic,
                        "messaging.destination.partition.id": str(tp.partition),
                    }
                    reading.append((attributes, lag))
        return reading

    return PolledGauge(
        "opora.kafka.consumer.lag",
        "Records not yet committed by the group, per partition this replica owns",
        read,
        unit="{message}",
    )


async def _lag_of(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
    end: int | None = consumer.highwater(tp)
    if end is None:  # nothing fetched from it yet
        return None
    committed: int | None = await consumer.committed(tp)
    return max(0, end - (committed or 0))
