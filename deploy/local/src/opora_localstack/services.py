"""Runs Opora's five services as separate processes and waits for their readiness probes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from opora_localstack import procs

SERVICES: tuple[str, ...] = ("intake", "routing", "sla", "notifications", "feedback")
DEFAULT_PORTS: Mapping[str, int] = {
    "intake": 8001,
    "routing": 8002,
    "sla": 8003,
    "notifications": 8004,
    "feedback": 8005,
}


@dataclass(frozen=True, slots=True)
class ServiceEnv:
    """What every service is told about the infrastructure."""

    kafka_bootstrap_servers: str
    mongodb_uri: str
    mongodb_database: str = "opora"
    per_service_database: bool = False
    """Give each service its own database, ``<mongodb_database>_<service>``."""
    http_host: str = "127.0.0.1"
    log_level: str = "INFO"
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    survey_token_secret: str = ""
    unsubscribe_secret: str = ""
    intake_api_key: str = ""
    feedback_public_url: str = "http://127.0.0.1:8005"
    zipkin_endpoint: str | None = None
    """Where the services send their spans (Zipkin's ``/api/v2/spans``); None leaves tracing
    to the ``OTEL_*`` variables of the environment."""


def service_database(prefix: str, service: str) -> str:
    """A database per service, so no service can touch another's collections."""
    return f"{prefix}_{service}"


def service_env(name: str, port: int, infra: ServiceEnv) -> dict[str, str]:
    """The ``OPORA_<SERVICE>_*`` variables for one service, and the ``OTEL_*`` ones that send
    its spans to Zipkin when the stack runs it."""
    values: dict[str, str] = {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap_servers,
        "MONGODB_URI": infra.mongodb_uri,
        "MONGODB_DATABASE": service_database(infra.mongodb_database, name)
        if infra.per_service_database
        else infra.mongodb_database,
        "HTTP_HOST": infra.http_host,
        "HTTP_PORT": str(port),
        "LOG_LEVEL": infra.log_level,
    }
    if name == "notifications":
        values |= {"SMTP_HOST": infra.smtp_host, "SMTP_PORT": str(infra.smtp_port)}
        if infra.unsubscribe_secret:
            values["UNSUBSCRIBE_SECRET"] = infra.unsubscribe_secret
    if name == "intake" and infra.intake_api_key:
        values["API_KEYS"] = json.dumps({"local": infra.intake_api_key})
    if name == "feedback":
        values |= {
            "TOKEN_SECRET": infra.survey_token_secret,
            "PUBLIC_BASE_URL": infra.feedback_public_url,
        }
        if infra.intake_api_key:  # the stack's one key also opens the reports
            values["API_KEYS"] = json.dumps({"local": infra.intake_api_key})
    prefix = f"OPORA_{name.upper()}_"
    env = {prefix + key: value for key, value in values.items()}
    if infra.zipkin_endpoint:
        env |= tracing_env(name, infra.zipkin_endpoint)
    return env


def tracing_env(name: str, zipkin_endpoint: str) -> dict[str, str]:
    """The standard OpenTelemetry variables that export one service's spans to Zipkin."""
    return {
        "OTEL_TRACES_EXPORTER": "zipkin",
        "OTEL_EXPORTER_ZIPKIN_ENDPOINT": zipkin_endpoint,
        # Named here, so that an OTEL_SERVICE_NAME in the caller's shell cannot give all five
        # services one name in the trace viewer.
        "OTEL_SERVICE_NAME": f"opora-{name}",
    }


def default_command(name: str) -> list[str]:
    """The service's console script, preferring the one next to this interpreter."""
    script = f"opora-{name}"
    beside = Path(sys.executable).parent / script
    if beside.is_file():
        return [str(beside)]
    found = shutil.which(script)
    if found is None:
        raise procs.ProcessFailedError(
            f"{script} is not installed; run `uv sync` in the repository root"
        )
    return [found]


@dataclass(slots=True)
class Service:
    """One service process."""

    name: str
    port: int
    host: str
    log_file: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ready(self) -> bool:
        """Whether ``GET /health/ready`` answers 200."""
        try:
            with urllib.request.urlopen(f"{self.url}/health/ready", timeout=2) as response:  # noqa: S310 - our own http URL
                return int(response.status) == 200
        except (urllib.error.URLError, OSError, ValueError):
            return False


@dataclass(slots=True)
class ServiceGroup:
    """The five services: start them together, wait for readiness, stop them together."""

    infra: ServiceEnv
    logs_dir: Path
    ports: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_PORTS))
    names: Sequence[str] = SERVICES
    command: Callable[[str], list[str]] = default_command
    services: list[Service] = field(default_factory=list)

    def start(self) -> None:
        """Start every service process."""
        for name in self.names:
            service = Service(
                name, self.ports[name], self.infra.http_host, self.logs_dir / f"{name}.log"
            )
            env = os.environ | service_env(name, service.port, self.infra)
            service.process = procs.spawn(self.command(name), log_file=service.log_file, env=env)
            self.services.append(service)

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until every service's readiness probe answers 200."""
        deadline = time.monotonic() + timeout
        pending = list(self.services)
        while pending:
            for service in list(pending):
                if service.process is not None and service.process.poll() is not None:
                    raise procs.ProcessFailedError(
                        f"{service.name} exited with code {service.process.returncode}.\n"
                        f"Last lines of {service.log_file}:\n{procs.tail(service.log_file)}"
                    )
                if service.ready():
                    pending.remove(service)
            if not pending:
                return
            if time.monotonic() > deadline:
                names = ", ".join(s.name for s in pending)
                logs = "\n".join(
                    f"--- {s.log_file}:\n{procs.tail(s.log_file, 15)}" for s in pending
                )
                raise procs.ProcessFailedError(f"not ready after {timeout:.0f} s: {names}\n{logs}")
            time.sleep(0.3)

    def dead(self) -> list[Service]:
        """Services whose process has exited."""
        return [s for s in self.services if s.process is not None and s.process.poll() is not None]

    def stop(self, timeout: float = 20.0) -> None:
        """SIGTERM all services at once, wait up to ``timeout`` s, then SIGKILL the rest."""
        running = [s.process for s in self.services if s.process is not None]
        for proc in running:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for proc in running:
            procs.stop(proc, max(0.1, deadline - time.monotonic()))
        self.services.clear()
