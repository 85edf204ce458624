"""Checks for the external tools the local stack needs: Java 17+, Maven, Go and patch."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

MIN_JAVA = 17
DEBIAN_HINT = "sudo apt-get install openjdk-17-jre-headless maven golang patch"
_VERSION_RE = re.compile(r'version "([^"]+)"')


class PrerequisiteError(RuntimeError):
    """A tool the local stack needs is missing or too old."""


@dataclass(frozen=True, slots=True)
class Need:
    """Which tools the next steps need."""

    java: bool = True
    maven: bool = False
    go: bool = False


def parse_java_major(version_output: str) -> int | None:
    """The major version in ``java -version`` output (``1.8.0_292`` -> 8, ``17.0.15`` -> 17)."""
    match = _VERSION_RE.search(version_output)
    if match is None:
        return None
    parts = re.split(r"[.+_-]", match.group(1))
    try:
        first = int(parts[0])
        return int(parts[1]) if first == 1 and len(parts) > 1 else first
    except ValueError:
        return None


def java_executable() -> str | None:
    """``$JAVA_HOME/bin/java`` when set, otherwise ``java`` on PATH."""
    home = os.environ.get("JAVA_HOME")
    if home and (Path(home) / "bin/java").is_file():
        return str(Path(home) / "bin/java")
    return shutil.which("java")


def _java_problem() -> str | None:
    java = java_executable()
    if java is None:
        return f"Java {MIN_JAVA}+ (`java`) is not installed"
    result = subprocess.run(  # noqa: S603 - fixed argv
        [java, "-version"], capture_output=True, text=True, check=False
    )
    major = parse_java_major(result.stderr + result.stdout)
    if major is None:
        return f"cannot tell the Java version of {java}"
    if major < MIN_JAVA:
        return f"Java {MIN_JAVA}+ is needed, {java} is Java {major}"
    return None


def problems(need: Need) -> list[str]:
    """Human-readable problems with the tools in ``need`` (empty when all is well)."""
    found: list[str] = []
    if need.java and (problem := _java_problem()):
        found.append(problem)
    if need.maven and shutil.which("mvn") is None:
        found.append("Maven (`mvn`) is not installed; it fetches the Kafka and Zipkin jars")
    if need.go and shutil.which("go") is None:
        found.append("Go (`go`) is not installed; it builds FerretDB")
    if need.go and shutil.which("patch") is None:
        found.append("`patch` is not installed; it applies deploy/local/ferretdb/patches")
    return found


def check(need: Need) -> None:
    """Raise one :class:`PrerequisiteError` naming every missing tool and how to install it."""
    found = problems(need)
    if found:
        lines = "\n".join(f"  - {p}" for p in found)
        raise PrerequisiteError(
            f"the local stack cannot start:\n{lines}\n"
            f"On Debian/Ubuntu install them with: {DEBIAN_HINT}"
        )
