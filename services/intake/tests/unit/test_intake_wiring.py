"""intake's Kafka wiring, in memory: raw records in, canonical events or dead letters out."""

from __future__ import annotations

from datetime import timedelta

from faststream.kafka import KafkaRouter, TestKafkaBroker
from opora_intake import handlers
from opora_intake.domain.service import Policy
from opora_shared.contracts.base import cloudevent_headers
from opora_shared.contracts.common import Channel, CustomerRef, RequestType, TicketStatus
from opora_shared.contracts.customers import CUSTOMER_EVENTS
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyType
from opora_shared.contracts.tickets import TICKET_EVENTS
from opora_shared.contracts.topics import INBOUND_MESSAGES, TICKETS
from opora_shared.contracts.workspace import ReplyPostedV1, StatusSetV1, WorkspaceStatus
from opora_shared.messaging import connect
from opora_shared.settings import ServiceSettings
from opora_shared.testing import deliver

from .fakes import automation_for
from .messages import AT, web_form


def wired(repo):
    broker, publisher = connect(
        "intake", ServiceSettings(), publishes=(*TICKET_EVENTS, *CUSTOMER_EVENTS)
    )
    router = KafkaRouter()
    automation = automation_for(repo, publisher, lambda: AT)
    handlers.register(router, repo, publisher, Policy(), automation)
    broker.include_router(router)
    opened = broker.subscriber(TICKETS.name, group_id="test")
    dead = broker.subscriber(INBOUND_MESSAGES.dead_letter, group_id="test")

    @opened
    async def on_opened(body: dict[str, object]) -> None: ...

    @dead
    async def on_dead(body: bytes) -> None: ...

    return broker, on_opened, on_dead


async def test_a_raw_web_form_record_becomes_a_ticket_opened_event(repo) -> None:
    broker, opened, _ = wired(repo)
    message = web_form()
    async with TestKafkaBroker(broker) as test_broker:
        await deliver(test_broker, message, source="test-adapter")

        opened.mock.assert_called_once()
        [ticket] = repo.tickets.values()
        assert opened.mock.call_args.args[0]["ticket_id"] == ticket.ticket_id


async def test_an_invalid_record_is_dead_lettered_with_its_reason_and_bytes(repo) -> None:
    broker, opened, dead = wired(repo)
    message = web_form()
    value = message.model_dump(mode="json") | {"received_at": "yesterday"}
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(
            value,
            INBOUND_MESSAGES.name,
            headers=cloudevent_headers(message, source="test-adapter"),
        )

        opened.mock.assert_not_called()
        dead.mock.assert_called_once()
        assert dead.mock.call_args.args[0] == value
        assert not repo.tickets


async def test_a_record_without_a_known_type_is_dead_lettered(repo) -> None:
    broker, opened, dead = wired(repo)
    async with TestKafkaBroker(broker) as test_broker:
        await test_broker.publish(b"\xff\xfe not json", INBOUND_MESSAGES.name)

        opened.mock.assert_not_called()
        dead.mock.assert_called_once()


async def test_an_issued_survey_is_kept_as_the_customers_open_invitation(repo) -> None:
    broker, _, _ = wired(repo)
    issued = SurveyIssuedV1(
        occurred_at=AT,
        ticket_id="t-1",
        survey_id="survey-t-1",
        survey_type=SurveyType.CSAT,
        channel=Channel.SMS,
        request_type=RequestType.ORDER_STATUS,
        customer=CustomerRef(customer_id="c-1", phone="+79161234567"),
        url="https://opora.example/s/token",
        send_after=AT,
        expires_at=AT + timedelta(days=28),
    )
    async with TestKafkaBroker(broker) as test_broker:
        await deliver(test_broker, issued, source="feedback")

        [invitation] = await repo.open_invitations(["c-1"], AT + timedelta(days=1))
        assert (invitation.ticket_id, invitation.survey_type) == ("t-1", SurveyType.CSAT)


async def test_a_pending_status_set_over_kafka_says_when_the_ticket_will_be_solved(repo) -> None:
    broker, opened, _ = wired(repo)
    async with TestKafkaBroker(broker) as test_broker:
        await deliver(test_broker, web_form(), source="test-adapter")
        [ticket] = repo.tickets.values()
        pending = StatusSetV1(
            occurred_at=AT,
            ticket_id=ticket.ticket_id,
            agent_id="a-1",
            status=WorkspaceStatus.PENDING,
        )
        await deliver(test_broker, pending, source="workspace")

        changed = opened.mock.call_args.args[0]
        assert changed["status"] == "pending"
        assert changed["auto_change_at"] == "2026-11-09T09:30:00Z"


async def test_a_reply_over_kafka_calls_off_the_automatic_solve(repo) -> None:
    broker, _, _ = wired(repo)
    async with TestKafkaBroker(broker) as test_broker:
        await deliver(test_broker, web_form(), source="test-adapter")
        [ticket] = repo.tickets.values()
        pending = StatusSetV1(
            occurred_at=AT,
            ticket_id=ticket.ticket_id,
            agent_id="a-1",
            status=WorkspaceStatus.PENDING,
        )
        await deliver(test_broker, pending, source="workspace")
        reply = ReplyPostedV1(
            occurred_at=AT + timedelta(hours=1),
            ticket_id=ticket.ticket_id,
            reply_id="r-1",
            agent_id="a-1",
            text="Подскажите модель, пожалуйста",
        )
        await deliver(test_broker, reply, source="workspace")

        stored = await repo.get_ticket(ticket.ticket_id)
        assert stored is not None
        assert (stored.status, stored.auto_change_at) == (TicketStatus.PENDING, None)
