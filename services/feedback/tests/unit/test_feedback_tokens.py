"""Signed, expiring survey links."""

from __future__ import annotations

from datetime import timedelta

import pytest
from opora_feedback.adapters.tokens import SignedSurveyTokens
from opora_feedback.domain.model import ExpiredTokenError, InvalidTokenError
from pydantic import SecretStr


def test_a_signed_link_gives_back_its_survey_id(tokens) -> None:
    assert tokens.verify(tokens.sign("t-1:csat")) == "t-1:csat"


def test_a_link_is_url_safe(tokens) -> None:
    token = tokens.sign("t-1:csat")

    assert all(c.isalnum() or c in "-_." for c in token)


def test_a_link_expires_after_its_lifetime(tokens, clock) -> None:
    token = tokens.sign("t-1:csat")
    clock.advance(timedelta(days=28, seconds=2))

    with pytest.raises(ExpiredTokenError):
        tokens.verify(token)


def test_a_link_still_works_on_its_last_day(tokens, clock) -> None:
    token = tokens.sign("t-1:csat")
    clock.advance(timedelta(days=27, hours=23))

    assert tokens.verify(token) == "t-1:csat"


def test_a_tampered_link_is_invalid(tokens) -> None:
    token = tokens.sign("t-1:csat")
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    with pytest.raises(InvalidTokenError):
        tokens.verify(forged)


def test_a_link_signed_with_another_secret_is_invalid(tokens, clock, policy) -> None:
    other = SignedSurveyTokens(
        SecretStr("somebody-elses-secret"), ttl=policy.token_ttl, clock=clock
    )

    with pytest.raises(InvalidTokenError):
        tokens.verify(other.sign("t-1:csat"))


def test_garbage_is_an_invalid_link(tokens) -> None:
    with pytest.raises(InvalidTokenError):
        tokens.verify("not-a-token")


def test_an_expired_link_still_names_its_survey(tokens, clock) -> None:
    token = tokens.sign("t-1:csat")
    clock.advance(timedelta(days=30))

    with pytest.raises(ExpiredTokenError) as expired:
        tokens.verify(token)

    assert expired.value.survey_id == "t-1:csat"
