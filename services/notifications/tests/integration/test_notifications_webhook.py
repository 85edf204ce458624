"""SMS and messenger sends through the signed webhook, received by a real HTTP server on loopback
that checks the signature the way a provider would.

Needs no Kafka or MongoDB: the server is ``http.server`` in a thread of this process.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from opora_notifications.adapters.webhook import SIGNATURE_HEADER, WebhookSender
from opora_notifications.domain.ports import (
    ChannelUnavailableError,
    DeliveryDeferredError,
    DeliveryRejectedError,
)
from opora_shared.contracts.common import Channel
from pydantic import SecretStr

SECRET = "loopback-webhook-secret"


@dataclass
class Provider:
    """What the fake provider received, and what it answers next."""

    received: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    answers: list[tuple[int, dict[str, str], bytes]] = field(default_factory=list)
    bad_signatures: int = 0
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/outbound"


def verified(headers: dict[str, str], body: bytes) -> bool:
    fields = dict(part.split("=", 1) for part in headers[SIGNATURE_HEADER].split(","))
    expected = hmac.new(
        SECRET.encode(), f"{fields['t']}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


@pytest.fixture
def provider() -> Iterator[Provider]:
    state = Provider()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            headers = {k: v for k, v in self.headers.items()}
            if not verified(headers, body):
                state.bad_signatures += 1
                self.send_response(401)
                self.end_headers()
                return
            state.received.append((headers, json.loads(body)))
            status, extra, answer = (
                state.answers.pop(0) if state.answers else (200, {}, b'{"id": "SM-1"}')
            )
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook_desk(make_desk, provider):
    desk = make_desk()
    sender = WebhookSender(url=provider.url, secret=SecretStr(SECRET), timeout_s=5)
    desk.notifier.senders = {
        Channel.EMAIL: desk.mail,
        Channel.SMS: sender,
        Channel.MESSENGER: sender,
    }
    return desk


async def test_an_sms_ticket_is_answered_through_the_signed_webhook(
    webhook_desk, provider, ticket_opened, sla_applied
):
    await webhook_desk.notifier.on_sla_applied(sla_applied())
    await webhook_desk.notifier.on_ticket_opened(
        ticket_opened(channel=Channel.SMS, phone="+79161234567", email=None)
    )
    await webhook_desk.settle()

    ((headers, body),) = provider.received
    assert provider.bad_signatures == 0
    assert headers["Idempotency-Key"] == body["notification_id"]
    assert body["channel"] == "sms"
    assert body["to"]["phone"] == "+79161234567"
    assert body["text"].startswith("Иван, заявка OP-000123 принята. Ответим до 28 февраля 2026")
    assert webhook_desk.publisher.published[0].provider_message_id == "SM-1"


async def test_a_messenger_ticket_is_answered_in_its_conversation(
    webhook_desk, provider, ticket_opened, sla_applied
):
    await webhook_desk.notifier.on_sla_applied(sla_applied())
    opened = ticket_opened(channel=Channel.MESSENGER, email=None, language="en", name="Ivan")
    await webhook_desk.notifier.on_ticket_opened(opened)
    await webhook_desk.settle()

    ((_, body),) = provider.received
    assert body["channel"] == "messenger"
    assert body["to"]["reply_to_message"] == opened.source_message_id
    assert body["text"].startswith("Ivan, your request OP-000123 is registered.")


def _sender(provider: Provider) -> WebhookSender:
    return WebhookSender(url=provider.url, secret=SecretStr(SECRET), timeout_s=5)


def _message():
    from opora_notifications.domain.ports import OutgoingMessage, RenderedMessage

    return OutgoingMessage(
        notification_id="n-1",
        intent="ticket.acknowledged",
        channel=Channel.SMS,
        address="+79161234567",
        recipient_name=None,
        language="ru",
        content=RenderedMessage(text="Привет"),
        ticket_id="t-1",
        phone="+79161234567",
    )


async def test_a_throttled_send_is_deferred_with_the_providers_retry_after(provider):
    provider.answers.append((429, {"Retry-After": "120"}, b""))

    with pytest.raises(DeliveryDeferredError) as deferred:
        await _sender(provider).send(_message())

    assert deferred.value.retry_after_s == 120
    assert "+7916" not in deferred.value.reason


async def test_a_refused_send_is_permanent(provider):
    provider.answers.append((400, {}, b'{"error": "invalid number"}'))

    with pytest.raises(DeliveryRejectedError):
        await _sender(provider).send(_message())


async def test_a_provider_error_is_deferred(provider):
    provider.answers.append((503, {}, b""))

    with pytest.raises(DeliveryDeferredError):
        await _sender(provider).send(_message())


async def test_an_unreachable_provider_is_unavailable() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    sender = WebhookSender(url=f"http://127.0.0.1:{port}/x", secret=SecretStr(SECRET), timeout_s=2)

    with pytest.raises(ChannelUnavailableError):
        await sender.send(_message())
