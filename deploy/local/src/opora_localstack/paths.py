"""Where things live: the repository root and the local stack's files inside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_MARKER = Path("deploy/local/kafka/pom.xml")


class RepoNotFoundError(RuntimeError):
    """The Opora repository root could not be located."""


@cache
def repo_root() -> Path:
    """The repository root: ``$OPORA_HOME`` or the first parent holding ``deploy/local/kafka``."""
    env = os.environ.get("OPORA_HOME")
    if env:
        root = Path(env).expanduser().resolve()
        if not (root / _MARKER).is_file():
            raise RepoNotFoundError(f"OPORA_HOME={env} does not contain {_MARKER}")
        return root
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / _MARKER).is_file():
            return parent
    raise RepoNotFoundError(
        f"cannot find the Opora repository above {here}; set OPORA_HOME to its root"
    )


@dataclass(frozen=True, slots=True)
class RepoPaths:
    """Build inputs and outputs of the local stack, relative to one repository root."""

    root: Path

    @property
    def kafka_pom(self) -> Path:
        return self.root / "deploy/local/kafka/pom.xml"

    @property
    def kafka_libs(self) -> Path:
        return self.root / "deploy/local/kafka/target/libs"

    @property
    def kafka_stamp(self) -> Path:
        return self.root / "deploy/local/kafka/target/libs.stamp"

    @property
    def zipkin_pom(self) -> Path:
        return self.root / "deploy/local/zipkin/pom.xml"

    @property
    def zipkin_jar(self) -> Path:
        return self.root / "deploy/local/zipkin/target/zipkin-server-exec.jar"

    @property
    def zipkin_stamp(self) -> Path:
        return self.root / "deploy/local/zipkin/target/zipkin-server-exec.jar.stamp"

    @property
    def ferretdb_module(self) -> Path:
        return self.root / "deploy/local/ferretdb"

    @property
    def local_dir(self) -> Path:
        return self.root / ".local"

    @property
    def ferretdb_bin(self) -> Path:
        return self.local_dir / "bin/ferretdb"

    @property
    def ferretdb_stamp(self) -> Path:
        return self.local_dir / "bin/ferretdb.stamp"

    @property
    def ferretdb_build_dir(self) -> Path:
        return self.local_dir / "build/ferretdb"

    @property
    def default_data_dir(self) -> Path:
        return self.local_dir / "stack"


def repo_paths(root: Path | None = None) -> RepoPaths:
    """Paths for ``root`` (default: the detected repository root)."""
    return RepoPaths(root if root is not None else repo_root())
