"""The variables templates may use, and the context a message is rendered with.

Which variables a template gets depends on the fact its rule reacts to: every template has the
ticket's and the recipient's basics, an acknowledgement also the reply's due time, a survey
invitation the link, an SLA alert the metric and its due time. The rules name the templates;
:func:`catalogue` works out, for each one, the variables it may use (those every trigger using
it provides) and the variants it needs (e-mail: subject, text and HTML; SMS and messengers: one
short text). The renderer checks each template against that when it loads, so a misspelt
variable fails the start-up instead of a send.

Dates and durations are written for the recipient: in their language (Babel's CLDR data) and
their time zone. Values are text, except a survey's ``rating_links``: a list of ``score`` and
``url`` pairs, lowest score first, for a template to loop over.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_timedelta
from opora_shared.contracts.common import RequestType
from opora_shared.contracts.feedback import SurveyType

from opora_notifications.domain.model import Audience, NotificationRecord, first_name
from opora_notifications.domain.rules import SHORT_CHANNELS, NotificationRules, Trigger
from opora_notifications.domain.tickets import TicketView, warranty_end

TemplateValue = str | Sequence[Mapping[str, str]]
"""What a template variable holds: text, or a list of small records (``rating_links``)."""
Context = Mapping[str, TemplateValue]

COMMON = ("name", "full_name", "number", "subject", "product")
CUSTOMER_ONLY = ("unsubscribe_url",)
BY_TRIGGER: Mapping[Trigger, tuple[str, ...]] = {
    Trigger.TICKET_OPENED: ("reply_due",),
    Trigger.TICKET_ASSIGNED: ("agent_name",),
    Trigger.TICKET_PENDING: ("waiting_since", "closes_on", "closes_at"),
    Trigger.TICKET_SOLVED: ("warranty_ends_on",),
    Trigger.TICKET_CLOSED: ("warranty_ends_on",),
    Trigger.TICKET_REOPENED: (),
    Trigger.SURVEY_ISSUED: (
        "url",
        "expires_on",
        "survey_type",
        "scale_from",
        "scale_to",
        "rating_links",
    ),
    Trigger.SLA_WARNING: (
        "metric",
        "due_at",
        "remaining",
        "threshold",
        "priority",
        "agent_name",
        "customer_name",
    ),
    Trigger.SLA_BREACHED: (
        "metric",
        "due_at",
        "overdue",
        "priority",
        "agent_name",
        "customer_name",
    ),
    Trigger.SLA_ESCALATED: (
        "metric",
        "due_at",
        "overdue",
        "level",
        "priority",
        "agent_name",
        "customer_name",
    ),
    Trigger.DETRACTOR_FOUND: ("score", "survey_type", "agent_name", "customer_name"),
}

SCALES: Mapping[str, tuple[int, int]] = {t.value: t.scale for t in SurveyType}
"""The scores each survey type asks for: what a digit reply to an SMS invitation may be."""

_EXAMPLE_URL = (
    "https://support.example/s/eyJ2IjoyLCJ0IjoiMDE5NWFhM2UtN2I0Yy03ZDQxLTlhNmItNWIwYzllMmE3ZDQxIn0"
    ".Z8HxQA.hV3w0qkTq9xYb5R2nL8mJ4cF7dE1sA6gU0oZ2iK9pWc"
)
"""As long as feedback's signed links, so the SMS length check at load is a real one."""

