"""``opora-stack``: set up, start, stop and inspect the local stack."""

from __future__ import annotations

import argparse
import json
import logging
import os
import secrets
import signal
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from types import FrameType

from opora_localstack import procs
from opora_localstack.demo import Target, run_demo
from opora_localstack.paths import repo_paths
from opora_localstack.prereqs import PrerequisiteError
from opora_localstack.services import ServiceEnv, ServiceGroup
from opora_localstack.settings import StackSettings
from opora_localstack.smtp import SmtpCatcher
from opora_localstack.stack import LocalInfra, setup

log = logging.getLogger("opora_localstack")


class StopRequestedError(Exception):
    """SIGINT or SIGTERM arrived."""


class CliError(Exception):
    """A failure reported as one line, without a traceback."""


def _pid_file(data_dir: Path) -> Path:
    return data_dir / "stack.pid"


def _state_file(data_dir: Path) -> Path:
    return data_dir / "stack.json"


def _running_pid(data_dir: Path) -> int | None:
    try:
        pid = int(_pid_file(data_dir).read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if procs.pid_alive(pid) and "opora-stack" in procs.cmdline(pid) else None


def cmd_setup(settings: StackSettings) -> int:
    """Check tools, fetch jars (Kafka's, Zipkin's), build FerretDB."""
    paths = repo_paths()
    started = time.monotonic()
    report = setup(paths)
    jars = "downloaded" if report.downloaded_jars else "up to date"
    binary = "built" if report.built_ferretdb else "up to date"
    print(f"Kafka jars:      {jars} ({paths.kafka_libs})")
    print(f"FerretDB binary: {binary} ({paths.ferretdb_bin})")
    zipkin = "downloaded" if report.downloaded_zipkin else "up to date"
    print(f"Zipkin jar:      {zipkin} ({paths.zipkin_jar})")
    print(f"setup took {time.monotonic() - started:.1f} s")
    return 0


def _endpoints(settings: StackSettings, infra: LocalInfra, data_dir: Path) -> dict[str, str]:
    host = settings.host
    endpoints = {
        "Kafka bootstrap": infra.bootstrap_servers,
        "MongoDB URI": f"{infra.mongodb_uri} (a database per service: "
        f"{settings.mongodb_database}_<service>)",
        "SMTP catcher": f"{host}:{settings.smtp_port} (mail in {data_dir / 'mail'})",
    }
    logs = [data_dir / "logs", infra.kafka.log_file, infra.ferretdb.log_file]
    if infra.zipkin is not None:
        endpoints["Trace viewer"] = f"{infra.zipkin.url} (Zipkin: every request's trace)"
        logs.append(infra.zipkin.log_file)
    endpoints["Data dir"] = str(data_dir)
    endpoints["Logs"] = ", ".join(str(path) for path in logs)
    return endpoints


def _print_table(services: dict[str, str], endpoints: dict[str, str]) -> None:
    if services:
        width = max(len(name) for name in services)
        print(f"{'service':<{width}}  {'url':<22}  docs · asyncapi · readiness")
        for name, url in services.items():
            print(f"{name:<{width}}  {url:<22}  {url}/docs  {url}/asyncapi  {url}/health/ready")
        print()
    width = max(len(key) for key in endpoints)
    for key, value in endpoints.items():
        print(f"{key:<{width}}  {value}")


def _check_ports_free(settings: StackSettings, with_services: bool, with_zipkin: bool) -> None:
    ports = {
        "OPORA_STACK_KAFKA_PORT": settings.kafka_port,
        "OPORA_STACK_KAFKA_CONTROLLER_PORT": settings.kafka_controller_port,
        "OPORA_STACK_MONGODB_PORT": settings.mongodb_port,
        "OPORA_STACK_SMTP_PORT": settings.smtp_port,
    }
    if with_zipkin:
        ports["OPORA_STACK_ZIPKIN_PORT"] = settings.zipkin_port
    if with_services:
        ports |= {f"OPORA_STACK_{n.upper()}_PORT": p for n, p in settings.service_ports().items()}
    busy = [f"{port} ({var})" for var, port in ports.items() if not procs.port_is_free(port)]
    if busy:
        raise CliError(
            f"ports in use on {settings.host}: {', '.join(busy)}; change them with the "
            "variables named, or stop what holds them"
        )


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise StopRequestedError(signal.Signals(signum).name)


def cmd_up(settings: StackSettings, with_services: bool, with_zipkin: bool = True) -> int:
    """Start everything, print the endpoints, wait for a signal, stop everything."""
    data_dir = settings.resolved_data_dir()
    if (pid := _running_pid(data_dir)) is not None:
        raise CliError(f"the stack is already running (pid {pid}); `opora-stack down` stops it")
    _check_ports_free(settings, with_services, with_zipkin)
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    data_dir.mkdir(parents=True, exist_ok=True)
    _pid_file(data_dir).write_text(f"{os.getpid()}\n")
    started = time.monotonic()
    infra = LocalInfra(
        data_dir,
        settings.kafka_port,
        settings.mongodb_port,
        kafka_controller_port=settings.kafka_controller_port,
        host=settings.host,
        timeout=settings.ready_timeout_s,
        with_zipkin=with_zipkin,
        zipkin_port=settings.zipkin_port,
    )
    smtp = SmtpCatcher(data_dir / "mail", settings.smtp_port, settings.host)
    group = ServiceGroup(
        ServiceEnv(
            kafka_bootstrap_servers=infra.bootstrap_servers,
            mongodb_uri=infra.mongodb_uri,
            mongodb_database=settings.mongodb_database,
            per_service_database=True,
            http_host=settings.host,
            log_level=settings.log_level,
            smtp_host=settings.host,
            smtp_port=settings.smtp_port,
            survey_token_secret=_local_secret(data_dir / "survey-token-secret"),
            unsubscribe_secret=_local_secret(data_dir / "unsubscribe-secret"),
            intake_api_key=_local_secret(data_dir / "intake-api-key"),
            feedback_public_url=f"http://{settings.host}:{settings.service_ports()['feedback']}",
            zipkin_endpoint=infra.zipkin.spans_endpoint if infra.zipkin is not None else None,
        ),
        data_dir / "logs",
        ports=settings.service_ports(),
        command=settings.command_for,
    )
    smtp_started = False
    try:
        servers = "Kafka, FerretDB and Zipkin" if with_zipkin else "Kafka and FerretDB"
        print(f"setup, then {servers} in {data_dir} ...", flush=True)
        infra.start()
        log.info("%s ready after %.1f s", servers, time.monotonic() - started)
        smtp.start()
        smtp_started = True
        if with_services:
            group.start()
            group.wait_ready(settings.ready_timeout_s)
        services = {s.name: s.url for s in group.services}
        endpoints = _endpoints(settings, infra, data_dir)
        _state_file(data_dir).write_text(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "services": services,
                    "endpoints": endpoints,
                    "trace_viewer": infra.zipkin.url if infra.zipkin is not None else None,
                    "intake_api_key": group.infra.intake_api_key,
                }
            )
        )
        _state_file(data_dir).chmod(0o600)
        print(f"\nOpora local stack ready in {time.monotonic() - started:.1f} s\n")
        _print_table(services, endpoints)
        print("\nCtrl-C (or `opora-stack down`) stops everything.", flush=True)
        reported: set[str] = set()
        while True:
            time.sleep(1)
            for service in group.dead():
                if service.name not in reported:
                    reported.add(service.name)
                    log.warning("%s exited; see %s", service.name, service.log_file)
    except StopRequestedError as stop:
        print(f"\n{stop}: stopping ...", flush=True)
    finally:
        # A second signal must not cut the shutdown short; each stop has its own timeout.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        group.stop()
        if smtp_started:
            smtp.stop()
        infra.stop()
        _state_file(data_dir).unlink(missing_ok=True)
        _pid_file(data_dir).unlink(missing_ok=True)
        print("stopped.", flush=True)
    return 0


