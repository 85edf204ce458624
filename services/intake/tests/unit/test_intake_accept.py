"""How inbound messages become tickets: opening, threading, deduplication, language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from opora_intake.domain.service import accept_message, change_status
from opora_shared.contracts.common import CustomerContact, TicketStatus
from opora_shared.contracts.inbound import InboundChatMessageV1, InboundWebFormV1
from opora_shared.contracts.tickets import TicketMessageReceivedV1, TicketOpenedV1
from opora_shared.contracts.workspace import StatusSetV1, WorkspaceStatus
from opora_shared.errors import PermanentError

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def web_form(
    message_id: str = "form-1", text: str = "Не включается стиральная машина"
) -> InboundWebFormV1:
    return InboundWebFormV1(
        source_message_id=message_id,
        conversation_id=message_id,
        received_at=AT,
        customer=CustomerContact(name="Иван Петров", email="ivan@example.com"),
        text=text,
        form_id="support",
    )


def chat(message_id: str, session: str = "s-1") -> InboundChatMessageV1:
    return InboundChatMessageV1(
        source_message_id=message_id,
        conversation_id=session,
        session_id=session,
        received_at=AT,
        customer=CustomerContact(external_id="visitor-7"),
        text="Where is my order?",
    )


async def test_a_new_message_opens_a_numbered_ticket(repo, publisher) -> None:
    outcome = await accept_message(web_form(), repo, publisher, number_prefix="OP")

    assert outcome.opened
    assert outcome.number == "OP-000001"
    [event] = publisher.published
    assert isinstance(event, TicketOpenedV1)
    assert event.ticket_id == outcome.ticket_id
    assert event.partition_key == outcome.ticket_id


async def test_a_repeated_message_republishes_the_same_event_and_opens_nothing(
    repo, publisher
) -> None:
    first = await accept_message(web_form(), repo, publisher, number_prefix="OP")
    again = await accept_message(web_form(), repo, publisher, number_prefix="OP")

    assert again.ticket_id == first.ticket_id
    assert len(repo.tickets) == 1
    assert publisher.published[0].event_id == publisher.published[1].event_id


async def test_a_second_message_in_the_same_chat_session_joins_its_ticket(repo, publisher) -> None:
    first = await accept_message(chat("m-1"), repo, publisher, number_prefix="OP")
    second = await accept_message(chat("m-2"), repo, publisher, number_prefix="OP")

    assert not second.opened
    assert second.ticket_id == first.ticket_id
    assert isinstance(publisher.published[-1], TicketMessageReceivedV1)


async def test_a_message_after_the_ticket_closed_opens_a_new_one(repo, publisher) -> None:
    first = await accept_message(chat("m-1"), repo, publisher, number_prefix="OP")
    await repo.set_status(first.ticket_id, TicketStatus.CLOSED)

    second = await accept_message(chat("m-2"), repo, publisher, number_prefix="OP")

    assert second.opened
    assert second.ticket_id != first.ticket_id


async def test_cyrillic_text_makes_the_ticket_russian(repo, publisher) -> None:
    await accept_message(web_form(), repo, publisher, number_prefix="OP")

    [event] = publisher.published
    assert isinstance(event, TicketOpenedV1)
    assert event.language == "ru"


async def test_status_change_of_an_unknown_ticket_is_a_permanent_error(repo, publisher) -> None:
    action = StatusSetV1(ticket_id="nope", agent_id="a-1", status=WorkspaceStatus.SOLVED)

    with pytest.raises(PermanentError):
        await change_status(action, repo, publisher)


async def test_reopening_a_solved_ticket_marks_the_event_reopened(repo, publisher) -> None:
    outcome = await accept_message(web_form(), repo, publisher, number_prefix="OP")
    solved = StatusSetV1(ticket_id=outcome.ticket_id, agent_id="a-1", status=WorkspaceStatus.SOLVED)
    await change_status(solved, repo, publisher)
    reopen = StatusSetV1(
        ticket_id=outcome.ticket_id, agent_id="a-1", status=WorkspaceStatus.REOPENED
    )

    event = await change_status(reopen, repo, publisher)

    assert event.status is TicketStatus.OPEN
    assert event.reopened
    assert event.previous_status is TicketStatus.SOLVED
