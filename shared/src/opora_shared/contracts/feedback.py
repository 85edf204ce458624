"""Survey events, published by feedback on ``feedback.events.v1`` and keyed by ticket id."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import AwareDatetime, Field

from opora_shared.contracts.base import Event, Id, LanguageTag, ShortText
from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.topics import FEEDBACK


class SurveyType(StrEnum):
    CSAT = "csat"  # 1..5
    NPS = "nps"  # 0..10
    CES = "ces"  # 1..7


class SurveyEvent(Event):
    topic: ClassVar = FEEDBACK

    ticket_id: Id
    survey_id: Id
    survey_type: SurveyType


class Attribution(SurveyEvent):
    """Who gets the credit: recorded when the survey is issued, so a later reassignment
    does not move it."""

    agent_id: Id | None = None
    team: Id | None = None
    channel: Channel
    request_type: RequestType


class SurveyIssuedV1(Attribution):
    """A survey exists for the ticket and its invitation is due; notifications delivers it.

    The issue list calls this "survey sent"; it is named for what feedback knows for certain.
    """

    ce_type: ClassVar[str] = "opora.survey.issued.v1"

    customer: CustomerRef
    url: ShortText = Field(description="The signed, expiring link to the survey page")
    expires_at: AwareDatetime
    send_after: AwareDatetime
    language: LanguageTag = "en"


class SurveyResponseRecordedV1(Attribution):
    ce_type: ClassVar[str] = "opora.survey.response-recorded.v1"

    score: int = Field(ge=0, le=10)
    has_comment: bool = False
    revision: int = Field(default=1, ge=1, description="Increases when the customer edits it")


class DetractorFoundV1(Attribution):
    """A low score that somebody should follow up on (closing the loop)."""

    ce_type: ClassVar[str] = "opora.survey.detractor-found.v1"

    score: int = Field(ge=0, le=10)


FEEDBACK_EVENTS: tuple[type[SurveyEvent], ...] = (
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
    DetractorFoundV1,
)
