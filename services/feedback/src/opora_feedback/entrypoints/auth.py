"""Who may read reports and answers: staff with one of the configured API keys.

A key is accepted as ``Authorization: Bearer <key>``, ``X-Api-Key: <key>`` or, so that a
browser can open the reports page without any script, as the password of HTTP Basic
authentication (any user name). Keys are compared in constant time.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import APIKeyHeader, HTTPBasic, HTTPBasicCredentials, HTTPBearer
from fastapi.security.http import HTTPAuthorizationCredentials
from pydantic import SecretStr

REALM = 'Basic realm="Opora feedback reports", charset="UTF-8"'

_bearer = HTTPBearer(auto_error=False)
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False)
_basic = HTTPBasic(auto_error=False)


def staff_guard(keys: Mapping[str, SecretStr], *, required: bool) -> Callable[..., Awaitable[str]]:
    """A FastAPI dependency that names the key used, or answers 401."""
    secrets = [(name, key.get_secret_value().encode()) for name, key in keys.items()]

    async def staff(
        bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
        api_key: Annotated[str | None, Depends(_api_key)],
        basic: Annotated[HTTPBasicCredentials | None, Depends(_basic)],
    ) -> str:
        if not required:
            return "anonymous"
        offered = [
            bearer.credentials if bearer and bearer.scheme.lower() == "bearer" else None,
            api_key,
            basic.password if basic else None,
        ]
        for candidate in (c for c in offered if c):
            for name, secret in secrets:
                if hmac.compare_digest(candidate.encode(), secret):
                    return name
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "reports need an API key: Authorization: Bearer <key>, X-Api-Key, or the password "
            "of Basic authentication"
            + ("" if secrets else " (none is configured: set OPORA_FEEDBACK_API_KEYS)"),
            headers={"WWW-Authenticate": REALM},
        )

    return staff
