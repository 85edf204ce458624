"""Zipkin's server, UI included, as the local stack's trace viewer, run from the jar Maven fetches.

The services export their spans to it with OpenTelemetry's Zipkin exporter
(``OTEL_TRACES_EXPORTER=zipkin``); it keeps them in memory only, so a restart forgets them.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from typing import ClassVar

import httpx

from opora_localstack import prereqs, procs
from opora_localstack.paths import RepoPaths

# Start-up dominates on a 2-core machine shared with Kafka and five services: the serial
# collector and the client compiler alone cost less CPU than G1 and C2 for a viewer's load.
HEAP_OPTS = ("-Xms32m", "-Xmx256m")
JVM_OPTS = ("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true")
# Zipkin drops the oldest traces past this many spans; its default (500,000) needs more heap.
MAX_SPANS = 50_000
# The environment Zipkin inherits: its settings also read variables such as
# KAFKA_BOOTSTRAP_SERVERS, which would switch on collectors the viewer must not run.
_INHERITED_ENV = ("PATH", "HOME", "JAVA_HOME", "LANG", "LC_ALL", "TMPDIR", "TZ")


def jar_up_to_date(paths: RepoPaths) -> bool:
    """Whether the server jar exists and is newer than the pom (per the stamp file)."""
    if not paths.zipkin_jar.is_file() or not paths.zipkin_stamp.is_file():
        return False
    return paths.zipkin_stamp.stat().st_mtime >= paths.zipkin_pom.stat().st_mtime


def ensure_jar(paths: RepoPaths) -> bool:
    """Fetch the server jar with Maven unless it is current; True when it ran Maven."""
    if jar_up_to_date(paths):
        return False
    prereqs.check(prereqs.Need(java=False, maven=True))
    procs.run_checked(
        [shutil.which("mvn") or "mvn", "-B", "-q", "-f", str(paths.zipkin_pom), "dependency:copy"],
        what="fetching the Zipkin server jar with Maven",
    )
    paths.zipkin_stamp.touch()
    return True


@dataclass(slots=True)
class ZipkinServer(procs.Server):
    """One Zipkin process with in-memory storage, listening on ``host:port`` only."""

    name: ClassVar[str] = "Zipkin"

    @property
    def url(self) -> str:
        """The UI and the query API (``/api/v2/...``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def spans_endpoint(self) -> str:
        """Where exporters POST spans: the value of ``OTEL_EXPORTER_ZIPKIN_ENDPOINT``."""
        return f"{self.url}/api/v2/spans"

    def argv(self) -> list[str]:
        """The Zipkin command line."""
        return [
            prereqs.java_executable() or "java",
            *HEAP_OPTS,
            *JVM_OPTS,
            "-jar",
            str(self.paths.zipkin_jar),
            f"--armeria.ports[0].ip={self.host}",
            f"--armeria.ports[0].port={self.port}",
            "--zipkin.storage.type=mem",
            f"--zipkin.storage.mem.max-spans={MAX_SPANS}",
            "--logging.level.root=WARN",
        ]

    def stale_marker(self) -> str:
        return str(self.paths.zipkin_jar)

    def environment(self) -> dict[str, str]:
        """The few variables Zipkin needs from ours."""
        return {key: os.environ[key] for key in _INHERITED_ENV if key in os.environ}

    async def answers(self) -> bool:
        """Whether ``GET /health`` answers 200."""
        async with httpx.AsyncClient(timeout=2.0) as client:
            return await _healthy(client, self.url)

    async def wait_ready(self, timeout_s: float = 120.0) -> None:
        """Wait until it answers (a JVM on a loaded machine starts slowly)."""
        await procs.Server.wait_ready(self, timeout_s)


async def _healthy(client: httpx.AsyncClient, url: str) -> bool:
    try:
        response = await client.get(f"{url}/health")
    except httpx.HTTPError:
        return False
    return response.status_code == 200
