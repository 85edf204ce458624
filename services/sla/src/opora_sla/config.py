"""sla's settings: ``OPORA_SLA_*`` environment variables."""

from __future__ import annotations

from opora_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_SLA_", env_nested_delimiter="__")

    service_name: str = "sla"
    http_port: int = 8003
