"""`make demo`'s scene, played against the five services running as processes."""

from __future__ import annotations

import pytest
from opora_localstack.demo import Demo, Target, summary

pytestmark = pytest.mark.e2e

CUSTOMERS = 12  # two of them follow-ups (every sixth message), two over the raw topic


@pytest.fixture(scope="module")
async def played(infra, services) -> dict[str, int]:
    target = Target(
        intake_url=services.url("intake"),
        bootstrap_servers=infra.bootstrap_servers,
        api_key=services.intake_api_key,
    )
    demo = Demo(target)
    # A generous linger: the demo stops as soon as everything settled, so it costs only a
    # failing run time, and a loaded CI machine needs more than a minute to assign them all.
    tally = await demo.play(CUSTOMERS, rate_per_s=8, linger_s=150)
    assert not tally.rejected, tally.rejected
    return summary(tally)


async def test_every_message_became_a_ticket_or_joined_one(played: dict[str, int]) -> None:
    assert played["tickets opened"] + played["follow-ups threaded"] == CUSTOMERS


async def test_every_ticket_was_assigned(played: dict[str, int]) -> None:
    assert played["assigned"] == played["tickets opened"]


async def test_every_ticket_got_a_deadline(played: dict[str, int]) -> None:
    assert played["deadlines armed"] == played["tickets opened"]


async def test_every_survey_issued_was_answered(played: dict[str, int]) -> None:
    assert played["surveys answered"] == played["surveys issued"] > 0
