"""docker-compose.yml, checked offline (no Docker engine here) against the topic catalogue and
the services' settings; its topic-init script run with a stand-in for kafka-topics.sh."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.chart import ROOT, SERVICES, catalogue
from tests.deploy.test_chart import settings_fields

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
ENV_EXAMPLE = ROOT / ".env.example"
INIT_SCRIPT = ROOT / "deploy" / "compose" / "create-topics.sh"
TOPICS_TXT = ROOT / "deploy" / "compose" / "topics.txt"
INFRA_HEALTHY = {"kafka", "mongo"}


def service(name: str) -> dict[str, Any]:
    found: dict[str, Any] = COMPOSE["services"][name]
    return found


def environment(name: str) -> dict[str, str]:
    return {k: str(v) for k, v in service(name)["environment"].items()}


def env_example() -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines()
        if line and not line.startswith("#")
    )
    return {k: v for k, v in pairs}


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_is_built_from_the_dockerfile(name: str) -> None:
    build = service(name)["build"]

    assert build["context"] == "."
    assert build["dockerfile"] == "deploy/docker/Dockerfile"
    assert build["args"]["SERVICE"] == name


@pytest.mark.parametrize("name", SERVICES)
def test_every_setting_given_is_one_the_service_reads(name: str) -> None:
    prefix = f"OPORA_{name.upper()}_"
    settings = [k for k in environment(name) if k.startswith("OPORA_")]

    assert all(k.startswith(prefix) for k in settings)
    assert {k.removeprefix(prefix) for k in settings} <= settings_fields(name)


@pytest.mark.parametrize("name", SERVICES)
def test_every_service_reaches_kafka_and_mongodb_and_listens_where_published(name: str) -> None:
    env = environment(name)
    prefix = f"OPORA_{name.upper()}_"
    (published,) = service(name)["ports"]

    assert env[prefix + "KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env[prefix + "MONGODB_URI"].startswith("mongodb://mongo:")
    assert env[prefix + "HTTP_HOST"] == "0.0.0.0"
    assert published.endswith(f":{env[prefix + 'HTTP_PORT']}")
    assert env["OTEL_SERVICE_NAME"] == f"opora-{name}"


@pytest.mark.parametrize("name", SERVICES)
def test_services_start_once_kafka_mongodb_and_the_topics_are_ready(name: str) -> None:
    depends = service(name)["depends_on"]

    assert depends["kafka"]["condition"] == "service_healthy"
    assert depends["mongo"]["condition"] == "service_healthy"
    assert depends["kafka-init"]["condition"] == "service_completed_successfully"


def test_what_services_wait_to_be_healthy_has_a_health_check() -> None:
    waited = {
        dependency
        for name in COMPOSE["services"]
        for dependency, how in (service(name).get("depends_on") or {}).items()
        if how["condition"] == "service_healthy"
    }

    assert waited >= INFRA_HEALTHY
    for name in waited:
        assert service(name)["healthcheck"]["test"], name


@pytest.mark.parametrize("name", SERVICES)
def test_services_run_as_in_kubernetes_read_only_and_without_privileges(name: str) -> None:
    spec = service(name)

    assert spec["read_only"] is True
    assert spec["tmpfs"] == ["/tmp"]
    assert spec["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in spec["security_opt"]
    assert int(spec["stop_grace_period"].rstrip("s")) > 2 * 15  # the broker's graceful timeout


def test_feedback_gets_the_secret_it_cannot_start_without() -> None:
    assert (
        "${OPORA_FEEDBACK_TOKEN_SECRET:?" in environment("feedback")["OPORA_FEEDBACK_TOKEN_SECRET"]
    )


def test_kafka_is_the_official_image_in_kraft_mode_at_the_tested_version() -> None:
    kafka = service("kafka")
    local = (ROOT / "deploy" / "local" / "kafka" / "pom.xml").read_text(encoding="utf-8")
    tested = re.search(r"<kafka.version>([^<]+)</kafka.version>", local)

    assert kafka["image"] == "apache/kafka:${KAFKA_VERSION}"
    assert tested is not None
    assert env_example()["KAFKA_VERSION"] == tested.group(1)  # the broker the tests run against
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["environment"]["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"


def test_every_variable_the_file_uses_is_in_the_env_example() -> None:
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", text))

    assert used <= env_example().keys()


def test_the_env_example_holds_no_secret() -> None:
    example = env_example()

    assert [k for k, v in example.items() if re.search("SECRET|KEY", k) and v] == []


# --- topics -------------------------------------------------------------------------------------


def test_the_topic_init_uses_the_kafka_image_and_the_generated_list() -> None:
    init = service("kafka-init")
    mounts = {m.split(":")[0] for m in init["volumes"]}

    assert init["image"] == service("kafka")["image"]
    assert {"./deploy/compose/create-topics.sh", "./deploy/compose/topics.txt"} == mounts
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"


@pytest.fixture
def created_topics(tmp_path: Path) -> list[list[str]]:
    """Run the init script with a kafka-topics.sh that records its arguments."""
    record = tmp_path / "calls"
    fake = tmp_path / "kafka-topics.sh"
    fake.write_text(f'#!/bin/sh\necho "$*" >> {record}\n')
    fake.chmod(0o755)
    subprocess.run(
        ["/bin/sh", str(INIT_SCRIPT)],
        env={"PATH": "/usr/bin:/bin", "KAFKA_TOPICS_SH": str(fake), "TOPICS_FILE": str(TOPICS_TXT)},
        check=True,
        capture_output=True,
    )
    return [line.split() for line in record.read_text().splitlines() if "--create" in line]


def test_the_init_creates_every_catalogue_topic_with_its_partitions_and_config(
    created_topics: list[list[str]],
) -> None:
    def option(call: list[str], name: str) -> list[str]:
        return [call[i + 1] for i, arg in enumerate(call) if arg == name]

    created = {option(c, "--topic")[0]: c for c in created_topics}

    assert set(created) == {t["name"] for t in catalogue()}  # dead-letter topics included
    for topic in catalogue():
        call = created[topic["name"]]
        assert option(call, "--partitions") == [str(topic["partitions"])]
        assert option(call, "--config") == [f"{k}={v}" for k, v in sorted(topic["config"].items())]
        assert "--if-not-exists" in call
        assert option(call, "--bootstrap-server") == ["kafka:9092"]