EXAMPLE: Mapping[str, TemplateValue] = {
    "name": "Иван",
    "full_name": "Иван Петров",
    "number": "OP-000123",
    "subject": "Стиральная машина не включается",
    "product": "Bosch WAN28281",
    "unsubscribe_url": "https://support.example/v1/unsubscribe/example-token",
    "reply_due": "28 февраля 2026, 12:30",
    "agent_name": "Мария",
    "waiting_since": "28 февраля 2026",
    "closes_on": "7 марта 2026",
    "closes_at": "7 марта 2026, 12:30",
    "warranty_ends_on": "17 мая 2027",
    "url": _EXAMPLE_URL,
    "expires_on": "28 марта 2026",
    "metric": "first reply",
    "due_at": "28 February 2026, 12:30",
    "remaining": "15 minutes",
    "overdue": "10 minutes",
    "threshold": "75%",
    "priority": "high",
    "level": "2",
    "customer_name": "Иван Петров",
    "score": "2",
    "survey_type": "csat",
    "scale_from": "1",
    "scale_to": "5",
    "rating_links": tuple(
        {"score": str(n), "url": f"{_EXAMPLE_URL}?score={n}"} for n in range(1, 6)
    ),
}
"""A value for every variable: used to test-render every template at load and for previews."""

MINIMAL: Mapping[str, TemplateValue] = {
    name: "" for name in ("name", "full_name", "subject", "product", "unsubscribe_url")
} | {
    "reply_due": "",
    "closes_on": "",
    "closes_at": "",
    "agent_name": "",
    "warranty_ends_on": "",
    "scale_from": "",
    "scale_to": "",
    "rating_links": (),
}
"""Variables that may be empty in real messages: rendered empty too, so both branches of an
``{% if name %}`` are tried. A survey planned before its facts carried the question has no
scale; an invitation from an older feedback has no rating links; a pending ticket has no
closing date when intake's automation is off."""


@dataclass(frozen=True)
class TemplateSpec:
    """A template family the rules use: the variables it may use, the variants it needs."""

    name: str
    variables: frozenset[str]
    email: bool
    short: bool
    audience: Audience

    def example(self, minimal: bool = False) -> dict[str, TemplateValue]:
        values = {name: EXAMPLE[name] for name in self.variables}
        if minimal:
            values |= {name: MINIMAL[name] for name in self.variables if name in MINIMAL}
        return values


def variables_for(trigger: Trigger, audience: Audience) -> frozenset[str]:
    extra = CUSTOMER_ONLY if audience is Audience.CUSTOMER else ()
    return frozenset((*COMMON, *extra, *BY_TRIGGER[trigger]))


def catalogue(rules: NotificationRules) -> dict[str, TemplateSpec]:
    """Every template the rules name, with what it must provide."""
    found: dict[str, TemplateSpec] = {}
    for rule in rules.notifications:
        audience = Audience.STAFF if rule.audience_is_staff else Audience.CUSTOMER
        variables = variables_for(rule.trigger, audience)
        email = audience is Audience.STAFF or any(c not in SHORT_CHANNELS for c in rule.channels)
        short = audience is Audience.CUSTOMER and any(c in SHORT_CHANNELS for c in rule.channels)
        spec = TemplateSpec(rule.template, variables, email, short, audience)
        if (known := found.get(rule.template)) is not None:
            if known.audience is not audience:
                raise ValueError(f"template {rule.template!r} is used for both customers and staff")
            spec = TemplateSpec(
                rule.template,
                known.variables & variables,
                known.email or email,
                known.short or short,
                audience,
            )
        found[rule.template] = spec
    return found


# --- writing dates and durations for a reader --------------------------------------------------

_METRICS = {
    "ru": {
        "first_reply": "первый ответ",
        "next_reply": "следующий ответ",
        "periodic_update": "периодическое обновление",
        "requester_wait": "ожидание клиента",
        "agent_work": "работа агента",
        "resolution": "решение",
    },
    "en": {
        "first_reply": "first reply",
        "next_reply": "next reply",
        "periodic_update": "periodic update",
        "requester_wait": "requester wait",
        "agent_work": "agent work",
        "resolution": "resolution",
    },
}
_PRIORITIES = {
    "ru": {"low": "низкий", "normal": "обычный", "high": "высокий", "urgent": "срочный"},
    "en": {"low": "low", "normal": "normal", "high": "high", "urgent": "urgent"},
}


