"""Surveys, answers and their rules: one invitation per solved ticket, one answer per question,
editable for a while, credited to whoever held the ticket when the survey was issued.

Identities are deterministic: an answer is ``<ticket id>:<survey type>``, the invitation is its
first question's answer id, and every event id derives from what it reports, so redeliveries
and repeated submissions publish ids that consumers already know.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.feedback import (
    AnsweredVia,
    DetractorFoundV1,
    RatingLink,
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
    SurveyType,
)

from opora_feedback.domain import metrics
from opora_feedback.domain.rules import SurveyRules

_NAMESPACE = uuid.UUID("a3f7c9d2-51e4-4c1b-8f0e-7b2d6e9a4c15")

COMMENT_MAX_CHARS = 2_000
SOURCES_KEPT = 20  # channel message ids remembered per answer, to record a repeat once


class SurveyError(Exception):
    """Base of what a customer's request about a survey can run into."""


class InvalidTokenError(SurveyError):
    """The link was not signed by us (forged, truncated, mistyped)."""


class ExpiredTokenError(SurveyError):
    """The link was ours but is too old; it still tells which ticket it was for."""

    def __init__(self, message: str, *, ticket_id: str | None = None) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id


class SurveyNotFoundError(SurveyError):
    pass


class InvalidAnswerError(SurveyError, ValueError):
    """A score off the scale, an unknown reason, a question not asked, a comment too long."""

    def __init__(self, message: str, *, field: str = "score") -> None:
        super().__init__(message)
        self.field = field


class EditWindowClosedError(SurveyError):
    """The answer can no longer be changed."""


class ConcurrentEditError(SurveyError):
    """Somebody changed the answer between reading and writing it."""


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def response_id(ticket_id: str, survey_type: SurveyType) -> str:
    return f"{ticket_id}:{survey_type.value}"


@dataclass(frozen=True)
class SurveyPolicy:
    public_base_url: str
    rules: SurveyRules

    @property
    def invitation_delay(self) -> timedelta:
        """From the solve to the invitation (Zendesk's default is a day)."""
        return self.rules.policy.invitation_delay

    @property
    def token_ttl(self) -> timedelta:
        """How long a link works once its invitation is due."""
        return self.rules.policy.token_ttl

    @property
    def token_max_age(self) -> timedelta:
        """A link is signed at the solve and must work ``token_ttl`` after the invitation."""
        return self.invitation_delay + self.token_ttl

    @property
    def edit_window(self) -> timedelta:
        return self.rules.policy.edit_window

    @property
    def comment_retention(self) -> timedelta:
        return self.rules.policy.comment_retention

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
    """An issued invitation: the event that announced it carries the attribution and the link."""

    issued: SurveyIssuedV1
    number: str | None = None

    @property
    def survey_id(self) -> str:
        return self.issued.survey_id

    @property
    def ticket_id(self) -> str:
        return self.issued.ticket_id

    @property
    def lead(self) -> SurveyType:
        """The first question: the one the one-click links and a digit reply answer."""
        return self.issued.survey_type

    @property
    def questions(self) -> tuple[SurveyType, ...]:
        return self.issued.questions or (self.issued.survey_type,)

    @property
    def language(self) -> str:
        return self.issued.language

    @property
    def issued_at(self) -> datetime:
        return self.issued.occurred_at

    @property
    def expires_at(self) -> datetime:
        return self.issued.expires_at

    def asks(self, survey_type: SurveyType) -> bool:
        return survey_type in self.questions


def issue_survey(
    facts: TicketFacts,
    questions: Sequence[SurveyType],
    *,
    token: str,
    policy: SurveyPolicy,
    now: datetime,
) -> Survey:
    """The invitation of a solved ticket, attributed to whoever holds it now."""
    if facts.channel is None or facts.customer is None:
        raise ValueError(f"ticket {facts.ticket_id} was never seen opened")
    if not questions:
        raise ValueError("an invitation asks at least one question")
    lead = questions[0]
    url = policy.survey_url(token)
    low, high = metrics.SCALES[lead]
    issued = SurveyIssuedV1(
        event_id=derived_id("survey-issued", facts.ticket_id),
        occurred_at=now,
        ticket_id=facts.ticket_id,
        survey_id=response_id(facts.ticket_id, lead),
        survey_type=lead,
        agent_id=facts.agent_id,
        team=facts.team,
        channel=facts.channel,
        request_type=facts.request_type or RequestType.OTHER,
        customer=facts.customer,
        url=url,
        expires_at=now + policy.token_max_age,
        send_after=now + policy.invitation_delay,
        language=facts.language,
        questions=tuple(questions),
        rating_links=tuple(
            RatingLink(score=score, url=f"{url}?score={score}") for score in range(low, high + 1)
        ),
    )
    return Survey(issued=issued, number=facts.number)


@dataclass(frozen=True)
class Answer:
    """What a customer said about one question, wherever it came from."""

    survey_type: SurveyType
    score: int
    comment: str | None = None
    reasons: tuple[str, ...] = ()
    via: AnsweredVia = "web"
    source: str | None = None  # the channel's message id: a repeat of it is recorded once


