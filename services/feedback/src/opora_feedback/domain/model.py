"""Surveys, responses and their rules: one CSAT survey per ticket, editable for a while.

Identities are deterministic: a survey is ``<ticket id>:<type>``, and every event's id is
derived from what it reports, so redeliveries and repeated submissions publish the same ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from opora_shared.contracts.base import Event
from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.feedback import (
    DetractorFoundV1,
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
    SurveyType,
)

_NAMESPACE = uuid.UUID("a3f7c9d2-51e4-4c1b-8f0e-7b2d6e9a4c15")

SCALES: Mapping[SurveyType, tuple[int, int]] = {
    SurveyType.CSAT: (1, 5),
    SurveyType.NPS: (0, 10),
    SurveyType.CES: (1, 7),
}
CSAT_SATISFIED_MIN = 4  # 4 "satisfied" and 5 "very satisfied" count towards CSAT
CSAT_DETRACTOR_MAX = 2  # 1 and 2 call for a follow-up
COMMENT_MAX_CHARS = 2_000


class SurveyError(Exception):
    """Base of what a customer's request about a survey can run into."""


class InvalidTokenError(SurveyError):
    """The link was not signed by us (forged, truncated, mistyped)."""


class ExpiredTokenError(SurveyError):
    """The link was ours but is too old; it still tells which survey it was for."""

    def __init__(self, message: str, *, survey_id: str | None = None) -> None:
        super().__init__(message)
        self.survey_id = survey_id


class SurveyNotFoundError(SurveyError):
    pass


class InvalidAnswerError(SurveyError, ValueError):
    """A score off the scale, or a comment too long."""


class EditWindowClosedError(SurveyError):
    """The response can no longer be changed."""


class ConcurrentEditError(SurveyError):
    """Somebody changed the response between reading and writing it."""


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def survey_id_for(ticket_id: str, survey_type: SurveyType = SurveyType.CSAT) -> str:
    return f"{ticket_id}:{survey_type.value}"


@dataclass(frozen=True)
class SurveyPolicy:
    public_base_url: str
    token_ttl: timedelta
    edit_window: timedelta

    def survey_url(self, token: str) -> str:
        return f"{self.public_base_url.rstrip('/')}/s/{token}"


@dataclass(frozen=True)
class TicketFacts:
    """What attribution needs about a ticket, gathered from the ticket and routing events."""

    ticket_id: str
    number: str | None = None
    channel: Channel | None = None
    request_type: RequestType | None = None
    customer: CustomerRef | None = None
    language: str = "en"
    agent_id: str | None = None
    team: str | None = None

    @property
    def opened(self) -> bool:
        return self.channel is not None and self.customer is not None


@dataclass(frozen=True)
class Survey:
    """An issued survey: the event that announced it carries the attribution and the link."""

    issued: SurveyIssuedV1
    number: str | None = None

    @property
    def survey_id(self) -> str:
        return self.issued.survey_id

    @property
    def ticket_id(self) -> str:
        return self.issued.ticket_id

    @property
    def survey_type(self) -> SurveyType:
        return self.issued.survey_type

    @property
    def language(self) -> str:
        return self.issued.language


def issue_survey(facts: TicketFacts, *, token: str, policy: SurveyPolicy, now: datetime) -> Survey:
    """The CSAT survey of a solved ticket, attributed to whoever holds it now."""
    if facts.channel is None or facts.customer is None:
        raise ValueError(f"ticket {facts.ticket_id} was never seen opened")
    survey_id = survey_id_for(facts.ticket_id, SurveyType.CSAT)
    issued = SurveyIssuedV1(
        event_id=derived_id("survey-issued", survey_id),
        occurred_at=now,
        ticket_id=facts.ticket_id,
        survey_id=survey_id,
        survey_type=SurveyType.CSAT,
        agent_id=facts.agent_id,
        team=facts.team,
        channel=facts.channel,
        request_type=facts.request_type or RequestType.OTHER,
        customer=facts.customer,
        url=policy.survey_url(token),
        expires_at=now + policy.token_ttl,
        send_after=now,
        language=facts.language,
    )
    return Survey(issued=issued, number=facts.number)


