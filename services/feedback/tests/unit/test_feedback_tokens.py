"""Signed, expiring survey links, one per ticket."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from opora_feedback.adapters.tokens import SignedSurveyTokens
from opora_feedback.domain.model import ExpiredTokenError, InvalidTokenError
from pydantic import SecretStr


def test_a_signed_link_gives_back_its_ticket(tokens) -> None:
    assert tokens.verify(tokens.sign("t-1")) == "t-1"


def test_a_link_is_url_safe(tokens) -> None:
    assert all(c.isalnum() or c in "-_." for c in tokens.sign("t-1"))


def test_a_link_expires_after_its_lifetime(tokens, clock) -> None:
    token = tokens.sign("t-1")
    clock.advance(timedelta(days=28, seconds=2))

    with pytest.raises(ExpiredTokenError):
        tokens.verify(token)


def test_a_link_still_works_on_its_last_day(tokens, clock) -> None:
    token = tokens.sign("t-1")
    clock.advance(timedelta(days=27, hours=23))

    assert tokens.verify(token) == "t-1"


def test_an_expired_link_still_names_its_ticket(tokens, clock) -> None:
    token = tokens.sign("t-1")
    clock.advance(timedelta(days=30))

    with pytest.raises(ExpiredTokenError) as expired:
        tokens.verify(token)

    assert expired.value.ticket_id == "t-1"


def test_a_tampered_signature_is_invalid(tokens) -> None:
    token = tokens.sign("t-1")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    with pytest.raises(InvalidTokenError):
        tokens.verify(forged)


def test_another_ticket_cannot_be_put_in_a_signed_link(tokens) -> None:
    _, rest = tokens.sign("t-1").split(".", 1)
    other = base64.urlsafe_b64encode(json.dumps({"v": 2, "t": "t-2"}).encode()).decode()

    with pytest.raises(InvalidTokenError):
        tokens.verify(f"{other.rstrip('=')}.{rest}")


def test_a_link_signed_with_another_secret_is_invalid(tokens, clock, policy) -> None:
    other = SignedSurveyTokens(
        SecretStr("somebody-elses-secret"), ttl=policy.token_ttl, clock=clock
    )

    with pytest.raises(InvalidTokenError):
        tokens.verify(other.sign("t-1"))


def test_garbage_is_an_invalid_link(tokens) -> None:
    with pytest.raises(InvalidTokenError):
        tokens.verify("not-a-token")
