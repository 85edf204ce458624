"""The notification rules file: what is sent on which fact, to whom, when, and under what limits.

Rules are data so that a support lead can change follow-ups without a release (Zendesk's
triggers and automations, Zammad's triggers). The file is validated when it is loaded: a field
that does not fit fails the load with its path (``notifications.3.after: invalid duration``),
never later on a live ticket; ``JinjaRenderer.load`` then checks every template the rules name.

- **Notifications** are a list; each has an ``intent`` (unique: it is part of the idempotency
  key), the fact it reacts to (``trigger``), optional conditions on the ticket (``when``), its
  recipients (``to``), a template, a delay (``after``, from the trigger or from an ``anchor``
  such as the survey's ``send_after``, the warranty's end, or the time intake will solve or
  close the ticket by itself, ``auto_change_at``) and the conditions that cancel it
  if they become true before it goes out (``cancel_if``, checked again at send time).
- **Customers** are answered on the channel they wrote from, then by preference
  (``reply_channels``); quiet hours hold follow-ups in the recipient's time zone; a rate limit
  caps messages per recipient; survey fatigue allows one survey per customer per period.
- **Staff** get alerts by e-mail; urgent ones bypass quiet hours and rate limits.

Everything here is pure: functions take the rules and facts and return decisions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.sla import Metric
from opora_shared.datafile import parse_yaml, read_source
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)

DEFAULT_RULES = ("opora_notifications", "rules/notifications.yaml")

CUSTOMER_CHANNELS: tuple[Channel, ...] = (Channel.EMAIL, Channel.SMS, Channel.MESSENGER)
"""The channels notifications can send on: SMTP, and the webhook for SMS and messengers."""
SHORT_CHANNELS: frozenset[Channel] = frozenset({Channel.SMS, Channel.MESSENGER})
"""Channels that carry one short text (no subject, no HTML)."""


class RulesError(ValueError):
    """The rules file cannot be read or does not validate; the message names every problem."""


# --- value types ------------------------------------------------------------------------------

_DURATION = re.compile(r"^\s*(-?)\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}


def parse_duration(value: Any) -> timedelta:
    """``"90s"``, ``"10m"``, ``"24h"``, ``"5d"``, ``"2w"``, ``"-30d"``, or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("expected a duration such as '30s', '24h' or '5d'")
    if isinstance(value, int | float):
        return timedelta(seconds=float(value))
    if isinstance(value, str) and (found := _DURATION.match(value)):
        sign = -1 if found.group(1) else 1
        return timedelta(seconds=sign * float(found.group(2)) * _UNIT_S[found.group(3)])
    raise ValueError(f"invalid duration {value!r}: expected e.g. '30s', '10m', '24h', '5d', '-30d'")


def format_duration(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    for unit in ("w", "d", "h", "m"):
        if seconds and seconds % _UNIT_S[unit] == 0:
            return f"{seconds // _UNIT_S[unit]}{unit}"
    return f"{seconds}s"


Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema({"type": "string", "pattern": _DURATION.pattern}),
]


def _positive(value: timedelta) -> timedelta:
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


PositiveDuration = Annotated[Duration, BeforeValidator(lambda v: _positive(parse_duration(v)))]


def _zone(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError("expected an IANA time zone name such as 'Europe/Moscow'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r}") from None
    return value


TimeZoneName = Annotated[str, BeforeValidator(_zone)]
LanguageCode = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]
Intent = Annotated[
    str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$", max_length=100)
]
TemplateName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- what a rule reacts to, whom it addresses, what cancels it --------------------------------


class Trigger(StrEnum):
    TICKET_OPENED = "ticket_opened"
    TICKET_ASSIGNED = "ticket_assigned"
    TICKET_PENDING = "ticket_pending"
    TICKET_SOLVED = "ticket_solved"
    TICKET_CLOSED = "ticket_closed"
    TICKET_REOPENED = "ticket_reopened"
    SURVEY_ISSUED = "survey_issued"
    SLA_WARNING = "sla_warning"
    SLA_BREACHED = "sla_breached"
    SLA_ESCALATED = "sla_escalated"
    DETRACTOR_FOUND = "detractor_found"


STAFF_TRIGGERS = frozenset(
    {Trigger.SLA_WARNING, Trigger.SLA_BREACHED, Trigger.SLA_ESCALATED, Trigger.DETRACTOR_FOUND}
)


class Role(StrEnum):
    CUSTOMER = "customer"
    ASSIGNED_AGENT = "assigned_agent"
    """The agent who holds the ticket; the team lead while nobody does."""
    TEAM_LEAD = "team_lead"
    SUPERVISOR = "supervisor"


class Anchor(StrEnum):
    TRIGGER = "trigger"
    """When the triggering fact happened."""
    SEND_AFTER = "send_after"
    """A survey's ``send_after`` (feedback decides when the invitation is due)."""
    WARRANTY_END = "warranty_end"
    """The end of the warranty (see ``WarrantyRules``); ``after`` is then usually negative."""
    AUTO_CHANGE_AT = "auto_change_at"
    """When intake will solve a pending ticket or close a solved one by itself (the status
    change's ``auto_change_at``); ``after`` is then usually negative. Nothing is planned when
    the change carries none (intake's automation is off)."""


