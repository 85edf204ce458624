"""Real infrastructure for the benchmarks that need it: Kafka, a MongoDB-wire server, services.

Kafka and MongoDB come from ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI`` when both are set
(as for the tests), else from the local stack's processes (``opora_localstack.LocalInfra``) with
their data in this run's scratch directory. Services run as separate processes from their
console scripts, exactly as ``make run`` starts them, and are stopped on the way out whatever
happens (the caller holds them in a ``with`` block).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from opora_localstack import procs
from opora_localstack.services import (
    Service,
    ServiceEnv,
    default_command,
    service_database,
    service_env,
)
from opora_shared.contracts.topics import all_topics
from opora_shared.testing import drop_database, skip_group_to_end

from tests.services import GROUPS, SERVICES


@dataclass(frozen=True)
class Infra:
    bootstrap_servers: str
    mongodb_uri: str
    source: str
    pids: dict[str, int] = field(default_factory=dict)  # ours only, for CPU accounting
    started_in_s: float = 0.0


@contextmanager
def kafka_and_mongodb(work_dir: Path) -> Iterator[Infra]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    mongodb_uri = os.environ.get("MONGODB_URI")
    if bootstrap and mongodb_uri:
        from opora_localstack.topics import create_topics

        asyncio.run(create_topics(bootstrap))  # creates only the missing ones
        yield Infra(bootstrap, mongodb_uri, "environment (KAFKA_BOOTSTRAP_SERVERS, MONGODB_URI)")
        return
    from opora_localstack.stack import LocalInfra

    started = time.monotonic()
    with LocalInfra(work_dir / "stack") as local:
        pids = {
            name: process.pid
            for name, process in (
                ("kafka", local.kafka.process),
                ("ferretdb", local.ferretdb.process),
            )
            if process is not None
        }
        yield Infra(
            local.bootstrap_servers,
            local.mongodb_uri,
            "local stack processes (Kafka, FerretDB)",
            pids,
            time.monotonic() - started,
        )


class ServiceProcess:
    """One Opora service as a child process in its own session; ``with`` stops it."""

    def __init__(
        self,
        name: str,
        port: int,
        env: Mapping[str, str],
        log_file: Path,
        host: str = "127.0.0.1",
    ) -> None:
        self.service = Service(name, port, host, log_file)
        self.env = dict(env)

    @property
    def url(self) -> str:
        return self.service.url

    @property
    def pid(self) -> int:
        if self.service.process is None:
            raise RuntimeError(f"{self.service.name} is not running")
        return self.service.process.pid

    def start(self, ready_timeout_s: float = 90.0) -> Self:
        self.spawn()
        return self.wait_ready(ready_timeout_s)

    def spawn(self) -> Self:
        """Start the process without waiting: several services can start at once."""
        self.service.process = procs.spawn(
            default_command(self.service.name),
            log_file=self.service.log_file,
            env=os.environ | self.env,
        )
        return self

    def wait_ready(self, ready_timeout_s: float = 90.0) -> Self:
        if self.service.process is None:
            raise RuntimeError(f"{self.service.name} was not started")
        deadline = time.monotonic() + ready_timeout_s
        while not self.service.ready():
            if self.service.process.poll() is not None:
                raise procs.ProcessFailedError(
                    f"{self.service.name} exited with code {self.service.process.returncode}:\n"
                    + procs.tail(self.service.log_file)
                )
            if time.monotonic() > deadline:
                raise procs.ProcessFailedError(
                    f"{self.service.name} not ready after {ready_timeout_s:.0f} s:\n"
                    + procs.tail(self.service.log_file)
                )
            time.sleep(0.2)
        return self

    def terminate(self) -> None:
        """Ask the process to stop (SIGTERM) without waiting; ``stop()`` then waits for it."""
        if self.service.process is not None and self.service.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.service.process.pid, signal.SIGTERM)

    def stop(self) -> None:
        if self.service.process is not None:
            procs.stop(self.service.process, timeout=20)
            self.service.process = None

    def __enter__(self) -> Self:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class Deployment:
    """The five services started for one measurement, each with its database."""

    services: dict[str, ServiceProcess]
    api_key: str  # intake's

    @property
    def pids(self) -> dict[str, int]:
        return {name: s.pid for name, s in self.services.items()}

    def check_alive(self) -> None:
        """Fail, with its log, if a service exited during the measurement."""
        for name, service in self.services.items():
            process = service.service.process
            if process is not None and process.poll() is not None:
                raise procs.ProcessFailedError(
                    f"{name} exited during the run:\n" + procs.tail(service.service.log_file)
                )


def deploy_services(
    stack: ExitStack,
    infra: Infra,
    *,
    database: str,
    smtp_port: int,
    logs: Path,
    env: Mapping[str, str] | None = None,
    zipkin_endpoint: str | None = None,
) -> Deployment:
    """Start the five services as a fresh deployment: their consumer groups at the end of the
    topics (not where an earlier measurement left them), a database each (dropped on the way
    out unless the servers are someone else's), every one ready before this returns; ``stack``
    stops them."""
    asyncio.run(skip_groups_to_end(infra.bootstrap_servers))
    api_key = secrets.token_urlsafe(24)
    ports = {name: procs.free_port() for name in SERVICES}
    settings = ServiceEnv(
        kafka_bootstrap_servers=infra.bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=database,
        per_service_database=True,
        smtp_port=smtp_port,
        survey_token_secret=secrets.token_hex(16),
        unsubscribe_secret=secrets.token_hex(16),
        intake_api_key=api_key,
        feedback_public_url=f"http://127.0.0.1:{ports['feedback']}",
        zipkin_endpoint=zipkin_endpoint,
    )
    if not infra.pids:  # someone else's servers: leave them as they were
        for name in SERVICES:
            stack.callback(drop_database, infra.mongodb_uri, service_database(database, name))
    services: dict[str, ServiceProcess] = {}
    for name in SERVICES:
        service_vars = service_env(name, ports[name], settings) | dict(env or {})
        service = ServiceProcess(name, ports[name], service_vars, logs / f"{name}.log")
        stack.callback(service.stop)
        services[name] = service.spawn()
    for service in services.values():
        service.wait_ready()
    return Deployment(services, api_key)


async def skip_groups_to_end(bootstrap_servers: str) -> None:
    topics = [topic.name for topic in all_topics()]
    for group in GROUPS:
        await skip_group_to_end(bootstrap_servers, group, topics)
