"""Survey answers that arrive as ordinary messages: a score texted back by SMS or in a messenger
after an invitation, or keys pressed in the IVR after a call.

Pure logic: the invitation a customer holds, each survey type's scale, the readers of a text
reply and of a keypad result, and which invitation an answer belongs to. A text is read as an
answer only when it is plainly one ("5", "4 спасибо", "2 - slow", "5️⃣", "５", "4/5"); anything
that may be a quantity, a time, a date or a sentence ("3 days and still broken", "10:30",
"1-2", "5th") is left to be handled as the message it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from opora_shared.contracts.common import Channel
from opora_shared.contracts.feedback import SurveyIssuedV1, SurveyType

SCALES: Mapping[SurveyType, range] = {t: range(t.scale[0], t.scale[1] + 1) for t in SurveyType}
"""The scores each question accepts (the standard CSAT, NPS and CES scales)."""

EXPIRED_KEPT = timedelta(days=1)
"""How long an expired invitation is kept (for replies received before it expired and read
late); it is removed when the same customer's next invitation is stored."""

COMMENT_LIMIT = 2_000
"""The contract's ``SurveyComment`` length: a longer text after a digit is a message, not an
answer, so that nothing the customer wrote is cut."""


@dataclass(frozen=True, slots=True)
class Invitation:
    """A survey feedback issued for a ticket, as intake keeps it to recognise the answer."""

    ticket_id: str
    survey_id: str
    customer_id: str
    channel: Channel  # the ticket's channel
    survey_type: SurveyType  # the first question: the one a texted digit answers
    questions: tuple[SurveyType, ...]
    issued_at: datetime
    send_after: datetime
    expires_at: datetime

    @classmethod
    def of(cls, issued: SurveyIssuedV1) -> Invitation:
        return cls(
            ticket_id=issued.ticket_id,
            survey_id=issued.survey_id,
            customer_id=issued.customer.customer_id,
            channel=issued.channel,
            survey_type=issued.survey_type,
            questions=issued.questions or (issued.survey_type,),
            issued_at=issued.occurred_at,
            send_after=issued.send_after,
            expires_at=issued.expires_at,
        )

    def asks(self, survey_type: SurveyType) -> bool:
        return survey_type in self.questions


def most_recent_first(invitations: Iterable[Invitation]) -> list[Invitation]:
    """Precedence among a customer's open invitations: the one sent last comes first."""
    return sorted(invitations, key=lambda i: (i.send_after, i.issued_at, i.ticket_id), reverse=True)


# --- a text reply -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    """A text that reads as a score, with what the customer wrote after it."""

    score: int
    comment: str | None = None
    out_of: int | None = None  # "4/5", "4 из 5": the top of the scale the customer had in mind


_KEYCAP = re.compile("\ufe0f?\u20e3")  # "5️⃣" is 5, VARIATION SELECTOR-16, COMBINING KEYCAP
_KEYCAP_TEN = "\U0001f51f"  # 🔟
_SCORE = re.compile(rf"\s*(?:(?P<ten>{_KEYCAP_TEN})|(?P<digits>(?:\d(?:\ufe0f?\u20e3)?){{1,2}}))")
_OUT_OF = re.compile(r"\s*(?:/|из|out\s+of|of)\s*(?P<top>\d{1,2})(?!\w)", re.IGNORECASE)
_ATTACHED = re.compile(r"[\w%$€₽°#+*^]|[-–.,:/]\d|-\w")
"""What, right after the digits, makes them part of something else: "5th", "10am", "5%", "5.5",
"10:30", "1-2", "5-го"."""
_SEPARATORS = re.compile(r"^[\s\-–—:;,.!)]+")
_RATING_WORD = re.compile(
    r"(?:stars?|points?|pts|звезд[аы]?|звёзд[аы]?|балл(?:а|ов)?)(?!\w)", re.IGNORECASE
)
_QUANTITY_WORD = re.compile(
    r"(?:"
    # English: units of time and amount, counted things, money, clock times, dates, "of them"
    r"days?|hours?|hrs?|h|mins?|minutes?|secs?|seconds?|weeks?|wks?|months?|years?|yrs?"
    r"|times?|items?|pieces?|pcs|units?|orders?|people|persons?|questions?|problems?|issues?"
    r"|things?|percent|per|more|less|left|am|pm|a\.m|p\.m|o'?clock|rub(?:les?)?|usd"
    r"|eur(?:os?)?|dollars?|pounds?|kg|km|cm|mm|m|gb"
    r"|jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?|of|x"
    # Russian: the same
    r"|день|дня|дней|дн|сутки|суток|час|часа|часов|ч|мин|минут[аыу]?|сек|секунд[аыу]?"
    r"|недел[июья]|нед|месяц(?:а|ев)?|мес|год(?:а)?|лет|раз(?:а)?|шт|штук[аи]?"
    r"|руб(?:л[ейяь])?|р|коп(?:еек|ейки)?|тыс(?:яч[аи]?)?|млн|кг|км|см|мм|м|числ[аоу]"
    r"|январ[яь]|феврал[яь]|марта?|апрел[яь]|ма[яй]|июн[яь]|июл[яь]|августа?|сентябр[яь]"
    r"|октябр[яь]|ноябр[яь]|декабр[яь]|человек(?:а)?|заказ(?:а|ов)?|товар(?:а|ов)?"
    r"|процент(?:а|ов)?|вопрос(?:а|ов)?|проблем[аы]?|из|больше|меньше|осталось"
    r")(?!\w)",
    re.IGNORECASE,
)
"""A first word that makes the number before it a count, an amount, a time or a date."""


