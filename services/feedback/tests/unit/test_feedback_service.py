"""feedback's use cases over the in-memory adapters: issuing by the rules, attribution at send
time, answers from the page and from text messages, detractors, the outbox and retention."""

from __future__ import annotations

from datetime import timedelta

import pytest
from opora_feedback.adapters.tokens import SignedSurveyTokens
from opora_feedback.domain import service
from opora_feedback.domain.model import (
    Answer,
    EditWindowClosedError,
    InvalidAnswerError,
    SurveyPolicy,
)
from opora_feedback.domain.rules import parse_rules
from opora_shared.contracts.common import Channel, RequestType, TicketStatus
from opora_shared.contracts.feedback import (
    DetractorFoundV1,
    SurveyAnswerReceivedV1,
    SurveyResponseRecordedV1,
    SurveyType,
)
from opora_shared.contracts.tickets import TicketStatusChangedV1, TicketUpdatedV1
from opora_shared.errors import PermanentError

from ..conftest import NOW, RULES, SECRET


@pytest.fixture
def issue(adapters, tokens, publisher, policy, clock):
    async def run(event):
        return await service.issue_survey(
            event,
            facts=adapters.facts,
            surveys=adapters.surveys,
            tokens=tokens,
            publisher=publisher,
            policy=policy,
            clock=clock,
        )

    return run


@pytest.fixture
def answer(tokens, answering, clock):
    async def run(token, *answers):
        return await service.answer_survey(
            token, list(answers), tokens=tokens, answering=answering, now=clock()
        )

    return run


@pytest.fixture
async def token(adapters, issue, events):
    await service.remember_opened(events.ticket_opened(), adapters.facts)
    await service.remember_assignment(events.ticket_assigned(agent_id="anna"), adapters.facts)
    issued = await issue(events.status_changed())
    return issued.url.rsplit("/s/", 1)[1]


def csat(score, comment=None, reasons=()):
    return Answer(SurveyType.CSAT, score, comment, tuple(reasons))


def published(publisher, kind):
    return [e for e in publisher.published if isinstance(e, kind)]


async def test_solving_a_ticket_issues_the_questions_its_rule_asks(
    adapters, issue, publisher, events
):
    await service.remember_opened(
        events.ticket_opened(request_type=RequestType.LOYALTY), adapters.facts
    )

    issued = await issue(events.status_changed())

    assert publisher.published == [issued]
    assert issued.questions == (SurveyType.NPS, SurveyType.CSAT)
    assert issued.survey_type is SurveyType.NPS
    assert [link.score for link in issued.rating_links] == list(range(11))


async def test_the_invitation_is_due_after_the_configured_delay_and_its_link_outlives_it(
    adapters, publisher, events, clock
):
    rules = parse_rules(RULES.replace("delay_hours: 0", "delay_hours: 24"))
    policy = SurveyPolicy(public_base_url="https://opora.test/", rules=rules)
    tokens = SignedSurveyTokens(SECRET, ttl=policy.token_max_age, clock=clock)
    await service.remember_opened(events.ticket_opened(), adapters.facts)

    issued = await service.issue_survey(
        events.status_changed(),
        facts=adapters.facts,
        surveys=adapters.surveys,
        tokens=tokens,
        publisher=publisher,
        policy=policy,
        clock=clock,
    )
    clock.advance(timedelta(hours=24, days=28) - timedelta(minutes=1))

    assert issued.send_after == NOW + timedelta(hours=24)
    assert issued.expires_at == issued.send_after + timedelta(days=28)
    assert tokens.verify(issued.url.rsplit("/s/", 1)[1]) == issued.ticket_id


async def test_rating_links_open_the_page_with_their_score(token, adapters):
    issued = adapters.surveys.surveys["t-1"].issued

    assert issued.rating_links[0].url == f"{issued.url}?score=1"
    assert len(issued.rating_links) == 5


async def test_a_request_type_without_questions_gets_no_survey(adapters, issue, publisher, events):
    await service.remember_opened(
        events.ticket_opened(request_type=RequestType.FEEDBACK), adapters.facts
    )

    assert await issue(events.status_changed()) is None
    assert publisher.published == []


async def test_the_survey_is_credited_to_whoever_held_the_ticket_when_it_was_issued(
    token, adapters, answer, events, publisher
):
    await service.remember_assignment(
        events.ticket_assigned(
            agent_id="boris", at=events.ticket_assigned().occurred_at + timedelta(days=1)
        ),
        adapters.facts,
    )

    await answer(token, csat(5))

    (recorded,) = published(publisher, SurveyResponseRecordedV1)
    assert (recorded.agent_id, recorded.team) == ("anna", "appliances")


