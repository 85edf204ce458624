"""notifications' settings: ``OPORA_NOTIFICATIONS_*`` environment variables."""

from __future__ import annotations

from opora_shared.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_NOTIFICATIONS_", env_nested_delimiter="__")

    service_name: str = "notifications"
    http_port: int = 8004
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    mail_from: str = "Opora Support <support@opora.local>"
