"""The survey pages' words in Russian and English, and how a page picks its language."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from opora_shared.contracts.feedback import SurveyType

from opora_feedback.domain.metrics import SCALES

LANGUAGES = ("ru", "en")

UI: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "How did we do?",
        "hello": "Hello",
        "intro": "Your request {number} has been resolved. Your answers help us do better.",
        "intro_plain": "Your request has been resolved. Your answers help us do better.",
        "chosen": "Your rating: {score} — {label}.",
        "confirm": "Send my rating",
        "confirm_hint": "You can add a comment or answer the other questions below first.",
        "send": "Send",
        "optional": "optional",
        "reasons": "What went wrong?",
        "current": "You answered {score}. You can change it until {until}.",
        "final": "You answered {score}. The answer can no longer be changed.",
        "thanks": "Thank you for your answer!",
        "thanks_edit": "You can change it with the same link until {until}.",
        "change": "Change my answer",
        "invalid": "This survey link is not valid. Please check that you opened the whole "
        "link from the message.",
        "expired": "This survey link has expired. Thank you for your time all the same.",
        "closed": "Your answer can no longer be changed. Thank you!",
        "conflict": "Your answer was changed elsewhere at the same moment. Please try again.",
        "errors_title": "Please check your answers",
        "choose": "Choose a score for at least one question.",
        "comment_without_score": "Choose a score to send your comment with it.",
        "error_title": "Survey",
        "your_answers": "Your answers",
        "no_comment": "no comment",
    },
    "ru": {
        "title": "Оцените нашу работу",
        "hello": "Добрый день",
        "intro": "Ваше обращение {number} решено. Ваши ответы помогут нам работать лучше.",
        "intro_plain": "Ваше обращение решено. Ваши ответы помогут нам работать лучше.",
        "chosen": "Ваша оценка: {score} — {label}.",
        "confirm": "Отправить оценку",
        "confirm_hint": "Перед отправкой можно добавить комментарий или ответить на вопросы ниже.",
        "send": "Отправить",
        "optional": "необязательно",
        "reasons": "Что пошло не так?",
        "current": "Ваш ответ: {score}. Его можно изменить до {until}.",
        "final": "Ваш ответ: {score}. Изменить его уже нельзя.",
        "thanks": "Спасибо за ответ!",
        "thanks_edit": "Изменить его можно по той же ссылке до {until}.",
        "change": "Изменить ответ",
        "invalid": "Эта ссылка на опрос недействительна. Проверьте, пожалуйста, что вы открыли "
        "ссылку из сообщения целиком.",
        "expired": "Срок действия этой ссылки истёк. Всё равно спасибо, что уделили нам время.",
        "closed": "Ответ больше нельзя изменить. Спасибо!",
        "conflict": "Ваш ответ одновременно изменили в другом окне. Попробуйте ещё раз.",
        "errors_title": "Пожалуйста, проверьте ответы",
        "choose": "Выберите оценку хотя бы в одном вопросе.",
        "comment_without_score": "Выберите оценку, чтобы отправить комментарий вместе с ней.",
        "error_title": "Опрос",
        "your_answers": "Ваши ответы",
        "no_comment": "без комментария",
    },
}


@dataclass(frozen=True)
class QuestionText:
    question: str
    hint: str
    labels: Mapping[int, str]  # every score's meaning; the ends at least
    comment: str | None  # the free-text follow-up's label; None: none asked


QUESTIONS: Mapping[str, Mapping[SurveyType, QuestionText]] = {
    "en": {
        SurveyType.CSAT: QuestionText(
            "How satisfied are you with how we handled your request?",
            "From 1, very dissatisfied, to 5, very satisfied.",
            {
                1: "very dissatisfied",
                2: "dissatisfied",
                3: "neither satisfied nor dissatisfied",
                4: "satisfied",
                5: "very satisfied",
            },
            "Anything you would like to add?",
        ),
        SurveyType.NPS: QuestionText(
            "How likely are you to recommend us to a friend or colleague?",
            "From 0, not at all likely, to 10, extremely likely.",
            {0: "not at all likely", 10: "extremely likely"},
            "What is the main reason for your score?",
        ),
        SurveyType.CES: QuestionText(
            "How much do you agree: “The company made it easy to handle my issue”?",
            "From 1, strongly disagree, to 7, strongly agree.",
            {
                1: "strongly disagree",
                2: "disagree",
                3: "somewhat disagree",
                4: "neither agree nor disagree",
                5: "somewhat agree",
                6: "agree",
                7: "strongly agree",
            },
            None,
        ),
    },
    "ru": {
        SurveyType.CSAT: QuestionText(
            "Насколько вы довольны тем, как мы решили ваш вопрос?",
            "От 1 — совсем не доволен до 5 — полностью доволен.",
            {
                1: "совсем не доволен",
                2: "скорее не доволен",
                3: "ни то ни другое",
                4: "доволен",
                5: "полностью доволен",
            },
            "Хотите что-нибудь добавить?",
        ),
        SurveyType.NPS: QuestionText(
            "Насколько вероятно, что вы порекомендуете нас друзьям или коллегам?",
            "От 0 — точно не порекомендую до 10 — обязательно порекомендую.",
            {0: "точно не порекомендую", 10: "обязательно порекомендую"},
            "Почему вы поставили такую оценку?",
        ),
        SurveyType.CES: QuestionText(
            "Насколько вы согласны с утверждением: «Компания помогла мне легко решить мой вопрос»?",
            "От 1 — полностью не согласен до 7 — полностью согласен.",
            {
                1: "полностью не согласен",
                2: "не согласен",
                3: "скорее не согласен",
                4: "ни то ни другое",
                5: "скорее согласен",
                6: "согласен",
                7: "полностью согласен",
            },
            None,
        ),
    },
}


def page_language(language: str | None) -> str:
    base = (language or "").split("-")[0].strip().lower()
    return base if base in LANGUAGES else "en"


def browser_language(accept_language: str) -> str:
    """The first of the browser's languages that we speak; English otherwise."""
    for part in accept_language.split(","):
        tag = part.split(";")[0].strip().lower().split("-")[0]
        if tag in LANGUAGES:
            return tag
    return "en"


def score_label(language: str, survey_type: SurveyType, score: int) -> str:
    """A score's meaning, or the score itself where the scale names only its ends."""
    return QUESTIONS[language][survey_type].labels.get(score, str(score))


def scores(survey_type: SurveyType) -> list[int]:
    low, high = SCALES[survey_type]
    return list(range(low, high + 1))
