"""Survey maths: CSAT %, NPS, CES, response rates, and what an answer or an edit adds."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opora_feedback.domain.metrics import (
    SCALES,
    Tally,
    answer_tally,
    is_detractor,
    issued_tally,
    revision_tally,
    total,
)
from opora_shared.contracts.feedback import SurveyType


def answers(survey_type: SurveyType, *scores: int) -> Tally:
    return total(answer_tally(survey_type, s) for s in scores)


def test_csat_is_the_share_of_fours_and_fives() -> None:
    assert answers(SurveyType.CSAT, 5, 4, 4, 3, 2, 5, 1, 5).csat_percent == 62.5


def test_csat_is_rounded_to_one_decimal() -> None:
    assert answers(SurveyType.CSAT, 5, 4, 1).csat_percent == 66.7


def test_nps_is_promoters_minus_detractors() -> None:
    tally = answers(SurveyType.NPS, 10, 9, 9, 8, 7, 6, 0, 10, 3, 9)

    assert (tally.nps_promoters, tally.nps_passives, tally.nps_detractors) == (5, 2, 3)
    assert tally.nps == 20.0


@pytest.mark.parametrize(("scores", "nps"), [((10, 9), 100.0), ((0, 6), -100.0), ((7, 8), 0.0)])
def test_nps_runs_from_minus_100_to_100(scores, nps) -> None:
    assert answers(SurveyType.NPS, *scores).nps == nps


def test_ces_is_the_average_agreement() -> None:
    assert answers(SurveyType.CES, 7, 6, 5, 2).ces_average == 5.0


def test_no_answers_means_no_figures() -> None:
    empty = Tally()

    assert (empty.csat_percent, empty.nps, empty.ces_average) == (None, None, None)
    assert empty.response_rate(SurveyType.CSAT) is None


def test_the_response_rate_is_answers_over_surveys_issued() -> None:
    issued = total(issued_tally([SurveyType.CSAT, SurveyType.CES]) for _ in range(4))
    tally = issued + answers(SurveyType.CSAT, 5, 3, 4)

    assert tally.response_rate(SurveyType.CSAT) == 75.0
    assert tally.response_rate(SurveyType.CES) == 0.0
    assert tally.response_rate(SurveyType.NPS) is None


@pytest.mark.parametrize(
    ("survey_type", "score", "detractor"),
    [
        (SurveyType.NPS, 6, True),
        (SurveyType.NPS, 7, False),
        (SurveyType.CSAT, 2, True),
        (SurveyType.CSAT, 3, False),
        (SurveyType.CES, 1, False),
    ],
)
def test_who_is_a_detractor(survey_type, score, detractor) -> None:
    assert is_detractor(survey_type, score) is detractor


def test_an_edit_replaces_the_old_score_with_the_new() -> None:
    first = answer_tally(SurveyType.CSAT, 2)

    edited = first + revision_tally(SurveyType.CSAT, 5, previous_score=2)

    assert edited == answer_tally(SurveyType.CSAT, 5)


def test_a_tally_survives_packing() -> None:
    tally = answers(SurveyType.NPS, 10, 3) + issued_tally([SurveyType.NPS])

    assert Tally.unpacked(tally.packed()) == tally


def test_a_row_written_before_a_counter_was_added_reads_it_as_zero() -> None:
    assert Tally.unpacked([1, 1]) == Tally(csat_issued=1, csat_responses=1)


@st.composite
def edits(draw: st.DrawFn) -> tuple[SurveyType, list[int]]:
    survey_type = draw(st.sampled_from(list(SurveyType)))
    low, high = SCALES[survey_type]
    return survey_type, draw(st.lists(st.integers(low, high), min_size=1, max_size=8))


@given(edits())
def test_the_revisions_of_an_answer_add_up_to_its_last_score(history) -> None:
    survey_type, scores = history
    previous = [None, *scores[:-1]]

    summed = total(revision_tally(survey_type, s, p) for s, p in zip(scores, previous, strict=True))

    assert summed == answer_tally(survey_type, scores[-1])
