"""The interfaces sla's use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Literal, Protocol

from opora_sla.domain.model import Timer

Action = Callable[[], Awaitable[None]]
Announcement = Literal["warning", "breach"]


class Scheduler(Protocol):
    def schedule(self, key: str, when: datetime, action: Action) -> None:
        """Run ``action`` once at ``when`` (at once if past); replaces ``key``'s earlier plan."""
        ...

    def cancel(self, key: str) -> None: ...


class Repository(Protocol):
    async def arm(self, timer: Timer) -> Timer:
        """Store ``timer`` unless one with its key exists (never moved); return the stored one."""
        ...

    async def get(self, key: str) -> Timer | None: ...

    async def for_ticket(self, ticket_id: str) -> list[Timer]: ...

    async def pending(self) -> list[Timer]:
        """Timers with a warning or breach still to fire or to publish."""
        ...

    async def mark_warned(self, key: str) -> Timer | None:
        """Armed and not warned → warned; None when that did not hold."""
        ...

    async def mark_breached(self, key: str) -> Timer | None:
        """Armed → breached; None when the timer was not armed."""
        ...

    async def mark_fulfilled(self, key: str, at: datetime, reply_id: str) -> Timer | None:
        """Armed → fulfilled by ``reply_id`` at ``at``; None when the timer was not armed."""
        ...

    async def mark_published(self, key: str, what: Announcement) -> None: ...
