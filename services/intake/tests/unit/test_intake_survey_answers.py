"""Survey answers that arrive as messages: a score texted back by SMS or in a messenger, and a
keypad result after a call, each published as ``SurveyAnswerReceivedV1`` instead of a ticket
message; anything else goes on as an ordinary message."""

from __future__ import annotations

from datetime import datetime, timedelta

from opora_intake.domain.service import (
    accept_message,
    change_status,
    merge_customers,
    remember_invitation,
)
from opora_shared.contracts.common import Attachment, Channel, RequestType, TicketStatus
from opora_shared.contracts.feedback import SurveyAnswerReceivedV1, SurveyIssuedV1, SurveyType
from opora_shared.contracts.inbound import InboundMessage
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketStatusChangedV1,
)
from opora_shared.contracts.workspace import StatusSetV1, WorkspaceStatus

from .messages import AT, call, messenger, sms

SOLVED_AT = AT + timedelta(hours=2)
LATER = AT + timedelta(days=1)  # the customer's answer, after the invitation was sent


async def solved(repo, publisher, policy, message: InboundMessage) -> TicketOpenedV1:
    """A ticket opened by ``message`` and solved by an agent: its opening event."""
    outcome = await accept_message(message, repo, publisher, policy)
    [opened] = [e for e in publisher.published if isinstance(e, TicketOpenedV1)][-1:]
    assert opened.ticket_id == outcome.ticket_id
    action = StatusSetV1(
        ticket_id=outcome.ticket_id,
        agent_id="anna",
        status=WorkspaceStatus.SOLVED,
        occurred_at=SOLVED_AT,
    )
    await change_status(action, repo, publisher)
    return opened


async def invite(
    repo,
    opened: TicketOpenedV1,
    *,
    survey_type: SurveyType = SurveyType.CSAT,
    questions: tuple[SurveyType, ...] = (),
    sent_at: datetime = SOLVED_AT,
    expires_at: datetime = SOLVED_AT + timedelta(days=28),
) -> SurveyIssuedV1:
    issued = SurveyIssuedV1(
        occurred_at=SOLVED_AT,
        ticket_id=opened.ticket_id,
        survey_id=f"survey-{opened.ticket_id}",
        survey_type=survey_type,
        questions=questions,
        channel=opened.channel,
        request_type=RequestType.ORDER_STATUS,
        customer=opened.customer,
        url="https://opora.example/s/token",
        expires_at=expires_at,
        send_after=sent_at,
    )
    await remember_invitation(issued, repo)
    return issued


def answers(publisher) -> list[SurveyAnswerReceivedV1]:
    return [e for e in publisher.published if isinstance(e, SurveyAnswerReceivedV1)]


def ticket_events_after(publisher, count: int) -> list[object]:
    return [
        e
        for e in publisher.published[count:]
        if isinstance(e, TicketMessageReceivedV1 | TicketStatusChangedV1 | TicketOpenedV1)
    ]


async def test_a_digit_texted_back_publishes_the_answer_and_no_ticket_message(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened)
    before = len(publisher.published)

    outcome = await accept_message(sms("s-2", text="5", at=LATER), repo, publisher, policy)

    [answer] = answers(publisher)
    assert (answer.ticket_id, answer.score, answer.survey_type) == (
        opened.ticket_id,
        5,
        SurveyType.CSAT,
    )
    assert (answer.channel, answer.source_message_id, answer.received_at) == (
        Channel.SMS,
        "s-2",
        LATER,
    )
    assert ticket_events_after(publisher, before) == []
    assert repo.tickets[opened.ticket_id].status is TicketStatus.SOLVED
    assert outcome.survey_answer
    assert (outcome.ticket_id, outcome.number, outcome.opened) == (
        opened.ticket_id,
        opened.number,
        False,
    )


async def test_words_after_the_digit_travel_as_the_comment(repo, publisher, policy) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened)

    await accept_message(sms("s-2", text="2 - долго ждал", at=LATER), repo, publisher, policy)

    [answer] = answers(publisher)
    assert (answer.score, answer.comment) == (2, "долго ждал")


async def test_a_redelivered_reply_publishes_the_same_event_again(repo, publisher, policy) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened)
    reply = sms("s-2", text="4", at=LATER)

    await accept_message(reply, repo, publisher, policy)
    again = await accept_message(reply, repo, publisher, policy)

    first, second = answers(publisher)
    assert first == second
    assert again.repeat


async def test_a_digit_without_an_invitation_reopens_the_solved_ticket_as_before(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))

    await accept_message(sms("s-2", text="5", at=LATER), repo, publisher, policy)

    assert answers(publisher) == []
    message = publisher.published[-1]
    assert isinstance(message, TicketMessageReceivedV1)
    assert (message.ticket_id, message.text) == (opened.ticket_id, "5")
    assert repo.tickets[opened.ticket_id].status is TicketStatus.OPEN


async def test_a_digit_after_the_invitation_expired_is_an_ordinary_message(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened, expires_at=LATER - timedelta(minutes=1))

    await accept_message(sms("s-2", text="5", at=LATER), repo, publisher, policy)

    assert answers(publisher) == []
    assert isinstance(publisher.published[-1], TicketMessageReceivedV1)


async def test_a_digit_before_the_invitation_was_sent_is_an_ordinary_message(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened, sent_at=LATER + timedelta(hours=1))

    await accept_message(sms("s-2", text="5", at=LATER), repo, publisher, policy)

    assert answers(publisher) == []
    assert isinstance(publisher.published[-1], TicketMessageReceivedV1)


async def test_a_score_outside_the_questions_scale_is_an_ordinary_message(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened, survey_type=SurveyType.CSAT)

    await accept_message(sms("s-2", text="7", at=LATER), repo, publisher, policy)

    assert answers(publisher) == []
    assert publisher.published[-1].text == "7"


