"""The system under test, all of it the run's own: Kafka and FerretDB (``opora_localstack``) on
free ports with their data in the run's directory, a loopback SMTP server, and the five services
as processes from their console scripts (as ``make run`` starts them), any of which can be
killed with SIGKILL and started again, or joined by a second replica. The broker itself can be
restarted: the services stay up and must reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import subprocess
import time
from dataclasses import dataclass, field
from email import message_from_bytes
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from aiosmtpd.controller import Controller
from opora_localstack import procs
from opora_localstack.services import (
    ServiceEnv,
    default_command,
    service_database,
    service_env,
)
from opora_localstack.stack import LocalInfra

from tests.services import SERVICES

FIRST_REPLY_S = 20
"""The first-reply target of the run's one SLA policy: short enough that tickets an agent does
not answer in time breach within the run."""


@dataclass(frozen=True)
class Mail:
    """One message the SMTP server accepted."""

    message_id: str
    to: str
    subject: str
    received_at: float


class MailCatcher:
    """A real SMTP server's handler (aiosmtpd, on loopback) that keeps every message."""

    def __init__(self) -> None:
        self.mails: list[Mail] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        message = message_from_bytes(envelope.content)
        self.mails.append(
            Mail(
                str(message.get("Message-ID", "")).strip(),
                ",".join(envelope.rcpt_tos),
                str(message.get("Subject", "")),
                time.time(),
            )
        )
        return "250 OK"


