"""The exported contract files: committed copies match the models; check reports every drift."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from opora_shared.contracts import ALL_EVENTS
from opora_shared.contracts.export import check, export, find_repo_root, main, render
from opora_shared.contracts.topics import all_topics

REPO_ROOT = find_repo_root(Path(__file__).parent)
CONTRACTS_DIR = REPO_ROOT / "shared" / "contracts"


def test_contract_committed_files_do_not_drift_from_the_models() -> None:
    drift = check(CONTRACTS_DIR)

    assert not drift, f"\n{drift.report()}\nRun `make contracts` (uv run opora-contracts export)."


def test_contract_rendering_is_deterministic() -> None:
    assert render().files == render().files


def test_contract_export_writes_a_schema_and_an_example_per_event_type(tmp_path: Path) -> None:
    export(tmp_path)

    for event_type in ALL_EVENTS:
        schema = json.loads((tmp_path / "schemas" / f"{event_type.ce_type}.json").read_text())
        assert schema["$id"] == event_type.schema_path()
        assert schema["x-opora"]["topic"] == event_type.topic.name
        assert (tmp_path / "examples" / f"{event_type.ce_type}.json").is_file()


def test_contract_topics_json_lists_every_topic(tmp_path: Path) -> None:
    export(tmp_path)

    topics = json.loads((tmp_path / "topics.json").read_text())["topics"]

    assert [t["name"] for t in topics] == [t.name for t in all_topics()]


def test_contract_check_reports_changed_missing_and_extra_files(tmp_path: Path) -> None:
    export(tmp_path)
    changed = tmp_path / "topics.json"
    changed.write_text(changed.read_text() + " ")
    missing = f"schemas/{ALL_EVENTS[0].ce_type}.json"
    (tmp_path / missing).unlink()
    (tmp_path / "examples" / "opora.retired.v1.json").write_text("{}\n")

    drift = check(tmp_path)

    assert drift.differs == ["topics.json"]
    assert drift.missing == [missing]
    assert drift.extra == ["examples/opora.retired.v1.json"]


def test_contract_export_removes_files_it_no_longer_produces(tmp_path: Path) -> None:
    stale = tmp_path / "schemas" / "opora.retired.v1.json"
    stale.parent.mkdir()
    stale.write_text("{}\n")

    export(tmp_path)

    assert not stale.exists()


def test_contract_check_command_exits_1_with_a_hint_on_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["check", "--out", str(tmp_path)]) == 1

    output = capsys.readouterr().out
    assert "missing: topics.json" in output
    assert "make contracts" in output


def test_contract_check_command_exits_0_after_export(tmp_path: Path) -> None:
    assert main(["export", "--out", str(tmp_path)]) == 0

    assert main(["check", "--out", str(tmp_path)]) == 0


def test_contract_repo_root_is_found_from_a_subdirectory() -> None:
    assert find_repo_root(REPO_ROOT / "shared" / "src") == REPO_ROOT
    assert (REPO_ROOT / "uv.lock").is_file()
