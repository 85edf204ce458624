"""intake's HTTP API: channel adapters post inbound messages here instead of to Kafka.

``POST /v1/inbound/{channel}`` takes the same JSON as the raw topic's record value for that
channel and answers with the ticket it became (201 for a new ticket, 200 when the message joined
an existing one or was a repeat).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Response, status
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
from opora_shared.ports import Publisher
from pydantic import BaseModel

from opora_intake.domain import service
from opora_intake.domain.ports import Repository
from opora_intake.entrypoints.auth import AdapterAuth


class TicketReceipt(BaseModel):
    ticket_id: str
    number: str
    opened: bool


def build_router(
    repo: Repository, publisher: Publisher, number_prefix: str, auth: AdapterAuth
) -> APIRouter:
    """The inbound routes; every one needs an adapter's API key or the channel's signature."""
    router = APIRouter(prefix="/v1/inbound", tags=["inbound"], dependencies=[Depends(auth)])

    async def accept(message: InboundMessage, response: Response) -> TicketReceipt:
        outcome = await service.accept_message(
            message, repo, publisher, number_prefix=number_prefix
        )
        response.status_code = status.HTTP_201_CREATED if outcome.opened else status.HTTP_200_OK
        return TicketReceipt(
            ticket_id=outcome.ticket_id, number=outcome.number, opened=outcome.opened
        )

    @router.post("/email", response_model=TicketReceipt)
    async def email(
        message: Annotated[InboundEmailV1, Body()], response: Response
    ) -> TicketReceipt:
        return await accept(message, response)

    @router.post("/web-form", response_model=TicketReceipt)
    async def web_form(
        message: Annotated[InboundWebFormV1, Body()], response: Response
    ) -> TicketReceipt:
        return await accept(message, response)

    @router.post("/chat", response_model=TicketReceipt)
    async def chat(
        message: Annotated[InboundChatMessageV1, Body()], response: Response
    ) -> TicketReceipt:
        return await accept(message, response)

    @router.post("/call", response_model=TicketReceipt)
    async def call(message: Annotated[InboundCallV1, Body()], response: Response) -> TicketReceipt:
        return await accept(message, response)

    @router.post("/sms", response_model=TicketReceipt)
    async def sms(message: Annotated[InboundSmsV1, Body()], response: Response) -> TicketReceipt:
        return await accept(message, response)

    @router.post("/messenger", response_model=TicketReceipt)
    async def messenger(
        message: Annotated[InboundMessengerMessageV1, Body()], response: Response
    ) -> TicketReceipt:
        return await accept(message, response)

    @router.post("/walk-in", response_model=TicketReceipt)
    async def walk_in(
        message: Annotated[InboundWalkInV1, Body()], response: Response
    ) -> TicketReceipt:
        return await accept(message, response)

    return router
