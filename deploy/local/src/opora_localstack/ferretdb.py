"""FerretDB (MongoDB wire protocol on SQLite), built from the Go module proxy and run locally."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pymongo import AsyncMongoClient

from opora_localstack import prereqs, procs
from opora_localstack.paths import RepoPaths

MODULE = "github.com/FerretDB/FerretDB"
# FerretDB keeps SQLite in WAL mode with the default synchronous=FULL: an fsync per write (3.7 ms
# here against 0.09 ms). MongoDB acknowledges a default write before its journal is flushed
# (every 100 ms); NORMAL is the nearer match: a killed FerretDB loses nothing, only a power
# cut may lose the last writes, which a local stack can afford.
SYNCHRONOUS = "synchronous(normal)"
PACKAGE = f"{MODULE}/cmd/ferretdb"


def patches(paths: RepoPaths) -> list[Path]:
    """The patches applied to FerretDB's source before it is built, in order."""
    return sorted((paths.ferretdb_module / "patches").glob("*.patch"))


def source_digest(paths: RepoPaths) -> str:
    """A digest of ``go.mod``, ``go.sum`` and the patches: the binary is rebuilt when one
    changes."""
    module = paths.ferretdb_module
    digest = hashlib.sha256()
    for path in [module / "go.mod", module / "go.sum", *patches(paths)]:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def binary_up_to_date(paths: RepoPaths) -> bool:
    """Whether the built binary matches the current ``go.mod``/``go.sum``."""
    if not paths.ferretdb_bin.is_file() or not paths.ferretdb_stamp.is_file():
        return False
    return paths.ferretdb_stamp.read_text().strip() == source_digest(paths)


def _go(paths: RepoPaths, *args: str) -> str:
    result = subprocess.run(  # noqa: S603 - fixed argv
        [shutil.which("go") or "go", *args],
        cwd=paths.ferretdb_module,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise procs.ProcessFailedError(f"go {' '.join(args)} failed:\n{result.stderr.strip()}")
    return result.stdout


def ensure_binary(paths: RepoPaths) -> bool:
    """Build ``.local/bin/ferretdb`` unless it is current; True when it built."""
    if binary_up_to_date(paths):
        return False
    prereqs.check(prereqs.Need(java=False, go=True))
    info = json.loads(_go(paths, "mod", "download", "-json", MODULE))
    version, module_dir = str(info["Version"]), Path(info["Dir"])
    # FerretDB panics at start unless build/version/version.txt exists; release builds generate
    # it and the module zip lacks it. Build from a writable copy that has it, via `replace`.
    build = paths.ferretdb_build_dir
    shutil.rmtree(build, ignore_errors=True)
    shutil.copytree(module_dir, build / "src", copy_function=shutil.copy)
    for path in (build / "src").rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    (build / "src/build/version/version.txt").write_text(f"{version}\n")
    for patch in patches(paths):
        procs.run_checked(
            ["patch", "--strip=1", "--forward", "--quiet", f"--input={patch}"],
            cwd=build / "src",
            what=f"applying {patch.name} to FerretDB",
        )
    gomod = (paths.ferretdb_module / "go.mod").read_text()
    (build / "build.mod").write_text(f"{gomod}\nreplace {MODULE} => {build / 'src'}\n")
    shutil.copy(paths.ferretdb_module / "go.sum", build / "build.sum")
    paths.ferretdb_bin.parent.mkdir(parents=True, exist_ok=True)
    _go(
        paths,
        "build",
        f"-modfile={build / 'build.mod'}",
        "-trimpath",
        "-o",
        str(paths.ferretdb_bin),
        PACKAGE,
    )
    paths.ferretdb_stamp.write_text(source_digest(paths) + "\n")
    return True


@dataclass(slots=True)
class FerretDB(procs.Server):
    """One FerretDB process storing SQLite files under ``data_dir``."""

    name: ClassVar[str] = "FerretDB"

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/"

    def argv(self) -> list[str]:
        """The FerretDB command line."""
        return [
            str(self.paths.ferretdb_bin),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.data_dir / 'sqlite'}/?_pragma={SYNCHRONOUS}",
            f"--listen-addr={self.host}:{self.port}",
            f"--state-dir={self.data_dir / 'state'}",
            "--telemetry=disable",
            "--debug-addr=-",
            # INFO logs every connection; tests open many.
            "--log-level=WARN",
            "--log-format=text",
            "--no-log-uuid",
        ]

    def stale_marker(self) -> str:
        return str(self.data_dir / "state")

    def prepare(self) -> None:
        for sub in ("sqlite", "state"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)

    async def answers(self) -> bool:
        """Whether a MongoDB ``ping`` succeeds."""
        return await _pings(self.uri)


async def _pings(uri: str) -> bool:
    client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(
        uri, serverSelectionTimeoutMS=2000, connectTimeoutMS=2000
    )
    try:
        await client.admin.command("ping")
    except Exception:  # any failure means "not ready yet"
        return False
    finally:
        await client.close()
    return True
