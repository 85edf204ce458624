"""Rendering of the broker's server.properties and log4j2 config."""

import base64
import xml.etree.ElementTree as ET
from pathlib import Path

from opora_localstack.kafka import (
    NOISY_LOGGERS,
    new_cluster_id,
    render_log4j2,
    render_server_properties,
)


def _parse(text: str) -> dict[str, str]:
    return dict(
        line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")
    )


def test_server_properties_single_node_kraft() -> None:
    props = _parse(
        render_server_properties(port=19092, controller_port=19093, log_dirs=Path("/d/x"))
    )

    assert props["process.roles"] == "broker,controller"
    assert props["node.id"] == "1"
    assert props["controller.quorum.bootstrap.servers"] == "127.0.0.1:19093"
    assert props["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert props["advertised.listeners"].startswith("PLAINTEXT://127.0.0.1:19092")
    assert props["controller.listener.names"] == "CONTROLLER"
    assert props["inter.broker.listener.name"] == "PLAINTEXT"
    assert props["log.dirs"] == "/d/x"
    assert "controller.quorum.voters" not in props  # conflicts with `format --standalone`


def test_server_properties_small_single_replica_settings() -> None:
    props = _parse(render_server_properties(port=1, controller_port=2, log_dirs=Path("/x")))

    assert props["num.partitions"] == "6"
    assert props["auto.create.topics.enable"] == "false"
    assert props["group.initial.rebalance.delay.ms"] == "0"
    for key in (
        "offsets.topic.replication.factor",
        "transaction.state.log.replication.factor",
        "transaction.state.log.min.isr",
        "share.coordinator.state.topic.replication.factor",
        "share.coordinator.state.topic.min.isr",
    ):
        assert props[key] == "1", key


def test_server_properties_host_is_configurable() -> None:
    props = _parse(
        render_server_properties(port=1, controller_port=2, log_dirs=Path("/x"), host="10.0.0.5")
    )

    assert props["listeners"] == "PLAINTEXT://10.0.0.5:1,CONTROLLER://10.0.0.5:2"


def test_log4j2_is_xml_with_file_appender_and_quiet_loggers() -> None:
    root = ET.fromstring(render_log4j2())

    appender = root.find("Appenders/RollingFile")
    assert appender is not None
    assert appender.get("fileName") == "${sys:kafka.logs.dir}/server.log"
    quiet = {node.get("name"): node.get("level") for node in root.iter("Logger")}
    assert quiet == dict.fromkeys(NOISY_LOGGERS, "WARN")


def test_cluster_id_is_kafka_shaped() -> None:
    ids = {new_cluster_id() for _ in range(50)}

    assert len(ids) == 50
    for value in ids:
        assert len(value) == 22
        assert not value.startswith("-")
        assert len(base64.urlsafe_b64decode(value + "==")) == 16