def cmd_down(settings: StackSettings, timeout: float = 120.0) -> int:
    """Stop a running ``up`` through its pid file."""
    data_dir = settings.resolved_data_dir()
    pid = _running_pid(data_dir)
    if pid is None:
        _pid_file(data_dir).unlink(missing_ok=True)
        # A supervisor killed with SIGKILL leaves its servers behind.
        stale = [
            procs.kill_stale(data_dir / "kafka/kafka.pid", str(data_dir / "kafka")),
            procs.kill_stale(data_dir / "ferretdb/ferretdb.pid", str(data_dir / "ferretdb")),
            procs.kill_stale(data_dir / "zipkin/zipkin.pid", str(repo_paths().zipkin_jar)),
        ]
        print("stopped leftover servers." if any(stale) else "the stack is not running.")
        return 0
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while procs.pid_alive(pid):
        if time.monotonic() > deadline:
            raise CliError(f"pid {pid} still running after {timeout:.0f} s")
        time.sleep(0.3)
    print(f"stopped (pid {pid}).")
    return 0


def cmd_status(settings: StackSettings) -> int:
    """Print whether the stack runs and probe each endpoint."""
    data_dir = settings.resolved_data_dir()
    pid = _running_pid(data_dir)
    if pid is None:
        print(f"not running (data dir {data_dir})")
        return 1
    try:
        state = json.loads(_state_file(data_dir).read_text())
    except (OSError, ValueError):
        print(f"starting (pid {pid})")
        return 1
    host = settings.host
    checks = {
        f"Kafka {host}:{settings.kafka_port}": procs.port_is_open(settings.kafka_port, host),
        f"MongoDB {host}:{settings.mongodb_port}": procs.port_is_open(settings.mongodb_port, host),
        f"SMTP {host}:{settings.smtp_port}": procs.port_is_open(settings.smtp_port, host),
    }
    if viewer := state.get("trace_viewer"):
        checks[f"Zipkin {viewer}"] = _http_ok(f"{viewer}/health")
    for name, url in state["services"].items():
        checks[f"{name} {url}"] = _http_ok(f"{url}/health/ready")
    print(f"running (pid {pid}), data dir {data_dir}")
    for what, ok in checks.items():
        print(f"  {'ok  ' if ok else 'DOWN'}  {what}")
    return 0 if all(checks.values()) else 1


