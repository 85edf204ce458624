"""intake's settings: ``OPORA_INTAKE_*`` environment variables.

Adapter credentials come only from here (the environment or a secret store feeding it), never
from the repository. Examples::

    OPORA_INTAKE_API_KEYS='{"telegram-bot": "…", "workspace": "…"}'
    OPORA_INTAKE_HMAC_SECRETS='{"email": ["new-secret", "old-secret"], "web-form": "…"}'
    OPORA_INTAKE_SIGNATURE_TOLERANCE_S=300
    OPORA_INTAKE_MAX_BODY_BYTES=1048576
    OPORA_INTAKE_MAX_EMAIL_BYTES=26214400
    OPORA_INTAKE_AUTH_REQUIRED=false   # local demos only

The JSON forms are the portable ones: channel slugs such as ``web-form`` contain a hyphen,
which a shell variable name cannot, and nested ``__`` names are lower-cased.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from opora_shared.settings import ServiceSettings
from pydantic import BeforeValidator, Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

MIB = 1024 * 1024


def _one_or_many(value: Any) -> Any:
    """A channel with a single secret may give it as a plain string."""
    return [value] if isinstance(value, str | SecretStr) else value


SecretList = Annotated[list[SecretStr], BeforeValidator(_one_or_many)]


class Settings(ServiceSettings):
    # Inputs stay out of validation errors: they would print the secrets into the start-up log.
    model_config = SettingsConfigDict(
        env_prefix="OPORA_INTAKE_", env_nested_delimiter="__", hide_input_in_errors=True
    )

    service_name: str = "intake"
    http_port: int = 8001
    ticket_number_prefix: str = Field(default="OP", pattern=r"^[A-Za-z]{1,8}$")
    reopen_window_days: float = Field(
        default=7, ge=0, description="A customer message this soon after solved reopens the ticket"
    )
    phone_region: str = Field(
        default="RU",
        pattern=r"^[A-Z]{2}$",
        description="Region for phone numbers written without a country code",
    )
    rules_file: Path | None = Field(
        default=None, description="The classification rules (YAML); the packaged ones if unset"
    )
    automations_file: Path | None = Field(
        default=None,
        description="The ticket automations (YAML: solve pending, close solved); the packaged "
        "ones if unset",
    )

    auth_required: bool = Field(
        default=True,
        description="Adapters must authenticate. False lets unauthenticated requests through: "
        "for a local demo on a developer's machine only, never in a shared environment.",
    )
    api_keys: dict[str, SecretStr] = Field(
        default_factory=dict,
        description="Adapter name → API key, sent as 'Authorization: Bearer <key>' or "
        "'X-Api-Key: <key>'. Valid on every inbound channel.",
    )
    hmac_secrets: dict[str, SecretList] = Field(
        default_factory=dict,
        description="Channel slug (email, web-form, chat, …) → signing secrets for "
        "X-Opora-Signature. Several at once allow rotation: any of them verifies.",
    )
    signature_tolerance_s: int = Field(
        default=300,
        gt=0,
        description="How far a signature's timestamp may be from now, either way (seconds).",
    )
    max_body_bytes: int = Field(default=MIB, gt=0, description="Request body limit (bytes).")
    max_email_bytes: int = Field(
        default=25 * MIB, gt=0, description="Body limit for raw e-mail routes (…/email/raw)."
    )

    @field_validator("api_keys", "hmac_secrets")
    @classmethod
    def _no_blank_secrets(cls, value: dict[str, Any]) -> dict[str, Any]:
        # A blank key would be matched by an empty header; a blank HMAC secret signs for anyone.
        for name, secrets in value.items():
            for secret in secrets if isinstance(secrets, list) else [secrets]:
                if not secret.get_secret_value().strip():
                    raise ValueError(f"the secret for {name!r} is blank")
        return value
