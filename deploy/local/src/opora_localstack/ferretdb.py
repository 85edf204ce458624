"""FerretDB (MongoDB wire protocol on SQLite), built from the Go module proxy and run locally."""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from pymongo import AsyncMongoClient

from opora_localstack import prereqs, procs
from opora_localstack.paths import RepoPaths

MODULE = "github.com/FerretDB/FerretDB"
PACKAGE = f"{MODULE}/cmd/ferretdb"


def source_digest(paths: RepoPaths) -> str:
    """A digest of ``go.mod`` and ``go.sum``: the binary is rebuilt when it changes."""
    digest = hashlib.sha256()
    for name in ("go.mod", "go.sum"):
        digest.update((paths.ferretdb_module / name).read_bytes())
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
class FerretDB:
    """One FerretDB process storing SQLite files under ``data_dir``."""

    data_dir: Path
    port: int
    paths: RepoPaths
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"mongodb://{self.host}:{self.port}/"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "ferretdb.log"

    @property
    def _pid_file(self) -> Path:
        return self.data_dir / "ferretdb.pid"

    def argv(self) -> list[str]:
        """The FerretDB command line."""
        return [
            str(self.paths.ferretdb_bin),
            "--handler=sqlite",
            f"--sqlite-url=file:{self.data_dir / 'sqlite'}/",
            f"--listen-addr={self.host}:{self.port}",
            f"--state-dir={self.data_dir / 'state'}",
            "--telemetry=disable",
            "--debug-addr=-",
            # INFO logs every connection; tests open many.
            "--log-level=WARN",
            "--log-format=text",
            "--no-log-uuid",
        ]

    def start(self) -> None:
        """Start FerretDB (use :meth:`wait_ready` to know when it serves)."""
        for sub in ("sqlite", "state"):
            (self.data_dir / sub).mkdir(parents=True, exist_ok=True)
        procs.kill_stale(self._pid_file, str(self.data_dir / "state"))
        self.process = procs.spawn(self.argv(), log_file=self.log_file, cwd=self.data_dir)
        self._pid_file.write_text(f"{self.process.pid}\n")

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until a MongoDB ``ping`` succeeds."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise procs.ProcessFailedError(
                    f"FerretDB exited with code {self.process.returncode}.\n"
                    f"Last lines of {self.log_file}:\n{procs.tail(self.log_file)}"
                )
            if procs.port_is_open(self.port, self.host) and await _pings(self.uri):
                return
            await asyncio.sleep(0.2)
        raise procs.ProcessFailedError(
            f"FerretDB at {self.uri} did not answer within {timeout_s:.0f} s.\n"
            f"Last lines of {self.log_file}:\n{procs.tail(self.log_file)}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """Stop FerretDB gracefully."""
        if self.process is not None:
            procs.stop(self.process, timeout)
            self.process = None
        self._pid_file.unlink(missing_ok=True)


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
