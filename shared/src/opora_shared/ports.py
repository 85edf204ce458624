"""Ports every service's domain uses; pure typing, so domains can import it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from opora_shared.contracts.base import Event

Clock = Callable[[], datetime]


class Publisher(Protocol):
    """Publishes an event and returns once the broker acknowledged it."""

    async def publish(self, event: Event) -> None: ...
