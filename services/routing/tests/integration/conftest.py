"""routing against a real Kafka broker and a real MongoDB-wire server: settings with a small
rules file, a producer that publishes like the other services do, routing's own repository for
reading its state, and replicas started in-process or as ``opora-routing`` processes.

Every replica joins the production consumer group ``routing``. Before replicas start, the
group's committed offsets are moved to the end of routing's topics, so that a test's replicas
read only what that test publishes (not what earlier tests, or intake's tests, left on the
shared topics); after they start, the tests wait until the group has settled, so that no
rebalance pauses consumption in the middle of a timed behaviour.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path

import pytest
from opora_routing.adapters.repository import MongoRepository
from opora_routing.config import Settings
from opora_routing.handlers import GROUP
from opora_routing.main import create_app
from opora_shared.contracts.base import Event
from opora_shared.contracts.topics import SLA, TICKETS, WORKSPACE_AGENTS, WORKSPACE_TICKET_ACTIONS
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    Presence,
)
from opora_shared.testing import event_producer, skip_group_to_end, wait_group_stable
from pymongo import AsyncMongoClient

CONSUMED = tuple(t.name for t in (WORKSPACE_AGENTS, WORKSPACE_TICKET_ACTIONS, TICKETS, SLA))
CONSUMERS_PER_REPLICA = len(CONSUMED)
"""FastStream gives each subscribed topic its own consumer, each a member of the group."""

RULES = """\
version: "integration-1"
offers:
  timeout_s: {offer_timeout_s}
  strategy: most_spare
rules:
  # A warranty case waits for an expert, and after 2 s takes anyone with the skill.
  - id: warranty-expert
    when: {{request_type: [warranty]}}
    queue: warranty-expert
    steps:
      - {{after_s: 0, skills: {{warranty: 4}}}}
      - {{after_s: 2, skills: {{warranty: 2}}}}
  - id: default
    queue: general
    steps:
      - {{after_s: 0, use_ticket_skills: true}}
"""

Publish = Callable[[Event], Awaitable[None]]
SettingsFor = Callable[..., Settings]


def write_rules(directory: Path, *, offer_timeout_s: float = 2) -> Path:
    path = directory / "routing.yaml"
    path.write_text(RULES.format(offer_timeout_s=offer_timeout_s), encoding="utf-8")
    return path


@pytest.fixture
def settings_for(infra, database_name, tmp_path) -> SettingsFor:
    """Settings of a routing replica on this test's database, with its own rules file."""

    def settings(*, offer_timeout_s: float = 2) -> Settings:
        rules = tmp_path / f"rules-{offer_timeout_s:g}"
        rules.mkdir(exist_ok=True)
        return Settings(
            kafka_bootstrap_servers=infra.bootstrap_servers,
            mongodb_uri=infra.mongodb_uri,
            mongodb_database=database_name,
            rules_file=write_rules(rules, offer_timeout_s=offer_timeout_s),
            graceful_timeout_s=5,
        )

    return settings


@pytest.fixture
async def repo(infra, database_name) -> AsyncIterator[MongoRepository]:
    """routing's own repository on the test's database, to read what the replicas stored."""
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(infra.mongodb_uri, tz_aware=True)
    yield MongoRepository(client[database_name])
    await client.drop_database(database_name)
    await client.close()


@pytest.fixture
async def publish(infra) -> AsyncIterator[Publish]:
    """Publish an event as its producer does: its topic, keyed, CloudEvents headers, acks=all."""
    async with event_producer(infra.bootstrap_servers) as send:
        yield send


# --- the consumer group ---------------------------------------------------------------------


async def skip_to_the_end(bootstrap_servers: str) -> None:
    """Commit the group's offsets at the end of every topic routing consumes."""
    await skip_group_to_end(bootstrap_servers, GROUP, CONSUMED)


async def settled(bootstrap_servers: str, replicas: int, timeout_s: float = 30) -> None:
    """Wait until every consumer of ``replicas`` replicas is a member of the stable group."""
    await wait_group_stable(
        bootstrap_servers, GROUP, replicas * CONSUMERS_PER_REPLICA, timeout_s=timeout_s
    )


@asynccontextmanager
async def running(*replicas: Settings) -> AsyncIterator[None]:
    """routing replicas in this process (one app each), started from the end of the topics."""
    bootstrap = replicas[0].kafka_bootstrap_servers
    await skip_to_the_end(bootstrap)
    async with AsyncExitStack() as stack:
        for settings in replicas:
            app = create_app(settings)
            await stack.enter_async_context(app.router.lifespan_context(app))
        await settled(bootstrap, len(replicas))
        yield


# --- replicas as operating-system processes -------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replica:
    """One ``opora-routing`` process, as ``make run`` starts it."""

    def __init__(self, settings: Settings, logs: Path, name: str) -> None:
        self.settings = settings
        self.log = logs / f"{name}.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        executable = shutil.which("opora-routing")
        assert executable, "console script opora-routing is not installed (run `uv sync`)"
        prefix = "OPORA_ROUTING_"
        env = {
            **os.environ,
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": self.settings.kafka_bootstrap_servers,
            f"{prefix}MONGODB_URI": self.settings.mongodb_uri.get_secret_value(),
            f"{prefix}MONGODB_DATABASE": self.settings.mongodb_database,
            f"{prefix}HTTP_PORT": str(self.port),
            f"{prefix}RULES_FILE": str(self.settings.rules_file),
            f"{prefix}GRACEFUL_TIMEOUT_S": "5",
            "OTEL_TRACES_EXPORTER": "none",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [executable], env=env, stdout=subprocess.DEVNULL, stderr=log
            )

    async def ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        url = f"http://127.0.0.1:{self.port}/health/ready"
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"routing exited during start-up:\n{self.tail()}")
            if await asyncio.to_thread(_answers, url):
                return
            await asyncio.sleep(0.2)
        pytest.fail(f"routing not ready within {timeout_s:.0f} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no graceful stop, no leaving the group, no last commit."""
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    async def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            await asyncio.to_thread(self.process.wait, 30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            pytest.fail(f"routing did not stop within 30 s of SIGTERM:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:] if self.log.exists() else ""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False


@asynccontextmanager
async def processes(settings: Settings, logs: Path, count: int) -> AsyncIterator[list[Replica]]:
    """``count`` routing processes on one database, in one group, started from the end."""
    await skip_to_the_end(settings.kafka_bootstrap_servers)
    replicas = [Replica(settings, logs, f"routing-{n}") for n in range(count)]
    try:
        for replica in replicas:
            replica.start()
        await asyncio.gather(*(replica.ready() for replica in replicas))
        await settled(settings.kafka_bootstrap_servers, count, timeout_s=60)
        yield replicas
    finally:
        await asyncio.gather(*(replica.stop() for replica in replicas))


# --- agents -----------------------------------------------------------------------------------


async def online(publish: Publish, repo: MongoRepository, *profiles: AgentProfileChangedV1) -> None:
    """Publish each agent's profile and presence, and wait until routing stored them."""
    for profile in profiles:
        await publish(profile)
        await publish(AgentPresenceChangedV1(agent_id=profile.agent_id, presence=Presence.ONLINE))
    wanted = {p.agent_id for p in profiles}
    deadline = time.monotonic() + 30
    while True:
        ready = {
            a.agent_id
            for a in await repo.agents()
            if a.presence is Presence.ONLINE and a.revision >= 1
        }
        if wanted <= ready:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"agents not online in routing: {sorted(wanted - ready)}")
        await asyncio.sleep(0.1)
