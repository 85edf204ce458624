"""sla's Kafka wiring, in memory: a ticket record in, SlaAppliedV1 out on sla.events.v1."""

from __future__ import annotations

from faststream import Context
from faststream.kafka import KafkaRouter, TestKafkaBroker
from opora_shared.contracts.sla import SLA_EVENTS, SlaAppliedV1
from opora_shared.contracts.topics import SLA
from opora_shared.messaging import connect
from opora_shared.settings import ServiceSettings
from opora_shared.testing import deliver
from opora_sla import handlers

from ..conftest import opened


async def test_an_opened_ticket_record_produces_sla_applied_keyed_by_ticket(
    repo, scheduler
) -> None:
    broker, publisher = connect("sla", ServiceSettings(), publishes=SLA_EVENTS)
    router = KafkaRouter()
    handlers.register(router, repo, publisher, scheduler)
    broker.include_router(router)
    seen: list[tuple[bytes, str]] = []

    @broker.subscriber(SLA.name, group_id="test")
    async def on_sla(
        body: dict[str, object],
        key: bytes = Context("message.raw_message.key"),
        ce_type: str = Context("message.headers.ce_type"),
    ) -> None:
        seen.append((key, ce_type))

    ticket = opened("t-1")
    async with TestKafkaBroker(broker) as test_broker:
        await deliver(test_broker, ticket)

        on_sla.mock.assert_called_once()
        applied = SlaAppliedV1.model_validate(on_sla.mock.call_args.args[0])
        assert applied.ticket_id == "t-1"
        assert seen == [(b"t-1", SlaAppliedV1.ce_type)]
        assert "t-1:first_reply:breach" in scheduler.planned
