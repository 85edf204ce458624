"""deploy/docker/Dockerfile, read statically (no Docker engine here: the images are not built
by the tests), and its entrypoint and health check run as the image would run them."""

from __future__ import annotations

import fnmatch
import http.server
import json
import os
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy.chart import ROOT, SERVICES

DOCKERFILE = ROOT / "deploy" / "docker" / "Dockerfile"
ENTRYPOINT = ROOT / "deploy" / "docker" / "entrypoint.sh"
BUILD_TOOLS = ("uv ", "pip install", "apt-get", "apk ", "gcc", "make ", "build-essential")


def stages() -> list[list[dict[str, Any]]]:
    """The Dockerfile's instructions, one list per stage (ARGs before the first FROM dropped)."""
    found: list[list[dict[str, Any]]] = []
    for instruction in DockerfileParser(path=str(DOCKERFILE)).structure:
        if instruction["instruction"] == "FROM":
            found.append([])
        if found and instruction["instruction"] != "COMMENT":
            found[-1].append(instruction)
    return found


def values(stage: list[dict[str, Any]], name: str) -> list[str]:
    return [str(i["value"]) for i in stage if i["instruction"] == name]


BUILDER, FINAL = stages()[0], stages()[-1]


def test_the_image_is_built_in_two_stages_on_the_same_python() -> None:
    parser = DockerfileParser(path=str(DOCKERFILE))
    froms = [i["value"] for i in parser.structure if i["instruction"] == "FROM"]

    assert len(froms) == 2
    assert froms[0] == "${PYTHON_IMAGE} AS builder"
    assert froms[1] == "${PYTHON_IMAGE}"  # the venv's interpreter path is the same in both
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text(encoding="utf-8")


def test_the_builder_installs_the_locked_service_without_dev_tools() -> None:
    syncs = [r for r in values(BUILDER, "RUN") if "uv sync" in r]

    assert syncs
    for sync in syncs:
        assert "--frozen" in sync
        assert "--no-dev" in sync
        assert '--package "opora-${SERVICE}"' in sync
    assert "--no-editable" in syncs[-1]  # packages in the venv, not links to the sources


@pytest.mark.parametrize("service", SERVICES)
def test_every_service_is_a_package_the_builder_can_name(service: str) -> None:
    project = tomllib.loads(
        (ROOT / "services" / service / "pyproject.toml").read_text(encoding="utf-8")
    )

    assert project["project"]["name"] == f"opora-{service}"
    assert f"opora-{service}" in project["project"]["scripts"]  # what the entrypoint starts


def test_the_final_image_has_no_build_tools_and_only_the_built_app() -> None:
    runs = values(FINAL, "RUN")
    copies = values(FINAL, "COPY")

    assert not [r for r in runs for tool in BUILD_TOOLS if tool in r]
    assert "--from=builder /app /app" in copies
    assert all(c.startswith("--from=builder") or c.startswith("deploy/docker/") for c in copies)


def test_the_final_image_runs_as_a_non_root_user() -> None:
    (user,) = values(FINAL, "USER")

    assert user == "10001:10001"


def test_the_final_image_writes_no_bytecode_and_keeps_home_in_tmp() -> None:
    env = " ".join(values(FINAL, "ENV"))

    assert "PYTHONDONTWRITEBYTECODE=1" in env
    assert "HOME=/tmp" in env


def test_the_image_carries_oci_labels() -> None:
    labels = DockerfileParser(path=str(DOCKERFILE)).labels

    assert {
        f"org.opencontainers.image.{key}"
        for key in ("title", "description", "version", "revision", "created", "licenses")
    } <= labels.keys()


def test_the_health_check_asks_readiness_with_python_alone() -> None:
    (check,) = values(FINAL, "HEALTHCHECK")

    assert "CMD" in check
    assert '"python", "-c"' in check
    assert "urllib.request" in check
    assert "/health/ready" in check
    assert "curl" not in check
    assert "wget" not in check


def dockerignore_keeps(path: str) -> bool:
    """Whether .dockerignore leaves ``path`` in the build context (last matching rule wins;
    a rule matching a folder matches what is inside it)."""
    kept = True
    for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines():
        rule = line.strip()
        if not rule or rule.startswith("#"):
            continue
        negated = rule.startswith("!")
        pattern = rule.lstrip("!").rstrip("/")
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, pattern) for p in prefixes) or (
            pattern.startswith("**/") and fnmatch.fnmatchcase(parts[-1], pattern[3:])
        ):
            kept = negated
    return kept


def test_everything_the_image_copies_is_in_the_build_context() -> None:
    """Files copied one by one, and every file of the packages (code, rules, templates) in the
    folders copied whole."""
    sources = [
        c.split()[0] for stage in stages() for c in values(stage, "COPY") if not c.startswith("--")
    ]
    needed: list[Path] = []
    for source in sources:
        path = ROOT / source
        assert path.exists(), source
        if path.is_file():
            needed.append(path)
        else:
            needed += [
                p for p in path.glob("**/src/**/*") if p.is_file() and "__pycache__" not in p.parts
            ]

    assert len(needed) > 100
    left_out = [
        str(p.relative_to(ROOT)) for p in needed if not dockerignore_keeps(str(p.relative_to(ROOT)))
    ]
    assert left_out == []


def test_tests_and_local_state_stay_out_of_the_build_context() -> None:
    for path in (
        ".venv/bin/python",
        ".local/bin/helm",
        "services/sla/tests/unit/x.py",
        ".git/HEAD",
    ):
        assert not dockerignore_keeps(path), path


# --- the entrypoint and the health check, run ----------------------------------------------------


@pytest.fixture
def fake_service(tmp_path: Path) -> Path:
    """An ``opora-routing`` on PATH that prints the environment it was started with."""
    script = tmp_path / "opora-routing"
    script.write_text('#!/bin/sh\nenv | grep "^OPORA_ROUTING_"\necho "args: $*"\n')
    script.chmod(0o755)
    return tmp_path


def run_entrypoint(bin_dir: Path, **env: str) -> str:
    result = subprocess.run(
        ["/bin/sh", str(ENTRYPOINT), "rebuild-rollups"],
        env={"PATH": f"{bin_dir}:/usr/bin:/bin", "OPORA_SERVICE": "routing", **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


def test_in_a_container_the_service_listens_on_every_interface(fake_service: Path) -> None:
    output = run_entrypoint(fake_service)

    assert "OPORA_ROUTING_HTTP_HOST=0.0.0.0" in output
    assert "args: rebuild-rollups" in output


def test_an_explicit_listen_address_is_kept(fake_service: Path) -> None:
    assert "OPORA_ROUTING_HTTP_HOST=10.0.0.7" in run_entrypoint(
        fake_service, OPORA_ROUTING_HTTP_HOST="10.0.0.7"
    )


class _Health(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/health/ready" else 404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Health", (_Health,), {})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], handler
    server.shutdown()


def health_check(port: int) -> int:
    (check,) = values(FINAL, "HEALTHCHECK")
    argv = json.loads(check[check.index("[") :])
    assert argv[:2] == ["python", "-c"]
    env = {**os.environ, "OPORA_SERVICE": "routing", "OPORA_ROUTING_HTTP_PORT": str(port)}
    return subprocess.run([sys.executable, "-c", argv[2]], env=env, check=False).returncode


def test_the_health_check_passes_when_the_service_is_ready(health_server) -> None:
    port, _ = health_server

    assert health_check(port) == 0


def test_the_health_check_fails_when_the_service_is_not_ready(health_server) -> None:
    port, handler = health_server
    handler.status = 503

    assert health_check(port) != 0
