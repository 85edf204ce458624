"""notifications' HTTP API: a ticket's notification history, dead letters, template previews,
customers' preferences (opt-outs, channels, time zone) and one-click unsubscribe.

The API is internal (like routing's and sla's), except ``/v1/unsubscribe/{token}``, which is the
link customers follow: it acts only on what its signed token names.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import HTMLResponse
from opora_shared.contracts.common import Channel
from opora_shared.ports import Clock
from pydantic import BaseModel, Field, field_validator

from opora_notifications.adapters.templates import JinjaRenderer
from opora_notifications.adapters.unsubscribe import (
    InvalidTokenError,
    Unsubscribe,
    UnsubscribeLinks,
)
from opora_notifications.domain.model import (
    DeadLetter,
    NotificationRecord,
    Preferences,
    template_language,
)
from opora_notifications.domain.ports import (
    NotificationStore,
    PreferenceStore,
    TemplateContextError,
    UnknownTemplateError,
)
from opora_notifications.domain.rules import CUSTOMER_CHANNELS, Category, NotificationRules

OptOut = Literal["all", "service", "reminders", "follow_ups", "surveys", "offers"]
PreviewChannel = Literal["email", "sms", "messenger"]


class HistoryRead(BaseModel):
    at: datetime
    state: str
    detail: str


class NotificationRead(BaseModel):
    notification_id: str
    ticket_id: str
    intent: str
    template: str
    category: str
    audience: str
    trigger: str
    trigger_event_id: str
    recipient_masked: str | None
    channel: str | None
    language: str | None
    state: str
    due_at: datetime
    next_action_at: datetime | None
    attempts: int
    send_attempts: int
    provider_message_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime | None
    history: list[HistoryRead]

    @classmethod
    def of(cls, record: NotificationRecord) -> NotificationRead:
        return cls(
            notification_id=record.notification_id,
            ticket_id=record.ticket_id,
            intent=record.intent,
            template=record.template,
            category=record.category.value,
            audience=record.audience.value,
            trigger=record.trigger.value,
            trigger_event_id=record.trigger_event_id,
            recipient_masked=record.recipient_masked,
            channel=record.channel.value if record.channel else None,
            language=record.language,
            state=record.state.value,
            due_at=record.due_at,
            next_action_at=None if record.settled else record.wake_at,
            attempts=record.attempts,
            send_attempts=record.send_attempts,
            provider_message_id=record.provider_message_id,
            last_error=record.last_error,
            created_at=record.created_at,
            updated_at=record.updated_at,
            history=[
                HistoryRead(at=e.at, state=e.state.value, detail=e.detail) for e in record.history
            ],
        )


class DeadLetterRead(BaseModel):
    notification_id: str
    ticket_id: str
    intent: str
    channel: str | None
    recipient_masked: str | None
    reason: str
    attempts: int
    failed_at: datetime
    trigger_event_id: str

    @classmethod
    def of(cls, letter: DeadLetter) -> DeadLetterRead:
        return cls(
            notification_id=letter.notification_id,
            ticket_id=letter.ticket_id,
            intent=letter.intent,
            channel=letter.channel.value if letter.channel else None,
            recipient_masked=letter.recipient_masked,
            reason=letter.reason,
            attempts=letter.attempts,
            failed_at=letter.failed_at,
            trigger_event_id=letter.trigger_event_id,
        )


class TemplateRead(BaseModel):
    name: str
    audience: str
    variables: list[str]
    channels: list[str]
    intents: list[str]


class TemplatePreviewRequest(BaseModel):
    language: str = Field(default="en", max_length=16)
    channel: PreviewChannel = "email"
    context: dict[str, Annotated[str, Field(max_length=10_000)]] = Field(default_factory=dict)


class TemplatePreview(BaseModel):
    template: str
    language: str
    channel: str
    subject: str | None
    text: str
    html: str | None


class PreferencesBody(BaseModel):
    opted_out: list[OptOut] = Field(default_factory=list, max_length=10)
    blocked_channels: list[Channel] = Field(default_factory=list, max_length=10)
    preferred_channels: list[Channel] = Field(default_factory=list, max_length=10)
    time_zone: str | None = Field(default=None, max_length=64)

    @field_validator("blocked_channels", "preferred_channels")
    @classmethod
    def _sendable(cls, channels: list[Channel]) -> list[Channel]:
        unknown = [c.value for c in channels if c not in CUSTOMER_CHANNELS]
        if unknown:
            raise ValueError(
                f"{unknown}: notifications sends on {[c.value for c in CUSTOMER_CHANNELS]}"
            )
        return channels

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value


class PreferencesRead(PreferencesBody):
    customer_id: str
    updated_at: datetime | None = None

    @classmethod
    def of(cls, prefs: Preferences) -> PreferencesRead:
        return cls(
            customer_id=prefs.customer_id,
            opted_out=sorted(prefs.opted_out),
            blocked_channels=sorted(prefs.blocked_channels),
            preferred_channels=list(prefs.preferred_channels),
            time_zone=prefs.time_zone,
            updated_at=prefs.updated_at,
        )


def preview(
    renderer: JinjaRenderer,
    name: str,
    *,
    language: str,
    channel: PreviewChannel,
    context: dict[str, str],
) -> TemplatePreview:
    """Render a template with its example values, ``context`` overriding them.

    Raises :class:`UnknownTemplateError` or :class:`TemplateContextError`.
    """
    spec = renderer.specs.get(name)
    if spec is None:
        raise UnknownTemplateError(name)
    unknown = sorted(set(context) - spec.variables)
    if unknown:
        raise TemplateContextError(
            f"{name} has no variable(s) {', '.join(unknown)}; "
            f"it has {', '.join(sorted(spec.variables))}"
        )
    example = spec.example()
    lists = sorted(k for k in context if not isinstance(example.get(k), str))
    if lists:
        raise TemplateContextError(f"{', '.join(lists)}: a list, shown with its example values")
    short = channel != "email"
    lang = template_language(language)
    message = renderer.render(name, lang, {**example, **context}, short=short)
    return TemplatePreview(
        template=name,
        language=lang,
        channel=channel,
        subject=message.subject,
        text=message.text,
        html=message.html,
    )


def build_router(
    *,
    store: NotificationStore,
    preferences: PreferenceStore,
    renderer: JinjaRenderer,
    rules: NotificationRules,
    links: UnsubscribeLinks | None,
    clock: Clock,
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["notifications"])

    @router.get("/notifications", response_model=list[NotificationRead])
    async def ticket_history(
        ticket_id: Annotated[str, Query(min_length=1, max_length=128)],
    ) -> list[NotificationRead]:
        """Every notification planned for a ticket, with its state and history (recipients
        masked)."""
        return [NotificationRead.of(r) for r in await store.for_ticket(ticket_id)]

    @router.get("/notifications/{notification_id}", response_model=NotificationRead)
    async def one_notification(notification_id: str) -> NotificationRead:
        record = await store.get(notification_id)
        if record is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no notification {notification_id!r}")
        return NotificationRead.of(record)

    @router.get("/dead-letters", response_model=list[DeadLetterRead])
    async def dead_letters(
        ticket_id: Annotated[str | None, Query(max_length=128)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[DeadLetterRead]:
        """Notifications that failed for good, newest first."""
        return [DeadLetterRead.of(d) for d in await store.dead_letters(ticket_id, limit)]

    @router.get("/templates", response_model=list[TemplateRead])
    async def templates() -> list[TemplateRead]:
        return [
            TemplateRead(
                name=spec.name,
                audience=spec.audience.value,
                variables=sorted(spec.variables),
                channels=(["email"] if spec.email else [])
                + (["sms", "messenger"] if spec.short else []),
                intents=[r.intent for r in rules.notifications if r.template == spec.name],
            )
            for spec in renderer.specs.values()
        ]

    @router.post("/templates/{name}/preview", response_model=TemplatePreview)
    async def preview_template(name: str, request: TemplatePreviewRequest) -> TemplatePreview:
        """Render a template in a language and channel; variables left out take example values."""
        try:
            return preview(
                renderer,
                name,
                language=request.language,
                channel=request.channel,
                context=request.context,
            )
        except UnknownTemplateError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no template {name!r}") from exc
        except TemplateContextError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc

    @router.get("/customers/{customer_id}/preferences", response_model=PreferencesRead)
    async def get_preferences(customer_id: str) -> PreferencesRead:
        found = await preferences.get(customer_id)
        return PreferencesRead.of(found or Preferences(customer_id))

    @router.put("/customers/{customer_id}/preferences", response_model=PreferencesRead)
    async def put_preferences(customer_id: str, body: PreferencesBody) -> PreferencesRead:
        """Replace what the customer asked of us: opt-outs (a category, or ``all``), channels
        not to use, channels to prefer, their time zone for quiet hours."""
        prefs = Preferences(
            customer_id=customer_id,
            opted_out=frozenset(body.opted_out),
            blocked_channels=frozenset(body.blocked_channels),
            preferred_channels=tuple(dict.fromkeys(body.preferred_channels)),
            time_zone=body.time_zone,
            updated_at=clock(),
        )
        await preferences.save(prefs)
        return PreferencesRead.of(prefs)

    @router.get("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe_page(token: str) -> HTMLResponse:
        """The link in an e-mail: a page with a button (a GET must not change anything: mail
        scanners follow links)."""
        _read(links, token)
        return HTMLResponse(_page(_CONFIRM.format(action=escape(f"/v1/unsubscribe/{token}"))))

    @router.post("/unsubscribe/{token}", response_class=HTMLResponse)
    async def unsubscribe(token: str) -> HTMLResponse:
        """One click (RFC 8058: mail clients POST ``List-Unsubscribe=One-Click`` here)."""
        request = _read(links, token)
        current = await preferences.get(request.customer_id) or Preferences(request.customer_id)
        await preferences.save(
            Preferences(
                customer_id=current.customer_id,
                opted_out=current.opted_out | {request.category.value},
                blocked_channels=current.blocked_channels,
                preferred_channels=current.preferred_channels,
                time_zone=current.time_zone,
                updated_at=clock(),
            )
        )
        return HTMLResponse(_page(_DONE))

    return router


def _read(links: UnsubscribeLinks | None, token: str) -> Unsubscribe:
    if links is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "unsubscribe links are not enabled")
    try:
        found = links.read(token)
    except InvalidTokenError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    if found.category is Category.ALERTS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "not a valid unsubscribe link")
    return found


_CONFIRM = """<p lang="ru">Отписаться от этих сообщений?</p>
<p lang="en">Stop receiving these messages?</p>
<form method="post" action="{action}">
<button type="submit">Отписаться / Unsubscribe</button></form>"""
_DONE = """<p lang="ru">Готово: больше не будем присылать такие сообщения.</p>
<p lang="en">Done: you will not receive these messages any more.</p>"""


def _page(body: str) -> str:
    return (
        '<!DOCTYPE html><html><head><meta charset="utf-8"><title>Opora</title></head>'
        f"<body>{body}</body></html>"
    )
