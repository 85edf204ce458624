"""notifications' HTTP API: what was sent for a ticket, and template previews.

``GET /v1/notifications?ticket_id=…`` lists the delivery records of a ticket (recipients
masked). ``POST /v1/templates/{name}/preview`` renders a template family in a language with
the given variables, the template's example filling in any left out.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, Field

from opora_notifications.domain.model import TEMPLATES, DeliveryRecord, template_language
from opora_notifications.domain.ports import (
    NotificationStore,
    Renderer,
    TemplateContextError,
    UnknownTemplateError,
)


class NotificationRead(BaseModel):
    notification_id: str
    ticket_id: str
    intent: str
    template: str
    language: str
    channel: str
    recipient_masked: str
    state: str
    attempts: int
    provider_message_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: DeliveryRecord) -> NotificationRead:
        return cls(
            notification_id=record.notification_id,
            ticket_id=record.ticket_id,
            intent=record.intent,
            template=record.template,
            language=record.language,
            channel=record.channel.value,
            recipient_masked=record.recipient_masked,
            state=record.state.value,
            attempts=record.attempts,
            provider_message_id=record.provider_message_id,
            last_error=record.last_error,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class TemplatePreviewRequest(BaseModel):
    language: str = "en"
    context: dict[str, Annotated[str, Field(max_length=10_000)]] = Field(default_factory=dict)


class TemplatePreview(BaseModel):
    template: str
    language: str
    subject: str
    text: str
    html: str


def build_router(store: NotificationStore, renderer: Renderer) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["notifications"])

    @router.get("/notifications", response_model=list[NotificationRead])
    async def list_notifications(
        ticket_id: Annotated[str, Query(min_length=1, max_length=128)],
    ) -> list[NotificationRead]:
        return [NotificationRead.of(r) for r in await store.for_ticket(ticket_id)]

    @router.post("/templates/{name}/preview", response_model=TemplatePreview)
    async def preview_template(name: str, request: TemplatePreviewRequest) -> TemplatePreview:
        spec = TEMPLATES.get(name)
        if spec is None:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no template {name!r}")
        language = template_language(request.language)
        try:
            mail = renderer.render(name, language, {**spec.example, **request.context})
        except UnknownTemplateError as exc:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no template {name!r}") from exc
        except TemplateContextError as exc:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
        return TemplatePreview(
            template=name, language=language, subject=mail.subject, text=mail.text, html=mail.html
        )

    return router
