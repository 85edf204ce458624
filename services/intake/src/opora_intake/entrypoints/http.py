"""intake's HTTP API: the public way in for channel adapters and the agent workspace.

* ``POST /v1/inbound/{channel}`` takes the same JSON as the raw topic's record value for that
  channel; ``/v1/inbound/email/raw`` takes a whole MIME message (``message/rfc822``) and
  ``/v1/inbound/email/parsed`` a mail provider's parsed-mail JSON. The answer names the ticket
  the message became: 201 for a new ticket, 200 when it joined (or reopened) an existing one,
  answered the survey of one (``survey_answer``), or was a repeat of a message already accepted.
* ``/v1/workspace/…`` takes what agents do: replies and status changes (published at once as
  canonical ticket events), offer answers, transfers, agent profiles and presence (published on
  the workspace topics for routing).
* ``/v1/customers/{id}`` shows a profile; ``…/merge`` and ``…/unmerge`` join and split profiles.

Every route needs an adapter's API key or, on ``/v1/inbound/…``, the channel's HMAC signature
(see ``auth.py``). 401 is answered before anything is published.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response, status
from opora_shared.contracts.base import Event, Id, ShortText
from opora_shared.contracts.customers import IdentifierKind
from opora_shared.contracts.inbound import (
    InboundCallV1,
    InboundChatMessageV1,
    InboundEmailV1,
    InboundMessage,
    InboundMessengerMessageV1,
    InboundSmsV1,
    InboundWalkInV1,
    InboundWebFormV1,
)
from opora_shared.contracts.tickets import TicketRepliedV1, TicketStatusChangedV1
from opora_shared.contracts.workspace import (
    AgentPresenceChangedV1,
    AgentProfileChangedV1,
    OfferAcceptedV1,
    OfferDeclinedV1,
    ReplyPostedV1,
    StatusSetV1,
    TicketTransferRequestedV1,
)
from opora_shared.errors import PermanentError
from opora_shared.ports import Publisher
from pydantic import BaseModel, Field

from opora_intake.domain import service
from opora_intake.domain.automations import Automation
from opora_intake.domain.email import EmailParseError, ParsedEmailV1, email_from_parsed, parse_mime
from opora_intake.domain.ports import Repository
from opora_intake.entrypoints.auth import AdapterAuth

CHANNEL_MODELS: dict[str, type[InboundMessage]] = {
    "email": InboundEmailV1,
    "web-form": InboundWebFormV1,
    "chat": InboundChatMessageV1,
    "call": InboundCallV1,
    "sms": InboundSmsV1,
    "messenger": InboundMessengerMessageV1,
    "walk-in": InboundWalkInV1,
}


class TicketReceipt(BaseModel):
    ticket_id: str
    number: str = Field(description="The ticket's number; for a walk-in, the receipt to hand over")
    opened: bool = Field(description="True when the message opened a new ticket")
    repeat: bool = Field(
        default=False, description="True when this message was accepted before (a retry)"
    )
    survey_answer: bool = Field(
        default=False,
        description="True when the message was read as the answer to the survey of the ticket "
        "named (a score texted back, an IVR keypad result) and joined no ticket",
    )


class IdentifierRead(BaseModel):
    kind: IdentifierKind
    value: str
    verified: bool


class CustomerRead(BaseModel):
    customer_id: str
    name: str | None
    language: str
    tier: str
    identifiers: list[IdentifierRead]
    merged_into: str | None = Field(description="Set when this profile was merged into another")
    merged: list[str] = Field(description="Profiles merged into this one")
    suggestions: dict[str, list[str]] = Field(
        description="Profiles that look like the same person, with the evidence"
    )


class MergeRequest(BaseModel):
    merged_customer_id: Id
    actor: ShortText = Field(description="Who decides: an agent id")
    reason: ShortText | None = None


def build_router(
    repo: Repository,
    publisher: Publisher,
    policy: service.Policy,
    auth: AdapterAuth,
    automation: Automation | None = None,
) -> APIRouter:
    """Every route of intake's public API, behind adapter authentication."""
    router = APIRouter(dependencies=[Depends(auth)])
    router.include_router(_inbound_router(repo, publisher, policy))
    router.include_router(_workspace_router(repo, publisher, automation))
    router.include_router(_customer_router(repo, publisher))
    return router


def _inbound_router(repo: Repository, publisher: Publisher, policy: service.Policy) -> APIRouter:
    router = APIRouter(prefix="/v1/inbound", tags=["inbound"])

    async def accept(message: InboundMessage, response: Response) -> TicketReceipt:
        outcome = await service.accept_message(message, repo, publisher, policy)
        created = outcome.opened and not outcome.repeat
        response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
        return TicketReceipt(
            ticket_id=outcome.ticket_id,
            number=outcome.number,
            opened=outcome.opened,
            repeat=outcome.repeat,
            survey_answer=outcome.survey_answer,
        )

    @router.post(
        "/email/raw",
        response_model=TicketReceipt,
        summary="A raw e-mail (RFC 5322 MIME), as an MTA or mailbox poller delivers it",
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
            }
        },
    )
    async def email_raw(request: Request, response: Response) -> TicketReceipt:
        try:
            message = parse_mime(await request.body())
        except EmailParseError as error:
            raise HTTPException(422, detail=[_body_error(str(error))]) from error
        return await accept(message, response)

    @router.post("/email/parsed", response_model=TicketReceipt, summary="A provider's parsed mail")
    async def email_parsed(
        mail: Annotated[ParsedEmailV1, Body()], response: Response
    ) -> TicketReceipt:
        try:
            message = email_from_parsed(mail)
        except EmailParseError as error:
            raise HTTPException(422, detail=[_body_error(str(error))]) from error
        return await accept(message, response)

    for slug, model in CHANNEL_MODELS.items():
        router.add_api_route(
            f"/{slug}",
            _channel_endpoint(model, accept),
            methods=["POST"],
            response_model=TicketReceipt,
            summary=f"A {model.channel.value.replace('_', ' ')} message ({model.ce_type})",
            name=f"inbound_{model.channel.value}",
        )

    @router.post("/{channel}", include_in_schema=False)
    async def unknown_channel(channel: str) -> None:
        known = ", ".join(sorted(CHANNEL_MODELS))
        raise HTTPException(404, detail=f"unknown channel {channel!r}; known: {known}")

    return router


