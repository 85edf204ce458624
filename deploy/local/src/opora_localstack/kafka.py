"""A single-node Apache Kafka broker (KRaft) run from the jars Maven resolves."""

from __future__ import annotations

import asyncio
import base64
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from opora_localstack import prereqs, procs
from opora_localstack.paths import RepoPaths

HEAP_OPTS = ("-Xms256m", "-Xmx768m")
JVM_OPTS = ("-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-Djava.awt.headless=true")

# Loggers that write a line per partition, request or config value at INFO.
NOISY_LOGGERS = (
    "kafka.request.logger",
    "kafka.network.RequestChannel$",
    "state.change.logger",
    "kafka.log",
    "kafka.cluster",
    "kafka.server.metadata",
    "kafka.server.ReplicaFetcherManager",
    "kafka.server.ReplicaAlterLogDirsManager",
    "org.apache.kafka.storage",
    "org.apache.kafka.raft",
    "org.apache.kafka.metadata",
    "org.apache.kafka.image",
    "org.apache.kafka.controller",
    "org.apache.kafka.clients",
    "org.apache.kafka.common.config",
    "org.apache.kafka.common.utils.AppInfoParser",
)


def jars_up_to_date(paths: RepoPaths) -> bool:
    """Whether ``target/libs`` exists and is newer than the pom (per the stamp file)."""
    if not paths.kafka_libs.is_dir() or not any(paths.kafka_libs.glob("kafka_2.13-*.jar")):
        return False
    if not paths.kafka_stamp.is_file():
        return False
    return paths.kafka_stamp.stat().st_mtime >= paths.kafka_pom.stat().st_mtime


def ensure_jars(paths: RepoPaths) -> bool:
    """Resolve the broker's classpath with Maven unless it is current; True when it ran Maven."""
    if jars_up_to_date(paths):
        return False
    prereqs.check(prereqs.Need(java=False, maven=True))
    if paths.kafka_libs.is_dir():
        # A pom change may drop or bump jars; stale ones would stay on the classpath.
        for jar in paths.kafka_libs.glob("*.jar"):
            jar.unlink()
    procs.run_checked(
        [
            shutil.which("mvn") or "mvn",
            "-B",
            "-q",
            "-f",
            str(paths.kafka_pom),
            "dependency:copy-dependencies",
        ],
        what="resolving the Kafka jars with Maven",
    )
    paths.kafka_stamp.touch()
    return True


def new_cluster_id() -> str:
    """A random Kafka cluster id (URL-safe base64 of a UUID, as ``kafka-storage random-uuid``)."""
    while True:
        value = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not value.startswith("-"):  # Kafka rejects ids that look like options
            return value


def render_server_properties(
    *, port: int, controller_port: int, log_dirs: Path, host: str = "127.0.0.1"
) -> str:
    """``server.properties`` for one combined broker+controller node listening on ``host``."""
    settings = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "controller.quorum.bootstrap.servers": f"{host}:{controller_port}",
        "listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "advertised.listeners": f"PLAINTEXT://{host}:{port},CONTROLLER://{host}:{controller_port}",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "log.dirs": str(log_dirs),
        "num.partitions": "6",
        "auto.create.topics.enable": "false",
        "offsets.topic.replication.factor": "1",
        # Fewer internal partitions: each costs files and start-up time on a 2-core machine.
        "offsets.topic.num.partitions": "6",
        "transaction.state.log.num.partitions": "6",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "4",
        "num.recovery.threads.per.data.dir": "1",
        "background.threads": "4",
    }
    return "".join(f"{key}={value}\n" for key, value in settings.items())


def render_log4j2(noisy: tuple[str, ...] = NOISY_LOGGERS) -> str:
    """A log4j2 XML config: INFO to ``${kafka.logs.dir}/server.log``, WARN for ``noisy``."""
    loggers = "\n".join(f'    <Logger name="{name}" level="WARN"/>' for name in noisy)
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Configuration status="WARN">
  <Appenders>
    <RollingFile name="server" fileName="${{sys:kafka.logs.dir}}/server.log"
                 filePattern="${{sys:kafka.logs.dir}}/server.log.%i">
      <PatternLayout pattern="[%d] %p %m (%c)%n"/>
      <Policies><SizeBasedTriggeringPolicy size="20 MB"/></Policies>
      <DefaultRolloverStrategy max="2"/>
    </RollingFile>
  </Appenders>
  <Loggers>
    <Root level="INFO"><AppenderRef ref="server"/></Root>
{loggers}
  </Loggers>
