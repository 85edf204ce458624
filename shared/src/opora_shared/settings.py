"""Settings every service shares; each service subclasses with its own env prefix.

Example: ``OPORA_INTAKE_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092``. Nested values use ``__``.
OpenTelemetry is configured only by the standard ``OTEL_*`` variables, never here.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_nested_delimiter="__", extra="ignore")

    service_name: str = "opora"
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    mongodb_uri: SecretStr = SecretStr("mongodb://127.0.0.1:27017")
    mongodb_database: str = Field(
        default="", description="Empty: a database of the service's own, opora_<service>"
    )
    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8000, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    graceful_timeout_s: float = Field(default=15.0, gt=0)

    @model_validator(mode="after")
    def _own_database(self) -> ServiceSettings:
        """No two services share a database unless told to: none can touch another's data."""
        if not self.mongodb_database:
            self.mongodb_database = f"opora_{self.service_name}"
        return self
