"""The interfaces routing's use cases need; adapters implement them, tests fake them."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Protocol

from opora_shared.contracts.workspace import AgentProfileChangedV1, Presence

from opora_routing.domain.model import Agent, Routing, RoutingState, Ticket


class Repository(Protocol):
    async def save_profile(self, profile: AgentProfileChangedV1) -> None:
        """Replace the agent's profile (creating the agent) and bump its revision."""
        ...

    async def set_presence(self, agent_id: str, presence: Presence) -> None: ...

    async def agents(self) -> list[Agent]: ...

    async def reserve(self, agent: Agent, ticket: Ticket, at: datetime) -> bool:
        """Take one slot of ``agent`` for ``ticket`` in one conditional update.

        Holds only while the agent is online and its profile and load are the ones ``agent``
        was read with (so the capacity the caller checked still holds), and it has no slot for
        this ticket yet.
        """
        ...

    async def release(self, agent_id: str, ticket: Ticket) -> bool:
        """Free the agent's slot for ``ticket``; False when it held none."""
        ...

    async def track(self, ticket: Ticket, next_step_at: datetime | None) -> Routing:
        """Record a new ticket as waiting unless routing knows it; return what is stored."""
        ...

    async def get(self, ticket_id: str) -> Routing | None: ...

    async def find(self, ticket_ids: Iterable[str]) -> dict[str, Routing]: ...

    async def waiting(self) -> list[Routing]: ...

    async def in_state(self, state: RoutingState, agent_id: str | None = None) -> list[Routing]: ...

    async def with_timers(self) -> list[Routing]:
        """Offered tickets, and waiting ones with a rule step due: what a restart re-arms."""
        ...

    async def unannounced(self) -> list[Routing]: ...

    async def change(
        self,
        routing: Routing,
        *,
        history: dict[str, Any] | None = None,
        ticket: Ticket | None = None,
        **fields: Any,
    ) -> Routing | None:
        """Apply ``fields`` (and ``ticket``) only if the record is still at ``routing.version``;
        return the new record, or None when it changed meanwhile."""
        ...

    async def history(self, ticket_id: str) -> list[dict[str, Any]]: ...

    async def mark_announced(self, routing: Routing) -> None: ...
