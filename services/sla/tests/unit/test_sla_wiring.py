"""sla's Kafka wiring, in memory: records on both consumed topics become facts of their ticket,
and what sla decides comes out on sla.events.v1 keyed by ticket."""

from __future__ import annotations

from datetime import timedelta

from faststream import Context
from faststream.kafka import KafkaRouter, TestKafkaBroker
from opora_shared.contracts.sla import SLA_EVENTS, SlaAppliedV1
from opora_shared.contracts.topics import SLA
from opora_shared.messaging import connect
from opora_shared.settings import ServiceSettings
from opora_shared.testing import deliver
from opora_sla import handlers
from opora_sla.domain.service import Desk

from ..conftest import T0, assigned, opened


async def test_ticket_and_routing_records_reach_the_ticket_and_sla_answers_keyed_by_it(
    repo, scheduler, policies, clock
) -> None:
    broker, publisher = connect("sla", ServiceSettings(), publishes=SLA_EVENTS)
    desk = Desk(repo=repo, publisher=publisher, timers=scheduler, policies=policies, now=clock.now)
    router = KafkaRouter()
    handlers.register(router, desk, handlers.Ownership(desk, scheduler))
    broker.include_router(router)
    seen: list[tuple[bytes, str]] = []

    @broker.subscriber(SLA.name, group_id="test")
    async def on_sla(
        body: dict[str, object],
        key: bytes = Context("message.raw_message.key"),
        ce_type: str = Context("message.headers.ce_type"),
    ) -> None:
        seen.append((key, ce_type))

    async with TestKafkaBroker(broker) as test_broker:
        await deliver(test_broker, opened("t-1"))
        await deliver(test_broker, assigned("t-1", at=T0 + timedelta(minutes=1), team="tier2"))

        applied = SlaAppliedV1.model_validate(on_sla.mock.call_args_list[0].args[0])
        assert applied.ticket_id == "t-1"
        assert seen[0] == (b"t-1", SlaAppliedV1.ce_type)
        stored = await repo.load("t-1")
        assert stored is not None
        assert [fact.kind.value for fact in stored.facts] == ["opened", "assigned"]
        assert "t-1" in scheduler
