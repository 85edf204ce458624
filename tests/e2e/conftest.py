"""Runs the five services as separate OS processes, with the console scripts `make run` uses."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import socket
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from importlib import resources
from pathlib import Path

import pytest
import yaml
from aiosmtpd.controller import Controller
from opora_shared.contracts.topics import all_topics
from opora_shared.testing import drop_database, skip_group_to_end

from tests.services import GROUPS, SERVICES


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class MailCatcher:
    """A real SMTP server on loopback that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        self.messages.append(message_from_bytes(envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


@dataclass
class Services:
    ports: dict[str, int]
    logs: Path
    smtp: MailCatcher
    database: str
    intake_api_key: str | None = None
    web_form_secret: str = field(default_factory=lambda: secrets.token_hex(16))
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def database_of(self, service: str) -> str:
        """Each service has a database of its own, as in production."""
        return f"{self.database}_{service}"

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def spans_file(self, service: str) -> Path:
        return self.logs / f"{service}.spans.jsonl"


@pytest.fixture(scope="session")
def smtp() -> Iterator[MailCatcher]:
    catcher = MailCatcher()
    controller = Controller(catcher, hostname="127.0.0.1", port=free_port())
    controller.start()
    catcher.port = controller.port  # type: ignore[attr-defined]
    yield catcher
    controller.stop()


def _packaged_rules(directory: Path, package: str, name: str, **changes: object) -> Path:
    """A copy of a service's packaged rules file with top-level sections changed, for e2e runs:
    one at night (in Moscow or London) must see the same mail as one by day, and a test cannot
    wait a day for a survey invitation."""
    rules = yaml.safe_load((resources.files(package) / "rules" / name).read_text("utf-8"))
    for section, settings in changes.items():
        rules[section] = {**rules.get(section, {}), **settings}  # type: ignore[dict-item]
    path = directory / name
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def services(infra, smtp, tmp_path_factory) -> Iterator[Services]:
    logs = tmp_path_factory.mktemp("service-logs")
    rules = tmp_path_factory.mktemp("rules")
    notification_rules = _packaged_rules(
        rules, "opora_notifications", "notifications.yaml", customers={"quiet_hours": None}
    )
    survey_rules = _packaged_rules(
        rules, "opora_feedback", "surveys.yaml", invitations={"delay_hours": 0}
    )
    # A fresh name per run: a reused process id must never meet an earlier run's tickets.
    database = f"opora_e2e_{uuid.uuid4().hex[:12]}"
    ports = {s: free_port() for s in SERVICES}
    asyncio.run(_start_from_now(infra.bootstrap_servers))
    running = Services(ports, logs, smtp, database, intake_api_key=secrets.token_hex(16))
    for name in SERVICES:
        prefix = f"OPORA_{name.upper()}_"
        env = {
            **os.environ,
            f"{prefix}KAFKA_BOOTSTRAP_SERVERS": infra.bootstrap_servers,
            f"{prefix}MONGODB_URI": infra.mongodb_uri,
            f"{prefix}MONGODB_DATABASE": running.database_of(name),
            f"{prefix}HTTP_PORT": str(running.ports[name]),
            f"{prefix}SMTP_PORT": str(smtp.port),  # type: ignore[attr-defined]
            f"{prefix}TOKEN_SECRET": "e2e-only-secret-not-for-production",
            f"{prefix}API_KEYS": json.dumps({"e2e": running.intake_api_key}),
            f"{prefix}HMAC_SECRETS": json.dumps({"web-form": running.web_form_secret}),
            # feedback's survey pages, notifications' unsubscribe page: each is its own server
            f"{prefix}PUBLIC_BASE_URL": running.url(name),
            "OPORA_NOTIFICATIONS_RULES_FILE": str(notification_rules),
            "OPORA_FEEDBACK_RULES_FILE": str(survey_rules),
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_SERVICE_NAME": f"opora-{name}",
        }
        executable = shutil.which(f"opora-{name}")
        assert executable, f"console script opora-{name} is not installed (run `uv sync`)"
        running.processes[name] = subprocess.Popen(
            [executable],
            env=env,
            stdout=running.spans_file(name).open("wb"),
            stderr=(logs / f"{name}.log").open("wb"),
        )
    try:
        _wait_ready(running)
        yield running
    finally:
        for proc in running.processes.values():
            proc.terminate()
        for name, proc in running.processes.items():
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail(f"{name} did not stop within 30 s of SIGTERM")
        for name in SERVICES:
            drop_database(infra.mongodb_uri, running.database_of(name))


async def _start_from_now(bootstrap_servers: str) -> None:
    """The stack under test is a fresh deployment: its groups start at the end of the topics,
    not at what the integration tests left there (tickets nobody in this run will ever accept
    would hold the demo's agents with offers until they time out)."""
    topics = [topic.name for topic in all_topics()]
    for group in GROUPS:
        await skip_group_to_end(bootstrap_servers, group, topics)


def _wait_ready(running: Services, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    waiting = set(SERVICES)
    while waiting and time.monotonic() < deadline:
        for name in sorted(waiting):
            if running.processes[name].poll() is not None:
                log = (running.logs / f"{name}.log").read_text(errors="replace")[-3000:]
                pytest.fail(f"{name} exited during start-up:\n{log}")
            try:
                with urllib.request.urlopen(f"{running.url(name)}/health/ready", timeout=2) as r:
                    if r.status == 200:
                        waiting.discard(name)
            except OSError:
                pass
        time.sleep(0.5)
    if waiting:
        pytest.fail(f"not ready within {timeout:.0f} s: {', '.join(sorted(waiting))}")
