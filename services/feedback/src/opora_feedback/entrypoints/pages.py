"""The pages people open: the survey a customer's link leads to, and the staff's reports page.

Server-rendered HTML (Jinja2, autoescaped), no JavaScript; labels, fieldsets and legends for
every question, native radio buttons and check boxes for the keyboard, focus outlines and text
contrast of at least 4.5:1; Russian or English by the survey's language (error pages about a
link that names no survey follow ``Accept-Language``).

**One-click rating.** An invitation's rating links carry the score (``/s/<token>?score=4``).
Opening one shows the page with that score chosen and a "Send my rating" button at the top:
the answer is recorded by the POST that button sends, not by the GET. A GET that records would
be Zendesk's true one click, but mail security scanners (Microsoft Defender Safe Links,
Mimecast, Proofpoint) fetch every link of a message before the customer sees it: each of the
five links would record a rating in turn, the last one fetched would win, and a detractor
alert could fire for a customer who never answered. Without JavaScript a page cannot send
itself, so the price of a safe GET is one more click, on a button already in view.

After the POST the browser is redirected to ``/s/<token>/thanks`` (POST/redirect/GET), so a
reload does not send the form again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, StrictUndefined
from opora_shared.contracts.common import Channel, RequestType
from opora_shared.contracts.feedback import SurveyType

from opora_feedback.domain import reports, service
from opora_feedback.domain.model import (
    COMMENT_MAX_CHARS,
    Answer,
    ConcurrentEditError,
    EditWindowClosedError,
    ExpiredTokenError,
    InvalidAnswerError,
    SurveyError,
    SurveyResponse,
)
from opora_feedback.entrypoints import texts
from opora_feedback.entrypoints.http import (
    SurveyDesk,
    hide_token,
    report_query,
    report_read,
    status_of,
)

REPORT_TEXTS: Mapping[str, Mapping[str, str]] = {
    "en": {
        "title": "Customer feedback",
        "from": "From",
        "to": "To",
        "group_by": "Group by",
        "by_none": "Total",
        "by_agent": "Agent",
        "by_team": "Team",
        "by_channel": "Channel",
        "by_request_type": "Request type",
        "by_day": "Day",
        "by_week": "Week",
        "by_month": "Month",
        "show": "Show",
        "csv": "Download CSV",
        "responses": "answers",
        "rate": "response rate",
    },
    "ru": {
        "title": "Отзывы клиентов",
        "from": "С",
        "to": "По",
        "group_by": "Группировать",
        "by_none": "Итого",
        "by_agent": "Сотрудник",
        "by_team": "Команда",
        "by_channel": "Канал",
        "by_request_type": "Тип обращения",
        "by_day": "День",
        "by_week": "Неделя",
        "by_month": "Месяц",
        "show": "Показать",
        "csv": "Скачать CSV",
        "responses": "ответов",
        "rate": "доля ответов",
    },
}


def _figure(value: float | None, suffix: str = "") -> str:
    return "–" if value is None else f"{value:g}{suffix}"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("opora_feedback", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["figure"] = _figure
    return env


def build_router(desk: SurveyDesk, staff: Any) -> APIRouter:
    router = APIRouter(tags=["pages"], include_in_schema=False)
    env = _environment()
    rules = desk.policy.rules

    def render(template: str, language: str, status_code: int, **context: Any) -> HTMLResponse:
        html = env.get_template(template).render(lang=language, t=texts.UI[language], **context)
        return HTMLResponse(
            html,
            status_code=status_code,
            headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY"},
        )

    def error_page(error: SurveyError, language: str) -> HTMLResponse:
        key = {
            ExpiredTokenError: "expired",
            EditWindowClosedError: "closed",
            ConcurrentEditError: "conflict",
        }.get(type(error), "invalid")
        return render("error.html", language, status_of(error), message=texts.UI[language][key])

    async def language_for(error: SurveyError, request: Request) -> str:
        """The survey's language when the link still names it (expired), else the browser's."""
        if isinstance(error, ExpiredTokenError) and error.ticket_id:
            survey = await desk.answering.surveys.get(error.ticket_id)
            if survey is not None:
                return texts.page_language(survey.language)
        return texts.browser_language(request.headers.get("accept-language", ""))

    def until(response: SurveyResponse) -> str:
        return response.editable_until(desk.policy).date().isoformat()

    def editable(response: SurveyResponse | None) -> bool:
        return response is None or desk.clock() <= response.editable_until(desk.policy)

    def survey_page(
        opened: service.OpenedSurvey,
        token: str,
        *,
        chosen: int | None = None,
        form: Mapping[str, list[str]] | None = None,
        errors: list[tuple[str, str]] | None = None,
        status_code: int = status.HTTP_200_OK,
    ) -> HTMLResponse:
        survey = opened.survey
        language = texts.page_language(survey.language)
        questions = []
        for question in survey.questions:
            answer = opened.response(question.value)
            questions.append(
                _question(
                    language,
                    question,
                    answer,
                    form=form,
                    chosen=chosen if question is survey.lead else None,
                    editable=editable(answer),
                    until=until(answer) if answer else "",
                    reasons=rules.csat.reasons if question is SurveyType.CSAT else (),
                    reasons_up_to=rules.csat.reasons_up_to,
                )
            )
        confirm = None
        if chosen is not None and not errors and questions[0]["editable"]:
            confirm = {
                "score": chosen,
                "label": texts.score_label(language, survey.lead, chosen),
            }
        customer = survey.issued.customer
        return render(
            "survey.html",
            language,
            status_code,
            name=(customer.name or "").split(" ")[0],
            number=survey.number,
            action=token,
            questions=questions,
            any_editable=any(q["editable"] for q in questions),
            confirm=confirm,
            errors=errors or [],
            comment_max=COMMENT_MAX_CHARS,
        )

    @router.get("/s/{token}", response_class=HTMLResponse)
    async def survey(token: str, request: Request) -> HTMLResponse:
        hide_token("/s/{token}")
        try:
            opened = await desk.open(token)
        except SurveyError as exc:
            return error_page(exc, await language_for(exc, request))
        chosen = _int(request.query_params.get("score"))
        lead = opened.survey.lead
        low, high = texts.scores(lead)[0], texts.scores(lead)[-1]
        if chosen is not None and not low <= chosen <= high:
            chosen = None
        return survey_page(opened, token, chosen=chosen)

    @router.post("/s/{token}", response_class=HTMLResponse)
    async def answer(token: str, request: Request) -> Response:
        hide_token("/s/{token}")
        try:
            opened = await desk.open(token)
        except SurveyError as exc:
            return error_page(exc, await language_for(exc, request))
        language = texts.page_language(opened.survey.language)
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        answers, errors = _answers(opened, form, language)
        if not errors and not answers:
            errors = [(f"{opened.survey.lead.value}", texts.UI[language]["choose"])]
        if errors:
            return survey_page(
                opened,
                token,
                form=form,
                errors=errors,
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        try:
            await desk.answer(token, answers)
        except InvalidAnswerError as exc:
            field = f"{opened.survey.lead.value}" if exc.field == "score" else exc.field
            return survey_page(
                opened,
                token,
                form=form,
                errors=[(field, str(exc))],
                status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            )
        except SurveyError as exc:
            return error_page(exc, language)
        return RedirectResponse(f"{token}/thanks", status_code=status.HTTP_303_SEE_OTHER)

    @router.get("/s/{token}/thanks", response_class=HTMLResponse)
    async def thanks(token: str, request: Request) -> Response:
        hide_token("/s/{token}/thanks")
        try:
            opened = await desk.open(token)
        except SurveyError as exc:
            return error_page(exc, await language_for(exc, request))
        language = texts.page_language(opened.survey.language)
        answered = [
            (question, response)
            for question in opened.survey.questions
            if (response := opened.response(question.value)) is not None
        ]
        if not answered:
            return RedirectResponse(f"../{token}", status_code=status.HTTP_303_SEE_OTHER)
        still_open = [r.editable_until(desk.policy) for _, r in answered if editable(r)]
        return render(
            "thanks.html",
            language,
            status.HTTP_200_OK,
            answered=[
                {
                    "question": texts.QUESTIONS[language][q].question,
                    "score": r.score,
                    "meaning": texts.score_label(language, q, r.score),
                }
                for q, r in answered
            ],
            until=min(still_open).date().isoformat() if still_open else "",
            action=f"../{token}",
        )

    @router.get("/reports", response_class=HTMLResponse, dependencies=[Depends(staff)])
    async def reports_page(request: Request) -> HTMLResponse:
        language = texts.browser_language(request.headers.get("accept-language", ""))
        params = request.query_params
        error = None
        report = None
        try:
            query = report_query(
                desk,
                first=_date(params.get("from")),
                last=_date(params.get("to")),
                group_by=reports.GroupBy(params.get("group_by") or "agent"),
                agent=params.get("agent") or None,
                team=params.get("team") or None,
                channel=Channel(params["channel"]) if params.get("channel") else None,
                request_type=RequestType(params["request_type"])
                if params.get("request_type")
                else None,
            )
            report = report_read(await service.report(query, desk.rollups))
        except ValueError as exc:
            error = str(exc)
            today = desk.today()
            query = reports.ReportQuery(today, today, reports.GroupBy.AGENT)
        shown = {k: v for k, v in params.items() if v}
        return HTMLResponse(
            env.get_template("reports.html").render(
                lang=language,
                t=texts.UI[language],
                r=REPORT_TEXTS[language],
                query=query,
                filters={k: params.get(k) for k in ("agent", "team", "channel", "request_type")},
                group_options=[g.value for g in reports.GroupBy],
                report=report,
                rows=[(row.key, row) for row in report.rows] + [("total", report.total)]
                if report
                else [],
                error=error,
                csv_url="/v1/reports.csv?" + urlencode(shown),
                json_url="/v1/reports?" + urlencode(shown),
            ),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT if error else status.HTTP_200_OK,
            headers={"Cache-Control": "no-store"},
        )

    return router


def _question(
    language: str,
    question: SurveyType,
    answer: SurveyResponse | None,
    *,
    form: Mapping[str, list[str]] | None,
    chosen: int | None,
    editable: bool,
    until: str,
    reasons: Iterable[Any],
    reasons_up_to: int,
) -> dict[str, Any]:
    """One question's part of the page: what is checked comes from the form sent back, else
    the one-click score, else the answer stored."""
    text = texts.QUESTIONS[language][question]
    key = question.value
    if form is not None:
        checked = _int(_first(form, key))
        comment = _first(form, f"{key}_comment") or ""
        picked = set(form.get(f"{key}_reasons", []))
    else:
        checked = chosen if chosen is not None else (answer.score if answer else None)
        comment = (answer.comment or "") if answer else ""
        picked = set(answer.reasons) if answer else set()
    scale = texts.scores(question)
    return {
        "type": key,
        "text": text,
        "answer": answer,
        "editable": editable,
        "until": until,
        "comment": comment,
        "scores": [
            {"value": s, "meaning": text.labels.get(s, ""), "checked": s == checked} for s in scale
        ],
        "first_label": text.labels[scale[0]],
        "last_label": text.labels[scale[-1]],
        "reasons": [
            {"id": r.id, "label": r.label(language), "checked": r.id in picked} for r in reasons
        ],
        "low_scores": [s for s in scale if s <= reasons_up_to],
    }


def _answers(
    opened: service.OpenedSurvey, form: Mapping[str, list[str]], language: str
) -> tuple[list[Answer], list[tuple[str, str]]]:
    """The answers the form carries, and what is wrong with it, by the field's id."""
    answers: list[Answer] = []
    errors: list[tuple[str, str]] = []
    ui = texts.UI[language]
    for question in opened.survey.questions:
        key = question.value
        score = _int(_first(form, key))
        comment = _first(form, f"{key}_comment")
        reasons = tuple(form.get(f"{key}_reasons", []))
        if score is None:
            if (comment or "").strip() or reasons:
                errors.append((key, ui["comment_without_score"]))
            continue
        answers.append(
            Answer(
                survey_type=question,
                score=score,
                comment=comment,
                reasons=reasons,
                via="web",
            )
        )
    return answers, errors


def _first(form: Mapping[str, list[str]], key: str) -> str | None:
    values = form.get(key)
    return values[0] if values else None


def _int(text: str | None) -> int | None:
    text = (text or "").strip()
    # ASCII digits only: str.isdigit() also accepts '²', which int() then refuses.
    return int(text) if text.isascii() and text.isdigit() and len(text) <= 3 else None


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None
