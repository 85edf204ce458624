"""Survey rules of the domain: invitations, answers, edits within the window, detractors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from opora_feedback.domain.model import (
    COMMENT_MAX_CHARS,
    Answer,
    EditWindowClosedError,
    InvalidAnswerError,
    TicketFacts,
    decide_response,
    detractor_event,
    issue_survey,
    response_event,
)
from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.feedback import SurveyType

from ..conftest import NOW


@pytest.fixture
def facts() -> TicketFacts:
    return TicketFacts(
        ticket_id="t-1",
        number="OP-000123",
        channel=Channel.EMAIL,
        request_type=RequestType.LOYALTY,
        customer=CustomerRef(customer_id="c-1", name="Иван"),
        language="ru",
        agent_id="anna",
        team="appliances",
    )


@pytest.fixture
def survey(facts, policy):
    return issue_survey(
        facts, (SurveyType.NPS, SurveyType.CSAT), token="tok", policy=policy, now=NOW
    )


def answer(survey, existing, policy, survey_type=SurveyType.CSAT, score=5, now=NOW, **extra):
    given = Answer(survey_type, score, **extra)
    return decide_response(survey, existing, given, now=now, policy=policy)


def test_an_invitation_records_the_attribution_and_the_signed_link(survey) -> None:
    issued = survey.issued

    assert (issued.agent_id, issued.team, issued.channel) == ("anna", "appliances", Channel.EMAIL)
    assert issued.url == "https://opora.test/s/tok"
    assert issued.expires_at == NOW + timedelta(days=28)
    assert issued.survey_id == "t-1:nps"


def test_issuing_again_gives_the_same_event_id(facts, survey, policy) -> None:
    again = issue_survey(facts, (SurveyType.CSAT,), token="other", policy=policy, now=NOW)

    assert again.issued.event_id == survey.issued.event_id


def test_a_first_answer_is_revision_one(survey, policy) -> None:
    decision = answer(survey, None, policy, score=4)

    assert decision.created
    assert (decision.response.revision, decision.response.response_id) == (1, "t-1:csat")


@pytest.mark.parametrize(
    ("survey_type", "score"), [(SurveyType.CSAT, 0), (SurveyType.CSAT, 6), (SurveyType.NPS, 11)]
)
def test_a_score_off_its_scale_is_refused(survey, policy, survey_type, score) -> None:
    with pytest.raises(InvalidAnswerError) as refused:
        answer(survey, None, policy, survey_type=survey_type, score=score)

    assert refused.value.field == "score"


def test_nps_runs_from_zero(survey, policy) -> None:
    assert answer(survey, None, policy, survey_type=SurveyType.NPS, score=0).response.score == 0


def test_a_comment_too_long_is_refused(survey, policy) -> None:
    with pytest.raises(InvalidAnswerError) as refused:
        answer(survey, None, policy, comment="x" * (COMMENT_MAX_CHARS + 1))

    assert refused.value.field == "comment"


def test_reasons_are_kept_on_a_low_csat(survey, policy) -> None:
    decision = answer(survey, None, policy, score=2, reasons=("slow", "slow", "not-solved"))

    assert decision.response.reasons == ("slow", "not-solved")


def test_reasons_are_dropped_on_a_high_csat(survey, policy) -> None:
    assert answer(survey, None, policy, score=5, reasons=("slow",)).response.reasons == ()


def test_an_unknown_reason_is_refused(survey, policy) -> None:
    with pytest.raises(InvalidAnswerError) as refused:
        answer(survey, None, policy, score=1, reasons=("rude",))

    assert refused.value.field == "reasons"


def test_an_edit_within_the_window_bumps_the_revision(survey, policy) -> None:
    first = answer(survey, None, policy, score=2).response

    edited = answer(survey, first, policy, score=4, now=NOW + timedelta(days=13))

    assert (edited.response.score, edited.response.revision) == (4, 2)
    assert edited.response.previous_score == 2
    assert edited.response.first_recorded_at == NOW


def test_an_edit_after_the_window_is_refused(survey, policy) -> None:
    first = answer(survey, None, policy, score=2).response

    with pytest.raises(EditWindowClosedError):
        answer(survey, first, policy, score=4, now=NOW + timedelta(days=14, seconds=1))


def test_the_same_answer_again_is_a_repeat_even_after_the_window(survey, policy) -> None:
    first = answer(survey, None, policy, score=3, comment="ok").response

    repeat = answer(survey, first, policy, score=3, comment=" ok ", now=NOW + timedelta(days=20))

    assert not repeat.changed
    assert repeat.response == first


def test_the_response_event_tells_of_a_comment_without_its_text(survey, policy) -> None:
    response = answer(survey, None, policy, comment="Мастер — молодец").response

    event = response_event(survey, response)

    assert event.has_comment is True
    assert "молодец" not in event.model_dump_json()
    assert event.issued_at == NOW


def test_a_detractor_is_an_nps_of_six_or_less(survey, policy) -> None:
    response = answer(survey, None, policy, survey_type=SurveyType.NPS, score=6).response

    detractor = detractor_event(survey, response)

    assert detractor is not None
    assert (detractor.survey_id, detractor.survey_type) == ("t-1:nps", SurveyType.NPS)


def test_a_passive_is_not_a_detractor(survey, policy) -> None:
    response = answer(survey, None, policy, survey_type=SurveyType.NPS, score=7).response

    assert detractor_event(survey, response) is None


def test_detractors_of_one_invitation_share_one_id(survey, policy) -> None:
    low_nps = answer(survey, None, policy, survey_type=SurveyType.NPS, score=2).response
    low_csat = answer(survey, None, policy, score=1).response

    first, second = detractor_event(survey, low_nps), detractor_event(survey, low_csat)

    assert first is not None
    assert second is not None
    assert first.event_id == second.event_id
    assert second.survey_id == "t-1:nps"