@dataclass
class ServiceProcess:
    """One process of one service; ``replica`` 0 is the one the load generator talks to."""

    name: str
    replica: int
    port: int
    env: dict[str, str]
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def label(self) -> str:
        return self.name if self.replica == 0 else f"{self.name}#{self.replica}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def spawn(self) -> None:
        self.process = procs.spawn(
            default_command(self.name), log_file=self.log_file, env=os.environ | self.env
        )
        self.starts += 1

    def kill(self) -> None:
        """SIGKILL the whole process group: no shutdown hook runs, nothing is flushed."""
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            procs.stop(self.process, timeout=20)
            self.process = None

    async def wait_ready(self, timeout_s: float) -> float:
        """Seconds until ``/health/ready`` answered 200; fails with the log's tail otherwise."""
        import httpx

        started = time.monotonic()
        async with httpx.AsyncClient(timeout=2.0) as client:
            while time.monotonic() - started < timeout_s:
                if self.process is None or self.process.poll() is not None:
                    code = None if self.process is None else self.process.returncode
                    raise procs.ProcessFailedError(
                        f"{self.label} exited (code {code}) while starting:\n"
                        + procs.tail(self.log_file)
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{self.url}/health/ready")).status_code == 200:
                        return time.monotonic() - started
                await asyncio.sleep(0.3)
        raise procs.ProcessFailedError(
            f"{self.label} not ready within {timeout_s:.0f} s:\n" + procs.tail(self.log_file)
        )


def rules_copy(directory: Path, package: str, name: str, **changes: object) -> Path:
    """A service's packaged rules file with top-level sections changed."""
    rules = yaml.safe_load((resources.files(package) / "rules" / name).read_text("utf-8"))
    for section, settings in changes.items():
        rules[section] = {**rules.get(section, {}), **settings}  # type: ignore[dict-item]
    path = directory / name
    path.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    return path


def sla_policies(directory: Path) -> Path:
    """One policy for every ticket: a first reply within ``FIRST_REPLY_S`` round the clock, a
    warning at half of it and an escalation at the breach; no other target, so once every
    ticket is answered or breached no SLA timer is left."""
    target = f"{FIRST_REPLY_S}s"
    policies = {
        "defaults": {
            "hours": "calendar",
            "calendar": "24x7",
            "warnings": ["50%"],
            "escalations": [{"level": 1, "after": "0m"}],
        },
        "policies": [
            {
                "id": "chaos",
                "targets": {
                    "first_reply": {p: target for p in ("urgent", "high", "normal", "low")}
                },
            }
        ],
    }
    path = directory / "policies.yaml"
    path.write_text(yaml.safe_dump(policies), encoding="utf-8")
    return path


@dataclass
class ChaosStack:
    """Kafka, FerretDB, SMTP and the services of one chaos run, all under ``work_dir``."""

    work_dir: Path
    run_id: str
    api_key: str = field(default_factory=lambda: secrets.token_hex(16))
    infra: LocalInfra | None = None
    mail: MailCatcher = field(default_factory=MailCatcher)
    processes: list[ServiceProcess] = field(default_factory=list)
    _smtp: Controller | None = None
    ready_timeout_s: float = 120.0

    @property
    def database_prefix(self) -> str:
        return f"chaos_{self.run_id.replace('-', '_')}"

    def database(self, service: str) -> str:
        return service_database(self.database_prefix, service)

    @property
    def bootstrap_servers(self) -> str:
        assert self.infra is not None
        return self.infra.bootstrap_servers

    @property
    def mongodb_uri(self) -> str:
        assert self.infra is not None
        return self.infra.mongodb_uri

    def primary(self, service: str) -> ServiceProcess:
        return next(p for p in self.processes if p.name == service and p.replica == 0)

    def url(self, service: str) -> str:
        return self.primary(service).url

    async def start(self, replicas: tuple[str, ...] = ()) -> None:
        """Kafka and FerretDB with the topics, the SMTP server, then the five services and a
        second process of each service in ``replicas``, all at once."""
        self.infra = LocalInfra(self.work_dir / "stack")
        await self.infra.astart()
        self._smtp = Controller(self.mail, hostname="127.0.0.1", port=procs.free_port())
        self._smtp.start()
        for name in (*SERVICES, *replicas):
            self._new_process(name).spawn()
        await asyncio.gather(*(p.wait_ready(self.ready_timeout_s) for p in self.processes))

    def _new_process(self, name: str) -> ServiceProcess:
        assert self._smtp is not None
        replica = sum(1 for p in self.processes if p.name == name)
        port = procs.free_port()
        env = service_env(
            name,
            port,
            ServiceEnv(
                kafka_bootstrap_servers=self.bootstrap_servers,
                mongodb_uri=self.mongodb_uri,
                mongodb_database=self.database_prefix,
                per_service_database=True,
                smtp_port=self._smtp.port,
                survey_token_secret="chaos-only-secret-not-for-production",
                intake_api_key=self.api_key,
                feedback_public_url=f"http://127.0.0.1:{port}",
                # a line per record at INFO costs the 2 cores more than some services' work
                log_level="WARNING",
            ),
        ) | self._extra_env(name)
        suffix = "" if replica == 0 else f"-{replica}"
        process = ServiceProcess(
            name, replica, port, env, self.work_dir / "logs" / f"{name}{suffix}.log"
        )
        self.processes.append(process)
        return process

    def _extra_env(self, name: str) -> dict[str, str]:
        rules = self.work_dir / "rules"
        rules.mkdir(parents=True, exist_ok=True)
        env = {"OTEL_TRACES_EXPORTER": "none", "OTEL_SERVICE_NAME": f"opora-{name}"}
        prefix = f"OPORA_{name.upper()}_"
        if name == "sla":
            env[prefix + "POLICIES_FILE"] = str(sla_policies(rules))
        elif name == "feedback":
            # a survey is due the moment its ticket is solved, not a day later
            path = rules_copy(
                rules, "opora_feedback", "surveys.yaml", invitations={"delay_hours": 0}
            )
            env[prefix + "RULES_FILE"] = str(path)
        elif name == "notifications":
            path = rules_copy(
                rules, "opora_notifications", "notifications.yaml", customers={"quiet_hours": None}
            )
            env[prefix + "RULES_FILE"] = str(path)
            # An attempt a kill -9 cut off is in doubt after the lease; the default two minutes
            # would outlast the short run (the settings require lease > tries × (timeout + 2 s)).
            env |= {
                prefix + "SMTP_TIMEOUT_S": "3",
                prefix + "QUICK_TRIES": "2",
                prefix + "CLAIM_LEASE_S": "15",
                prefix + "RETRY_FIRST_S": "2",
                prefix + "RETRY_MAX_S": "10",
            }
        return env

    async def add_replica(self, name: str) -> ServiceProcess:
        """Another process of ``name`` in the same consumer group and database."""
        process = self._new_process(name)
        process.spawn()
        await process.wait_ready(self.ready_timeout_s)
        return process

    async def kill_and_restart(self, process: ServiceProcess) -> float:
        """SIGKILL ``process``, start it again at once; seconds until it is ready again."""
        started = time.monotonic()
        await asyncio.to_thread(process.kill)
        process.spawn()
        await process.wait_ready(self.ready_timeout_s)
        return time.monotonic() - started

    async def restart_broker(self, *, kill: bool = True) -> float:
        """Stop the broker (SIGKILL, or SIGTERM when ``kill`` is false) and start it again on
        the same ports and data; seconds until it answers again."""
        assert self.infra is not None
        broker = self.infra.kafka
        started = time.monotonic()
        if kill and broker.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(broker.process.pid, signal.SIGKILL)
            await asyncio.to_thread(broker.process.wait, 30)
            broker.process = None
        else:
            await asyncio.to_thread(broker.stop)
        broker.start()
        await broker.wait_ready(self.ready_timeout_s)
        return time.monotonic() - started

    def unexpected_exits(self) -> list[str]:
        """Processes that died though nobody killed them (a service must survive a broker
        restart, a FerretDB hiccup and bad input)."""
        return [
            f"{p.label} (exit {p.process.returncode})"
            for p in self.processes
            if p.process is not None and p.process.poll() is not None
        ]

    async def stop(self) -> None:
        for process in self.processes:
            await asyncio.to_thread(process.kill)
        if self._smtp is not None:
            self._smtp.stop()
        if self.infra is not None:
            await self.infra.astop()

    def describe(self) -> dict[str, Any]:
        return {
            "bootstrap_servers": self.bootstrap_servers if self.infra else None,
            "mongodb_uri": self.mongodb_uri if self.infra else None,
            "database_prefix": self.database_prefix,
            "logs": str(self.work_dir / "logs"),
            "processes": {p.label: {"port": p.port, "starts": p.starts} for p in self.processes},
        }