async def test_a_sentence_that_starts_with_a_number_is_an_ordinary_message(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened)

    await accept_message(
        sms("s-2", text="3 дня жду, так и не привезли", at=LATER), repo, publisher, policy
    )

    assert answers(publisher) == []
    assert isinstance(publisher.published[-1], TicketMessageReceivedV1)


async def test_a_photo_captioned_with_a_digit_is_an_ordinary_message(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened)
    photo = Attachment(filename="photo.jpg", content_type="image/jpeg", size_bytes=81_233)

    await accept_message(
        sms("s-2", text="2", at=LATER, attachments=(photo,)), repo, publisher, policy
    )

    assert answers(publisher) == []
    assert publisher.published[-1].attachments == (photo,)


async def test_a_digit_while_a_conversation_is_going_on_belongs_to_the_conversation(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, opened)
    await repo.set_status(opened.ticket_id, TicketStatus.CLOSED, LATER)
    question = sms("s-2", text="Новый заказ не пришёл", at=LATER)
    newer = await accept_message(question, repo, publisher, policy)

    await accept_message(sms("s-3", text="2", at=LATER), repo, publisher, policy)

    assert answers(publisher) == []
    message = publisher.published[-1]
    assert isinstance(message, TicketMessageReceivedV1)
    assert message.ticket_id == newer.ticket_id != opened.ticket_id


async def test_the_invitation_sent_last_is_the_one_answered(repo, publisher, policy) -> None:
    first = await solved(repo, publisher, policy, sms("s-1"))
    await invite(repo, first, sent_at=SOLVED_AT)
    await repo.set_status(first.ticket_id, TicketStatus.CLOSED, SOLVED_AT)
    second = await solved(repo, publisher, policy, sms("s-2", text="А где второй заказ?"))
    await invite(repo, second, sent_at=SOLVED_AT + timedelta(hours=3))

    await accept_message(sms("s-3", text="4", at=LATER), repo, publisher, policy)

    [answer] = answers(publisher)
    assert answer.ticket_id == second.ticket_id != first.ticket_id


async def test_a_messenger_reply_answers_an_nps_question_on_its_scale(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, messenger("tg-1"))
    await invite(repo, opened, survey_type=SurveyType.NPS, questions=(SurveyType.NPS,))

    await accept_message(messenger("tg-2", text="9, спасибо!", at=LATER), repo, publisher, policy)

    [answer] = answers(publisher)
    assert (answer.channel, answer.survey_type, answer.score, answer.comment) == (
        Channel.MESSENGER,
        SurveyType.NPS,
        9,
        "спасибо!",
    )


async def test_an_invitation_held_by_a_profile_merged_into_the_senders_is_answered(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1", phone="+79160000001"))
    await invite(repo, opened)
    await repo.set_status(opened.ticket_id, TicketStatus.CLOSED, SOLVED_AT)
    other = await solved(repo, publisher, policy, sms("s-2", phone="+79160000002"))
    await merge_customers(
        other.customer.customer_id, opened.customer.customer_id, repo, publisher, actor="anna"
    )
    await repo.set_status(other.ticket_id, TicketStatus.CLOSED, SOLVED_AT)

    await accept_message(
        sms("s-3", phone="+79160000002", text="5", at=LATER), repo, publisher, policy
    )

    [answer] = answers(publisher)
    assert answer.ticket_id == opened.ticket_id


async def test_a_keypad_result_answers_the_callers_invitation_by_phone(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, call("call-1", "1-2"))
    await invite(repo, opened, questions=(SurveyType.CSAT, SurveyType.CES))
    before = len(publisher.published)

    outcome = await accept_message(
        call("call-1:survey", "survey:csat:4", "survey:ces:6", at=LATER, transcript="Всё хорошо"),
        repo,
        publisher,
        policy,
    )

    csat, ces = answers(publisher)
    assert (csat.channel, csat.survey_type, csat.score, csat.comment) == (
        Channel.PHONE,
        SurveyType.CSAT,
        4,
        "Всё хорошо",
    )
    assert (ces.survey_type, ces.score, ces.comment) == (SurveyType.CES, 6, None)
    assert csat.event_id != ces.event_id
    assert ticket_events_after(publisher, before) == []
    assert outcome.ticket_id == opened.ticket_id


async def test_a_keypad_result_for_a_question_not_asked_is_an_ordinary_call(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, call("call-1", "1-2"))
    await invite(repo, opened, questions=(SurveyType.CSAT,))

    outcome = await accept_message(
        call("call-2", "survey:nps:9", at=LATER), repo, publisher, policy
    )

    assert answers(publisher) == []
    assert outcome.opened


async def test_a_survey_selection_is_not_read_as_a_menu_step(repo, publisher, policy) -> None:
    await accept_message(call("call-1", "2", "survey:csat:4"), repo, publisher, policy)

    [opened] = [e for e in publisher.published if isinstance(e, TicketOpenedV1)]
    assert opened.language == "en"  # "2" is English in the packaged menu
    assert not any("survey" in reason for reason in opened.classification)


async def test_an_older_copy_of_an_invitation_does_not_replace_the_newer_one(
    repo, publisher, policy
) -> None:
    opened = await solved(repo, publisher, policy, sms("s-1"))
    newer = await invite(repo, opened, survey_type=SurveyType.NPS)
    older = newer.model_copy(
        update={"occurred_at": SOLVED_AT - timedelta(hours=1), "survey_type": SurveyType.CSAT}
    )

    await remember_invitation(older, repo)

    [kept] = await repo.open_invitations([opened.customer.customer_id], LATER)
    assert kept.survey_type is SurveyType.NPS
