"""Ports and places of the ``opora-stack`` command, from ``OPORA_STACK_*`` variables."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from opora_localstack.paths import repo_paths
from opora_localstack.services import default_command

Port = int


class StackSettings(BaseSettings):
    """``OPORA_STACK_KAFKA_PORT=19092 opora-stack up`` moves the broker, and so on."""

    model_config = SettingsConfigDict(env_prefix="OPORA_STACK_", extra="ignore")

    host: str = "127.0.0.1"
    kafka_port: Port = Field(default=9092, ge=1, le=65535)
    kafka_controller_port: Port = Field(default=9093, ge=1, le=65535)
    mongodb_port: Port = Field(default=27017, ge=1, le=65535)
    mongodb_database: str = "opora"
    smtp_port: Port = Field(default=1025, ge=1, le=65535)
    zipkin_port: Port = Field(default=9411, ge=1, le=65535)
    data_dir: Path | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    intake_port: Port = Field(default=8001, ge=1, le=65535)
    routing_port: Port = Field(default=8002, ge=1, le=65535)
    sla_port: Port = Field(default=8003, ge=1, le=65535)
    notifications_port: Port = Field(default=8004, ge=1, le=65535)
    feedback_port: Port = Field(default=8005, ge=1, le=65535)
    ready_timeout_s: float = Field(default=120.0, gt=0)
    # e.g. "coverage run -m opora_{service}.main": a template instead of the console script.
    service_command: str | None = None

    def resolved_data_dir(self) -> Path:
        """``data_dir`` or ``<repo>/.local/stack``."""
        path = self.data_dir if self.data_dir is not None else repo_paths().default_data_dir
        return path.expanduser().resolve()

    def command_for(self, service: str) -> list[str]:
        """The command that starts ``service``."""
        if self.service_command is None:
            return default_command(service)
        return shlex.split(self.service_command.format(service=service))

    def service_ports(self) -> dict[str, int]:
        """HTTP port per service name."""
        return {
            "intake": self.intake_port,
            "routing": self.routing_port,
            "sla": self.sla_port,
            "notifications": self.notifications_port,
            "feedback": self.feedback_port,
        }
