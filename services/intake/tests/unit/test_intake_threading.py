"""Which ticket a follow-up joins: conversations, e-mail references, ticket numbers, reopening."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from opora_intake.domain.service import accept_message, change_status
from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.tickets import TicketMessageReceivedV1, TicketStatusChangedV1
from opora_shared.contracts.workspace import StatusSetV1, WorkspaceStatus

from .messages import AT, chat, email, sms, walk_in


async def solve(repo, publisher, ticket_id: str) -> None:
    action = StatusSetV1(
        ticket_id=ticket_id, agent_id="a-1", status=WorkspaceStatus.SOLVED, occurred_at=AT
    )
    await change_status(action, repo, publisher)


async def test_a_second_message_in_the_same_chat_session_joins_its_ticket(
    repo, publisher, policy
) -> None:
    first = await accept_message(chat("m-1"), repo, publisher, policy)
    second = await accept_message(chat("m-2"), repo, publisher, policy)

    assert not second.opened
    assert second.ticket_id == first.ticket_id
    assert isinstance(publisher.published[-1], TicketMessageReceivedV1)


async def test_an_email_reply_joins_the_ticket_of_the_mail_it_answers(
    repo, publisher, policy
) -> None:
    first = await accept_message(email("e-1"), repo, publisher, policy)

    reply = await accept_message(email("e-2", in_reply_to="e-1"), repo, publisher, policy)

    assert reply.ticket_id == first.ticket_id
    assert publisher.published[-1].threaded_by == "email reference"


async def test_a_ticket_number_in_the_subject_threads_a_new_mail(repo, publisher, policy) -> None:
    first = await accept_message(email("e-1"), repo, publisher, policy)

    later = await accept_message(
        email("e-9", subject=f"Re: [{first.number}] холодильник"), repo, publisher, policy
    )

    assert later.ticket_id == first.ticket_id


async def test_a_plus_address_threads_a_mail(repo, publisher, policy) -> None:
    first = await accept_message(email("e-1"), repo, publisher, policy)
    address = f"support+{first.number.lower()}@opora.example"

    later = await accept_message(
        email("e-9", subject="ещё", to=(address,)), repo, publisher, policy
    )

    assert later.ticket_id == first.ticket_id


async def test_a_quoted_walk_in_receipt_threads_an_sms(repo, publisher, policy) -> None:
    receipt = await accept_message(walk_in(), repo, publisher, policy)

    text = f"По квитанции {receipt.number}: когда будет ответ?"
    later = await accept_message(sms("sms-5", text=text), repo, publisher, policy)

    assert later.ticket_id == receipt.ticket_id
    assert publisher.published[-1].threaded_by == "ticket number"


async def test_a_message_soon_after_solved_reopens_the_ticket(repo, publisher, policy) -> None:
    first = await accept_message(chat("m-1"), repo, publisher, policy)
    await solve(repo, publisher, first.ticket_id)

    later = await accept_message(chat("m-2", at=AT + timedelta(days=2)), repo, publisher, policy)

    assert later.ticket_id == first.ticket_id
    [change] = [e for e in publisher.published if isinstance(e, TicketStatusChangedV1)][-1:]
    assert change.reopened
    assert change.actor == "customer"


async def test_a_message_long_after_solved_opens_a_new_ticket(repo, publisher, policy) -> None:
    first = await accept_message(chat("m-1"), repo, publisher, policy)
    await solve(repo, publisher, first.ticket_id)

    later = await accept_message(chat("m-2", at=AT + timedelta(days=30)), repo, publisher, policy)

    assert later.opened
    assert later.ticket_id != first.ticket_id


async def test_a_message_after_the_ticket_closed_opens_a_new_one(repo, publisher, policy) -> None:
    first = await accept_message(chat("m-1"), repo, publisher, policy)
    await repo.set_status(first.ticket_id, TicketStatus.CLOSED, AT)

    second = await accept_message(chat("m-2"), repo, publisher, policy)

    assert second.opened


async def test_a_customer_answer_wakes_a_pending_ticket(repo, publisher, policy) -> None:
    first = await accept_message(chat("m-1"), repo, publisher, policy)
    await repo.set_status(first.ticket_id, TicketStatus.PENDING, AT)

    await accept_message(chat("m-2"), repo, publisher, policy)

    assert repo.tickets[first.ticket_id].status is TicketStatus.OPEN


async def test_a_redelivered_reopening_message_reports_the_reopening_again(
    repo, publisher, policy
) -> None:
    first = await accept_message(chat("m-1"), repo, publisher, policy)
    await solve(repo, publisher, first.ticket_id)
    late = chat("m-2", at=AT + timedelta(days=1))
    await accept_message(late, repo, publisher, policy)
    repo.outcomes.clear()  # as if the process died before it stored the outcome
    before = len(publisher.published)

    await accept_message(late, repo, publisher, policy)

    again = publisher.published[before:]
    assert any(isinstance(e, TicketStatusChangedV1) and e.reopened for e in again)


async def test_the_reopen_window_is_a_policy(repo, publisher, policy) -> None:
    strict = replace(policy, reopen_window=timedelta(hours=1))
    first = await accept_message(chat("m-1"), repo, publisher, strict)
    await solve(repo, publisher, first.ticket_id)

    later = await accept_message(chat("m-2", at=AT + timedelta(hours=2)), repo, publisher, strict)

    assert later.opened
