"""The short chaos run inside ``make test``: customers and agents while every service is killed
with SIGKILL and restarted once and one of two routing replicas is killed; nothing accepted may be
lost or doubled (see ``check.py`` for every invariant). ``make chaos`` runs the long version,
which also restarts the broker: on this 2-core machine a broker restart and the services'
reconnection take a minute, more than the short run can afford."""

from __future__ import annotations

import pytest
from opora_localstack.paths import repo_paths

from tests.chaos.faults import FaultPlan
from tests.chaos.load import LoadShape
from tests.chaos.run import ChaosOptions, run_chaos

pytestmark = [pytest.mark.e2e, pytest.mark.chaos]


@pytest.mark.timeout(420)
async def test_services_killed_under_load_lose_and_double_nothing(tmp_path) -> None:
    options = ChaosOptions(
        load=LoadShape(rate_per_s=1.0, duration_s=25.0, agents=6),
        faults=FaultPlan(kill_rounds=1, replicas=("routing",), broker_restarts=0),
        work_dir=tmp_path,
        out_dir=repo_paths().root / ".local" / "chaos",
        settle_timeout_s=120.0,
        keep_work_dir=True,
    )
    result = await run_chaos(options)
    result.print()
    result.write()
    assert result.violations() == {}, f"logs: {tmp_path / result.run_id / 'logs'}"
