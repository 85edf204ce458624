"""The trace viewer's wiring: its port setting, its command line, its jar's freshness, and the
variables that point the services' tracing at it."""

import os
import socket
from pathlib import Path

import pytest
from opora_localstack import zipkin
from opora_localstack.cli import CliError, _check_ports_free, _endpoints, build_parser
from opora_localstack.paths import RepoPaths
from opora_localstack.procs import free_port
from opora_localstack.services import ServiceEnv, service_env
from opora_localstack.settings import StackSettings
from opora_localstack.stack import LocalInfra

SPANS = "http://127.0.0.1:9411/api/v2/spans"


def test_zipkin_listens_on_9411_unless_the_setting_moves_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("OPORA_STACK_ZIPKIN_PORT", raising=False)
    assert StackSettings().zipkin_port == 9411

    monkeypatch.setenv("OPORA_STACK_ZIPKIN_PORT", "19411")
    assert StackSettings().zipkin_port == 19411


def test_each_service_exports_its_spans_to_zipkin_under_its_own_name() -> None:
    infra = ServiceEnv("k:9092", "mongodb://m/", zipkin_endpoint=SPANS)

    env = service_env("routing", 8002, infra)

    assert env["OTEL_TRACES_EXPORTER"] == "zipkin"
    assert env["OTEL_EXPORTER_ZIPKIN_ENDPOINT"] == SPANS
    assert env["OTEL_SERVICE_NAME"] == "opora-routing"


def test_without_zipkin_the_services_trace_as_the_environment_says() -> None:
    env = service_env("routing", 8002, ServiceEnv("k:9092", "mongodb://m/"))

    assert not any(key.startswith("OTEL_") for key in env)


def test_zipkin_listens_on_the_stack_host_only_with_bounded_memory(tmp_path: Path) -> None:
    server = zipkin.ZipkinServer(tmp_path, 19411, RepoPaths(tmp_path), host="127.0.0.1")

    argv = server.argv()

    assert argv[argv.index("-jar") + 1] == str(RepoPaths(tmp_path).zipkin_jar)
    assert "--armeria.ports[0].ip=127.0.0.1" in argv
    assert "--armeria.ports[0].port=19411" in argv
    assert "--zipkin.storage.type=mem" in argv
    assert "-Xmx256m" in argv
    assert server.spans_endpoint == "http://127.0.0.1:19411/api/v2/spans"


def test_zipkin_does_not_inherit_variables_that_switch_on_collectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
    monkeypatch.setenv("STORAGE_TYPE", "cassandra3")

    env = zipkin.ZipkinServer(tmp_path, 19411, RepoPaths(tmp_path)).environment()

    assert "KAFKA_BOOTSTRAP_SERVERS" not in env
    assert "STORAGE_TYPE" not in env
    assert env["PATH"] == os.environ["PATH"]


def test_the_zipkin_jar_is_stale_until_stamped_after_the_pom(tmp_path: Path) -> None:
    paths = RepoPaths(tmp_path)
    paths.zipkin_pom.parent.mkdir(parents=True)
    paths.zipkin_pom.write_text("<project/>")
    assert not zipkin.jar_up_to_date(paths)

    paths.zipkin_jar.parent.mkdir(parents=True)
    paths.zipkin_jar.write_bytes(b"")
    paths.zipkin_stamp.touch()
    assert zipkin.jar_up_to_date(paths)

    stamp_time = paths.zipkin_stamp.stat().st_mtime
    os.utime(paths.zipkin_pom, (stamp_time + 10, stamp_time + 10))
    assert not zipkin.jar_up_to_date(paths)


def test_a_busy_zipkin_port_is_named_before_anything_starts() -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        settings = StackSettings(
            kafka_port=free_port(),
            kafka_controller_port=free_port(),
            mongodb_port=free_port(),
            smtp_port=free_port(),
            zipkin_port=holder.getsockname()[1],
        )

        with pytest.raises(CliError, match="OPORA_STACK_ZIPKIN_PORT"):
            _check_ports_free(settings, with_services=False, with_zipkin=True)
        _check_ports_free(settings, with_services=False, with_zipkin=False)


def test_the_printed_endpoints_include_the_trace_viewer(tmp_path: Path) -> None:
    settings = StackSettings(zipkin_port=19411)
    infra = LocalInfra(
        tmp_path,
        19092,
        19017,
        kafka_controller_port=19093,
        paths=RepoPaths(tmp_path),
        with_zipkin=True,
        zipkin_port=settings.zipkin_port,
    )

    endpoints = _endpoints(settings, infra, tmp_path)

    assert endpoints["Trace viewer"].startswith("http://127.0.0.1:19411 ")


def test_up_can_leave_the_trace_viewer_out() -> None:
    assert build_parser().parse_args(["up", "--no-zipkin"]).no_zipkin
    assert not build_parser().parse_args(["up"]).no_zipkin
