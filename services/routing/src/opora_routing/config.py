"""routing's settings: ``OPORA_ROUTING_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from opora_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_ROUTING_", env_nested_delimiter="__")

    service_name: str = "routing"
    http_port: int = 8002
    rules_file: Path | None = Field(
        default=None,
        description="The routing rules (YAML), reloaded on change; the packaged ones if unset",
    )
