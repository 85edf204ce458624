"""Signed, expiring survey links with itsdangerous.

The token is ``URLSafeTimedSerializer`` output over ``{"v": 2, "t": <ticket id>}``: one link per
ticket's invitation, signed (HMAC-SHA256 with a key derived from the service's secret and a salt of
its own), not encrypted: it holds no personal data. Its age is checked against the link's
lifetime when it is read, on the signed timestamp, so an expired link cannot be refreshed.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

from itsdangerous import BadData, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from opora_shared.contracts.base import utc_now
from opora_shared.ports import Clock
from pydantic import SecretStr

from opora_feedback.domain.model import ExpiredTokenError, InvalidTokenError

_SALT = "opora.feedback.survey-link"


class SignedSurveyTokens:
    def __init__(self, secret: SecretStr, *, ttl: timedelta, clock: Clock = utc_now) -> None:
        self.ttl = ttl

        class ClockedSigner(TimestampSigner):
            """Reads the time from ``clock``, so that issue and expiry follow one clock."""

            def get_timestamp(self) -> int:
                return int(clock().timestamp())

        self._serializer = URLSafeTimedSerializer(
            secret.get_secret_value(),
            salt=_SALT,
            signer=ClockedSigner,
            signer_kwargs={"digest_method": hashlib.sha256},
        )

    def sign(self, ticket_id: str) -> str:
        return self._serializer.dumps({"v": 2, "t": ticket_id})

    def verify(self, token: str) -> str:
        try:
            payload = self._serializer.loads(token, max_age=int(self.ttl.total_seconds()))
        except SignatureExpired as exc:  # only raised once the signature itself checked out
            ticket_id = _ticket_id(self._serializer.load_payload(exc.payload or b""))
            raise ExpiredTokenError("the survey link has expired", ticket_id=ticket_id) from exc
        except BadData as exc:
            raise InvalidTokenError("the survey link is not valid") from exc
        ticket_id = _ticket_id(payload)
        if ticket_id is None:
            raise InvalidTokenError("the survey link is not valid")
        return ticket_id


def _ticket_id(payload: Any) -> str | None:
    ticket_id = payload.get("t") if isinstance(payload, dict) and payload.get("v") == 2 else None
    return ticket_id if isinstance(ticket_id, str) and ticket_id else None
