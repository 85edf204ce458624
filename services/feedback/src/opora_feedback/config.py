"""feedback's settings: ``OPORA_FEEDBACK_*`` environment variables.

``token_secret`` signs survey links and has no default: a service that could start without it
would sign with a secret everybody knows.
"""

from __future__ import annotations

from opora_shared.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_FEEDBACK_", env_nested_delimiter="__")

    service_name: str = "feedback"
    http_port: int = 8005
    public_base_url: str = "http://127.0.0.1:8005"
    token_secret: SecretStr = Field(min_length=16)
    token_ttl_days: int = Field(default=28, ge=1)
    edit_window_days: int = Field(default=14, ge=0)
