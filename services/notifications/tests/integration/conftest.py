"""notifications against a real Kafka broker, a real MongoDB-wire server and a real SMTP server:
a producer that publishes like the other services do, a mail catcher on loopback that can stall
a message mid-DATA, and the service in-process or as ``opora-notifications`` processes.

Replicas join the production consumer group ``notifications``. Before one starts, the group's
committed offsets are moved to the end of the topics it reads, so a test sees only what it
publishes itself (not what other services' tests left on the shared topics).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from opora_notifications.handlers import GROUP
from opora_shared.contracts.base import Event
from opora_shared.contracts.topics import FEEDBACK, ROUTING, SLA, TICKETS, WORKSPACE_AGENTS
from opora_shared.testing import event_producer, skip_group_to_end, wait_group_stable

CONSUMED = tuple(t.name for t in (TICKETS, ROUTING, SLA, FEEDBACK, WORKSPACE_AGENTS))
"""FastStream gives each subscribed topic its own consumer, each a member of the group."""

Publish = Callable[[Event], Awaitable[None]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- mail --------------------------------------------------------------------------------------


class MailCatcher:
    """An aiosmtpd handler keeping what it accepted. A recipient in ``stall`` has its first
    message held in DATA (content received, no answer yet) until the client goes away; the
    message then counts as not accepted, as a real server would treat it."""

    def __init__(self) -> None:
        self.accepted: list[EmailMessage] = []
        self.stall: set[str] = set()
        self.stalled = threading.Event()
        self.port = 0

    async def handle_DATA(self, server, session, envelope):
        if self.stall & set(envelope.rcpt_tos):
            self.stall -= set(envelope.rcpt_tos)
            self.stalled.set()
            await asyncio.sleep(60)  # cancelled when the client's connection drops
            return "451 4.3.0 stalled too long"
        self.accepted.append(
            email.message_from_bytes(envelope.content, policy=email.policy.default)
        )
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.accepted if address in str(m["To"])]

    async def wait_for(self, count: int, *, timeout_s: float = 30) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout_s
        while len(self.accepted) < count:
            if time.monotonic() > deadline:
                raise TimeoutError(f"{len(self.accepted)} of {count} e-mails in {timeout_s:g} s")
            await asyncio.sleep(0.05)
        return list(self.accepted)


@pytest.fixture
def smtp() -> Iterator[MailCatcher]:
    catcher = MailCatcher()
    controller = Controller(catcher, hostname="127.0.0.1", port=free_port())
    controller.start()
    catcher.port = controller.port
    try:
        yield catcher
    finally:
        controller.stop()


# --- Kafka -----------------------------------------------------------------------------------


@pytest.fixture
async def publish(infra) -> AsyncIterator[Publish]:
    """Publish an event as its producer does: its topic, keyed, CloudEvents headers, acks=all."""
    async with event_producer(infra.bootstrap_servers) as send:
        yield send


async def skip_to_the_end(bootstrap_servers: str) -> None:
    """Commit the group's offsets at the end of every topic notifications consumes."""
    await skip_group_to_end(bootstrap_servers, GROUP, CONSUMED)


async def settled(bootstrap_servers: str, replicas: int = 1, timeout_s: float = 40) -> None:
    """Wait until every consumer of ``replicas`` replicas is a member of the stable group."""
    await wait_group_stable(bootstrap_servers, GROUP, replicas * len(CONSUMED), timeout_s=timeout_s)


# --- the service as an operating-system process ----------------------------------------------


class Replica:
    """One ``opora-notifications`` process, as ``make run`` starts it."""

    def __init__(self, env: dict[str, str], logs: Path, name: str) -> None:
        self.env = env
        self.log = logs / f"{name}.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        executable = shutil.which("opora-notifications")
        assert executable, "console script opora-notifications is not installed (run `uv sync`)"
        env = {
            **os.environ,
            **self.env,
            "OPORA_NOTIFICATIONS_HTTP_PORT": str(self.port),
            "OTEL_TRACES_EXPORTER": "none",
        }
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [executable], env=env, stdout=subprocess.DEVNULL, stderr=log
            )

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                pytest.fail(f"notifications exited during start-up:\n{self.tail()}")
            if await asyncio.to_thread(_answers, f"{self.url}/health/ready"):
                return
            await asyncio.sleep(0.2)
        pytest.fail(f"notifications not ready within {timeout_s:.0f} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no graceful stop, no draining, no last commit."""
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
            pytest.fail(f"notifications did not stop within 30 s of SIGTERM:\n{self.tail()}")

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:
        return False