def read_reply(text: str) -> Reply | None:
    """The score a text message or messenger reply gives, or None when it is not plainly one.

    A score is one or two digits at the start (ASCII, full-width or any decimal digits, keycap
    emoji such as 5️⃣ and 🔟), optionally "/5", "из 5" or "out of 5", optionally "stars" or
    "баллов", then nothing or a comment after a space or a separator (" - ", ": ", ", ").
    """
    found = _SCORE.match(text)
    if found is None:
        return None
    score = 10 if found["ten"] else int(_KEYCAP.sub("", found["digits"]))
    rest = text[found.end() :]
    out_of: int | None = None
    if (top := _OUT_OF.match(rest)) is not None:
        out_of, rest = int(top["top"]), rest[top.end() :]
    if _ATTACHED.match(rest):
        return None
    comment = _strip_separators(rest)
    if (rating := _RATING_WORD.match(comment)) is not None:
        comment = _strip_separators(comment[rating.end() :])
    if comment[:1].isdecimal() or _QUANTITY_WORD.match(comment):
        return None
    if len(comment) > COMMENT_LIMIT:
        return None
    return Reply(score, comment or None, out_of)


def _strip_separators(text: str) -> str:
    """The text without the spaces and punctuation that set a comment off from the score."""
    return _SEPARATORS.sub("", text, count=1).rstrip()


def answered_by_reply(
    reply: Reply, invitations: Iterable[Invitation], at: datetime
) -> Invitation | None:
    """The invitation a texted score answers: the customer's most recently sent one still open
    at ``at`` (sent and not expired), provided the score fits its first question's scale."""
    sent = [i for i in invitations if i.send_after <= at < i.expires_at]
    if not sent:
        return None
    latest = most_recent_first(sent)[0]
    scale = SCALES[latest.survey_type]
    if reply.score not in scale or reply.out_of not in (None, scale[-1]):
        return None
    return latest


# --- a keypad result ----------------------------------------------------------------------------

SURVEY_SELECTION_PREFIX = "survey:"
_KEYPAD = re.compile(r"survey:(?P<type>csat|nps|ces):(?P<score>[0-9]{1,2})", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class KeypadAnswer:
    survey_type: SurveyType
    score: int


def is_survey_selection(selection: str) -> bool:
    """A post-call survey result, not a step through the IVR menu."""
    return selection.strip().casefold().startswith(SURVEY_SELECTION_PREFIX)


def read_keypad(selections: Sequence[str]) -> tuple[KeypadAnswer, ...]:
    """The survey results among a call's IVR selections, ``survey:<type>:<score>``, one per
    question (the last one pressed wins), in the order first pressed."""
    found: dict[SurveyType, int] = {}
    for selection in selections:
        if (match := _KEYPAD.fullmatch(selection.strip())) is not None:
            found[SurveyType(match["type"].casefold())] = int(match["score"])
    return tuple(KeypadAnswer(kind, score) for kind, score in found.items())


def answered_by_keypad(
    answers: Sequence[KeypadAnswer], invitations: Iterable[Invitation], at: datetime
) -> tuple[Invitation, tuple[KeypadAnswer, ...]] | None:
    """The invitation keypad results answer: the caller's most recent one not expired at ``at``
    that asks the first result's question; with the results it asks whose score fits."""
    if not answers:
        return None
    lead = answers[0].survey_type
    asking = [i for i in invitations if at < i.expires_at and i.asks(lead)]
    if not asking:
        return None
    invitation = most_recent_first(asking)[0]
    fitting = tuple(
        a for a in answers if invitation.asks(a.survey_type) and a.score in SCALES[a.survey_type]
    )
    return (invitation, fitting) if fitting else None