def _channel_endpoint(
    model: type[InboundMessage],
    accept: Callable[[InboundMessage, Response], Awaitable[TicketReceipt]],
) -> Callable[..., Awaitable[TicketReceipt]]:
    async def endpoint(message: InboundMessage, response: Response) -> TicketReceipt:
        return await accept(message, response)

    # FastAPI reads the body model from the annotation: give each channel its own.
    endpoint.__annotations__ = {
        "message": Annotated[model, Body()],
        "response": Response,
        "return": TicketReceipt,
    }
    return endpoint


def _workspace_router(
    repo: Repository, publisher: Publisher, automation: Automation | None
) -> APIRouter:
    router = APIRouter(prefix="/v1/workspace", tags=["workspace"])

    @router.post("/replies", response_model=TicketRepliedV1, summary="An agent replied")
    async def reply(action: Annotated[ReplyPostedV1, Body()]) -> TicketRepliedV1:
        return await service.record_reply(action, publisher, automation)

    @router.post(
        "/status", response_model=TicketStatusChangedV1, summary="An agent changed a status"
    )
    async def set_status(action: Annotated[StatusSetV1, Body()]) -> TicketStatusChangedV1:
        try:
            return await service.change_status(action, repo, publisher, automation)
        except PermanentError as error:
            raise HTTPException(404, detail=str(error)) from error

    forwarded: dict[str, type[Event]] = {
        "/offers/accepted": OfferAcceptedV1,
        "/offers/declined": OfferDeclinedV1,
        "/transfers": TicketTransferRequestedV1,
        "/agents/profile": AgentProfileChangedV1,
        "/agents/presence": AgentPresenceChangedV1,
    }
    for path, model in forwarded.items():
        router.add_api_route(
            path,
            _forwarding_endpoint(model, publisher),
            methods=["POST"],
            status_code=status.HTTP_202_ACCEPTED,
            summary=f"Published as {model.ce_type} on {model.topic.name}",
            name=f"workspace_{model.__name__}",
        )
    return router


def _forwarding_endpoint(
    model: type[Event], publisher: Publisher
) -> Callable[..., Awaitable[dict[str, str]]]:
    async def endpoint(event: Event) -> dict[str, str]:
        await publisher.publish(event)
        return {"event_id": event.event_id, "topic": event.topic.name}

    endpoint.__annotations__ = {"event": Annotated[model, Body()], "return": dict[str, str]}
    return endpoint


def _customer_router(repo: Repository, publisher: Publisher) -> APIRouter:
    router = APIRouter(prefix="/v1/customers", tags=["customers"])

    @router.get("/{customer_id}", response_model=CustomerRead)
    async def customer(customer_id: str) -> CustomerRead:
        profile = await repo.get_customer(customer_id)
        if profile is None:
            raise HTTPException(404, detail=f"no customer {customer_id}")
        return CustomerRead(
            customer_id=profile.customer_id,
            name=profile.name,
            language=profile.language,
            tier=profile.tier,
            identifiers=[
                IdentifierRead(kind=i.kind, value=i.value, verified=i.verified)
                for i in profile.identifiers
            ],
            merged_into=profile.merged_into,
            merged=list(profile.merged),
            suggestions={k: list(v) for k, v in profile.suggestions.items()},
        )

    @router.post("/{customer_id}/merge", summary="Merge another profile into this one")
    async def merge(customer_id: str, request: Annotated[MergeRequest, Body()]) -> dict[str, Any]:
        return await _profile_change(service.merge_customers, customer_id, request)

    @router.post("/{customer_id}/unmerge", summary="Undo a merge into this profile")
    async def unmerge(customer_id: str, request: Annotated[MergeRequest, Body()]) -> dict[str, Any]:
        return await _profile_change(service.unmerge_customers, customer_id, request)

    async def _profile_change(
        change: Callable[..., Awaitable[Event]], customer_id: str, request: MergeRequest
    ) -> dict[str, Any]:
        try:
            event = await change(
                customer_id,
                request.merged_customer_id,
                repo,
                publisher,
                actor=request.actor,
                reason=request.reason,
            )
        except LookupError as error:
            raise HTTPException(404, detail=f"no customer {error}") from error
        except PermanentError as error:
            raise HTTPException(409, detail=str(error)) from error
        return event.model_dump(mode="json")

    return router


def _body_error(message: str) -> dict[str, Any]:
    return {"loc": ["body"], "msg": message, "type": "value_error"}
