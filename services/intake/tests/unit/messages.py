"""Inbound messages for intake's unit tests, one builder per channel used."""

from __future__ import annotations

from datetime import UTC, datetime

from opora_shared.contracts.common import Attachment, CustomerContact
from opora_shared.contracts.inbound import (
    InboundCallV1,
    InboundChatMessageV1,
    InboundEmailV1,
    InboundMessengerMessageV1,
    InboundSmsV1,
    InboundWalkInV1,
    InboundWebFormV1,
)

AT = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)


def web_form(
    message_id: str = "form-1",
    text: str = "Не включается стиральная машина",
    email: str = "ivan@example.com",
) -> InboundWebFormV1:
    return InboundWebFormV1(
        source_message_id=message_id,
        conversation_id=message_id,
        received_at=AT,
        customer=CustomerContact(name="Иван Петров", email=email),
        text=text,
        form_id="support",
    )


def chat(message_id: str, session: str = "s-1", at: datetime = AT) -> InboundChatMessageV1:
    return InboundChatMessageV1(
        source_message_id=message_id,
        conversation_id=session,
        session_id=session,
        received_at=at,
        customer=CustomerContact(external_id="visitor-7"),
        text="Where is my order?",
    )


def email(
    message_id: str,
    *,
    in_reply_to: str | None = None,
    subject: str = "Не работает холодильник",
    to: tuple[str, ...] = ("support@opora.example",),
    sender: str = "ivan@example.com",
    at: datetime = AT,
) -> InboundEmailV1:
    return InboundEmailV1(
        source_message_id=message_id,
        conversation_id=message_id,
        received_at=at,
        customer=CustomerContact(name="Иван", email=sender),
        message_id=f"<{message_id}@mail.example>",
        in_reply_to=f"<{in_reply_to}@mail.example>" if in_reply_to else None,
        subject=subject,
        to=to,
        text="Холодильник не морозит.",
    )


def sms(
    message_id: str,
    phone: str = "+79161234567",
    text: str = "Когда привезут заказ?",
    at: datetime = AT,
    attachments: tuple[Attachment, ...] = (),
) -> InboundSmsV1:
    return InboundSmsV1(
        source_message_id=message_id,
        conversation_id=phone,
        received_at=at,
        customer=CustomerContact(phone=phone),
        text=text,
        attachments=attachments,
    )


def messenger(
    message_id: str, text: str = "Бонусы не начислились", at: datetime = AT, account: str = "5501"
) -> InboundMessengerMessageV1:
    return InboundMessengerMessageV1(
        source_message_id=message_id,
        conversation_id=f"telegram:{account}",
        received_at=at,
        customer=CustomerContact(name="Ольга", external_id=account),
        text=text,
        network="telegram",
        chat_id=account,
    )


def call(
    message_id: str,
    *selections: str,
    phone: str = "+79161234567",
    at: datetime = AT,
    transcript: str | None = None,
) -> InboundCallV1:
    return InboundCallV1(
        source_message_id=message_id,
        conversation_id=message_id,
        call_id=message_id,
        received_at=at,
        customer=CustomerContact(phone=phone),
        ivr_selections=selections,
        transcript=transcript,
    )


def walk_in(message_id: str = "book-1") -> InboundWalkInV1:
    return InboundWalkInV1(
        source_message_id=message_id,
        conversation_id=message_id,
        received_at=AT,
        customer=CustomerContact(name="Пётр Сидоров", phone="89031112233"),
        text="Жалоба: продавец отказался принять товар на гарантийный ремонт.",
        kind="complaint_book",
        location="Москва, Тверская 7",
    )
