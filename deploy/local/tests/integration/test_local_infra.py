"""local_infra really starts Kafka and FerretDB: one record and one document round-trip; and
the FerretDB it builds looks documents up by `_id` through an index."""

import asyncio
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opora_localstack import ferretdb, local_infra, procs
from opora_localstack.paths import repo_paths
from opora_shared.contracts.topics import all_topics
from pymongo import AsyncMongoClient

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]


async def test_kafka_and_ferretdb_round_trip(tmp_path: Path) -> None:
    async with local_infra(tmp_path) as infra:
        topic = all_topics()[0].name
        producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
        await producer.start()
        try:
            sent = await producer.send_and_wait(topic, b"hello", key=b"k")
        finally:
            await producer.stop()
        consumer = AIOKafkaConsumer(bootstrap_servers=infra.bootstrap_servers, group_id=None)
        await consumer.start()
        try:
            partition = TopicPartition(topic, sent.partition)
            consumer.assign([partition])
            consumer.seek(partition, sent.offset)
            record = await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()
        assert (record.key, record.value) == (b"k", b"hello")

        client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_uri)
        try:
            docs = client["opora_localstack_test"]["docs"]
            await docs.insert_one({"_id": "one", "n": 1})
            assert await docs.find_one({"_id": "one"}) == {"_id": "one", "n": 1}
        finally:
            await client.close()

    assert infra.kafka.process is None
    assert infra.ferretdb.process is None


async def test_ferretdb_finds_a_document_by_id_through_its_index(tmp_path: Path) -> None:
    """The patched FerretDB's `_id` index matches the expression its queries filter on, so a
    lookup by `_id` is an index search, not a scan of the table."""
    paths = repo_paths()
    ferretdb.ensure_binary(paths)
    server = ferretdb.FerretDB(tmp_path, procs.free_port(), paths)
    server.start()
    client: AsyncMongoClient[dict[str, object]] | None = None
    try:
        await server.wait_ready()
        client = AsyncMongoClient(server.uri)
        docs = client["opora_localstack_test"]["docs"]
        await docs.insert_many([{"_id": f"doc-{n}", "n": n} for n in range(100)])

        explained = await client["opora_localstack_test"].command(
            "explain", {"find": "docs", "filter": {"_id": "doc-57"}}
        )

        plan = " ".join(explained["queryPlanner"]["Plan"])
        assert "USING INDEX" in plan, plan
    finally:
        if client is not None:
            await client.close()
        server.stop()
