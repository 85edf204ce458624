"""sla's Kafka entry points: new tickets get a policy, replies fulfil first-reply timers."""

from __future__ import annotations

from faststream.kafka import KafkaRouter
from opora_shared.contracts.tickets import TicketOpenedV1, TicketRepliedV1
from opora_shared.contracts.topics import TICKETS
from opora_shared.messaging import Subscription
from opora_shared.ports import Publisher

from opora_sla.domain import service
from opora_sla.domain.ports import Repository, Scheduler

GROUP = "sla"


def register(
    router: KafkaRouter, repo: Repository, publisher: Publisher, scheduler: Scheduler
) -> None:
    tickets = Subscription(router, TICKETS, group=GROUP)

    @tickets.on(TicketOpenedV1)
    async def on_ticket_opened(opened: TicketOpenedV1) -> None:
        await service.apply_sla(opened, repo, publisher, scheduler)

    @tickets.on(TicketRepliedV1)
    async def on_ticket_replied(reply: TicketRepliedV1) -> None:
        await service.record_reply(reply, repo, publisher, scheduler)
