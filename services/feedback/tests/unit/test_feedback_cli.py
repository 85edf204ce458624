"""The console script: the service by default, ``rebuild-rollups`` on request, and a usage line
for anything else."""

from __future__ import annotations

import pytest
from opora_feedback.adapters.rollups import GENERATION_TTL_S
from opora_feedback.entrypoints import rebuild
from opora_feedback.main import run


def test_the_console_script_names_its_commands_when_given_another() -> None:
    with pytest.raises(SystemExit) as stopped:
        run(["rebuild-everything"])

    assert "rebuild-rollups" in str(stopped.value.code)


def test_rebuild_rollups_offers_a_dry_run(capsys) -> None:
    with pytest.raises(SystemExit) as stopped:
        run(["rebuild-rollups", "--help"])

    assert stopped.value.code == 0
    assert "--dry-run" in capsys.readouterr().out


def test_the_rebuild_waits_longer_than_readers_keep_the_generation() -> None:
    assert rebuild.GRACE_S > GENERATION_TTL_S
