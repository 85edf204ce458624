"""Fakes of intake's ports beyond the repository: timers that only remember what is planned,
and the automation wired over them as ``main.py`` wires it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from opora_intake.domain.automations import Automation, AutomationRules
from opora_intake.domain.ports import Repository
from opora_shared.ports import Publisher


class PlannedTimers:
    """Remembers what is planned; nothing fires unless a test runs it."""

    def __init__(self) -> None:
        self.planned: dict[str, tuple[datetime, Callable[[], Awaitable[None]]]] = {}

    def schedule(self, key: str, when: datetime, action: Callable[[], Awaitable[None]]) -> None:
        self.planned[key] = (when, action)

    def cancel(self, key: str) -> None:
        self.planned.pop(key, None)


def automation_for(
    repo: Repository, publisher: Publisher, now: Callable[[], datetime]
) -> Automation:
    """The packaged automations (solve after 7 days, close after 4)."""
    return Automation(
        repo=repo, publisher=publisher, rules=AutomationRules(), timers=PlannedTimers(), clock=now
    )
