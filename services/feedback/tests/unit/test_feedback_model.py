"""Survey rules: answers, edits within the window, detractors and CSAT maths."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from opora_feedback.domain.model import (
    CsatReport,
    EditWindowClosedError,
    InvalidAnswerError,
    TicketFacts,
    decide_response,
    issue_survey,
    response_events,
    survey_id_for,
)
from opora_shared.contracts.feedback import DetractorFoundV1, SurveyResponseRecordedV1

NOW = datetime(2026, 2, 28, 9, 30, tzinfo=UTC)


@pytest.fixture
def survey(policy, events):
    opened = events.ticket_opened()
    facts = TicketFacts(
        ticket_id="t-1",
        number=opened.number,
        channel=opened.channel,
        request_type=opened.request_type,
        customer=opened.customer,
        language="ru",
        agent_id="anna",
        team="appliances",
    )
    return issue_survey(facts, token="tok", policy=policy, now=NOW)


def answer(survey, existing, policy, *, score=5, comment=None, now=NOW):
    return decide_response(survey, existing, score=score, comment=comment, now=now, policy=policy)


def test_there_is_one_csat_survey_id_per_ticket() -> None:
    assert survey_id_for("t-1") == "t-1:csat"


def test_an_issued_survey_records_the_attribution_and_signed_link(survey) -> None:
    issued = survey.issued

    assert (issued.agent_id, issued.team) == ("anna", "appliances")
    assert issued.url == "https://opora.test/s/tok"
    assert issued.expires_at == NOW + timedelta(days=28)
    assert issued.send_after == NOW


def test_issuing_twice_gives_the_same_event_id(survey, policy, events) -> None:
    facts = TicketFacts("t-1", channel=survey.issued.channel, customer=survey.issued.customer)

    again = issue_survey(facts, token="other", policy=policy, now=NOW + timedelta(hours=1))

    assert again.issued.event_id == survey.issued.event_id


def test_a_first_answer_is_revision_one(survey, policy) -> None:
    decision = answer(survey, None, policy, score=4)

    assert decision.created
    assert decision.response.revision == 1


@pytest.mark.parametrize("score", [0, 6])
def test_a_csat_score_is_from_one_to_five(survey, policy, score) -> None:
    with pytest.raises(InvalidAnswerError):
        answer(survey, None, policy, score=score)


def test_an_edit_within_the_window_bumps_the_revision(survey, policy) -> None:
    first = answer(survey, None, policy, score=2).response

    edited = answer(survey, first, policy, score=4, now=NOW + timedelta(days=13))

    assert edited.changed
    assert (edited.response.score, edited.response.revision) == (4, 2)
    assert edited.response.first_recorded_at == NOW


def test_an_edit_after_the_window_is_refused(survey, policy) -> None:
    first = answer(survey, None, policy, score=2).response

    with pytest.raises(EditWindowClosedError):
        answer(survey, first, policy, score=4, now=NOW + timedelta(days=14, seconds=1))


def test_the_same_answer_again_is_a_repeat_not_an_edit(survey, policy) -> None:
    first = answer(survey, None, policy, score=3, comment="ok").response

    repeat = answer(survey, first, policy, score=3, comment=" ok ", now=NOW + timedelta(days=20))

    assert not repeat.changed
    assert repeat.response == first


def test_a_low_csat_is_a_detractor(survey, policy) -> None:
    response = answer(survey, None, policy, score=2).response

    kinds = [type(e) for e in response_events(survey, response)]

    assert kinds == [SurveyResponseRecordedV1, DetractorFoundV1]


def test_a_middling_csat_is_not_a_detractor(survey, policy) -> None:
    response = answer(survey, None, policy, score=3).response

    assert [type(e) for e in response_events(survey, response)] == [SurveyResponseRecordedV1]


def test_the_response_event_tells_of_a_comment_without_its_text(survey, policy) -> None:
    response = answer(survey, None, policy, score=5, comment="Мастер — молодец").response

    (recorded,) = response_events(survey, response)

    assert recorded.has_comment is True
    assert "молодец" not in recorded.model_dump_json()


def test_response_events_keep_the_attribution_of_the_issue(survey, policy) -> None:
    response = answer(survey, None, policy, score=1).response

    for event in response_events(survey, response):
        assert (event.agent_id, event.team) == ("anna", "appliances")


def test_csat_is_the_share_of_satisfied_answers() -> None:
    assert CsatReport(responses=8, satisfied=6).csat_percent == 75.0


def test_csat_is_rounded_to_one_decimal() -> None:
    assert CsatReport(responses=3, satisfied=2).csat_percent == 66.7


def test_csat_without_answers_is_undefined() -> None:
    assert CsatReport(responses=0, satisfied=0).csat_percent is None
