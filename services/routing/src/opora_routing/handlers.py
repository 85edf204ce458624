"""routing's Kafka entry points: agents, tickets, the workspace's answers to offers, transfers,
and sla's deadlines and alerts."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from opora_shared.contracts.sla import SlaAppliedV1, SlaBreachedV1, SlaWarningV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.topics import SLA, TICKETS, WORKSPACE_AGENTS, WORKSPACE_TICKET_ACTIONS
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    OfferDeclinedV1,
    TicketTransferRequestedV1,
)
from opora_shared.messaging import Subscription

from opora_routing.domain import service
from opora_routing.domain.service import Desk

GROUP = "routing"


def register(router: KafkaRouter, desk: Desk) -> None:
    agents = Subscription(router, WORKSPACE_AGENTS, group=GROUP)

    @agents.on(AgentProfileChangedV1)
    async def on_profile_changed(profile: AgentProfileChangedV1) -> None:
        await service.update_profile(profile, desk)

    @agents.on(AgentPresenceChangedV1)
    async def on_presence_changed(change: AgentPresenceChangedV1) -> None:
        await service.update_presence(change, desk)

    tickets = Subscription(router, TICKETS, group=GROUP)

    @tickets.on(TicketOpenedV1)
    async def on_ticket_opened(opened: TicketOpenedV1) -> None:
        await service.route_ticket(opened, desk)

    @tickets.on(TicketStatusChangedV1)
    async def on_status_changed(changed: TicketStatusChangedV1) -> None:
        await service.on_status_changed(changed, desk)

    actions = Subscription(router, WORKSPACE_TICKET_ACTIONS, group=GROUP)

    @actions.on(OfferAcceptedV1)
    async def on_offer_accepted(accepted: OfferAcceptedV1) -> None:
        await service.accept_offer(accepted, desk)

    @actions.on(OfferDeclinedV1)
    async def on_offer_declined(declined: OfferDeclinedV1) -> None:
        await service.decline_offer(declined, desk)

    @actions.on(TicketTransferRequestedV1)
    async def on_transfer(request: TicketTransferRequestedV1) -> None:
        await service.transfer(request, desk)

    sla = Subscription(router, SLA, group=GROUP)

    @sla.on(SlaAppliedV1)
    async def on_sla_applied(applied: SlaAppliedV1) -> None:
        await service.on_sla_applied(applied, desk)

    @sla.on(SlaWarningV1)
    async def on_sla_warning(warning: SlaWarningV1) -> None:
        await service.on_sla_alert(warning, desk)

    @sla.on(SlaBreachedV1)
    async def on_sla_breached(breached: SlaBreachedV1) -> None:
        await service.on_sla_alert(breached, desk)
