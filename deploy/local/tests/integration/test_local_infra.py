"""local_infra really starts Kafka and FerretDB: one record and one document round-trip; and
the FerretDB it builds looks documents up by `_id` through an index."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from opora_localstack import ferretdb, local_infra, procs
from opora_localstack.paths import repo_paths
from opora_shared.contracts.topics import all_topics
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

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


@asynccontextmanager
async def built_ferretdb(data_dir: Path) -> AsyncIterator[AsyncCollection[dict[str, Any]]]:
    """The FerretDB this project builds (patches applied), with 100 documents in a collection."""
    paths = repo_paths()
    ferretdb.ensure_binary(paths)
    server = ferretdb.FerretDB(data_dir, procs.free_port(), paths)
    server.start()
    client: AsyncMongoClient[dict[str, Any]] | None = None
    try:
        await server.wait_ready()
        client = AsyncMongoClient(server.uri)
        docs = client["opora_localstack_test"]["docs"]
        await docs.insert_many([{"_id": f"doc-{n}", "n": n, "version": 1} for n in range(100)])
        yield docs
    finally:
        if client is not None:
            await client.close()
        server.stop()


async def plan(docs: AsyncCollection[dict[str, Any]], query: dict[str, Any]) -> str:
    explained = await docs.database.command("explain", {"find": docs.name, "filter": query})
    return " ".join(explained["queryPlanner"]["Plan"])


async def test_ferretdb_finds_a_document_by_id_through_its_index(tmp_path: Path) -> None:
    """Patch 0001: the `_id` index is built on the expression the queries filter on."""
    async with built_ferretdb(tmp_path) as docs:
        found = await plan(docs, {"_id": "doc-57"})

    assert "USING INDEX" in found, found


async def test_ferretdb_narrows_by_id_and_still_applies_the_other_conditions(
    tmp_path: Path,
) -> None:
    """Patch 0002: a compare-and-set filter ({_id, version}) is an index search, and a version
    that does not match still updates nothing."""
    async with built_ferretdb(tmp_path) as docs:
        found = await plan(docs, {"_id": "doc-57", "version": 1})
        stale = await docs.update_one({"_id": "doc-57", "version": 0}, {"$set": {"version": 2}})
        fresh = await docs.update_one({"_id": "doc-57", "version": 1}, {"$set": {"version": 2}})

    assert "USING INDEX" in found, found
    assert (stale.matched_count, fresh.matched_count) == (0, 1)


async def test_ferretdb_narrows_by_an_id_list_and_still_applies_the_other_conditions(
    tmp_path: Path,
) -> None:
    """Patch 0002: {_id: {$in: [...]}} is an index search; other keys still filter."""
    async with built_ferretdb(tmp_path) as docs:
        found = await plan(docs, {"_id": {"$in": ["doc-1", "doc-2"]}, "n": 2})
        matched = [
            d["_id"]
            async for d in docs.find({"_id": {"$in": ["doc-1", "doc-2", "x"]}, "n": {"$gt": 1}})
        ]

    assert "USING INDEX" in found, found
    assert matched == ["doc-2"]
