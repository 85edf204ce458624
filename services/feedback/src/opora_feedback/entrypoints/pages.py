"""The survey pages the customer's link opens: server-rendered HTML that needs no JavaScript.

``GET /s/{token}`` shows five rating buttons in a plain ``<form method="post">`` (and the
answer so far, while it can be changed); ``POST /s/{token}`` records the choice and thanks.
Pages speak the survey's language (Russian or English); pages about a link that cannot be
read follow the browser's ``Accept-Language``. Jinja2 autoescapes everything.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from opora_feedback.domain.model import (
    SCALES,
    EditWindowClosedError,
    ExpiredTokenError,
    InvalidAnswerError,
    SurveyError,
    SurveyResponse,
)
from opora_feedback.domain.service import OpenedSurvey
from opora_feedback.entrypoints.http import SurveyDesk, status_of

TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "How did we do?",
        "hello": "Hello",
        "request": "Your request",
        "question": "How satisfied are you with how we handled your request?",
        "scale": "1 — very dissatisfied, 5 — very satisfied",
        "comment": "Anything you would like to add? (optional)",
        "rate": "Rate",
        "current": "Your rating: {score}. You can change it until {until}.",
        "final": "Your rating: {score}. Thank you!",
        "thanks": "Thank you for your answer!",
        "thanks_edit": "You can change it with the same link until {until}.",
        "invalid": "This survey link is not valid. Please check that you opened the whole "
        "link from the e-mail.",
        "expired": "This survey link has expired. Thank you for your time all the same.",
        "closed": "Your answer can no longer be changed. Thank you!",
        "bad_answer": "Please choose a rating from 1 to 5.",
        "conflict": "Your answer was changed elsewhere at the same moment. Please try again.",
        "error_title": "Survey",
        "1": "very dissatisfied",
        "2": "dissatisfied",
        "3": "neither satisfied nor dissatisfied",
        "4": "satisfied",
        "5": "very satisfied",
    },
    "ru": {
        "title": "Оцените нашу работу",
        "hello": "Добрый день",
        "request": "Ваше обращение",
        "question": "Насколько вы довольны тем, как мы решили ваш вопрос?",
        "scale": "1 — совсем не доволен, 5 — полностью доволен",
        "comment": "Хотите что-нибудь добавить? (необязательно)",
        "rate": "Оценка",
        "current": "Ваша оценка: {score}. Её можно изменить до {until}.",
        "final": "Ваша оценка: {score}. Спасибо!",
        "thanks": "Спасибо за ответ!",
        "thanks_edit": "Изменить его можно по той же ссылке до {until}.",
        "invalid": "Эта ссылка на опрос недействительна. Проверьте, пожалуйста, что вы открыли "
        "ссылку из письма целиком.",
        "expired": "Срок действия этой ссылки истёк. Всё равно спасибо, что уделили нам время.",
        "closed": "Ответ больше нельзя изменить. Спасибо!",
        "bad_answer": "Пожалуйста, выберите оценку от 1 до 5.",
        "conflict": "Ваш ответ одновременно изменили в другом окне. Попробуйте ещё раз.",
        "error_title": "Опрос",
        "1": "совсем не доволен",
        "2": "скорее не доволен",
        "3": "ни то ни другое",
        "4": "доволен",
        "5": "полностью доволен",
    },
}


def page_language(language: str | None) -> str:
    base = (language or "").split("-")[0].strip().lower()
    return base if base in TEXTS else "en"


def browser_language(request: Request) -> str:
    """The first of the browser's languages that we speak; English otherwise."""
    for part in request.headers.get("accept-language", "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.split("-")[0] in TEXTS:
            return tag.split("-")[0]
    return "en"


def build_router(desk: SurveyDesk) -> APIRouter:
    router = APIRouter(tags=["survey pages"], include_in_schema=False)
    env = Environment(
        loader=PackageLoader("opora_feedback", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )

    def render(template: str, language: str, status_code: int, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(lang=language, t=TEXTS[language], **context)
        return HTMLResponse(html, status_code=status_code)

    def error_page(error: SurveyError, language: str) -> HTMLResponse:
        key = {
            ExpiredTokenError: "expired",
            EditWindowClosedError: "closed",
            InvalidAnswerError: "bad_answer",
        }.get(type(error), "conflict" if status_of(error) == 409 else "invalid")
        return render("error.html", language, status_of(error), message=TEXTS[language][key])

    def survey_page(
        opened: OpenedSurvey, language: str, status_code: int, error: str | None = None
    ) -> HTMLResponse:
        low, high = SCALES[opened.survey.survey_type]
        answer = opened.response
        customer = opened.survey.issued.customer
        return render(
            "survey.html",
            language,
            status_code,
            name=(customer.name or "").split(" ")[0],
            number=opened.survey.number,
            scores=list(range(low, high + 1)),
            answer=answer,
            can_edit=answer is None or desk.clock() <= _until(answer, desk),
            until=_date(_until(answer, desk)) if answer else "",
            error=error,
        )

    async def language_for(error: SurveyError, request: Request) -> str:
        """The survey's language when the link still names it (expired), else the browser's."""
        if isinstance(error, ExpiredTokenError) and error.survey_id:
            survey = await desk.surveys.get(error.survey_id)
            if survey is not None:
                return page_language(survey.language)
        return browser_language(request)

    @router.get("/s/{token}", response_class=HTMLResponse)
    async def survey(token: str, request: Request) -> HTMLResponse:
        try:
            opened = await desk.open(token)
        except SurveyError as exc:
            return error_page(exc, await language_for(exc, request))
        return survey_page(opened, page_language(opened.survey.language), status.HTTP_200_OK)

    @router.post("/s/{token}", response_class=HTMLResponse)
    async def answer(token: str, request: Request) -> HTMLResponse:
        try:
            opened = await desk.open(token)
        except SurveyError as exc:
            return error_page(exc, await language_for(exc, request))
        language = page_language(opened.survey.language)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        score_text = (form.get("score") or [""])[0].strip()
        comment = (form.get("comment") or [""])[0]
        try:
            if not score_text.isdigit():
                raise InvalidAnswerError("no score chosen")
            decision = await desk.answer(token, int(score_text), comment)
        except InvalidAnswerError:
            return survey_page(
                opened,
                language,
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                error=TEXTS[language]["bad_answer"],
            )
        except SurveyError as exc:
            return error_page(exc, language)
        can_edit = desk.clock() <= _until(decision.response, desk)
        return render(
            "thanks.html",
            language,
            status.HTTP_200_OK,
            until=_date(_until(decision.response, desk)) if can_edit else "",
        )

    return router


def _until(answer: SurveyResponse, desk: SurveyDesk) -> datetime:
    return answer.editable_until(desk.policy)


def _date(moment: datetime) -> str:
    return moment.date().isoformat()
