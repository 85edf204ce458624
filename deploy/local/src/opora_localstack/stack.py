"""The public API: Kafka and FerretDB for tests and ``opora-stack``, with topics created, and
Zipkin as the trace viewer when asked for."""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from opora_localstack import ferretdb, kafka, prereqs, procs, topics, zipkin
from opora_localstack.paths import RepoPaths, repo_paths

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SetupReport:
    """What :func:`setup` had to do."""

    downloaded_jars: bool
    built_ferretdb: bool
    downloaded_zipkin: bool


def setup(paths: RepoPaths | None = None) -> SetupReport:
    """Check the tools, fetch the Kafka jars and Zipkin's and build FerretDB, each only when
    out of date."""
    paths = paths or repo_paths()
    prereqs.check(
        prereqs.Need(
            java=True,
            maven=not (kafka.jars_up_to_date(paths) and zipkin.jar_up_to_date(paths)),
            go=not ferretdb.binary_up_to_date(paths),
        )
    )
    return SetupReport(
        kafka.ensure_jars(paths), ferretdb.ensure_binary(paths), zipkin.ensure_jar(paths)
    )


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (e.g. a sync fixture under pytest-asyncio).
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


class LocalInfra:
    """Kafka (KRaft) and FerretDB as child processes, data in ``data_dir``.

    Use ``with LocalInfra(dir) as infra`` (or ``start()``/``stop()``) from sync code and
    ``async with LocalInfra(dir)`` from async code. Ports left as None are picked free.
    ``with_zipkin`` also runs the trace viewer (``.zipkin``), which tests rarely need.
    """

    def __init__(
        self,
        data_dir: Path,
        kafka_port: int | None = None,
        ferretdb_port: int | None = None,
        *,
        kafka_controller_port: int | None = None,
        host: str = "127.0.0.1",
        create_topics: bool = True,
        timeout: float = 120.0,
        paths: RepoPaths | None = None,
        with_zipkin: bool = False,
        zipkin_port: int | None = None,
    ) -> None:
        self.data_dir = data_dir.resolve()
        self.paths = paths or repo_paths()
        self.create_topics = create_topics
        self.timeout = timeout
        self.kafka = kafka.KafkaBroker(
            self.data_dir / "kafka",
            kafka_port or procs.free_port(host),
            kafka_controller_port or procs.free_port(host),
            self.paths,
            host,
        )
        self.ferretdb = ferretdb.FerretDB(
            self.data_dir / "ferretdb", ferretdb_port or procs.free_port(host), self.paths, host
        )
        self.zipkin = (
            zipkin.ZipkinServer(
                self.data_dir / "zipkin", zipkin_port or procs.free_port(host), self.paths, host
            )
            if with_zipkin
            else None
        )

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` of the broker's PLAINTEXT listener."""
        return self.kafka.bootstrap_servers

    @property
    def mongodb_uri(self) -> str:
        """``mongodb://host:port/`` of FerretDB."""
        return self.ferretdb.uri

    def _launch(self) -> None:
        setup(self.paths)
        self.kafka.prepare()
        self.kafka.start()
        self.ferretdb.start()
        if self.zipkin is not None:
            self.zipkin.start()

    async def _await_ready(self) -> None:
        waits = [self.kafka.wait_ready(self.timeout), self.ferretdb.wait_ready(self.timeout)]
        if self.zipkin is not None:
            waits.append(self.zipkin.wait_ready(self.timeout))
        await asyncio.gather(*waits)
        if self.create_topics:
            created = await topics.create_topics(self.bootstrap_servers, timeout_s=self.timeout)
            if created:
                log.info("created %d topics", len(created))

    def start(self) -> Self:
        """Start the servers, wait until they answer and create the topics (blocking)."""
        try:
            self._launch()
            _run_sync(self._await_ready())
        except BaseException:
            self.stop()
            raise
        return self

    async def astart(self) -> Self:
        """:meth:`start` for async code."""
        try:
            await asyncio.to_thread(self._launch)
            await self._await_ready()
        except BaseException:
            await asyncio.to_thread(self.stop)
            raise
        return self

    def stop(self) -> None:
        """Stop Zipkin, FerretDB, then Kafka (blocking, graceful, idempotent)."""
        if self.zipkin is not None:
            self.zipkin.stop()
        self.ferretdb.stop()
        self.kafka.stop()

    async def astop(self) -> None:
        """:meth:`stop` for async code."""
        await asyncio.to_thread(self.stop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        return await self.astart()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.astop()


@asynccontextmanager
async def local_infra(
    data_dir: Path,
    kafka_port: int | None = None,
    ferretdb_port: int | None = None,
    **options: Any,
) -> AsyncIterator[LocalInfra]:
    """``async with local_infra(dir) as infra:`` gives ``.bootstrap_servers``, ``.mongodb_uri``."""
    async with LocalInfra(data_dir, kafka_port, ferretdb_port, **options) as infra:
        yield infra
