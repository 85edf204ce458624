"""sla's settings: ``OPORA_SLA_*`` environment variables."""

from __future__ import annotations

from pathlib import Path

from opora_shared.settings import ServiceSettings
from pydantic import Field
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_SLA_", env_nested_delimiter="__")

    service_name: str = "sla"
    http_port: int = 8003
    policies_file: Path | None = Field(
        default=None,
        description="The SLA policies (YAML), reloaded on change; the packaged ones if unset",
    )
    calendars_file: Path | None = Field(
        default=None,
        description="The business calendars (YAML), reloaded on change; the packaged ones if unset",
    )
    timer_concurrency: int = Field(
        default=16,
        ge=1,
        le=10_000,
        description="Timers whose tickets are settled at once (their writes share the store)",
    )
