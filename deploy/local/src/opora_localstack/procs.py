"""Child-process plumbing shared by the broker, FerretDB and the services."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from opora_localstack.paths import RepoPaths


class ProcessFailedError(RuntimeError):
    """A child process failed to start, exited early or never became ready."""


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now on ``host``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether ``port`` can be bound on ``host`` by a server (ignoring TIME_WAIT leftovers)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As servers do: otherwise a port probed a moment ago looks busy for a minute.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_is_open(port: int, host: str = "127.0.0.1", timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` lines of a text file, or a note that it is missing."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return f"({path} does not exist)"
    return "\n".join(text.splitlines()[-lines:])


def error_lines(path: Path, since: int = 0, limit: int = 5) -> str:
    """The last ERROR/FATAL/``Caused by`` lines after byte ``since``: the cause under a trace."""
    try:
        with path.open("rb") as log:
            log.seek(since)
            lines = log.read().decode(errors="replace").splitlines()
    except FileNotFoundError:
        return ""
    marks = (" ERROR ", " FATAL ", "Caused by:", "level=ERROR", "panic:")
    return "\n".join([line for line in lines if any(m in line for m in marks)][-limit:])


def spawn(
    argv: Sequence[str],
    *,
    log_file: Path,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    """Start ``argv`` in its own session with stdout and stderr appended to ``log_file``."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with log_file.open("ab") as log:
        log.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} starting {argv[0]}\n".encode())
        log.flush()
        # A new session keeps Ctrl-C in the terminal from reaching children directly,
        # so the supervisor can stop them in order.
        return subprocess.Popen(  # noqa: S603 - argv is built by this package
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=cwd,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )


def _signal_group(proc: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, sig)


def stop(proc: subprocess.Popen[bytes], timeout: float = 20.0) -> int | None:
    """SIGTERM the process group, wait up to ``timeout`` s, then SIGKILL; return the exit code."""
    if proc.poll() is None:
        _signal_group(proc, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _signal_group(proc, signal.SIGKILL)
            proc.wait(10)
    # Reap anything left in the group (e.g. grandchildren) after the leader has gone.
    _signal_group(proc, signal.SIGKILL)
    return proc.returncode


def pid_alive(pid: int) -> bool:
    """Whether a process with ``pid`` exists (and is not a zombie)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rpartition(")")[2].split()[0] != "Z"
    return True


def cmdline(pid: int) -> str:
    """The command line of ``pid`` joined with spaces (empty when unknown)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    return raw.replace(b"\0", b" ").decode(errors="replace")


def kill_stale(pid_file: Path, marker: str, timeout: float = 15.0) -> bool:
    """Stop the process a crashed run left in ``pid_file`` if its command line has ``marker``."""
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    if not pid_alive(pid) or marker not in cmdline(pid):
        pid_file.unlink(missing_ok=True)
        return False
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True


def run_checked(argv: Sequence[str], *, cwd: Path | None = None, what: str) -> None:
    """Run a build step; on failure raise with the command's output."""
    result = subprocess.run(  # noqa: S603 - argv is built by this package
        list(argv), cwd=cwd, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip().splitlines()[-40:]
        raise ProcessFailedError(
            f"{what} failed (exit {result.returncode}): {' '.join(argv)}\n" + "\n".join(output)
        )


@dataclass(slots=True)
class Server:
    """A server the local stack runs as a child process on ``host:port``, with its log file and
    pid file in ``data_dir`` (a pid file a crashed run left behind gets its process stopped).

    A subclass says how it is called (``name``, ``argv``), what identifies a stale copy of it
    on a command line (``stale_marker``) and when it answers (``answers``).
    """

    data_dir: Path
    port: int
    paths: RepoPaths
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None

    name: ClassVar[str] = "server"

    @property
    def log_file(self) -> Path:
        return self.data_dir / f"{self.name.lower()}.log"

    @property
    def pid_file(self) -> Path:
        return self.data_dir / f"{self.name.lower()}.pid"

    def argv(self) -> list[str]:
        raise NotImplementedError

    def stale_marker(self) -> str:
        raise NotImplementedError

    def environment(self) -> dict[str, str] | None:
        """The child's environment; None: ours."""
        return None

    def prepare(self) -> None:
        """Make what the server needs before it starts: by default, its data directory."""
        self.data_dir.mkdir(parents=True, exist_ok=True)

    async def answers(self) -> bool:
        """Whether the server serves requests yet (its port is open, at least)."""
        raise NotImplementedError

    def start(self) -> None:
        """Start the server (use :meth:`wait_ready` to know when it serves)."""
        self.prepare()
        kill_stale(self.pid_file, self.stale_marker())
        self.process = spawn(
            self.argv(), log_file=self.log_file, cwd=self.data_dir, env=self.environment()
        )
        self.pid_file.write_text(f"{self.process.pid}\n")

    async def wait_ready(self, timeout_s: float = 60.0) -> None:
        """Wait until the server answers; fail with its log's last lines if it exits or never
        does within ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise ProcessFailedError(
                    f"{self.name} exited with code {self.process.returncode}.\n"
                    f"Last lines of {self.log_file}:\n{tail(self.log_file)}"
                )
            if port_is_open(self.port, self.host) and await self.answers():
                return
            await asyncio.sleep(0.2)
        raise ProcessFailedError(
            f"{self.name} on {self.host}:{self.port} did not answer within {timeout_s:.0f} s.\n"
            f"Last lines of {self.log_file}:\n{tail(self.log_file)}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the server, SIGKILL it after ``timeout`` s."""
        if self.process is not None:
            stop(self.process, timeout)
            self.process = None
        self.pid_file.unlink(missing_ok=True)
