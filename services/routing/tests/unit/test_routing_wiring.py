"""routing's Kafka wiring, in memory: agent and ticket records in, routing events out."""

from __future__ import annotations

from faststream import Context
from faststream.kafka import KafkaRouter, TestKafkaBroker
from opora_routing import handlers
from opora_routing.domain.service import Desk
from opora_shared.contracts.routing import ROUTING_EVENTS, TicketOfferedV1
from opora_shared.contracts.topics import ROUTING
from opora_shared.contracts.workspace import AgentPresenceChangedV1, Presence
from opora_shared.messaging import connect
from opora_shared.settings import ServiceSettings
from opora_shared.testing import deliver

from ..conftest import StaticRules, opened, profile


def wired(repo, timers):
    broker, publisher = connect("routing", ServiceSettings(), publishes=ROUTING_EVENTS)
    router = KafkaRouter()
    handlers.register(
        router, Desk(repo=repo, publisher=publisher, rules=StaticRules(), timers=timers)
    )
    broker.include_router(router)
    routed = broker.subscriber(ROUTING.name, group_id="test")

    @routed
    async def on_routed(
        body: dict[str, object],
        key: bytes = Context("message.raw_message.key"),
        ce_type: str = Context("message.headers.ce_type"),
    ) -> None:
        keys.append((key, ce_type))

    keys: list[tuple[bytes, str]] = []
    return broker, on_routed, keys


async def test_an_opened_ticket_record_produces_an_offer_keyed_by_ticket(repo, timers) -> None:
    broker, routed, keys = wired(repo, timers)
    async with TestKafkaBroker(broker) as test_broker:
        await deliver(test_broker, profile("anna"))
        await deliver(
            test_broker, AgentPresenceChangedV1(agent_id="anna", presence=Presence.ONLINE)
        )
        await deliver(test_broker, opened("t-1"))

        routed.mock.assert_called_once()
        offered = TicketOfferedV1.model_validate(routed.mock.call_args.args[0])
        assert (offered.ticket_id, offered.agent_id) == ("t-1", "anna")
        assert keys == [(b"t-1", TicketOfferedV1.ce_type)]
        assert repo.agent_state["anna"].active == frozenset({"t-1"})