</Configuration>
"""


@dataclass(slots=True)
class KafkaBroker:
    """One broker process whose files all live in ``data_dir``."""

    data_dir: Path
    port: int
    controller_port: int
    paths: RepoPaths
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None
    _log_offset: int = 0

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def properties_file(self) -> Path:
        return self.data_dir / "server.properties"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "logs/server.log"

    @property
    def _log_dirs(self) -> Path:
        return self.data_dir / "data"

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "kafka.pid"

    def _java(self, main: str, *args: str) -> list[str]:
        java = prereqs.java_executable() or "java"
        return [
            java,
            *HEAP_OPTS,
            *JVM_OPTS,
            "-cp",
            f"{self.paths.kafka_libs}/*",
            f"-Dlog4j2.configurationFile={self.data_dir / 'log4j2.xml'}",
            f"-Dkafka.logs.dir={self.log_file.parent}",
            main,
            *args,
        ]

    def prepare(self) -> None:
        """Write the configs and format the storage directory on first use."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        procs.kill_stale(self._pid_file, str(self.properties_file))
        self.properties_file.write_text(
            render_server_properties(
                port=self.port,
                controller_port=self.controller_port,
                log_dirs=self._log_dirs,
                host=self.host,
            )
        )
        (self.data_dir / "log4j2.xml").write_text(render_log4j2())
        if (self._log_dirs / "meta.properties").is_file():
            return
        id_file = self.data_dir / "cluster-id"
        if not id_file.is_file():
            id_file.write_text(new_cluster_id() + "\n")
        cluster_id = id_file.read_text().strip()
        procs.run_checked(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                "--standalone",
                "-t",
                cluster_id,
                "-c",
                str(self.properties_file),
                "--ignore-formatted",
            ),
            what="formatting the Kafka storage",
        )

    def start(self) -> None:
        """Start the broker process (use :meth:`wait_ready` to know when it serves)."""
        self._log_offset = self.log_file.stat().st_size if self.log_file.exists() else 0
        self.process = procs.spawn(
            self._java("kafka.Kafka", str(self.properties_file)),
            log_file=self.data_dir / "logs/stdout.log",
            cwd=self.data_dir,
        )
        self._pid_file.write_text(f"{self.process.pid}\n")

    def _failure(self, reason: str) -> procs.ProcessFailedError:
        return procs.ProcessFailedError(
            f"Kafka broker at {self.bootstrap_servers} {reason}.\n"
            f"Errors in {self.log_file}:\n{procs.error_lines(self.log_file, self._log_offset)}\n"
            f"Last lines of {self.log_file}:\n{procs.tail(self.log_file, 15)}\n"
            f"Last lines of {self.data_dir / 'logs/stdout.log'}:\n"
            f"{procs.tail(self.data_dir / 'logs/stdout.log', 10)}"
        )

    async def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Wait until the broker answers a metadata request."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise self._failure(f"exited with code {self.process.returncode}")
            # Probing the port first keeps aiokafka from logging connection errors.
            if procs.port_is_open(self.port, self.host) and await _answers_metadata(
                self.bootstrap_servers
            ):
                return
            await asyncio.sleep(0.5)
        raise self._failure(f"did not answer within {timeout_s:.0f} s")

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the broker gracefully (it flushes and closes its logs on SIGTERM)."""
        if self.process is not None:
            procs.stop(self.process, timeout)
            self.process = None
        self._pid_file.unlink(missing_ok=True)


async def _answers_metadata(bootstrap_servers: str) -> bool:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=5000)
    try:
        await admin.start()
        await admin.list_topics()
    except Exception:  # any failure means "not ready yet"
        return False
    finally:
        await admin.close()
    return True