async def test_a_solve_read_before_the_assignment_credits_the_agent_who_solved_it(
    adapters, issue, events
):
    await service.remember_opened(events.ticket_opened(), adapters.facts)
    solve = TicketStatusChangedV1(ticket_id="t-1", status=TicketStatus.SOLVED, agent_id="vera")

    issued = await issue(solve)

    assert (issued.agent_id, issued.team) == ("vera", None)


async def test_a_status_other_than_solved_issues_nothing(adapters, issue, publisher, events):
    await service.remember_opened(events.ticket_opened(), adapters.facts)

    assert await issue(events.status_changed(status=TicketStatus.PENDING)) is None
    assert publisher.published == []


async def test_solving_again_republishes_the_same_invitation(
    adapters, issue, publisher, events, clock
):
    await service.remember_opened(events.ticket_opened(), adapters.facts)
    first = await issue(events.status_changed())
    clock.advance(timedelta(days=2))

    again = await issue(events.status_changed())

    assert again == first
    assert publisher.published == [first, first]


async def test_a_solve_of_a_ticket_never_seen_opened_is_permanent(issue, events):
    with pytest.raises(PermanentError):
        await issue(events.status_changed(ticket_id="unknown"))


async def test_a_request_type_changed_after_opening_decides_the_questions(adapters, issue, events):
    await service.remember_opened(
        events.ticket_opened(request_type=RequestType.OTHER), adapters.facts
    )
    await service.remember_updated(
        TicketUpdatedV1(ticket_id="t-1", request_type=RequestType.LOYALTY), adapters.facts
    )

    issued = await issue(events.status_changed())

    assert issued.questions == (SurveyType.NPS, SurveyType.CSAT)


async def test_an_answer_is_stored_and_announced_without_its_comment(
    token, answer, adapters, publisher
):
    (decision,) = await answer(token, csat(5, "Спасибо, мастер молодец"))

    assert decision.created
    assert adapters.responses.current["t-1:csat"].comment == "Спасибо, мастер молодец"
    (recorded,) = published(publisher, SurveyResponseRecordedV1)
    assert recorded.has_comment is True
    assert "молодец" not in recorded.model_dump_json()


async def test_answers_to_two_questions_are_two_responses(token, answer, adapters):
    await answer(token, csat(4), Answer(SurveyType.CES, 6))

    assert adapters.responses.current["t-1:csat"].score == 4
    assert adapters.responses.current["t-1:ces"].score == 6


async def test_a_question_the_survey_does_not_ask_is_refused_before_anything_is_stored(
    token, answer, adapters
):
    with pytest.raises(InvalidAnswerError) as refused:
        await answer(token, csat(4), Answer(SurveyType.NPS, 9))

    assert refused.value.field == "survey_type"
    assert adapters.responses.current == {}


async def test_a_double_submission_is_stored_once(token, answer, adapters, publisher):
    await answer(token, csat(4, "ok"))
    await answer(token, csat(4, "ok"))

    assert list(adapters.responses.revisions) == [("t-1:csat", 1)]
    recorded = published(publisher, SurveyResponseRecordedV1)
    assert recorded[0] == recorded[1]


async def test_an_edit_within_the_window_is_a_new_revision_replacing_the_score(
    token, answer, adapters, publisher, clock
):
    await answer(token, csat(2))
    clock.advance(timedelta(days=13))

    (edit,) = await answer(token, csat(5))

    assert (edit.response.score, edit.response.revision) == (5, 2)
    latest = published(publisher, SurveyResponseRecordedV1)[-1]
    assert (latest.score, latest.previous_score) == (5, 2)


async def test_an_edit_after_the_window_is_refused(token, answer, clock):
    await answer(token, csat(2))
    clock.advance(timedelta(days=15))

    with pytest.raises(EditWindowClosedError):
        await answer(token, csat(5))


async def test_a_low_score_announces_a_detractor(token, answer, publisher):
    await answer(token, csat(1, reasons=["slow"]))

    (detractor,) = published(publisher, DetractorFoundV1)
    assert (detractor.score, detractor.reasons) == (1, ("slow",))


async def test_a_detractor_is_announced_once_per_invitation_whatever_follows(
    token, answer, publisher, clock
):
    await answer(token, csat(2))
    clock.advance(timedelta(hours=1))
    await answer(token, csat(1))
    await answer(token, csat(1))

    detractors = published(publisher, DetractorFoundV1)
    assert {d.event_id for d in detractors} == {detractors[0].event_id}
    assert {d.score for d in detractors} == {2}


