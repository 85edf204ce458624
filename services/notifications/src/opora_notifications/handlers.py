"""notifications' Kafka entry points: facts that call for a message, translated to deliveries."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from opora_shared.contracts.feedback import SurveyIssuedV1
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.contracts.topics import FEEDBACK, TICKETS
from opora_shared.messaging import Subscription
from opora_shared.ports import Clock, Publisher

from opora_notifications.domain import model, service
from opora_notifications.domain.ports import Mailer, NotificationStore, Renderer

GROUP = "notifications"


def register(
    router: KafkaRouter,
    store: NotificationStore,
    renderer: Renderer,
    mailer: Mailer,
    publisher: Publisher,
    clock: Clock,
) -> None:
    async def deliver(notification: model.Notification | None) -> None:
        if notification is not None:
            await service.deliver(
                notification,
                store=store,
                renderer=renderer,
                mailer=mailer,
                publisher=publisher,
                clock=clock,
            )

    tickets = Subscription(router, TICKETS, group=GROUP)

    @tickets.on(TicketOpenedV1)
    async def on_ticket_opened(event: TicketOpenedV1) -> None:
        await deliver(model.acknowledgement(event))

    surveys = Subscription(router, FEEDBACK, group=GROUP)

    @surveys.on(SurveyIssuedV1)
    async def on_survey_issued(event: SurveyIssuedV1) -> None:
        await deliver(model.survey_invitation(event))
