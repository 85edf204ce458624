"""Service environment and process handling, with a stand-in for the real services."""

import json
import sys
from pathlib import Path

import pytest
from opora_localstack import procs
from opora_localstack.services import ServiceEnv, ServiceGroup, service_env

INFRA = ServiceEnv(kafka_bootstrap_servers="127.0.0.1:19092", mongodb_uri="mongodb://h:1/")

# Answers /health/ready like a service would; exits on SIGTERM.
FAKE_SERVICE = """
import http.server, os, sys
name = sys.argv[1].upper()
port = int(os.environ[f"OPORA_{name}_HTTP_PORT"])
assert os.environ[f"OPORA_{name}_KAFKA_BOOTSTRAP_SERVERS"] == "127.0.0.1:19092"
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200 if self.path == "/health/ready" else 404)
        self.end_headers()
print("listening", port, flush=True)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
"""


def test_service_env_uses_the_service_prefix() -> None:
    env = service_env("intake", 8001, INFRA)

    assert env == {
        "OPORA_INTAKE_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:19092",
        "OPORA_INTAKE_MONGODB_URI": "mongodb://h:1/",
        "OPORA_INTAKE_MONGODB_DATABASE": "opora",
        "OPORA_INTAKE_HTTP_HOST": "127.0.0.1",
        "OPORA_INTAKE_HTTP_PORT": "8001",
        "OPORA_INTAKE_LOG_LEVEL": "INFO",
    }


def test_the_local_stack_gives_each_service_its_own_database() -> None:
    infra = ServiceEnv(
        kafka_bootstrap_servers="127.0.0.1:19092",
        mongodb_uri="mongodb://h:1/",
        per_service_database=True,
    )

    databases = {
        service_env(n, 8000, infra)[f"OPORA_{n.upper()}_MONGODB_DATABASE"]
        for n in ("intake", "feedback")
    }

    assert databases == {"opora_intake", "opora_feedback"}


def test_only_notifications_gets_smtp() -> None:
    env = service_env("notifications", 8004, INFRA)

    assert env["OPORA_NOTIFICATIONS_SMTP_HOST"] == "127.0.0.1"
    assert env["OPORA_NOTIFICATIONS_SMTP_PORT"] == "1025"
    assert not any("SMTP" in key for key in service_env("sla", 8003, INFRA))


def test_group_starts_waits_and_stops_processes(tmp_path: Path) -> None:
    names = ("intake", "notifications")
    group = ServiceGroup(
        INFRA,
        tmp_path / "logs",
        ports={name: procs.free_port() for name in names},
        names=names,
        command=lambda name: [sys.executable, "-c", FAKE_SERVICE, name],
    )
    group.start()
    try:
        group.wait_ready(timeout=30)
        assert all(service.ready() for service in group.services)
        processes = [s.process for s in group.services]
    finally:
        group.stop(timeout=5)

    assert all(p is not None and p.poll() is not None for p in processes)
    assert "listening" in (tmp_path / "logs/intake.log").read_text()


def test_group_reports_a_crashing_service_with_its_log(tmp_path: Path) -> None:
    group = ServiceGroup(
        INFRA,
        tmp_path / "logs",
        names=("sla",),
        ports={"sla": procs.free_port()},  # never a running stack's sla answering in its place
        command=lambda _name: [
            sys.executable,
            "-c",
            "print('boom: bad config'); raise SystemExit(3)",
        ],
    )
    group.start()
    try:
        with pytest.raises(procs.ProcessFailedError, match="boom: bad config"):
            group.wait_ready(timeout=30)
    finally:
        group.stop(timeout=5)


def test_intake_gets_the_stack_api_key_as_its_only_adapter_key() -> None:
    env = service_env("intake", 8001, ServiceEnv("k:9092", "mongodb://m/", intake_api_key="s3"))
    assert json.loads(env["OPORA_INTAKE_API_KEYS"]) == {"local": "s3"}
