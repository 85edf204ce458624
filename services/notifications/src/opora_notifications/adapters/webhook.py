"""SMS and messengers through a provider webhook: one generic, signed HTTP adapter per channel.

Opora does not talk to Twilio, Telegram or WhatsApp itself; the channel adapter that delivered
the customer's message (or an SMS gateway) receives a JSON ``POST`` and sends it on:

```json
{"notification_id": "…", "intent": "pending.reminder_1", "channel": "sms",
 "ticket_id": "…", "ticket_number": "OP-000123", "language": "ru",
 "to": {"customer_id": "…", "phone": "+79161234567", "reply_to_message": "sms:SM123…"},
 "text": "…", "sent_at": "2026-03-01T09:00:00+00:00"}
```

``to.reply_to_message`` is the inbound message the ticket began with (``<channel>:<provider
id>``, as intake keys it): a messenger adapter answers in that chat, since the ticket's event
carries no chat id of its own.

Signed like intake's inbound webhooks, so one verifier serves both directions:
``X-Opora-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + body>``.
``Idempotency-Key`` is the notification id: the same on every attempt, so a provider that
honours it (Stripe-style) drops a repeat.

Outcomes: 2xx sent (the provider's id from the JSON ``id``, else the notification id); 408,
425, 429 and 5xx deferred (``Retry-After`` honoured); other 4xx rejected for good; no answer
(connection refused, timeout) unavailable.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind
from opora_shared.contracts.common import Channel
from pydantic import SecretStr

from opora_notifications.domain.ports import (
    ChannelUnavailableError,
    DeliveryDeferredError,
    DeliveryRejectedError,
    OutgoingMessage,
)

_tracer = trace.get_tracer("opora.notifications.webhook")

SIGNATURE_HEADER = "X-Opora-Signature"
_RETRYABLE = frozenset({408, 425, 429})


def signature(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Opora-Signature`` value for ``body`` sent at ``timestamp``."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={digest.hexdigest()}"


class WebhookSender:
    def __init__(
        self,
        *,
        url: str,
        secret: SecretStr,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.url = url
        self._server = urlsplit(url)
        self._secret = secret
        self._timeout_s = timeout_s
        self._client = client
        self._owns_client = client is None
        self._clock = clock

    def payload(self, message: OutgoingMessage) -> dict[str, Any]:
        return {
            "notification_id": message.notification_id,
            "intent": message.intent,
            "channel": message.channel.value,
            "ticket_id": message.ticket_id,
            "ticket_number": message.ticket_number,
            "language": message.language,
            "to": {
                "customer_id": message.customer_id,
                "phone": message.phone,
                "reply_to_message": (
                    message.address if message.channel is Channel.MESSENGER else None
                ),
            },
            "text": message.content.text,
            "sent_at": datetime.fromtimestamp(self._clock(), UTC).isoformat(),
        }

    async def send(self, message: OutgoingMessage) -> str:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            SIGNATURE_HEADER: signature(body, self._secret.get_secret_value(), int(self._clock())),
            "Idempotency-Key": message.notification_id,
        }
        # A client span by hand rather than httpx's instrumentation, which would record the
        # full URL: providers put their tokens in it.
        with _tracer.start_as_current_span(
            "POST",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": "POST",
                "server.address": self._server.hostname or "",
                "server.port": self._server.port or (443 if self._server.scheme == "https" else 80),
            },
        ) as span:
            propagate.inject(headers)  # the provider may continue the trace
            try:
                response = await self._http().post(
                    self.url, content=body, headers=headers, timeout=self._timeout_s
                )
            except httpx.HTTPError as exc:
                span.set_attribute("error.type", type(exc).__name__)
                raise ChannelUnavailableError(
                    f"{type(exc).__name__}: cannot reach the {message.channel.value} webhook"
                ) from None
            span.set_attribute("http.response.status_code", response.status_code)
        status = response.status_code
        if 200 <= status < 300:
            return _provider_id(response) or message.notification_id
        reason = f"{message.channel.value} webhook answered {status}"
        if status in _RETRYABLE or status >= 500:
            raise DeliveryDeferredError(reason, retry_after_s=_retry_after(response))
        raise DeliveryRejectedError(reason)

    async def close(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient()
        return self._client


def _provider_id(response: httpx.Response) -> str | None:
    try:
        data = response.json()
    except ValueError:
        return None
    found = data.get("id") if isinstance(data, dict) else None
    return str(found)[:1000] if found else None


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