@dataclass(frozen=True)
class SurveyResponse:
    survey_id: str
    ticket_id: str
    survey_type: SurveyType
    score: int
    comment: str | None
    revision: int
    first_recorded_at: datetime
    updated_at: datetime

    def editable_until(self, policy: SurveyPolicy) -> datetime:
        return self.first_recorded_at + policy.edit_window


@dataclass(frozen=True)
class ResponseDecision:
    response: SurveyResponse
    changed: bool  # False: the same answer again; nothing to store, events republished

    @property
    def created(self) -> bool:
        return self.changed and self.response.revision == 1


def check_score(survey_type: SurveyType, score: int) -> int:
    low, high = SCALES[survey_type]
    if not low <= score <= high:
        raise InvalidAnswerError(f"a {survey_type.value} score is from {low} to {high}")
    return score


def normalise_comment(comment: str | None) -> str | None:
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX_CHARS:
        raise InvalidAnswerError(f"a comment is at most {COMMENT_MAX_CHARS} characters")
    return text or None


def decide_response(
    survey: Survey,
    existing: SurveyResponse | None,
    *,
    score: int,
    comment: str | None,
    now: datetime,
    policy: SurveyPolicy,
) -> ResponseDecision:
    """A first answer, an edit within the window (revision + 1), or a repeat of the stored one."""
    score = check_score(survey.survey_type, score)
    comment = normalise_comment(comment)
    if existing is None:
        response = SurveyResponse(
            survey_id=survey.survey_id,
            ticket_id=survey.ticket_id,
            survey_type=survey.survey_type,
            score=score,
            comment=comment,
            revision=1,
            first_recorded_at=now,
            updated_at=now,
        )
        return ResponseDecision(response, changed=True)
    if existing.score == score and existing.comment == comment:
        return ResponseDecision(existing, changed=False)
    if now > existing.editable_until(policy):
        raise EditWindowClosedError("the answer can no longer be changed")
    edited = replace(
        existing, score=score, comment=comment, revision=existing.revision + 1, updated_at=now
    )
    return ResponseDecision(edited, changed=True)


def is_detractor(survey_type: SurveyType, score: int) -> bool:
    return survey_type is SurveyType.CSAT and score <= CSAT_DETRACTOR_MAX


def response_events(survey: Survey, response: SurveyResponse) -> list[Event]:
    """What a stored revision announces: the response (never the comment's text), and for a
    low CSAT a detractor to follow up on."""
    issued = survey.issued
    attribution = {
        "ticket_id": survey.ticket_id,
        "survey_id": survey.survey_id,
        "survey_type": survey.survey_type,
        "agent_id": issued.agent_id,
        "team": issued.team,
        "channel": issued.channel,
        "request_type": issued.request_type,
    }
    revision = str(response.revision)
    events: list[Event] = [
        SurveyResponseRecordedV1(
            event_id=derived_id("survey-response-recorded", survey.survey_id, revision),
            occurred_at=response.updated_at,
            score=response.score,
            has_comment=response.comment is not None,
            revision=response.revision,
            **attribution,
        )
    ]
    if is_detractor(survey.survey_type, response.score):
        events.append(
            DetractorFoundV1(
                event_id=derived_id("detractor-found", survey.survey_id, revision),
                occurred_at=response.updated_at,
                score=response.score,
                **attribution,
            )
        )
    return events


@dataclass(frozen=True)
class CsatReport:
    responses: int
    satisfied: int

    @property
    def csat_percent(self) -> float | None:
        """Satisfied answers (4 and 5) as a share of all answers; None before the first one."""
        if self.responses == 0:
            return None
        return round(100.0 * self.satisfied / self.responses, 1)
