"""feedback's JSON API.

``POST /v1/surveys/{token}/responses`` records an answer (201 for the first, 200 for an edit
or a repeat; 404 for a link we did not sign, 410 for an expired one, 409 once the answer can
no longer be changed, 422 for a score off the scale). ``GET /v1/reports/csat`` reports CSAT
over every answer stored.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, Response, status
from opora_shared.ports import Clock, Publisher
from pydantic import BaseModel, Field

from opora_feedback.domain import service
from opora_feedback.domain.model import (
    COMMENT_MAX_CHARS,
    ConcurrentEditError,
    EditWindowClosedError,
    ExpiredTokenError,
    InvalidAnswerError,
    InvalidTokenError,
    ResponseDecision,
    SurveyError,
    SurveyNotFoundError,
    SurveyPolicy,
)
from opora_feedback.domain.ports import ResponseStore, SurveyStore, SurveyTokens

STATUS_OF: dict[type[SurveyError], int] = {
    InvalidTokenError: status.HTTP_404_NOT_FOUND,
    SurveyNotFoundError: status.HTTP_404_NOT_FOUND,
    ExpiredTokenError: status.HTTP_410_GONE,
    EditWindowClosedError: status.HTTP_409_CONFLICT,
    ConcurrentEditError: status.HTTP_409_CONFLICT,
    InvalidAnswerError: status.HTTP_422_UNPROCESSABLE_CONTENT,
}


def status_of(error: SurveyError) -> int:
    return next(
        (code for kind, code in STATUS_OF.items() if isinstance(error, kind)),
        status.HTTP_400_BAD_REQUEST,
    )


@dataclass(frozen=True)
class SurveyDesk:
    """What the HTTP entry points hand to the use cases."""

    tokens: SurveyTokens
    surveys: SurveyStore
    responses: ResponseStore
    publisher: Publisher
    policy: SurveyPolicy
    clock: Clock

    async def open(self, token: str) -> service.OpenedSurvey:
        return await service.open_survey(
            token, tokens=self.tokens, surveys=self.surveys, responses=self.responses
        )

    async def answer(self, token: str, score: int, comment: str | None) -> ResponseDecision:
        return await service.record_response(
            token,
            score=score,
            comment=comment,
            tokens=self.tokens,
            surveys=self.surveys,
            responses=self.responses,
            publisher=self.publisher,
            policy=self.policy,
            clock=self.clock,
        )


class ResponseCreate(BaseModel):
    score: int = Field(description="CSAT: 1 (very dissatisfied) to 5 (very satisfied)")
    comment: str | None = Field(default=None, max_length=COMMENT_MAX_CHARS)


class ResponseRead(BaseModel):
    survey_id: str
    ticket_id: str
    survey_type: str
    score: int
    has_comment: bool
    revision: int
    editable_until: datetime


class CsatReportRead(BaseModel):
    responses: int
    satisfied: int
    csat_percent: float | None


def build_router(desk: SurveyDesk) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["feedback"])

    @router.post(
        "/surveys/{token}/responses",
        response_model=ResponseRead,
        status_code=status.HTTP_201_CREATED,
    )
    async def create_response(
        token: str, answer: Annotated[ResponseCreate, Body()], response: Response
    ) -> ResponseRead:
        try:
            decision = await desk.answer(token, answer.score, answer.comment)
        except SurveyError as exc:
            raise HTTPException(status_of(exc), str(exc)) from exc
        if not decision.created:
            response.status_code = status.HTTP_200_OK
        stored = decision.response
        return ResponseRead(
            survey_id=stored.survey_id,
            ticket_id=stored.ticket_id,
            survey_type=stored.survey_type.value,
            score=stored.score,
            has_comment=stored.comment is not None,
            revision=stored.revision,
            editable_until=stored.editable_until(desk.policy),
        )

    @router.get("/reports/csat", response_model=CsatReportRead)
    async def csat_report() -> CsatReportRead:
        report = await service.csat_report(desk.responses)
        return CsatReportRead(
            responses=report.responses,
            satisfied=report.satisfied,
            csat_percent=report.csat_percent,
        )

    return router