AUTO_CHANGE_TRIGGERS = frozenset({Trigger.TICKET_PENDING, Trigger.TICKET_SOLVED})
"""The status changes that may carry an ``auto_change_at``."""


class CancelIf(StrEnum):
    CUSTOMER_REPLIED = "customer_replied"
    AGENT_REPLIED = "agent_replied"
    STATUS_CHANGED = "status_changed"
    REOPENED = "reopened"


class Category(StrEnum):
    """What a message is for; customers opt out per category (or of ``all``)."""

    SERVICE = "service"  # about their request: acknowledgement, assignment, solved
    REMINDERS = "reminders"  # we are waiting for you; the ticket will close
    FOLLOW_UPS = "follow_ups"  # how did the repair go
    SURVEYS = "surveys"  # subject to survey fatigue
    OFFERS = "offers"  # post-warranty service
    ALERTS = "alerts"  # staff only


class Once(StrEnum):
    PER_TICKET = "per_ticket"
    """At most one per (intent, ticket, recipient), whatever repeats."""
    PER_TRIGGER = "per_trigger"
    """One per triggering event: a ticket pending twice gets two rounds of reminders."""


class Conditions(_Strict):
    """What the ticket (and the trigger) must show for the rule to apply; all given must hold,
    a list holds when any entry does. No conditions: always."""

    request_type: tuple[RequestType, ...] | None = Field(default=None, min_length=1)
    channel: tuple[Channel, ...] | None = Field(default=None, min_length=1)
    priority: tuple[Priority, ...] | None = Field(default=None, min_length=1)
    language: tuple[LanguageCode, ...] | None = Field(default=None, min_length=1)
    level: tuple[Annotated[int, Field(ge=1, le=4)], ...] | None = Field(
        default=None, min_length=1, description="SLA escalation levels (sla_escalated only)"
    )
    metric: tuple[Metric, ...] | None = Field(
        default=None, min_length=1, description="SLA metrics, e.g. first_reply (sla_* only)"
    )


