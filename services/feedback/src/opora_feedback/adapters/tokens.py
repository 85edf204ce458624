"""Signed, expiring survey links with itsdangerous.

The token is ``URLSafeTimedSerializer`` output over ``{"v": 1, "survey": <survey id>}``: signed
(HMAC with the service's secret and a salt of its own), not encrypted — it holds no personal
data. Its age is checked against the link's lifetime when it is read.
"""

from __future__ import annotations

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
            secret.get_secret_value(), salt=_SALT, signer=ClockedSigner
        )

    def sign(self, survey_id: str) -> str:
        return self._serializer.dumps({"v": 1, "survey": survey_id})

    def verify(self, token: str) -> str:
        try:
            payload = self._serializer.loads(token, max_age=int(self.ttl.total_seconds()))
        except SignatureExpired as exc:  # only raised once the signature itself checked out
            survey_id = _survey_id(self._serializer.load_payload(exc.payload or b""))
            raise ExpiredTokenError("the survey link has expired", survey_id=survey_id) from exc
        except BadData as exc:
            raise InvalidTokenError("the survey link is not valid") from exc
        survey_id = _survey_id(payload)
        if survey_id is None:
            raise InvalidTokenError("the survey link is not valid")
        return survey_id


def _survey_id(payload: Any) -> str | None:
    survey_id = payload.get("survey") if isinstance(payload, dict) else None
    return survey_id if isinstance(survey_id, str) and survey_id else None
