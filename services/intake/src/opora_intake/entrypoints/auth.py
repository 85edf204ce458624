"""Who may post to intake's HTTP API, and how much: adapter authentication and body limits.

Two schemes; either suffices.

* **API key** per adapter: ``Authorization: Bearer <key>`` or ``X-Api-Key: <key>``. The key
  names the adapter and is valid on every channel.
* **HMAC signature** per channel: ``X-Opora-Signature: t=<unix seconds>,v1=<hex>``, where the
  hex is HMAC-SHA256 over ``f"{t}.".encode() + body`` with one of the channel's secrets. Several
  ``v1=`` values may be sent and several secrets configured, so that either side can rotate.
  A timestamp further than the tolerance from now, either way, is refused.

A signed request replayed inside the window is accepted rather than remembered and refused, on
purpose: a per-process memory of signatures would not be shared by replicas, while a replay
carries the same body and so the same ``source_message_id``, which intake's deduplication
already turns into a repeat of the first outcome; the body cannot be changed without breaking
the signature. Outside the window the timestamp check refuses it.

:class:`BodySizeLimit` answers 413 before the app sees the request, so before authentication
and before the body is parsed.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from opora_shared.contracts.base import utc_now
from opora_shared.ports import Clock
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from opora_intake.config import Settings

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Opora-Signature"
REALM = "opora-intake"
_CHALLENGE = {"WWW-Authenticate": f'Bearer realm="{REALM}"'}
_HEX_SHA256 = re.compile(r"[0-9a-fA-F]{64}")

# Declared as sub-dependencies so that /openapi.json shows adapter authors how to authenticate;
# each is optional (auto_error=False) because any one of them suffices.
_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="AdapterApiKeyBearer",
    description="The adapter's API key as a bearer token: `Authorization: Bearer <key>`.",
)
_api_key = APIKeyHeader(
    name="X-Api-Key",
    auto_error=False,
    scheme_name="AdapterApiKey",
    description="The adapter's API key: `X-Api-Key: <key>`.",
)
_signature = APIKeyHeader(
    name=SIGNATURE_HEADER,
    auto_error=False,
    scheme_name="ChannelSignature",
    description=(
        "A per-channel HMAC signature of the request: "
        "`X-Opora-Signature: t=<unix seconds>,v1=<hex>` where `<hex>` is "
        "HMAC-SHA256 with the channel's secret over the bytes of `<t>` followed by `.` and "
        "the raw request body. More than one `v1=` may be sent during a secret rotation. "
        "The timestamp must be within the configured tolerance (default 300 s) of the "
        "server's clock."
    ),
)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller: an adapter by its API key, or a channel by its signature.

    ``scheme == "none"`` only when authentication is switched off (``auth_required=False``)
    and the request carried no valid credentials.
    """

    adapter: str
    scheme: Literal["api_key", "hmac", "none"]


ANONYMOUS = Principal(adapter="anonymous", scheme="none")


class AuthenticationError(Exception):
    """Credentials were presented but are not good; the message says why, without secrets."""


def sign(body: bytes, secret: str, timestamp: int) -> str:
    """The ``X-Opora-Signature`` header value for ``body`` sent at ``timestamp``."""
    return f"t={timestamp},v1={_digest(secret.encode(), timestamp, body)}"


def verify_signature(
    header: str, body: bytes, secrets: Sequence[bytes], *, now: float, tolerance_s: int
) -> None:
    """Raise :class:`AuthenticationError` unless ``header`` signs ``body`` with one of
    ``secrets`` at a time within ``tolerance_s`` of ``now``."""
    timestamp, candidates = _parse_signature(header)
    expected = [_digest(secret, timestamp, body) for secret in secrets]
    # Every pair is compared, so that the time taken says nothing about which one matched.
    matches = [hmac.compare_digest(e, c) for e in expected for c in candidates]
    if not any(matches):
        raise AuthenticationError("bad signature")
    if abs(now - timestamp) > tolerance_s:
        raise AuthenticationError(
            f"signature timestamp outside the {tolerance_s}-second window; check the clock"
        )


def match_api_key(presented: str, keys: Mapping[str, bytes]) -> str | None:
    """The adapter whose key ``presented`` is, if any."""
    candidate = presented.encode()
    matched = [name for name, key in keys.items() if hmac.compare_digest(key, candidate)]
    return matched[0] if matched else None


def channel_from_path(request: Request) -> str | None:
    """The channel a request is for: its ``{channel}`` path parameter, else the path segment
    after ``inbound`` (``/v1/inbound/email/raw`` → ``email``)."""
    if channel := request.path_params.get("channel"):
        return str(channel)
    segments = request.url.path.strip("/").split("/")
    if "inbound" in segments[:-1]:
        return segments[segments.index("inbound") + 1]
    return None


