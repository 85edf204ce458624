"""Who may post to intake: API keys, channel signatures, the replay window and body limits."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI
from opora_intake.config import Settings
from opora_intake.entrypoints.auth import (
    AdapterAuth,
    BodySizeLimit,
    Caller,
    Principal,
    body_limits,
    sign,
)
from opora_shared.testing import FixedClock

NOW = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
T = int(NOW.timestamp())
BODY = '{"text": "Не включается"}'.encode()
EMAIL_SECRETS = ["email-secret-new", "email-secret-old"]


def settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "auth_required": True,
        "api_keys": {"telegram-bot": "tg-key", "workspace": "ws-key"},
        "hmac_secrets": {"email": EMAIL_SECRETS, "chat": ["chat-secret"]},
        "signature_tolerance_s": 300,
        "max_body_bytes": 64,
        "max_email_bytes": 1024,
    }
    return Settings(**(values | overrides))


def build(config: Settings) -> tuple[FastAPI, list[Principal]]:
    """A tiny app wired like intake's: inbound routes behind the auth and the body limit."""
    seen: list[Principal] = []
    router = APIRouter(
        prefix="/v1/inbound", dependencies=[Depends(AdapterAuth(config, clock=FixedClock(NOW)))]
    )

    @router.post("/email")
    @router.post("/email/raw")
    @router.post("/chat")
    async def inbound(principal: Caller) -> dict[str, str]:
        seen.append(principal)
        return {"adapter": principal.adapter}

    app = FastAPI()
    app.include_router(router)
    app.add_middleware(BodySizeLimit, limit_for=body_limits(config))
    return app, seen


@pytest.fixture
def app() -> tuple[FastAPI, list[Principal]]:
    return build(settings())


