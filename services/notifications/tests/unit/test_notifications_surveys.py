"""Survey invitations on the customer's own channel: a short text asking for a digit reply on
SMS and messengers, one-click rating links in e-mail, the plain link for older producers."""

from __future__ import annotations

import pytest
from opora_notifications.domain.model import CUSTOMER, notification_id
from opora_notifications.domain.templates import EXAMPLE
from opora_shared.contracts.common import Channel, TicketStatus
from opora_shared.contracts.feedback import SurveyType

# A link as long as feedback's signed ones (a token of ~120 characters after the base URL).
REAL_URL = "https://support.example.com/s/" + "eyJ2IjoyLCJ0IjoiMDE5NWFhM2UifQ.Z8HxQA." + "x" * 80
SCALES = {SurveyType.CSAT: ("1", "5"), SurveyType.NPS: ("0", "10"), SurveyType.CES: ("1", "7")}


async def _solved_and_surveyed(desk, ticket_opened, status, survey_issued, **survey) -> None:
    opened = survey.pop("opened", {})
    await desk.notifier.on_ticket_opened(ticket_opened(**opened))
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued(**survey))
    await desk.settle()


def _invitation(sender):
    return next(m for m in sender.sent if m.intent == "survey.invitation")


async def test_a_phone_ticket_is_invited_by_sms_to_reply_with_a_digit(
    desk, ticket_opened, status, survey_issued
):
    await _solved_and_surveyed(
        desk,
        ticket_opened,
        status,
        survey_issued,
        opened={"channel": Channel.PHONE, "phone": "+79161234567"},
        channel=Channel.PHONE,
    )

    invitation = _invitation(desk.sms)
    assert invitation.address == "+79161234567"
    assert invitation.content.subject is None
    assert "Оцените нас от 1 до 5: ответьте цифрой" in invitation.content.text
    assert "https://opora.test/s/t-1-token" in invitation.content.text
    assert "survey.invitation" not in [m.intent for m in desk.mail.sent]


async def test_a_phone_ticket_without_a_phone_number_is_invited_by_email(
    desk, ticket_opened, status, survey_issued
):
    await _solved_and_surveyed(
        desk,
        ticket_opened,
        status,
        survey_issued,
        opened={"channel": Channel.PHONE, "phone": None},
        channel=Channel.PHONE,
    )

    assert _invitation(desk.mail).address == "ivan.petrov@example.com"


async def test_an_english_sms_asks_for_a_digit_in_english(
    desk, ticket_opened, status, survey_issued
):
    await _solved_and_surveyed(
        desk,
        ticket_opened,
        status,
        survey_issued,
        opened={"channel": Channel.SMS, "phone": "+447700900123", "language": "en", "name": "Ann"},
        channel=Channel.SMS,
        language="en",
    )

    text = _invitation(desk.sms).content.text
    assert text.startswith("Ann, your request OP-000123 is resolved.")
    assert "Rate us from 1 to 5: reply with a digit" in text


async def test_a_messenger_ticket_is_asked_its_first_question_in_the_chat(
    desk, fake_sender, ticket_opened, status, survey_issued
):
    desk.notifier.senders = {**desk.notifier.senders, Channel.MESSENGER: fake_sender}

    await _solved_and_surveyed(
        desk,
        ticket_opened,
        status,
        survey_issued,
        opened={"channel": Channel.MESSENGER},
        channel=Channel.MESSENGER,
        survey_type=SurveyType.NPS,
    )

    invitation = _invitation(fake_sender)
    assert invitation.address == "x:1"  # the inbound message the chat began with
    assert "Ответьте числом от 0 до 10" in invitation.content.text


@pytest.mark.parametrize("language", ["ru", "en"])
@pytest.mark.parametrize("survey_type", list(SurveyType))
def test_every_short_invitation_fits_an_sms_with_a_real_link(
    rules, renderer, language, survey_type
) -> None:
    low, high = SCALES[survey_type]
    context = dict(EXAMPLE) | {
        "url": REAL_URL,
        "survey_type": survey_type.value,
        "scale_from": low,
        "scale_to": high,
    }

    text = renderer.render("survey_invitation", language, context, short=True).text

    asked, link, _ = text.partition(REAL_URL)
    assert link == REAL_URL
    assert f" {low} " in asked
    assert f" {high}" in asked
    assert len(text) <= (rules.max_chars(Channel.SMS) or 0)


def test_without_the_question_known_the_short_invitation_gives_the_link_only(renderer) -> None:
    context = dict(EXAMPLE) | {"scale_from": "", "scale_to": ""}

    text = renderer.render("survey_invitation", "ru", context, short=True).text

    assert "цифрой" not in text
    assert text.endswith(f"{EXAMPLE['url']} Opora")


async def test_an_email_lists_one_link_per_score(desk, ticket_opened, status, survey_issued):
    await _solved_and_surveyed(desk, ticket_opened, status, survey_issued, rating_links=True)

    text = _invitation(desk.mail).content.text
    assert "1 (совсем не доволен): https://opora.test/s/t-1-token?score=1" in text
    assert "3: https://opora.test/s/t-1-token?score=3" in text
    assert "5 (полностью доволен): https://opora.test/s/t-1-token?score=5" in text
    assert "Или откройте опрос: https://opora.test/s/t-1-token\n" in text


async def test_the_planned_invitation_keeps_its_question_and_links(
    desk, ticket_opened, status, survey_issued
):
    """They travel in the planned record: the send (maybe a day later, on another replica, after
    a restart) does not need the event again."""
    await desk.notifier.on_ticket_opened(ticket_opened())
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued(rating_links=True))

    record = desk.store.records[notification_id("survey.invitation", "t-1", CUSTOMER)]
    assert record.facts["survey_type"] == "csat"
    assert [link["score"] for link in record.facts["rating_links"]] == [1, 2, 3, 4, 5]