async def test_an_answer_left_in_the_outbox_by_a_crash_is_published_by_the_sweep(
    token, answering, adapters, publisher, clock
):
    survey = adapters.surveys.surveys["t-1"]
    publisher.failures = 1
    with pytest.raises(ConnectionError):
        await service.record(survey, csat(3), answering=answering, now=clock())
    clock.advance(service.OUTBOX_GRACE + timedelta(seconds=1))

    swept = await service.sweep_outbox(answering, now=clock())

    assert swept == 1
    assert adapters.responses.current["t-1:csat"].score == 3
    assert published(publisher, SurveyResponseRecordedV1)[0].score == 3
    assert adapters.outbox.tasks == {}


async def test_comment_text_is_removed_after_the_retention_and_the_score_kept(
    token, answer, adapters, clock, policy
):
    await answer(token, csat(4, "Позвоните мне: +7 900 000-00-00"))
    clock.advance(policy.comment_retention + timedelta(minutes=1))

    removed = await service.expire_comments(
        adapters.responses, adapters.comment_expiry, now=clock()
    )

    assert removed == 1
    kept = adapters.responses.current["t-1:csat"]
    assert (kept.score, kept.comment) == (4, None)
    assert adapters.responses.revisions[("t-1:csat", 1)].comment is None


async def test_comments_younger_than_the_retention_are_kept(token, answer, adapters, clock):
    await answer(token, csat(4, "Всё хорошо"))
    clock.advance(timedelta(days=30))

    await service.expire_comments(adapters.responses, adapters.comment_expiry, now=clock())

    assert adapters.responses.current["t-1:csat"].comment == "Всё хорошо"


# --- answers by text message and IVR ----------------------------------------------------------


async def test_a_digit_replied_by_text_message_answers_the_first_question(
    token, answering, adapters, clock
):
    event = SurveyAnswerReceivedV1(
        ticket_id="t-1",
        channel=Channel.SMS,
        source_message_id="sms-1",
        received_at=clock() + timedelta(minutes=5),
        score=2,
        comment="долго ждал",
    )

    decision = await service.record_channel_answer(event, answering=answering)

    assert decision is not None
    stored = adapters.responses.current["t-1:csat"]
    assert (stored.score, stored.comment, stored.via) == (2, "долго ждал", "sms")


async def test_a_redelivered_text_message_is_recorded_once_even_after_a_later_one(
    token, answering, adapters, clock
):
    def reply(message, score, minutes):
        return SurveyAnswerReceivedV1(
            ticket_id="t-1",
            channel=Channel.SMS,
            source_message_id=message,
            received_at=clock() + timedelta(minutes=minutes),
            score=score,
        )

    await service.record_channel_answer(reply("sms-1", 2, 5), answering=answering)
    await service.record_channel_answer(reply("sms-2", 4, 6), answering=answering)
    await service.record_channel_answer(reply("sms-1", 2, 5), answering=answering)

    stored = adapters.responses.current["t-1:csat"]
    assert (stored.score, stored.revision) == (4, 2)


async def test_an_ivr_keypad_result_answers_the_question_it_names(
    token, answering, adapters, clock
):
    event = SurveyAnswerReceivedV1(
        ticket_id="t-1",
        channel=Channel.PHONE,
        source_message_id="call-9:ces",
        received_at=clock() + timedelta(minutes=1),
        score=7,
        survey_type=SurveyType.CES,
    )

    await service.record_channel_answer(event, answering=answering)

    assert adapters.responses.current["t-1:ces"].via == "ivr"


async def test_a_digit_off_the_scale_is_a_permanent_failure_naming_the_field(
    token, answering, clock
):
    event = SurveyAnswerReceivedV1(
        ticket_id="t-1",
        channel=Channel.SMS,
        source_message_id="sms-1",
        received_at=clock(),
        score=9,
    )

    with pytest.raises(PermanentError, match="score"):
        await service.record_channel_answer(event, answering=answering)


async def test_an_answer_for_a_ticket_without_a_survey_is_a_permanent_failure(answering, clock):
    event = SurveyAnswerReceivedV1(
        ticket_id="no-such-ticket",
        channel=Channel.SMS,
        source_message_id="sms-1",
        received_at=clock(),
        score=5,
    )

    with pytest.raises(PermanentError):
        await service.record_channel_answer(event, answering=answering)


async def test_an_answer_after_the_link_expired_is_not_recorded(
    token, answering, adapters, clock, policy
):
    event = SurveyAnswerReceivedV1(
        ticket_id="t-1",
        channel=Channel.SMS,
        source_message_id="sms-1",
        received_at=clock() + policy.token_ttl + timedelta(minutes=1),
        score=5,
    )

    assert await service.record_channel_answer(event, answering=answering) is None
    assert adapters.responses.current == {}