async def post(
    app: FastAPI,
    path: str = "/v1/inbound/email",
    content: bytes | AsyncIterator[bytes] = BODY,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        return await client.post(
            path, content=content, headers={"Content-Type": "application/json", **(headers or {})}
        )


async def test_a_valid_bearer_key_names_its_adapter(app) -> None:
    api, seen = app
    response = await post(api, headers={"Authorization": "Bearer ws-key"})

    assert response.status_code == 200
    assert seen == [Principal(adapter="workspace", scheme="api_key")]


async def test_the_key_may_come_in_x_api_key(app) -> None:
    api, seen = app
    response = await post(api, headers={"X-Api-Key": "tg-key"})

    assert response.status_code == 200
    assert seen == [Principal(adapter="telegram-bot", scheme="api_key")]


async def test_a_wrong_key_is_refused_and_the_route_never_runs(app) -> None:
    api, seen = app
    response = await post(api, headers={"Authorization": "Bearer tg-key-guess"})

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key"}
    assert seen == []


async def test_no_credentials_is_refused_with_a_bearer_challenge(app) -> None:
    api, seen = app
    response = await post(api)

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="opora-intake"'
    assert response.json()["detail"].startswith("missing credentials")
    assert seen == []


async def test_an_empty_bearer_token_counts_as_no_credentials(app) -> None:
    api, _ = app
    response = await post(api, headers={"Authorization": "Bearer "})

    assert response.status_code == 401
    assert response.json()["detail"].startswith("missing credentials")


async def test_a_signature_with_the_channels_secret_is_accepted(app) -> None:
    api, seen = app
    response = await post(api, headers={"X-Opora-Signature": sign(BODY, EMAIL_SECRETS[0], T)})

    assert response.status_code == 200
    assert seen == [Principal(adapter="email", scheme="hmac")]


async def test_a_signature_with_the_channels_previous_secret_is_accepted(app) -> None:
    api, _ = app
    response = await post(api, headers={"X-Opora-Signature": sign(BODY, EMAIL_SECRETS[1], T)})

    assert response.status_code == 200


async def test_one_good_signature_among_several_is_enough(app) -> None:
    api, _ = app
    good = sign(BODY, EMAIL_SECRETS[0], T).split(",")[1]
    header = f"t={T},v1={'0' * 64},{good}"

    response = await post(api, headers={"X-Opora-Signature": header})

    assert response.status_code == 200


async def test_the_route_still_reads_a_body_the_signature_check_read() -> None:
    router = APIRouter(dependencies=[Depends(AdapterAuth(settings(), clock=FixedClock(NOW)))])

    @router.post("/v1/inbound/chat")
    async def chat(payload: dict[str, str]) -> dict[str, str]:
        return payload

    api = FastAPI()
    api.include_router(router)
    response = await post(
        api, "/v1/inbound/chat", headers={"X-Opora-Signature": sign(BODY, "chat-secret", T)}
    )

    assert response.status_code == 200
    assert response.json() == {"text": "Не включается"}


async def test_a_tampered_body_breaks_the_signature(app) -> None:
    api, seen = app
    header = sign(BODY, EMAIL_SECRETS[0], T)

    response = await post(
        api, content=BODY.replace(b"}", b', "x": 1}'), headers={"X-Opora-Signature": header}
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "bad signature"}
    assert seen == []


@pytest.mark.parametrize("skew", [timedelta(seconds=-301), timedelta(seconds=301)])
async def test_a_signature_outside_the_window_is_refused(app, skew) -> None:
    api, seen = app
    at = int((NOW + skew).timestamp())
    response = await post(api, headers={"X-Opora-Signature": sign(BODY, EMAIL_SECRETS[0], at)})

    assert response.status_code == 401
    assert "outside the 300-second window" in response.json()["detail"]
    assert seen == []


async def test_a_signature_at_the_edge_of_the_window_is_accepted(app) -> None:
    api, _ = app
    response = await post(api, headers={"X-Opora-Signature": sign(BODY, EMAIL_SECRETS[0], T - 300)})

    assert response.status_code == 200


@pytest.mark.parametrize(
    "header",
    [
        "garbage",
        f"v1={'a' * 64}",
        "t=1790000000",
        f"t=soon,v1={'a' * 64}",
        "t=1790000000,v1=not-hex",
        f"t=1,t=2,v1={'a' * 64}",
    ],
)
async def test_a_malformed_signature_header_is_refused(app, header) -> None:
    api, _ = app
    response = await post(api, headers={"X-Opora-Signature": header})

    assert response.status_code == 401
    assert response.json()["detail"].startswith("malformed X-Opora-Signature header")


async def test_a_timestamp_of_digits_other_than_ascii_is_refused_as_malformed(app) -> None:
    api, _ = app
    # Header bytes are read as Latin-1: superscript two and one, which str.isdigit() accepts.
    for timestamp in (b"\xb2", b"\xb9"):
        response = await post(
            api, headers={"X-Opora-Signature": b"t=" + timestamp + b",v1=" + b"a" * 64}
        )

        assert response.status_code == 401
        assert response.json()["detail"].startswith("malformed X-Opora-Signature header")


async def test_another_channels_secret_does_not_sign_for_this_one(app) -> None:
    api, _ = app
    response = await post(
        api, "/v1/inbound/chat", headers={"X-Opora-Signature": sign(BODY, EMAIL_SECRETS[0], T)}
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "bad signature"}


async def test_every_failed_scheme_is_named_in_the_detail(app) -> None:
    api, _ = app
    response = await post(
        api,
        headers={"Authorization": "Bearer tg-key-guess", "X-Opora-Signature": sign(BODY, "x", T)},
    )

    assert response.status_code == 401
    assert response.json() == {"detail": "invalid API key; bad signature"}


async def test_a_channel_without_secrets_says_signatures_are_not_accepted_there() -> None:
    api, _ = build(settings(hmac_secrets={"chat": ["chat-secret"]}))
    response = await post(api, headers={"X-Opora-Signature": sign(BODY, EMAIL_SECRETS[0], T)})

    assert response.status_code == 401
    assert response.json() == {"detail": "signatures are not accepted for channel 'email'"}


async def test_a_failure_is_logged_with_its_reason_but_never_the_credentials(app, caplog) -> None:
    api, _ = app
    with caplog.at_level(logging.INFO, logger="opora_intake.entrypoints.auth"):
        await post(api, headers={"X-Api-Key": "tg-key-guess"})

    [record] = caplog.records
    assert record.reason == "invalid API key"
    assert record.channel == "email"
    assert "tg-key" not in caplog.text
    assert "tg-key" not in str(vars(record))


async def test_a_declared_oversized_body_gets_413_before_auth_or_route(app) -> None:
    api, seen = app
    response = await post(api, content=b"x" * 65)  # no credentials: 413 comes first

    assert response.status_code == 413
    assert "64 bytes" in response.json()["detail"]
    assert seen == []


async def test_a_chunked_oversized_body_gets_413(app) -> None:
    api, seen = app
    chunks_read: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for n in range(100):
            chunks_read.append(n)
            yield b"x" * 10

    response = await post(api, content=chunks(), headers={"Authorization": "Bearer ws-key"})

    assert response.status_code == 413
    assert len(chunks_read) < 10  # reading stopped at the limit
    assert seen == []


async def test_a_chunked_body_within_the_limit_reaches_the_route(app) -> None:
    api, seen = app

    async def chunks() -> AsyncIterator[bytes]:
        yield BODY[:10]
        yield BODY[10:]

    response = await post(
        api, content=chunks(), headers={"X-Opora-Signature": sign(BODY, EMAIL_SECRETS[0], T)}
    )

    assert response.status_code == 200
    assert seen == [Principal(adapter="email", scheme="hmac")]


async def test_raw_email_has_its_own_larger_limit(app) -> None:
    api, _ = app
    body = b"x" * 1000
    response = await post(
        api, "/v1/inbound/email/raw", content=body, headers={"X-Api-Key": "tg-key"}
    )

    assert response.status_code == 200


async def test_with_auth_switched_off_unauthenticated_requests_pass() -> None:
    api, seen = build(settings(auth_required=False))
    response = await post(api)

    assert response.status_code == 200
    assert seen == [Principal(adapter="anonymous", scheme="none")]


def test_the_schemes_are_documented_in_openapi(app) -> None:
    api, _ = app
    schema = api.openapi()

    schemes = schema["components"]["securitySchemes"]
    assert set(schemes) == {"AdapterApiKeyBearer", "AdapterApiKey", "ChannelSignature"}
    assert "HMAC-SHA256" in schemes["ChannelSignature"]["description"]
    operation = schema["paths"]["/v1/inbound/email"]["post"]
    assert {next(iter(r)) for r in operation["security"]} == set(schemes)


def test_blank_secrets_are_refused_at_start_up_without_echoing_the_others() -> None:
    with pytest.raises(ValueError, match="blank") as error:
        settings(api_keys={"telegram-bot": "tg-key", "workspace": " "})

    assert "tg-key" not in str(error.value)


def test_credentials_come_from_the_environment_as_json(monkeypatch) -> None:
    monkeypatch.setenv("OPORA_INTAKE_API_KEYS", '{"telegram-bot": "tg-key"}')
    monkeypatch.setenv("OPORA_INTAKE_HMAC_SECRETS", '{"web-form": "one", "email": ["a", "b"]}')

    config = Settings()

    assert config.api_keys["telegram-bot"].get_secret_value() == "tg-key"
    assert [s.get_secret_value() for s in config.hmac_secrets["web-form"]] == ["one"]
    assert [s.get_secret_value() for s in config.hmac_secrets["email"]] == ["a", "b"]


async def test_with_nothing_configured_every_request_is_refused(monkeypatch) -> None:
    for name in ("API_KEYS", "HMAC_SECRETS", "AUTH_REQUIRED"):
        monkeypatch.delenv(f"OPORA_INTAKE_{name}", raising=False)
    api, seen = build(Settings())

    response = await post(api, headers={"X-Api-Key": "tg-key"})

    assert response.status_code == 401
    assert seen == []
