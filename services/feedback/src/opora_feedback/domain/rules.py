"""The survey rules file: which questions a solved ticket's survey asks, and how long links,
answers and comments live.

Rules are data so that a support lead can change what is asked without a release. The file is
validated when it is loaded: a field that does not fit fails the load with its path
(``rules.2.ask.0: Input should be 'csat', 'nps' or 'ces'``), never later on a live ticket.

- **rules** are ordered and the first whose ``when`` holds (request type and channel) wins;
  the last must be a catch-all, so that every ticket has an answer. ``ask`` lists the
  questions, the first being the one the invitation's one-click links answer; ``ask: []``
  sends no survey.
- **csat.reasons** are what a customer can pick on a low score (``reasons_up_to``), each in
  Russian and English.
- **links**, **answers**, **comments**: the link's lifetime, how long an answer can be changed,
  how long a comment's text is kept (scores are kept for ever). Comments outlive the edit window,
  so that the retention job never races an edit.
- **reports.timezone**: the days that reports count in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opora_shared.contracts.common import Channel, RequestType
from opora_shared.contracts.feedback import SurveyType
from opora_shared.datafile import parse_yaml, read_source
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

DEFAULT_RULES = ("opora_feedback", "rules/surveys.yaml")

Identifier = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Days = Annotated[int, Field(ge=1, le=3_650)]


class RulesError(ValueError):
    """The survey rules file cannot be used; the message names every failing field."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class When(_Strict):
    """Conditions of a rule; a list matches any of its entries, a missing one matches all."""

    request_type: tuple[RequestType, ...] | None = Field(default=None, min_length=1)
    channel: tuple[Channel, ...] | None = Field(default=None, min_length=1)

    @property
    def matches_everything(self) -> bool:
        return self.request_type is None and self.channel is None

    def holds(self, request_type: RequestType, channel: Channel) -> bool:
        return (self.request_type is None or request_type in self.request_type) and (
            self.channel is None or channel in self.channel
        )


class Rule(_Strict):
    id: Identifier
    when: When = Field(default_factory=When)
    ask: tuple[SurveyType, ...]

    @field_validator("ask")
    @classmethod
    def _each_once(cls, ask: tuple[SurveyType, ...]) -> tuple[SurveyType, ...]:
        if len(set(ask)) != len(ask):
            raise ValueError("a question is asked at most once")
        return ask


class Reason(_Strict):
    id: Identifier
    en: Label
    ru: Label

    def label(self, language: str) -> str:
        return self.ru if language == "ru" else self.en


class CsatSettings(_Strict):
    reasons_up_to: int = Field(
        default=3, ge=1, le=5, description="Scores up to this one offer the reasons"
    )
    reasons: tuple[Reason, ...] = ()

    @field_validator("reasons")
    @classmethod
    def _unique_ids(cls, reasons: tuple[Reason, ...]) -> tuple[Reason, ...]:
        ids = [r.id for r in reasons]
        if len(set(ids)) != len(ids):
            raise ValueError("reason ids must be unique")
        return reasons


class Invitations(_Strict):
    delay_hours: Annotated[float, Field(ge=0, le=30 * 24)] = Field(
        default=24, description="How long after the solve the invitation is due"
    )


class Links(_Strict):
    expire_after_days: Days = 28


class Answers(_Strict):
    edit_window_days: Annotated[int, Field(ge=0, le=365)] = 14


class Comments(_Strict):
    retention_days: Days = 365


class Reports(_Strict):
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {name!r}") from exc
        return name


class SurveyRules(_Strict):
    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    invitations: Invitations = Field(default_factory=Invitations)
    links: Links = Field(default_factory=Links)
    answers: Answers = Field(default_factory=Answers)
    comments: Comments = Field(default_factory=Comments)
    reports: Reports = Field(default_factory=Reports)
    csat: CsatSettings = Field(default_factory=CsatSettings)
    rules: tuple[Rule, ...] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: object) -> object:
        return str(value) if isinstance(value, int | float) else value

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if not self.rules[-1].when.matches_everything:
            raise ValueError("the last rule must have no conditions, so that every ticket matches")
        ids = [r.id for r in self.rules]
        if len(set(ids)) != len(ids):
            raise ValueError("rule ids must be unique")
        if self.comments.retention_days < self.answers.edit_window_days:
            raise ValueError(
                "comments.retention_days must be at least answers.edit_window_days: a comment "
                "that can still be edited is never removed"
            )
        return self

    def questions_for(self, request_type: RequestType, channel: Channel) -> tuple[SurveyType, ...]:
        """What the first matching rule asks (possibly nothing)."""
        return next(r.ask for r in self.rules if r.when.holds(request_type, channel))

    def reason(self, reason_id: str) -> Reason | None:
        return next((r for r in self.csat.reasons if r.id == reason_id), None)

    @property
    def policy(self) -> Lifetimes:
        return Lifetimes(
            invitation_delay=timedelta(hours=self.invitations.delay_hours),
            token_ttl=timedelta(days=self.links.expire_after_days),
            edit_window=timedelta(days=self.answers.edit_window_days),
            comment_retention=timedelta(days=self.comments.retention_days),
        )

    @property
    def timezone(self) -> ZoneInfo:
        return ZoneInfo(self.reports.timezone)


@dataclass(frozen=True)
class Lifetimes:
    invitation_delay: timedelta
    token_ttl: timedelta
    edit_window: timedelta
    comment_retention: timedelta


def parse_rules(raw: str, *, source: str = "<text>") -> SurveyRules:
    return parse_yaml(raw, SurveyRules, source=source, what="survey rules", error=RulesError)


def load_rules(path: Path | None = None) -> SurveyRules:
    """The rules in ``path``, or the packaged ones; raises ``RulesError`` naming every problem."""
    raw, source = read_source(path, DEFAULT_RULES, what="survey rules", error=RulesError)
    return parse_rules(raw, source=source)
