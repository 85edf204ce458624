"""The interfaces routing's use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Protocol

from opora_shared.contracts.workspace import AgentProfileChangedV1, Presence

from opora_routing.domain.model import Agent, Routing, Ticket


class Repository(Protocol):
    async def save_profile(self, profile: AgentProfileChangedV1) -> None:
        """Replace the agent's profile (creating the agent) and bump its revision."""
        ...

    async def set_presence(self, agent_id: str, presence: Presence) -> None: ...

    async def agents(self) -> list[Agent]: ...

    async def reserve(self, agent: Agent, ticket: Ticket, at: datetime) -> bool:
        """Take one slot of ``agent`` for ``ticket`` in one conditional update.

        Holds only while the agent is online, its profile is the one ``agent`` was read with,
        it has no slot for this ticket yet and its load on the channel is under capacity.
        """
        ...

    async def release(self, agent_id: str, ticket: Ticket) -> bool:
        """Free the agent's slot for ``ticket``; False when it held none."""
        ...

    async def track(self, ticket: Ticket) -> Routing:
        """Record a new ticket as waiting unless routing knows it; return what is stored."""
        ...

    async def get(self, ticket_id: str) -> Routing | None: ...

    async def find(self, ticket_ids: Iterable[str]) -> dict[str, Routing]: ...

    async def waiting(self) -> list[Routing]: ...

    async def unannounced(self) -> list[Routing]: ...

    async def claim(
        self, ticket_id: str, agent_id: str, team: str | None, at: datetime
    ) -> Routing | None:
        """Waiting → assigned to ``agent_id``; None when the ticket was not waiting."""
        ...

    async def mark_announced(self, ticket_id: str) -> None: ...

    async def close(self, ticket_id: str) -> Routing | None:
        """Mark the ticket closed; return the record as it was before, None when unknown."""
        ...
