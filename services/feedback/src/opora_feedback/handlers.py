"""feedback's Kafka entry points: ticket and routing facts, and the solve that issues a survey."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from opora_shared.contracts.routing import TicketAssignedV1
from opora_shared.contracts.tickets import TicketOpenedV1, TicketStatusChangedV1
from opora_shared.contracts.topics import ROUTING, TICKETS
from opora_shared.messaging import Subscription
from opora_shared.ports import Clock, Publisher

from opora_feedback.domain import service
from opora_feedback.domain.model import SurveyPolicy
from opora_feedback.domain.ports import SurveyStore, SurveyTokens, TicketFactsStore

GROUP = "feedback"


def register(
    router: KafkaRouter,
    facts: TicketFactsStore,
    surveys: SurveyStore,
    tokens: SurveyTokens,
    publisher: Publisher,
    policy: SurveyPolicy,
    clock: Clock,
) -> None:
    tickets = Subscription(router, TICKETS, group=GROUP)

    @tickets.on(TicketOpenedV1)
    async def on_ticket_opened(event: TicketOpenedV1) -> None:
        await service.remember_opened(event, facts)

    @tickets.on(TicketStatusChangedV1)
    async def on_status_changed(event: TicketStatusChangedV1) -> None:
        await service.issue_csat_survey(
            event,
            facts=facts,
            surveys=surveys,
            tokens=tokens,
            publisher=publisher,
            policy=policy,
            clock=clock,
        )

    routing = Subscription(router, ROUTING, group=GROUP)

    @routing.on(TicketAssignedV1)
    async def on_ticket_assigned(event: TicketAssignedV1) -> None:
        await service.remember_assignment(event, facts)
