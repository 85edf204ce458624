"""Survey events, published by feedback on ``feedback.events.v1`` and keyed by ticket id; and
the answer that reaches intake by text message or IVR, for feedback to record.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints

from opora_shared.contracts.base import Event, Id, LanguageTag, Model, ShortText
from opora_shared.contracts.common import Channel, CustomerRef, RequestType
from opora_shared.contracts.topics import FEEDBACK, TICKETS

SurveyComment = Annotated[str, StringConstraints(max_length=2_000)]
AnsweredVia = Literal["web", "api", "sms", "messenger", "ivr"]


class SurveyType(StrEnum):
    CSAT = "csat"  # 1..5
    NPS = "nps"  # 0..10
    CES = "ces"  # 1..7

    @property
    def scale(self) -> tuple[int, int]:
        """The lowest and highest score the question takes (the standard scales)."""
        return _SCALES[self]


_SCALES = {SurveyType.CSAT: (1, 5), SurveyType.NPS: (0, 10), SurveyType.CES: (1, 7)}


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


class RatingLink(Model):
    """A link that opens the survey page with this score of the first question chosen."""

    score: int = Field(ge=0, le=10)
    url: ShortText


class SurveyIssuedV1(Attribution):
    """A survey exists for the ticket and its invitation is due; notifications delivers it.

    The issue list calls this "survey sent"; it is named for what feedback knows for certain.
    One invitation per ticket: ``survey_type`` is its first question, ``questions`` all it asks.
    """

    ce_type: ClassVar[str] = "opora.survey.issued.v1"

    customer: CustomerRef
    url: ShortText = Field(description="The signed, expiring link to the survey page")
    expires_at: AwareDatetime
    send_after: AwareDatetime
    language: LanguageTag = "en"
    questions: tuple[SurveyType, ...] = Field(
        default=(),
        description="Every survey type the page asks, the first being survey_type; empty means "
        "survey_type alone",
    )
    rating_links: tuple[RatingLink, ...] = Field(
        default=(),
        description="One link per point of the first question's scale, lowest first: each opens "
        "the page with that score chosen, for the customer to confirm with one click",
    )


class SurveyResponseRecordedV1(Attribution):
    ce_type: ClassVar[str] = "opora.survey.response-recorded.v1"

    score: int = Field(ge=0, le=10)
    has_comment: bool = False
    revision: int = Field(default=1, ge=1, description="Increases when the customer edits it")
    previous_score: int | None = Field(
        default=None, ge=0, le=10, description="The score this revision replaces (None: first)"
    )
    issued_at: AwareDatetime | None = Field(
        default=None, description="When the survey was issued: reports count it on that day"
    )
    answered_via: AnsweredVia | None = Field(
        default=None, description="The survey page, the JSON API, a text message or the IVR"
    )
    reasons: tuple[ShortText, ...] = Field(
        default=(), description="What went wrong, as picked from the configured list"
    )


class DetractorFoundV1(Attribution):
    """A low score that somebody should follow up on (closing the loop).

    At most one per invitation: ``survey_id`` is the invitation's (its first question's), while
    ``survey_type`` and ``score`` are those of the answer that first showed the detractor.
    """

    ce_type: ClassVar[str] = "opora.survey.detractor-found.v1"

    score: int = Field(ge=0, le=10)
    reasons: tuple[ShortText, ...] = Field(
        default=(), description="What went wrong, as picked from the configured list"
    )


FEEDBACK_EVENTS: tuple[type[SurveyEvent], ...] = (
    SurveyIssuedV1,
    SurveyResponseRecordedV1,
    DetractorFoundV1,
)


class SurveyAnswerReceivedV1(Event):
    """A survey answer that reached intake on a channel other than the survey page: a score
    replied by text message or in a messenger, or keys pressed in the IVR after a call.

    intake publishes it on ``tickets.events.v1`` (keyed by ticket id, after the ticket's solve,
    so feedback has issued the survey by the time it reads it) instead of threading the reply
    onto the ticket; feedback records it like an answer given on the page.

    A text is an answer when its sender holds an open invitation (sent, not expired), no
    conversation of theirs is going on, and it is plainly a score on the scale of the
    invitation's first question, optionally followed by a comment: "5", "4 спасибо",
    "2 - slow", "5️⃣". With several open invitations the one sent last is answered.

    An IVR reports a post-call survey as an ``opora.inbound.call.v1`` from the caller's number,
    with its own ``source_message_id``, whose ``ivr_selections`` hold one
    ``survey:<csat|nps|ces>:<score>`` per question answered (``survey:csat:4``); the call's
    transcript, if any, is the comment. It answers the caller's latest open invitation that asks
    that question.
    """

    topic: ClassVar = TICKETS
    ce_type: ClassVar[str] = "opora.survey.answer-received.v1"

    ticket_id: Id
    channel: Channel = Field(description="Where the answer arrived: sms, messenger or phone (IVR)")
    source_message_id: Id = Field(
        description="The provider's id of the reply or keypad result: a repeat is recorded once"
    )
    received_at: AwareDatetime
    score: int = Field(ge=0, le=10)
    survey_type: SurveyType | None = Field(
        default=None, description="The question answered; None: the invitation's first one"
    )
    comment: SurveyComment | None = Field(
        default=None,
        description="Text the customer wrote after the score, or the IVR call's transcript",
    )


SURVEY_ANSWER_EVENTS: tuple[type[SurveyAnswerReceivedV1], ...] = (SurveyAnswerReceivedV1,)
"""Published by intake on ``tickets.events.v1``; consumed by feedback."""
