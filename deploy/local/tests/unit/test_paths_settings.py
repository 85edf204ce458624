"""Repository discovery, build stamps and ``OPORA_STACK_*`` settings."""

import os
from pathlib import Path

import pytest
from opora_localstack import ferretdb, kafka
from opora_localstack.paths import RepoNotFoundError, RepoPaths, repo_root
from opora_localstack.settings import StackSettings


@pytest.fixture(autouse=True)
def _fresh_repo_root_cache() -> None:
    repo_root.cache_clear()


def _fake_repo(root: Path) -> RepoPaths:
    (root / "deploy/local/kafka").mkdir(parents=True)
    (root / "deploy/local/kafka/pom.xml").write_text("<project/>")
    (root / "deploy/local/ferretdb").mkdir(parents=True)
    (root / "deploy/local/ferretdb/go.mod").write_text("module x\n")
    (root / "deploy/local/ferretdb/go.sum").write_text("")
    return RepoPaths(root)


def test_repo_root_is_found_from_the_package() -> None:
    assert (repo_root() / "deploy/local/kafka/pom.xml").is_file()


def test_opora_home_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_repo(tmp_path)
    monkeypatch.setenv("OPORA_HOME", str(tmp_path))

    assert repo_root() == tmp_path.resolve()


def test_opora_home_must_be_a_repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPORA_HOME", str(tmp_path))

    with pytest.raises(RepoNotFoundError):
        repo_root()


def test_jars_are_stale_until_stamped_after_the_pom(tmp_path: Path) -> None:
    paths = _fake_repo(tmp_path)
    assert not kafka.jars_up_to_date(paths)

    paths.kafka_libs.mkdir(parents=True)
    (paths.kafka_libs / "kafka_2.13-4.1.1.jar").write_bytes(b"")
    paths.kafka_stamp.touch()
    assert kafka.jars_up_to_date(paths)

    stamp_time = paths.kafka_stamp.stat().st_mtime
    os.utime(paths.kafka_pom, (stamp_time + 10, stamp_time + 10))
    assert not kafka.jars_up_to_date(paths)


def test_ferretdb_is_rebuilt_when_go_sum_changes(tmp_path: Path) -> None:
    paths = _fake_repo(tmp_path)
    paths.ferretdb_bin.parent.mkdir(parents=True)
    paths.ferretdb_bin.write_bytes(b"")
    paths.ferretdb_stamp.write_text(ferretdb.source_digest(paths))
    assert ferretdb.binary_up_to_date(paths)

    (paths.ferretdb_module / "go.sum").write_text("changed\n")
    assert not ferretdb.binary_up_to_date(paths)


def test_stack_settings_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPORA_STACK_KAFKA_PORT", "19092")
    monkeypatch.setenv("OPORA_STACK_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("OPORA_STACK_SERVICE_COMMAND", "coverage run -m opora_{service}")

    settings = StackSettings()

    assert settings.kafka_port == 19092
    assert settings.kafka_controller_port == 9093
    assert settings.mongodb_port == 27017
    assert settings.smtp_port == 1025
    assert settings.resolved_data_dir() == tmp_path.resolve()
    assert settings.service_ports()["feedback"] == 8005
    assert settings.command_for("sla") == ["coverage", "run", "-m", "opora_sla"]


def test_default_data_dir_is_under_the_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPORA_STACK_DATA_DIR", raising=False)

    assert StackSettings().resolved_data_dir() == repo_root() / ".local/stack"
