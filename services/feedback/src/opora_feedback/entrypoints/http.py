"""feedback's JSON and CSV API.

Customers' side (the signed link is the credential):

* ``GET /v1/surveys/{token}``: the invitation's questions and the answers so far;
* ``POST /v1/surveys/{token}/responses``: one answer, ``{"score", "comment", "reasons",
  "survey_type"}`` (the first question when ``survey_type`` is left out): 201 for the first, 200
  for an edit or a repeat; 404 for a link we did not sign, 410 for an expired one, 409 once the
  answer can no longer be changed, 422 naming the field at fault.

Staff's side (an API key, see ``auth.py``):

* ``GET /v1/reports`` and ``GET /v1/reports.csv``: CSAT %, NPS, CES, response rates by agent,
  team, channel, request type, day, week or month over a period, with optional filters;
* ``GET /v1/tickets/{ticket_id}/responses``, ``GET /v1/agents/{agent_id}/responses``: answers
  with their comments.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Query, Response, status
from opentelemetry import trace
from opora_shared.contracts.common import Channel, RequestType
from opora_shared.contracts.feedback import SurveyType
from opora_shared.ports import Clock
from pydantic import BaseModel, Field

from opora_feedback.domain import reports, service
from opora_feedback.domain.metrics import Tally
from opora_feedback.domain.model import (
    COMMENT_MAX_CHARS,
    Answer,
    ConcurrentEditError,
    EditWindowClosedError,
    ExpiredTokenError,
    InvalidAnswerError,
    InvalidTokenError,
    ResponseDecision,
    SurveyError,
    SurveyNotFoundError,
    SurveyPolicy,
    SurveyResponse,
)
from opora_feedback.domain.ports import RollupStore, SurveyTokens
from opora_feedback.domain.rollups import Filters

STATUS_OF: dict[type[SurveyError], int] = {
    InvalidTokenError: status.HTTP_404_NOT_FOUND,
    SurveyNotFoundError: status.HTTP_404_NOT_FOUND,
    ExpiredTokenError: status.HTTP_410_GONE,
    EditWindowClosedError: status.HTTP_409_CONFLICT,
    ConcurrentEditError: status.HTTP_409_CONFLICT,
    InvalidAnswerError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}
DEFAULT_REPORT_DAYS = 30


def status_of(error: SurveyError) -> int:
    return next(
        (code for kind, code in STATUS_OF.items() if isinstance(error, kind)),
        status.HTTP_400_BAD_REQUEST,
    )


def hide_token(route: str) -> None:
    """A survey link's token is the customer's credential: keep it out of the request span."""
    span = trace.get_current_span()
    for attribute in ("http.target", "http.url", "url.path", "url.full", "url.query"):
        span.set_attribute(attribute, route)


@dataclass(frozen=True)
class SurveyDesk:
    """What the HTTP entry points hand to the use cases."""

    tokens: SurveyTokens
    answering: service.Answering
    rollups: RollupStore
    policy: SurveyPolicy
    clock: Clock

    async def open(self, token: str) -> service.OpenedSurvey:
        return await service.open_survey(
            token,
            tokens=self.tokens,
            surveys=self.answering.surveys,
            responses=self.answering.responses,
        )

    async def answer(self, token: str, answers: list[Answer]) -> list[ResponseDecision]:
        return await service.answer_survey(
            token, answers, tokens=self.tokens, answering=self.answering, now=self.clock()
        )

    def today(self) -> date:
        return self.clock().astimezone(self.policy.rules.timezone).date()


class ResponseCreate(BaseModel):
    score: int = Field(description="CSAT 1–5, NPS 0–10, CES 1–7")
    comment: str | None = Field(default=None, max_length=COMMENT_MAX_CHARS)
    reasons: list[str] = Field(default_factory=list, description="Ids from the configured list")
    survey_type: SurveyType | None = Field(
        default=None, description="The question answered; the invitation's first when left out"
    )


class ResponseRead(BaseModel):
    survey_id: str
    ticket_id: str
    survey_type: str
    score: int
    has_comment: bool
    reasons: list[str]
    revision: int
    editable_until: datetime


class ResponseDetail(ResponseRead):
    comment: str | None
    updated_at: datetime
    answered_via: str


class SurveyRead(BaseModel):
    ticket_id: str
    questions: list[str]
    language: str
    expires_at: datetime
    responses: list[ResponseRead]


def _read(response: SurveyResponse, policy: SurveyPolicy) -> ResponseRead:
    return ResponseRead(
        survey_id=response.response_id,
        ticket_id=response.ticket_id,
        survey_type=response.survey_type.value,
        score=response.score,
        has_comment=response.has_comment,
        reasons=list(response.reasons),
        revision=response.revision,
        editable_until=response.editable_until(policy),
    )


def _detail(response: SurveyResponse, policy: SurveyPolicy) -> ResponseDetail:
    return ResponseDetail(
        **_read(response, policy).model_dump(),
        comment=response.comment,
        updated_at=response.updated_at,
        answered_via=response.via,
    )


class ReportRowRead(BaseModel):
    key: str
    csat_issued: int
    csat_responses: int
    csat_satisfied: int
    csat_percent: float | None
    csat_response_rate: float | None
    nps_issued: int
    nps_responses: int
    nps_promoters: int
    nps_passives: int
    nps_detractors: int
    nps: float | None
    nps_response_rate: float | None
    ces_issued: int
    ces_responses: int
    ces_average: float | None
    ces_response_rate: float | None


class ReportRead(BaseModel):
    first: date = Field(serialization_alias="from")
    last: date = Field(serialization_alias="to")
    group_by: str
    filters: dict[str, str]
    rows: list[ReportRowRead]
    total: ReportRowRead


def report_read(report: reports.Report) -> ReportRead:
    query = report.query
    filters = {k: v for k, v in vars(query.filters).items() if v is not None}
    return ReportRead(
        first=query.first,
        last=query.last,
        group_by=query.group_by.value,
        filters=filters,
        rows=[_row(r.key, r.tally) for r in report.rows],
        total=_row("total", report.total),
    )


def _row(key: str, tally: Tally) -> ReportRowRead:
    return ReportRowRead.model_validate({"key": key, **reports.metrics_of(tally)})


def report_csv(report: reports.Report) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([report.query.group_by.value, *reports.METRIC_COLUMNS])
    columns = reports.METRIC_COLUMNS
    lines = [(r.key, r.tally) for r in report.rows] + [("total", report.total)]
    for key, tally in lines:
        figures = reports.metrics_of(tally)
        writer.writerow([key, *("" if figures[c] is None else figures[c] for c in columns)])
    return out.getvalue()


def report_query(
    desk: SurveyDesk,
    *,
    first: date | None,
    last: date | None,
    group_by: reports.GroupBy,
    agent: str | None,
    team: str | None,
    channel: Channel | None,
    request_type: RequestType | None,
) -> reports.ReportQuery:
    """The query asked for, the last ``DEFAULT_REPORT_DAYS`` days by default; ``ReportError``
    names the parameter at fault."""
    last = last or desk.today()
    first = first or last - timedelta(days=DEFAULT_REPORT_DAYS - 1)
    query = reports.ReportQuery(
        first,
        last,
        group_by,
        Filters(
            agent=agent or None,
            team=team or None,
            channel=channel.value if channel else None,
            request_type=request_type.value if request_type else None,
        ),
    )
    query.check()
    return query


def build_router(desk: SurveyDesk, staff: Any) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["feedback"])
    staff_only = [Depends(staff)]

    @router.get("/surveys/{token}", response_model=SurveyRead)
    async def get_survey(token: str) -> SurveyRead:
        hide_token("/v1/surveys/{token}")
        try:
            opened = await desk.open(token)
        except SurveyError as exc:
            raise HTTPException(status_of(exc), str(exc)) from exc
        survey = opened.survey
        return SurveyRead(
            ticket_id=survey.ticket_id,
            questions=[q.value for q in survey.questions],
            language=survey.language,
            expires_at=survey.expires_at,
            responses=[_read(r, desk.policy) for r in opened.responses.values()],
        )

    @router.post(
        "/surveys/{token}/responses",
        response_model=ResponseRead,
        status_code=status.HTTP_201_CREATED,
    )
    async def create_response(
        token: str, answer: Annotated[ResponseCreate, Body()], response: Response
    ) -> ResponseRead:
        hide_token("/v1/surveys/{token}/responses")
        try:
            opened = await desk.open(token)
            given = Answer(
                survey_type=answer.survey_type or opened.survey.lead,
                score=answer.score,
                comment=answer.comment,
                reasons=tuple(answer.reasons),
                via="api",
            )
            (decision,) = await desk.answer(token, [given])
        except InvalidAnswerError as exc:
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}],
            ) from exc
        except SurveyError as exc:
            raise HTTPException(status_of(exc), str(exc)) from exc
        if not decision.created:
            response.status_code = status.HTTP_200_OK
        return _read(decision.response, desk.policy)

    @router.get(
        "/tickets/{ticket_id}/responses",
        response_model=list[ResponseDetail],
        dependencies=staff_only,
    )
    async def ticket_responses(ticket_id: str) -> list[ResponseDetail]:
        found = await desk.answering.responses.for_ticket(ticket_id)
        return [_detail(r, desk.policy) for r in found]

    @router.get(
        "/agents/{agent_id}/responses",
        response_model=list[ResponseDetail],
        dependencies=staff_only,
    )
    async def agent_responses(
        agent_id: str,
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> list[ResponseDetail]:
        last = last or desk.today()
        first = first or last - timedelta(days=DEFAULT_REPORT_DAYS - 1)
        zone = desk.policy.rules.timezone
        since = datetime.combine(first, time(), zone).astimezone(UTC)
        until = datetime.combine(last + timedelta(days=1), time(), zone).astimezone(UTC)
        found = await desk.answering.responses.for_agent(
            agent_id, since=since, until=until, limit=limit
        )
        return [_detail(r, desk.policy) for r in found]

    async def make_report(
        first: date | None,
        last: date | None,
        group_by: reports.GroupBy,
        agent: str | None,
        team: str | None,
        channel: Channel | None,
        request_type: RequestType | None,
    ) -> reports.Report:
        try:
            query = report_query(
                desk,
                first=first,
                last=last,
                group_by=group_by,
                agent=agent,
                team=team,
                channel=channel,
                request_type=request_type,
            )
        except reports.ReportError as exc:
            field, _, message = str(exc).partition(": ")
            raise HTTPException(
                status.HTTP_422_UNPROCESSABLE_CONTENT,
                [{"loc": ["query", field], "msg": message, "type": "value_error"}],
            ) from exc
        return await service.report(query, desk.rollups)

    @router.get(
        "/reports", response_model=ReportRead, response_model_by_alias=True, dependencies=staff_only
    )
    async def report_json(
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
        group_by: reports.GroupBy = reports.GroupBy.NONE,
        agent: str | None = None,
        team: str | None = None,
        channel: Channel | None = None,
        request_type: RequestType | None = None,
    ) -> ReportRead:
        made = await make_report(first, last, group_by, agent, team, channel, request_type)
        return report_read(made)

    @router.get("/reports.csv", response_class=Response, dependencies=staff_only)
    async def report_as_csv(
        first: Annotated[date | None, Query(alias="from")] = None,
        last: Annotated[date | None, Query(alias="to")] = None,
        group_by: reports.GroupBy = reports.GroupBy.NONE,
        agent: str | None = None,
        team: str | None = None,
        channel: Channel | None = None,
        request_type: RequestType | None = None,
    ) -> Response:
        made = await make_report(first, last, group_by, agent, team, channel, request_type)
        name = f"feedback-{made.query.first}-{made.query.last}-{made.query.group_by.value}.csv"
        return Response(
            report_csv(made),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )

    return router