class NotificationRule(_Strict):
    intent: Intent
    trigger: Trigger
    when: Conditions = Conditions()
    to: tuple[Role, ...] = Field(min_length=1)
    template: TemplateName
    category: Category
    enabled: bool = True
    anchor: Anchor = Anchor.TRIGGER
    after: Duration = timedelta(0)
    once: Once = Once.PER_TICKET
    cancel_if: tuple[CancelIf, ...] = ()
    channels: tuple[Channel, ...] = Field(
        default=CUSTOMER_CHANNELS,
        min_length=1,
        description="The channels this notification may use (customers); staff get e-mail",
    )
    quiet_hours: bool = Field(default=True, description="Held during the recipient's quiet hours")
    rate_limited: bool = Field(default=True, description="Counts against the recipient's limit")
    wait_for_sla: Duration | None = Field(
        default=None,
        description="Hold up to this long for sla's due time (the acknowledgement says when a "
        "reply is due); sent as soon as it arrives",
    )

    @field_validator("channels")
    @classmethod
    def _sendable(cls, channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
        unknown = [c.value for c in channels if c not in CUSTOMER_CHANNELS]
        if unknown:
            raise ValueError(
                f"cannot send on {unknown}: notifications sends on "
                f"{[c.value for c in CUSTOMER_CHANNELS]}"
            )
        return channels

    @model_validator(mode="after")
    def _coherent(self) -> Self:
        staff = self.trigger in STAFF_TRIGGERS
        if staff and Role.CUSTOMER in self.to:
            raise ValueError(f"'{self.trigger}' alerts staff: 'customer' cannot be a recipient")
        if not staff and set(self.to) != {Role.CUSTOMER}:
            raise ValueError(f"'{self.trigger}' notifies the customer: 'to' must be [customer]")
        if staff and self.category is not Category.ALERTS:
            raise ValueError("staff alerts must have category 'alerts'")
        if not staff and self.category is Category.ALERTS:
            raise ValueError("category 'alerts' is for staff alerts only")
        if self.anchor is Anchor.SEND_AFTER and self.trigger is not Trigger.SURVEY_ISSUED:
            raise ValueError("anchor 'send_after' exists only for 'survey_issued'")
        if self.anchor is Anchor.AUTO_CHANGE_AT and self.trigger not in AUTO_CHANGE_TRIGGERS:
            raise ValueError(
                "anchor 'auto_change_at' exists only for 'ticket_pending' and 'ticket_solved'"
            )
        if self.anchor is Anchor.TRIGGER and self.after < timedelta(0):
            raise ValueError("a negative 'after' needs a later anchor such as 'warranty_end'")
        if self.when.level is not None and self.trigger is not Trigger.SLA_ESCALATED:
            raise ValueError("'when.level' applies to 'sla_escalated' only")
        if self.when.metric is not None and self.trigger not in STAFF_TRIGGERS - {
            Trigger.DETRACTOR_FOUND
        }:
            raise ValueError("'when.metric' applies to sla_* triggers only")
        if self.wait_for_sla is not None and self.trigger is not Trigger.TICKET_OPENED:
            raise ValueError("'wait_for_sla' applies to 'ticket_opened' only")
        return self

    @property
    def audience_is_staff(self) -> bool:
        return self.trigger in STAFF_TRIGGERS


# --- limits -------------------------------------------------------------------------------


class QuietHours(_Strict):
    """A daily window (local time) in which held messages wait; it may span midnight."""

    start: time
    end: time
    unless_active_within: Duration | None = Field(
        default=None,
        description="A customer who wrote to us this recently is in the conversation: "
        "messages to them are not held",
    )

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise ValueError("start and end are equal: the window would be empty or everything")
        return self


class RateLimit(_Strict):
    max: int = Field(ge=1, le=1000)
    per: PositiveDuration


class SurveyFatigue(_Strict):
    max_one_per: PositiveDuration = Field(description="At most one survey per customer this long")

    @field_validator("max_one_per")
    @classmethod
    def _whole_days(cls, value: timedelta) -> timedelta:
        if value % timedelta(days=1):
            raise ValueError("must be a whole number of days (the limit is kept per day)")
        return value


class CustomerRules(_Strict):
    reply_channels: dict[Channel, tuple[Channel, ...]] = Field(
        description="The ticket's channel → the channels to answer on, in order of preference"
    )
    default_time_zone: TimeZoneName = "UTC"
    time_zone_by_language: dict[LanguageCode, TimeZoneName] = Field(
        default_factory=dict,
        description="A customer's zone, when neither they nor their phone number tell it",
    )
    quiet_hours: QuietHours | None = None
    rate_limit: RateLimit | None = None
    survey_fatigue: SurveyFatigue | None = None

    def time_zone_for(self, language: str | None) -> str:
        base = (language or "").split("-")[0].lower()
        return self.time_zone_by_language.get(base, self.default_time_zone)

    @field_validator("reply_channels")
    @classmethod
    def _every_channel(
        cls, value: dict[Channel, tuple[Channel, ...]]
    ) -> dict[Channel, tuple[Channel, ...]]:
        missing = [c.value for c in Channel if c not in value]
        if missing:
            raise ValueError(f"no reply channels for {missing}")
        for source, targets in value.items():
            if not targets:
                raise ValueError(f"{source.value}: name at least one channel")
            unknown = [t.value for t in targets if t not in CUSTOMER_CHANNELS]
            if unknown:
                raise ValueError(f"{source.value}: cannot send on {unknown}")
        return value


class StaffRules(_Strict):
    """Staff's time zones are the directory's (per team)."""

    quiet_hours: QuietHours | None = None
    rate_limit: RateLimit | None = None


class ChannelOptions(_Strict):
    max_chars: int = Field(ge=20, le=10_000, description="Longer texts are cut with an ellipsis")


class WarrantyRules(_Strict):
    end_reference: str | None = Field(
        default="warranty_until",
        description="A reference kind on the ticket holding the warranty's end as an ISO date",
    )
    assumed_end_after_opening: PositiveDuration = Field(
        description="Otherwise the warranty is taken to end this long after the ticket opened"
    )


class NotificationRules(_Strict):
    version: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    customers: CustomerRules
    staff: StaffRules = StaffRules()
    channels: dict[Channel, ChannelOptions] = Field(default_factory=dict)
    warranty: WarrantyRules
    notifications: tuple[NotificationRule, ...] = Field(min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _no_pending_section(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "pending" in data:
            raise ValueError(
                "'pending' (closes_after) was removed: intake decides when a pending ticket is "
                "solved (its rules/automations.yaml) and says when on each status change; "
                "anchor the warning on 'auto_change_at' instead"
            )
        return data

    @model_validator(mode="after")
    def _unique_intents(self) -> Self:
        seen: set[str] = set()
        for rule in self.notifications:
            if rule.intent in seen:
                raise ValueError(f"intent {rule.intent!r} is defined twice")
            seen.add(rule.intent)
        surveys = [r.intent for r in self.notifications if r.category is Category.SURVEYS]
        if surveys and self.customers.survey_fatigue is None:
            raise ValueError(f"{surveys} are surveys but customers.survey_fatigue is not set")
        return self

    @property
    def by_intent(self) -> Mapping[str, NotificationRule]:
        return {rule.intent: rule for rule in self.notifications}

    def rule(self, intent: str) -> NotificationRule | None:
        return next((r for r in self.notifications if r.intent == intent), None)

    def max_chars(self, channel: Channel) -> int | None:
        options = self.channels.get(channel)
        return options.max_chars if options else None


def parse_rules(raw: str, *, source: str = "<rules>") -> NotificationRules:
    return parse_yaml(
        raw, NotificationRules, source=source, what="notification rules", error=RulesError
    )


def load_rules(path: Path | None = None) -> NotificationRules:
    """The rules in ``path``, or the packaged ones; raises :class:`RulesError`."""
    raw, source = read_source(path, DEFAULT_RULES, what="notification rules", error=RulesError)
    return parse_rules(raw, source=source)
