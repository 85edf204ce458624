"""Reading a survey score out of a text reply and out of an IVR keypad result."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from opora_intake.domain.surveys import (
    Invitation,
    KeypadAnswer,
    Reply,
    answered_by_reply,
    is_survey_selection,
    read_keypad,
    read_reply,
)
from opora_shared.contracts.common import Channel
from opora_shared.contracts.feedback import SurveyType

from .messages import AT

FULL_WIDTH = {str(d): chr(0xFF10 + d) for d in range(10)}
COMMENTS = (
    "спасибо",
    "всё отлично",
    "slow",
    "мастер опоздал на 3 часа",
    "thanks a lot!",
    "Не решили проблему",
    "great service, thank you",
)
SEPARATORS = (" ", " - ", " — ", ": ", ", ", ". ", "! ", "\n")


def keycap(score: int) -> str:
    return "\U0001f51f" if score == 10 else f"{score}\ufe0f\u20e3"


def full_width(score: int) -> str:
    return "".join(FULL_WIDTH[d] for d in str(score))


scores = st.integers(min_value=0, max_value=10)
writings = st.sampled_from((str, keycap, full_width))


@given(scores, writings, st.sampled_from(("", " ", "!", ".", " \n")))
def test_a_bare_score_is_read_however_it_is_written(score, writing, tail) -> None:
    assert read_reply(f"{writing(score)}{tail}") == Reply(score)


@given(scores, st.sampled_from(SEPARATORS), st.sampled_from(COMMENTS))
def test_words_after_the_score_are_its_comment(score, separator, comment) -> None:
    assert read_reply(f"{score}{separator}{comment}") == Reply(score, comment)


def starts_with_a_digit(text: str) -> bool:
    first = text.lstrip()[:1]
    return first.isdecimal() or first == "\U0001f51f"


@given(st.text().filter(lambda text: not starts_with_a_digit(text)))
def test_a_text_that_does_not_start_with_a_digit_is_no_answer(text) -> None:
    assert read_reply(text) is None


@given(st.integers(min_value=100, max_value=10**9))
def test_a_number_of_three_digits_or_more_is_no_answer(number) -> None:
    assert read_reply(str(number)) is None


@pytest.mark.parametrize(
    "text",
    [
        "3 days and still broken",
        "2 дня жду мастера",
        "5th of March",
        "10:30 подойдёт?",
        "1-2 недели",
        "5.5",
        "2,5 тысячи",
        "5% скидки?",
        "5-го числа",
        "8 916 123-45-67",
        "2 of them broke",
        "1 вопрос: когда привезут?",
        "3 раза звонил",
        "10 am tomorrow",
    ],
)
def test_quantities_times_dates_and_numbers_are_no_answer(text) -> None:
    assert read_reply(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("4/5", Reply(4, out_of=5)),
        ("4 из 5", Reply(4, out_of=5)),
        ("9 out of 10", Reply(9, out_of=10)),
        ("5 звёзд", Reply(5)),
        ("5 баллов, спасибо", Reply(5, "спасибо")),
    ],
)
def test_a_score_out_of_a_scale_or_in_stars_is_read(text, expected) -> None:
    assert read_reply(text) == expected


def test_a_comment_longer_than_the_contract_allows_is_no_answer() -> None:
    assert read_reply("2 " + "долго " * 400) is None


def test_keypad_results_are_read_one_per_question_in_order() -> None:
    selections = ("2", "survey:csat:4", "SURVEY:CES:6 ", "survey:csat:5")

    assert read_keypad(selections) == (
        KeypadAnswer(SurveyType.CSAT, 5),
        KeypadAnswer(SurveyType.CES, 6),
    )


@pytest.mark.parametrize("selection", ["survey:csat", "survey:stars:4", "survey:csat:x", "1-2"])
def test_a_malformed_or_menu_selection_is_no_keypad_result(selection) -> None:
    assert read_keypad((selection,)) == ()


def test_survey_selections_are_told_from_menu_steps() -> None:
    assert is_survey_selection(" Survey:nps:9")
    assert not is_survey_selection("2-7")


def nps_invitation() -> Invitation:
    return Invitation(
        ticket_id="t-1",
        survey_id="survey-t-1",
        customer_id="c-1",
        channel=Channel.MESSENGER,
        survey_type=SurveyType.NPS,
        questions=(SurveyType.NPS,),
        issued_at=AT,
        send_after=AT,
        expires_at=AT + timedelta(days=28),
    )


@pytest.mark.parametrize(("text", "answers"), [("9/10", True), ("4/5", False), ("10", True)])
def test_a_stated_top_of_the_scale_must_be_the_questions(text, answers) -> None:
    reply = read_reply(text)
    assert reply is not None

    chosen = answered_by_reply(reply, [nps_invitation()], AT + timedelta(hours=1))

    assert (chosen is not None) is answers
