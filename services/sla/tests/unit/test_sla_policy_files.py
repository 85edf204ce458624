"""The policy files in force: versions from the registry, reloads that keep the files in force
when an edit does not validate, and watching for changes."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from opora_sla.adapters.memory import MemoryVersions
from opora_sla.adapters.policy_files import PolicyFiles
from opora_sla.domain.policies import PolicyError, SlaConfig

from ..conftest import CALENDARS, POLICIES


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    policies, calendars = tmp_path / "policies.yaml", tmp_path / "calendars.yaml"
    policies.write_text(POLICIES, encoding="utf-8")
    calendars.write_text(CALENDARS, encoding="utf-8")
    return policies, calendars


async def loaded(files: tuple[Path, Path]) -> PolicyFiles:
    source = PolicyFiles(MemoryVersions(), *files)
    await source.register()
    return source


async def test_the_files_at_start_are_version_1(files) -> None:
    source = await loaded(files)

    assert source.current.version == 1


async def test_a_changed_target_is_the_next_version(files) -> None:
    source = await loaded(files)
    files[0].write_text(POLICIES.replace("urgent: 1h,", "urgent: 2h,", 1), encoding="utf-8")

    new = await source.reload()

    assert new is not None
    assert (new.version, source.current.version) == (2, 2)


async def test_a_new_comment_is_no_new_version(files) -> None:
    source = await loaded(files)
    files[0].write_text("# reviewed\n" + POLICIES, encoding="utf-8")

    assert await source.reload() is None
    assert source.current.version == 1


async def test_an_edit_that_does_not_validate_keeps_the_files_in_force(files, caplog) -> None:
    source = await loaded(files)
    files[0].write_text(POLICIES.replace("urgent: 1h,", "urgent: soon,", 1), encoding="utf-8")

    assert await source.reload() is None
    assert source.current.version == 1
    assert "'soon' is not a duration" in caplog.text


async def test_a_calendar_change_is_a_new_version_too(files) -> None:
    source = await loaded(files)
    files[1].write_text(CALENDARS.replace("09:00-13:00", "10:00-13:00"), encoding="utf-8")

    new = await source.reload()

    assert new is not None
    assert new.version == 2


def test_a_broken_file_at_start_stops_the_service_from_starting(files) -> None:
    files[0].write_text("policies: []\n", encoding="utf-8")

    with pytest.raises(PolicyError, match="name at least one policy"):
        PolicyFiles(MemoryVersions(), *files)


async def test_the_packaged_files_are_not_watched() -> None:
    source = PolicyFiles(MemoryVersions())

    await asyncio.wait_for(source.watch(), timeout=1)

    assert source.watched == ()


async def test_watching_reloads_when_a_file_changes(files) -> None:
    source = await loaded(files)
    seen: list[SlaConfig] = []
    changed = asyncio.Event()

    async def on_change(config: SlaConfig) -> None:
        seen.append(config)
        changed.set()

    stop = asyncio.Event()
    watching = asyncio.create_task(source.watch(on_change, stop_event=stop, debounce_ms=50))
    try:
        await asyncio.sleep(0.3)  # let the watcher start
        files[0].write_text(POLICIES.replace("urgent: 1h,", "urgent: 3h,", 1), encoding="utf-8")
        await asyncio.wait_for(changed.wait(), timeout=5)
    finally:
        stop.set()
        await asyncio.wait_for(watching, timeout=2)

    assert [config.version for config in seen] == [2]
