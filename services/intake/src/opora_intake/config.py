"""intake's settings: ``OPORA_INTAKE_*`` environment variables."""

from __future__ import annotations

from opora_shared.settings import ServiceSettings
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_INTAKE_", env_nested_delimiter="__")

    service_name: str = "intake"
    http_port: int = 8001
    ticket_number_prefix: str = "OP"