class AdapterAuth:
    """A FastAPI dependency that authenticates a channel adapter and returns its
    :class:`Principal`, or answers 401 (with ``WWW-Authenticate``) before the route runs.

    Put it on the router, ``APIRouter(dependencies=[Depends(auth)])``; a route that wants the
    caller takes a :data:`Caller` parameter. (A route built inside a function cannot name a
    local ``auth`` in its annotations, which ``from __future__ import annotations`` makes strings
    that FastAPI resolves in the module's globals.)
    """

    def __init__(
        self,
        settings: Settings,
        clock: Clock = utc_now,
        channel_of: Callable[[Request], str | None] = channel_from_path,
    ) -> None:
        self._required = settings.auth_required
        self._keys = {
            name: key.get_secret_value().encode() for name, key in settings.api_keys.items()
        }
        self._secrets = {
            channel: [s.get_secret_value().encode() for s in secrets]
            for channel, secrets in settings.hmac_secrets.items()
        }
        self._tolerance_s = settings.signature_tolerance_s
        self._clock = clock
        self._channel_of = channel_of
        if not self._required:
            log.warning("adapter authentication is off (auth_required=false): local demos only")

    async def __call__(
        self,
        request: Request,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
        signature: Annotated[str | None, Depends(_signature)],
    ) -> Principal:
        keys = [k for k in (bearer.credentials if bearer else None, api_key) if k]
        channel = self._channel_of(request)
        try:
            # Starlette keeps the body it read, so the route still parses it afterwards.
            body = await request.body() if signature else b""
            principal = self._authenticate(channel, keys, signature, body)
        except AuthenticationError as error:
            if self._required:
                log.warning(
                    "adapter authentication failed",
                    extra={"channel": channel, "reason": str(error), "path": request.url.path},
                )
                raise HTTPException(
                    status.HTTP_401_UNAUTHORIZED, detail=str(error), headers=_CHALLENGE
                ) from None
            principal = ANONYMOUS
        request.state.principal = principal
        return principal

    def _authenticate(
        self, channel: str | None, keys: Iterable[str], signature: str | None, body: bytes
    ) -> Principal:
        reasons: list[str] = []
        for key in keys:
            if adapter := match_api_key(key, self._keys):
                return Principal(adapter=adapter, scheme="api_key")
            reasons.append("invalid API key")
        if signature:
            try:
                self._verify(channel, signature, body)
                return Principal(adapter=str(channel), scheme="hmac")
            except AuthenticationError as error:
                reasons.append(str(error))
        if not reasons:
            raise AuthenticationError(
                "missing credentials: send 'Authorization: Bearer <key>', 'X-Api-Key: <key>' "
                f"or '{SIGNATURE_HEADER}: t=<unix seconds>,v1=<hex hmac-sha256>'"
            )
        raise AuthenticationError("; ".join(dict.fromkeys(reasons)))

    def _verify(self, channel: str | None, signature: str, body: bytes) -> None:
        secrets = self._secrets.get(channel or "")
        if not secrets:
            raise AuthenticationError(f"signatures are not accepted for channel {channel!r}")
        verify_signature(
            signature,
            body,
            secrets,
            now=self._clock().timestamp(),
            tolerance_s=self._tolerance_s,
        )


def current_principal(request: Request) -> Principal:
    """The caller that the router's :class:`AdapterAuth` authenticated for this request."""
    principal = getattr(request.state, "principal", None)
    if not isinstance(principal, Principal):
        raise RuntimeError("AdapterAuth is not among this route's dependencies")
    return principal


Caller = Annotated[Principal, Depends(current_principal)]
"""A route parameter for the authenticated caller: ``principal: Caller``."""


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def _parse_signature(header: str) -> tuple[int, list[str]]:
    fields: dict[str, list[str]] = {}
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        fields.setdefault(name, []).append(value)
    # Names other than t and v1 (a future v2=) are ignored, so that senders can add schemes first.
    timestamps, candidates = fields.get("t", []), fields.get("v1", [])
    if (
        len(timestamps) != 1
        # ASCII digits only: str.isdigit() also accepts '²', which int() then refuses.
        or not (timestamps[0].isascii() and timestamps[0].isdigit())
        or not candidates
        or not all(_HEX_SHA256.fullmatch(c) for c in candidates)
    ):
        raise AuthenticationError(
            f"malformed {SIGNATURE_HEADER} header; expected t=<unix seconds>,v1=<hex hmac-sha256>"
        )
    return int(timestamps[0]), [c.lower() for c in candidates]


def body_limits(settings: Settings) -> Callable[[str], int]:
    """The body limit for a request path: raw e-mail routes get the larger e-mail limit."""

    def limit_for(path: str) -> int:
        if path.rstrip("/").endswith("/email/raw"):
            return settings.max_email_bytes
        return settings.max_body_bytes

    return limit_for


class BodySizeLimit:
    """ASGI middleware answering 413 for a request body over the limit for its path.

    A declared ``Content-Length`` is checked before anything is read. A body without one
    (chunked) is read here up to the limit and handed on only if it fits, so that the app never
    starts on a request it would have to abandon halfway.
    """

    def __init__(self, app: ASGIApp, limit_for: Callable[[str], int]) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None:
            if declared > limit:
                await _too_large(scope, receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        buffered = await _read_up_to(receive, limit)
        if buffered is None:
            await _too_large(scope, receive, send, limit)
            return
        await self.app(scope, _replaying(buffered, receive), send)


def _content_length(scope: Scope) -> int | None:
    """The declared length; an unusable one (servers normally refuse those) counts as none, so
    that the body is then measured as it is read."""
    values = {v for k, v in scope["headers"] if k == b"content-length"}
    if len(values) == 1 and (value := values.pop()).isdigit():
        return int(value)
    return None


async def _read_up_to(receive: Receive, limit: int) -> deque[Message] | None:
    """The request's messages, or None once the body exceeds ``limit`` (the rest is unread)."""
    messages: deque[Message] = deque()
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":  # the client went away; let the app see it
            return messages
        size += len(message.get("body", b""))
        if size > limit:
            return None
        if not message.get("more_body", False):
            return messages


def _replaying(messages: deque[Message], receive: Receive) -> Receive:
    async def replay() -> Message:
        return messages.popleft() if messages else await receive()

    return replay


async def _too_large(scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    response = JSONResponse(
        {"detail": f"request body larger than this endpoint's limit of {limit} bytes"},
        status_code=status.HTTP_413_CONTENT_TOO_LARGE,
        # The unread rest of the body would otherwise be taken for the next request.
        headers={"Connection": "close"},
    )
    await response(scope, receive, send)