@dataclass(frozen=True)
class SurveyResponse:
    """The answer to one question of an invitation, at its latest revision."""

    response_id: str
    ticket_id: str
    survey_type: SurveyType
    score: int
    comment: str | None
    revision: int
    first_recorded_at: datetime
    updated_at: datetime
    reasons: tuple[str, ...] = ()
    via: AnsweredVia = "web"
    previous_score: int | None = None
    sources: tuple[str, ...] = field(default=())

    def editable_until(self, policy: SurveyPolicy) -> datetime:
        return self.first_recorded_at + policy.edit_window

    @property
    def has_comment(self) -> bool:
        return self.comment is not None


@dataclass(frozen=True)
class ResponseDecision:
    response: SurveyResponse
    changed: bool  # False: the same answer again; nothing to store, events republished

    @property
    def created(self) -> bool:
        return self.changed and self.response.revision == 1


def check_answer(survey: Survey, answer: Answer, rules: SurveyRules) -> Answer:
    """The answer made canonical (comment trimmed, reasons only where they apply), or
    ``InvalidAnswerError`` naming the field at fault."""
    if not survey.asks(answer.survey_type):
        raise InvalidAnswerError(
            f"this survey does not ask {answer.survey_type.value}", field="survey_type"
        )
    if not metrics.on_scale(answer.survey_type, answer.score):
        low, high = metrics.SCALES[answer.survey_type]
        raise InvalidAnswerError(f"a {answer.survey_type.value} score is from {low} to {high}")
    comment = (answer.comment or "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise InvalidAnswerError(
            f"a comment is at most {COMMENT_MAX_CHARS} characters", field="comment"
        )
    unknown = [r for r in answer.reasons if rules.reason(r) is None]
    if unknown:
        raise InvalidAnswerError(f"unknown reasons: {', '.join(unknown)}", field="reasons")
    offered = answer.survey_type is SurveyType.CSAT and answer.score <= rules.csat.reasons_up_to
    reasons = tuple(dict.fromkeys(answer.reasons)) if offered else ()
    return replace(answer, comment=comment or None, reasons=reasons)


def decide_response(
    survey: Survey,
    existing: SurveyResponse | None,
    answer: Answer,
    *,
    now: datetime,
    policy: SurveyPolicy,
) -> ResponseDecision:
    """A first answer, an edit within the window (revision + 1), or a repeat of the stored one."""
    answer = check_answer(survey, answer, policy.rules)
    if existing is None:
        response = SurveyResponse(
            response_id=response_id(survey.ticket_id, answer.survey_type),
            ticket_id=survey.ticket_id,
            survey_type=answer.survey_type,
            score=answer.score,
            comment=answer.comment,
            reasons=answer.reasons,
            revision=1,
            first_recorded_at=now,
            updated_at=now,
            via=answer.via,
            sources=(answer.source,) if answer.source else (),
        )
        return ResponseDecision(response, changed=True)
    if answer.source is not None and answer.source in existing.sources:
        return ResponseDecision(existing, changed=False)
    same = (existing.score, existing.comment, existing.reasons) == (
        answer.score,
        answer.comment,
        answer.reasons,
    )
    if same:
        return ResponseDecision(existing, changed=False)
    if now > existing.editable_until(policy):
        raise EditWindowClosedError("the answer can no longer be changed")
    sources = (*existing.sources, answer.source) if answer.source else existing.sources
    edited = replace(
        existing,
        score=answer.score,
        comment=answer.comment,
        reasons=answer.reasons,
        revision=existing.revision + 1,
        updated_at=now,
        via=answer.via,
        previous_score=existing.score,
        sources=sources[-SOURCES_KEPT:],
    )
    return ResponseDecision(edited, changed=True)


def response_event(survey: Survey, response: SurveyResponse) -> SurveyResponseRecordedV1:
    """What a stored revision announces: never the comment's text, only that there is one."""
    issued = survey.issued
    return SurveyResponseRecordedV1(
        event_id=derived_id(
            "survey-response-recorded", response.response_id, str(response.revision)
        ),
        occurred_at=response.updated_at,
        ticket_id=survey.ticket_id,
        survey_id=response.response_id,
        survey_type=response.survey_type,
        agent_id=issued.agent_id,
        team=issued.team,
        channel=issued.channel,
        request_type=issued.request_type,
        score=response.score,
        has_comment=response.has_comment,
        revision=response.revision,
        previous_score=response.previous_score,
        issued_at=survey.issued_at,
        answered_via=response.via,
        reasons=response.reasons,
    )


def detractor_event(survey: Survey, response: SurveyResponse) -> DetractorFoundV1 | None:
    """The invitation's follow-up when this answer is a detractor's: its id is the
    invitation's, so however many answers are low, consumers see one detractor."""
    if not metrics.is_detractor(response.survey_type, response.score):
        return None
    issued = survey.issued
    return DetractorFoundV1(
        event_id=derived_id("detractor-found", survey.survey_id),
        occurred_at=response.updated_at,
        ticket_id=survey.ticket_id,
        survey_id=survey.survey_id,
        survey_type=response.survey_type,
        agent_id=issued.agent_id,
        team=issued.team,
        channel=issued.channel,
        request_type=issued.request_type,
        score=response.score,
        reasons=response.reasons,
    )


def comment_expires_at(response: SurveyResponse, policy: SurveyPolicy) -> datetime:
    return response.updated_at + policy.comment_retention
