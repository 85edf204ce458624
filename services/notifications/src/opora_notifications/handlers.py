"""notifications' Kafka entry points: facts that call for messages, handed to the notifier.

Every handler only updates what notifications knows and plans; sending happens on timers, so a
slow mail server never holds a partition.
"""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyIssuedV1
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.sla import SlaAppliedV1, SlaBreachedV1, SlaEscalatedV1, SlaWarningV1
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
    TicketUpdatedV1,
)
from opora_shared.contracts.topics import FEEDBACK, ROUTING, SLA, TICKETS, WORKSPACE_AGENTS
from opora_shared.contracts.workspace import AgentProfileChangedV1
from opora_shared.messaging import Subscription

from opora_notifications.domain.service import Notifier

GROUP = "notifications"


def register(router: KafkaRouter, notifier: Notifier) -> None:
    tickets = Subscription(router, TICKETS, group=GROUP)

    @tickets.on(TicketOpenedV1)
    async def on_ticket_opened(event: TicketOpenedV1) -> None:
        await notifier.on_ticket_opened(event)

    @tickets.on(TicketStatusChangedV1)
    async def on_status_changed(event: TicketStatusChangedV1) -> None:
        await notifier.on_status_changed(event)

    @tickets.on(TicketMessageReceivedV1)
    async def on_message_received(event: TicketMessageReceivedV1) -> None:
        await notifier.on_message_received(event)

    @tickets.on(TicketRepliedV1)
    async def on_replied(event: TicketRepliedV1) -> None:
        await notifier.on_replied(event)

    @tickets.on(TicketUpdatedV1)
    async def on_updated(event: TicketUpdatedV1) -> None:
        await notifier.on_ticket_updated(event)

    routing = Subscription(router, ROUTING, group=GROUP)

    @routing.on(TicketAssignedV1)
    async def on_assigned(event: TicketAssignedV1) -> None:
        await notifier.on_assigned(event)

    sla = Subscription(router, SLA, group=GROUP)

    @sla.on(SlaAppliedV1)
    async def on_sla_applied(event: SlaAppliedV1) -> None:
        await notifier.on_sla_applied(event)

    @sla.on(SlaWarningV1)
    async def on_sla_warning(event: SlaWarningV1) -> None:
        await notifier.on_sla_alert(event)

    @sla.on(SlaBreachedV1)
    async def on_sla_breached(event: SlaBreachedV1) -> None:
        await notifier.on_sla_alert(event)

    @sla.on(SlaEscalatedV1)
    async def on_sla_escalated(event: SlaEscalatedV1) -> None:
        await notifier.on_sla_alert(event)

    feedback = Subscription(router, FEEDBACK, group=GROUP)

    @feedback.on(SurveyIssuedV1)
    async def on_survey_issued(event: SurveyIssuedV1) -> None:
        await notifier.on_survey_issued(event)

    @feedback.on(DetractorFoundV1)
    async def on_detractor_found(event: DetractorFoundV1) -> None:
        await notifier.on_detractor_found(event)

    agents = Subscription(router, WORKSPACE_AGENTS, group=GROUP)

    @agents.on(AgentProfileChangedV1)
    async def on_agent_profile(event: AgentProfileChangedV1) -> None:
        await notifier.on_agent_profile(event)
