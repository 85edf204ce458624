"""Consumer lag read from a real broker: the records a group has not committed yet."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from opora_shared.gauges import Poller
from opora_shared.lag import consumer_lag
from opora_shared.telemetry import configure_metrics

pytestmark = pytest.mark.integration


@pytest.fixture
async def topic(infra):
    name = f"test-lag-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:
        for n in range(10):
            await producer.send_and_wait(name, f"record {n}".encode(), partition=0)
    finally:
        await producer.stop()
    return name


async def test_lag_is_what_the_group_has_not_committed(infra, topic) -> None:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=infra.bootstrap_servers,
        group_id=f"lag-{topic}",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        taken = 0
        while taken < 4:
            batches = await consumer.getmany(timeout_ms=1000, max_records=4 - taken)
            taken += sum(len(records) for records in batches.values())
        await consumer.commit({TopicPartition(topic, 0): 4})
        metrics = configure_metrics("opora-test", make_global=False)
        gauge = consumer_lag(lambda: [(f"lag-{topic}", consumer)])
        poller = Poller([gauge], meter_provider=metrics.provider)

        reading = (await poller.refresh())[gauge.name]
        scraped = metrics.exposition().decode()
    finally:
        await consumer.stop()

    assert [(a["messaging.destination.name"], value) for a, value in reading] == [(topic, 6)]
    assert any(
        line.startswith("opora_kafka_consumer_lag")
        and f'messaging_destination_name="{topic}"' in line
        and line.endswith(" 6.0")
        for line in scraped.splitlines()
    )