def cmd_demo(settings: StackSettings, customers: int, rate: float, linger: float) -> int:
    """Play the demo scene against the stack that ``up`` runs."""
    data_dir = settings.resolved_data_dir()
    if _running_pid(data_dir) is None:
        raise CliError("the stack is not running; start it with `make run` in another terminal")
    try:
        target = Target.from_state(_state_file(data_dir))
    except RuntimeError as error:
        raise CliError(str(error)) from error
    return run_demo(target, customers=customers, rate_per_s=rate, linger_s=linger)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - our own http URL
            return int(response.status) == 200
    except OSError:
        return False


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``opora-stack``."""
    parser = argparse.ArgumentParser(
        prog="opora-stack",
        description="Opora's local stack without Docker: Kafka (KRaft) and FerretDB as processes, "
        "an SMTP catcher, Zipkin as the trace viewer and the five services. Ports and the data "
        "dir come from OPORA_STACK_* variables (KAFKA_PORT, KAFKA_CONTROLLER_PORT, MONGODB_PORT, "
        "SMTP_PORT, ZIPKIN_PORT, DATA_DIR, <SERVICE>_PORT).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "setup", help="check tools, fetch the Kafka and Zipkin jars, build FerretDB (idempotent)"
    )
    up = commands.add_parser("up", help="start everything and stay in the foreground")
    up.add_argument(
        "--no-services",
        action="store_true",
        help="only Kafka, FerretDB, the SMTP catcher and Zipkin",
    )
    up.add_argument(
        "--no-zipkin",
        action="store_true",
        help="no trace viewer; the services then trace as the OTEL_* variables say",
    )
    commands.add_parser("down", help="stop a running `up`")
    commands.add_parser("status", help="show whether the stack runs and what answers")
    demo = commands.add_parser(
        "demo", help="play customers and agents against a running stack, with a live tally"
    )
    demo.add_argument("--customers", type=int, default=30, help="messages to send (30)")
    demo.add_argument("--rate", type=float, default=2.0, help="messages per second (2)")
    demo.add_argument(
        "--linger", type=float, default=30.0, help="seconds to wait for the stream to settle (30)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``opora-stack`` console script."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # a line per request, survey tokens
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd: lines per connection
    settings = StackSettings()
    try:
        if args.command == "setup":
            return cmd_setup(settings)
        if args.command == "up":
            return cmd_up(
                settings, with_services=not args.no_services, with_zipkin=not args.no_zipkin
            )
        if args.command == "down":
            return cmd_down(settings)
        if args.command == "demo":
            return cmd_demo(settings, args.customers, args.rate, args.linger)
        return cmd_status(settings)
    except (CliError, PrerequisiteError, procs.ProcessFailedError) as error:
        print(f"opora-stack: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _local_secret(path: Path) -> str:
    """A secret made once per local stack and kept in its (git-ignored) data folder."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32))
        path.chmod(0o600)
    return path.read_text().strip()
