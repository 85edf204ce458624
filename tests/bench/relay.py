"""A no-op Kafka relay: the messaging ceiling the pipeline benchmark compares Opora with.

``python -m tests.bench.relay --bootstrap HOST:PORT --source T --group G --sink T2:SIZE ...``

One process, plain aiokafka: a consumer in group ``G`` reads ``T`` and, for every record, a
producer sends one record of ``SIZE`` bytes to each sink, with the record's key and headers (so
the origin's ``t0`` header travels down the chain), then the consumer commits the batch, as
at-least-once handlers do. No parsing, no storage, no logic: what is left is the cost of moving
messages through the same broker, hops and processes as the pipeline.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

READY = "relay ready"


def parse_sink(text: str) -> tuple[str, int]:
    topic, _, size = text.rpartition(":")
    if not topic or not size.isdigit():
        raise argparse.ArgumentTypeError(f"a sink is TOPIC:SIZE, not {text!r}")
    return topic, int(size)


async def relay(bootstrap: str, source: str, group: str, sinks: Sequence[tuple[str, int]]) -> None:
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="latest",
    )
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    bodies = [(topic, b"x" * size) for topic, size in sinks]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, stopping.set)
    await producer.start()
    await consumer.start()
    try:
        while not consumer.assignment() and not stopping.is_set():
            await consumer.getmany(timeout_ms=100)  # joins the group; nothing is sent yet
        for partition in consumer.assignment():  # fixes "latest" now, before the load starts
            await consumer.position(partition)
        print(READY, flush=True)
        while not stopping.is_set():
            batches = await consumer.getmany(timeout_ms=100, max_records=500)
            sends = [
                await producer.send(topic, body, key=record.key, headers=list(record.headers))
                for records in batches.values()
                for record in records
                for topic, body in bodies
            ]
            if sends:
                await asyncio.gather(*sends)
            if batches:
                await consumer.commit()
    finally:
        await consumer.stop()
        await producer.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.relay")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--source", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--sink", type=parse_sink, action="append", default=[])
    args = parser.parse_args(argv)
    asyncio.run(relay(args.bootstrap, args.source, args.group, args.sink))


if __name__ == "__main__":
    main()