@dataclass(frozen=True)
class Reader:
    """Whom a text is written for: the language and the time zone of dates."""

    language: str
    zone: ZoneInfo

    def moment(self, at: datetime | None) -> str:
        if at is None:
            return ""
        return format_datetime(at, "d MMMM y, HH:mm", tzinfo=self.zone, locale=self.language)

    def day(self, at: datetime | None) -> str:
        if at is None:
            return ""
        return format_date(at.astimezone(self.zone).date(), "d MMMM y", locale=self.language)

    def duration(self, seconds: float | None) -> str:
        if seconds is None:
            return ""
        return format_timedelta(
            timedelta(seconds=abs(seconds)), threshold=1.5, locale=self.language
        )

    def metric(self, metric: str | None) -> str:
        return _METRICS.get(self.language, _METRICS["en"]).get(metric or "", metric or "")

    def priority(self, priority: str | None) -> str:
        return _PRIORITIES.get(self.language, _PRIORITIES["en"]).get(priority or "", priority or "")


def context_for(
    record: NotificationRecord,
    ticket: TicketView,
    rules: NotificationRules,
    *,
    reader: Reader,
    recipient_name: str | None,
    unsubscribe_url: str | None = None,
) -> dict[str, TemplateValue]:
    """The variables of one message, written for its reader; only those its trigger provides."""
    facts = record.facts
    customer_name = ticket.customer.name if ticket.customer and ticket.customer.name else ""
    remaining = _number(facts.get("remaining_s"))
    is_warranty = ticket.request_type is RequestType.WARRANTY
    survey_type = str(facts.get("survey_type") or "")
    scale = SCALES.get(survey_type)
    auto_change_at = _moment(facts.get("auto_change_at"))  # intake's, None when it is off
    values: dict[str, TemplateValue] = {
        "name": first_name(recipient_name),
        "full_name": " ".join((recipient_name or "").split()),
        "number": ticket.number or "",
        "subject": ticket.subject,
        "product": ticket.product or "",
        "unsubscribe_url": unsubscribe_url or "",
        "reply_due": reader.moment(ticket.reply_due_at),
        "agent_name": str(facts.get("agent_name") or ""),
        "waiting_since": reader.day(record.triggered_at),
        "closes_on": reader.day(auto_change_at),
        "closes_at": reader.moment(auto_change_at),
        "warranty_ends_on": reader.day(warranty_end(ticket, rules.warranty)) if is_warranty else "",
        "url": str(facts.get("url") or ""),
        "expires_on": reader.day(_moment(facts.get("expires_at"))),
        "metric": reader.metric(_text(facts.get("metric"))),
        "due_at": reader.moment(_moment(facts.get("due_at"))),
        "remaining": reader.duration(max(remaining, 0) if remaining is not None else None),
        "overdue": reader.duration(max(-remaining, 0) if remaining is not None else None),
        "threshold": str(facts.get("threshold") or ""),
        "priority": reader.priority(ticket.priority.value if ticket.priority else None),
        "level": str(facts.get("level") or ""),
        "customer_name": customer_name,
        "score": str(facts.get("score") if facts.get("score") is not None else ""),
        "survey_type": survey_type,
        "scale_from": str(scale[0]) if scale else "",
        "scale_to": str(scale[1]) if scale else "",
        "rating_links": _rating_links(facts.get("rating_links")),
    }
    wanted = variables_for(record.trigger, record.audience)
    return {name: value for name, value in values.items() if name in wanted}


def _rating_links(value: object) -> tuple[dict[str, str], ...]:
    """The stored ``[{"score": 1, "url": …}, …]``, lowest first, as text for the template."""
    if not isinstance(value, list | tuple):
        return ()
    links = [
        (link["score"], str(link["url"]))
        for link in value
        if isinstance(link, Mapping) and isinstance(link.get("score"), int) and link.get("url")
    ]
    return tuple({"score": str(score), "url": url} for score, url in sorted(links))


def _moment(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None
