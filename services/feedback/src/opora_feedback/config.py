"""feedback's settings: ``OPORA_FEEDBACK_*`` environment variables.

``token_secret`` signs survey links and has no default: a service that could start without it
would sign with a secret everybody knows. What surveys ask and how long links, answers and
comments live is in the survey rules file (``rules_file``), not here.
"""

from __future__ import annotations

from pathlib import Path

from opora_shared.settings import ServiceSettings
from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_FEEDBACK_", env_nested_delimiter="__")

    service_name: str = "feedback"
    http_port: int = 8005
    public_base_url: str = "http://127.0.0.1:8005"
    token_secret: SecretStr = Field(min_length=16)
    rules_file: Path | None = Field(
        default=None, description="The survey rules (YAML); the packaged ones if unset"
    )
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict, description="Who may read reports and comments: name -> key"
    )
    auth_required: bool = Field(
        default=True, description="false only for a demo on your own machine"
    )
    outbox_interval_s: float = Field(default=15.0, ge=0, description="0 turns the sweep off")
    retention_interval_s: float = Field(
        default=3_600.0, ge=0, description="How often expired comment texts are removed; 0: never"
    )
    rollups: bool = Field(
        default=True, description="Fold feedback's events into the report rollups"
    )
    score_window_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="The rolling window, in report days, of the scores served on /metrics",
    )
