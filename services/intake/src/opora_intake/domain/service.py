"""intake's use cases, plain functions over its ports: accept a message, apply an agent's action."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from opora_shared.contracts.base import Event
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.inbound import InboundMessage
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
    TicketStatusChangedV1,
)
from opora_shared.contracts.workspace import ReplyPostedV1, StatusSetV1, WorkspaceStatus
from opora_shared.errors import PermanentError
from opora_shared.ports import Publisher

from opora_intake.domain.model import (
    classify,
    conversation_key,
    derived_id,
    detect_language,
    message_key,
    ticket_id_for,
    ticket_number,
)
from opora_intake.domain.ports import Outcome, Repository, TicketRecord

Handler = Callable[..., Awaitable[Any]]


async def accept_message(
    message: InboundMessage, repo: Repository, publisher: Publisher, *, number_prefix: str
) -> Outcome:
    """Turn an inbound message into a new ticket or a message on its open ticket, exactly once.

    A message seen before (a provider retry, a Kafka redelivery) yields the stored outcome, and
    its event is published again with the same id so that consumers drop the repeat.
    """
    key = message_key(message)
    outcome = await repo.find_outcome(key)
    if outcome is None:
        outcome = await repo.save_outcome(key, await _decide(message, repo, number_prefix))
    await publisher.publish(outcome.event)
    return outcome


async def _decide(message: InboundMessage, repo: Repository, number_prefix: str) -> Outcome:
    language = detect_language(message.text, message.language or message.customer.language)
    customer = await repo.resolve_customer(message.customer, language)
    own_ticket_id = ticket_id_for(message)
    ticket = await repo.find_open_ticket(conversation_key(message))
    if ticket is not None and ticket.ticket_id != own_ticket_id:
        appended = TicketMessageReceivedV1(
            event_id=derived_id("message-received", message_key(message)),
            occurred_at=message.received_at,
            ticket_id=ticket.ticket_id,
            message_id=message_key(message),
            channel=message.channel,
            customer_id=customer.customer_id,
            text=message.text,
            attachments=message.attachments,
        )
        return Outcome(ticket.ticket_id, ticket.number, opened=False, event=appended)

    if ticket is None:  # else: this very message opened it before a crash; reuse its number
        ticket = await repo.create_ticket(
            TicketRecord(
                ticket_id=own_ticket_id,
                number=ticket_number(number_prefix, await repo.next_number()),
                status=TicketStatus.NEW,
                customer_id=customer.customer_id,
            ),
            conversation_key(message),
        )
    classification = classify(message)
    opened = TicketOpenedV1(
        event_id=derived_id("ticket-opened", ticket.ticket_id),
        occurred_at=message.received_at,
        ticket_id=ticket.ticket_id,
        number=ticket.number,
        channel=message.channel,
        customer=customer,
        subject=str(getattr(message, "subject", "")),
        text=message.text,
        request_type=classification.request_type,
        priority=classification.priority,
        language=language,
        product=getattr(message, "product", None),
        source_message_id=message_key(message),
        attachments=message.attachments,
    )
    return Outcome(ticket.ticket_id, ticket.number, opened=True, event=opened)


async def record_reply(action: ReplyPostedV1, publisher: Publisher) -> None:
    await publisher.publish(
        TicketRepliedV1(
            event_id=derived_id("ticket-replied", action.event_id),
            occurred_at=action.occurred_at,
            ticket_id=action.ticket_id,
            reply_id=action.reply_id,
            agent_id=action.agent_id,
            public=action.public,
            text=action.text,
        )
    )


_STATUS_OF = {
    WorkspaceStatus.OPEN: TicketStatus.OPEN,
    WorkspaceStatus.PENDING: TicketStatus.PENDING,
    WorkspaceStatus.ON_HOLD: TicketStatus.ON_HOLD,
    WorkspaceStatus.SOLVED: TicketStatus.SOLVED,
    WorkspaceStatus.CLOSED: TicketStatus.CLOSED,
    WorkspaceStatus.REOPENED: TicketStatus.OPEN,
}


async def change_status(action: StatusSetV1, repo: Repository, publisher: Publisher) -> Event:
    status = _STATUS_OF[action.status]
    previous = await repo.set_status(action.ticket_id, status)
    if previous is None:
        raise PermanentError(f"unknown ticket {action.ticket_id}")
    event = TicketStatusChangedV1(
        event_id=derived_id("ticket-status-changed", action.event_id),
        occurred_at=action.occurred_at,
        ticket_id=action.ticket_id,
        status=status,
        previous_status=previous,
        reopened=action.status == WorkspaceStatus.REOPENED,
        agent_id=action.agent_id,
    )
    await publisher.publish(event)
    return event
