"""routing's Kafka entry points: agent profiles and presence, new and finished tickets."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.topics import TICKETS, WORKSPACE_AGENTS
from opora_shared.contracts.workspace import AgentPresenceChangedV1, AgentProfileChangedV1
from opora_shared.messaging import Subscription
from opora_shared.ports import Publisher

from opora_routing.domain import service
from opora_routing.domain.ports import Repository

GROUP = "routing"


def register(router: KafkaRouter, repo: Repository, publisher: Publisher) -> None:
    agents = Subscription(router, WORKSPACE_AGENTS, group=GROUP)

    @agents.on(AgentProfileChangedV1)
    async def on_profile_changed(profile: AgentProfileChangedV1) -> None:
        await service.update_profile(profile, repo, publisher)

    @agents.on(AgentPresenceChangedV1)
    async def on_presence_changed(change: AgentPresenceChangedV1) -> None:
        await service.update_presence(change, repo, publisher)

    tickets = Subscription(router, TICKETS, group=GROUP)

    @tickets.on(TicketOpenedV1)
    async def on_ticket_opened(opened: TicketOpenedV1) -> None:
        await service.route_ticket(opened, repo, publisher)

    @tickets.on(TicketStatusChangedV1)
    async def on_status_changed(changed: TicketStatusChangedV1) -> None:
        await service.release_ticket(changed, repo, publisher)
