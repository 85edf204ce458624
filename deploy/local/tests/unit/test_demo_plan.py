"""The demo's scene: what customers send, how the tally counts only the demo's tickets, and how
its agents answer offers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from opora_localstack import demo as demo_module
from opora_localstack.demo import AGENTS, Demo, Tally, Target, plan_requests
from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerRef
from opora_shared.contracts.routing import TicketAssignedV1, TicketOfferedV1
from opora_shared.contracts.tickets import TicketOpenedV1
from opora_shared.contracts.workspace import OfferAcceptedV1, OfferDeclinedV1


def test_the_same_seed_plans_the_same_scene() -> None:
    first = plan_requests(12, run_id="r", seed=3)
    again = plan_requests(12, run_id="r", seed=3)
    assert [(r.message.channel, r.message.text) for r in first] == [
        (r.message.channel, r.message.text) for r in again
    ]


def test_every_message_has_its_own_provider_id() -> None:
    planned = plan_requests(30, run_id="r", seed=1)
    assert len({r.message.source_message_id for r in planned}) == 30


def test_follow_ups_continue_an_earlier_conversation() -> None:
    planned = plan_requests(30, run_id="r", seed=1)
    conversations = [r.message.conversation_id for r in planned]
    follow_ups = [r for r in planned if r.message.conversation_id != r.message.source_message_id]
    assert follow_ups
    first_seen = [conversations.index(r.message.conversation_id) for r in follow_ups]
    assert all(seen < planned.index(r) for seen, r in zip(first_seen, follow_ups, strict=True))


def test_some_messages_go_over_the_raw_topic() -> None:
    planned = plan_requests(10, run_id="r", seed=1)
    assert [r.via_kafka for r in planned].count(True) == 2


def test_several_channels_are_played() -> None:
    channels = {r.message.channel for r in plan_requests(30, run_id="r", seed=1)}
    assert {Channel.EMAIL, Channel.CHAT, Channel.PHONE} <= channels


def _opened(ticket_id: str, source: str) -> TicketOpenedV1:
    return TicketOpenedV1(
        ticket_id=ticket_id,
        number="OP-000001",
        channel=Channel.CHAT,
        customer=CustomerRef(customer_id="c1"),
        source_message_id=f"chat:{source}",
    )


def test_the_tally_counts_only_tickets_the_run_opened() -> None:
    tally = Tally("demo-abc")
    tally.record(TicketAssignedV1(ticket_id="t1", queue="q", agent_id="a"))  # before its opening
    tally.record(_opened("t1", "demo-abc-1"))
    tally.record(_opened("t2", "someone-else-1"))
    tally.record(TicketAssignedV1(ticket_id="t2", queue="q", agent_id="a"))
    assert dict(tally.rows())["tickets opened"] == 1
    assert dict(tally.rows())["assigned"] == 1


def test_a_redelivered_event_is_counted_once() -> None:
    tally = Tally("demo-abc")
    tally.record(_opened("t1", "demo-abc-1"))
    assigned = TicketAssignedV1(ticket_id="t1", queue="q", agent_id="a")
    tally.record(assigned)
    tally.record(assigned)
    assert dict(tally.rows())["assigned"] == 1


class _Played(Demo):
    """The demo without Kafka: what its agents publish is kept."""

    def __init__(self) -> None:
        super().__init__(Target("http://127.0.0.1:9", "127.0.0.1:9"), run_id="demo-abc")
        self.published: list[Event] = []

    async def _publish(self, event: Event) -> None:
        self.published.append(event)


def _offer(ticket_id: str) -> TicketOfferedV1:
    return TicketOfferedV1(
        ticket_id=ticket_id,
        queue="q",
        offer_id=f"o-{ticket_id}",
        agent_id=AGENTS[0].agent_id,
        expires_at=datetime.now(UTC) + timedelta(seconds=60),
    )


async def test_a_demo_agent_accepts_an_offer_of_the_runs_ticket() -> None:
    demo = _Played()
    demo.tally.record(_opened("t1", "demo-abc-1"))
    await demo._answer_offer(_offer("t1"))
    assert [type(e) for e in demo.published] == [OfferAcceptedV1]


async def test_a_demo_agent_declines_a_strangers_ticket(monkeypatch) -> None:
    monkeypatch.setattr(demo_module, "OWNERSHIP_CHECKS", 1)
    demo = _Played()
    demo.tally.record(_opened("t2", "someone-else-1"))
    await demo._answer_offer(_offer("t2"))
    assert [type(e) for e in demo.published] == [OfferDeclinedV1]
