"""notifications' settings: ``OPORA_NOTIFICATIONS_*`` environment variables."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Self

from opora_shared.contracts.common import Channel
from opora_shared.settings import ServiceSettings
from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from opora_notifications.domain.service import DeliveryPolicy


class Webhook(BaseModel):
    """Where a channel's messages are POSTed, and the secret they are signed with."""

    url: str = Field(pattern=r"^https?://")
    secret: SecretStr
    timeout_s: float = Field(default=10.0, gt=0)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_NOTIFICATIONS_", env_nested_delimiter="__")

    service_name: str = "notifications"
    http_port: int = 8004

    rules_file: Path | None = Field(default=None, description="The packaged rules if unset")
    staff_file: Path | None = Field(
        default=None, description="The staff directory; the packaged example if unset"
    )
    templates_dir: Path | None = Field(default=None, description="The packaged ones if unset")

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=1025, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = Field(default=False, description="Implicit TLS (port 465)")
    smtp_timeout_s: float = Field(default=15.0, gt=0)
    mail_from: str = "Opora Support <support@opora.local>"

    webhooks: dict[Channel, Webhook] = Field(
        default_factory=dict,
        description='Per channel (sms, messenger): {"sms": {"url": …, "secret": …}}; a channel '
        "without one is not used",
    )

    public_base_url: str = Field(
        default="http://127.0.0.1:8004", description="How customers reach this service's links"
    )
    unsubscribe_secret: SecretStr | None = Field(
        default=None, description="Signs one-click unsubscribe links; none are sent if unset"
    )

    claim_lease_s: float = Field(
        default=120.0, gt=0, description="After this an unsettled attempt is in doubt"
    )
    quick_tries: int = Field(default=3, ge=1, le=10)
    retry_first_s: float = Field(default=30.0, gt=0)
    retry_max_s: float = Field(default=3600.0, gt=0)
    max_send_attempts: int = Field(default=8, ge=1)
    give_up_after_s: float = Field(default=86_400.0, gt=0)
    arm_horizon_s: float = Field(default=6 * 3600.0, gt=0)
    max_concurrent_sends: int = Field(default=16, ge=1, le=1000)

    @model_validator(mode="after")
    def _sends_fit_in_the_lease(self) -> Self:
        """An attempt still under way when its lease ends is taken for crashed and sent again
        by another replica: the lease must outlast the slowest attempt, quick retries included."""
        policy = self.delivery_policy()
        slowest = max([self.smtp_timeout_s, *(w.timeout_s for w in self.webhooks.values())])
        needed = self.quick_tries * (slowest + policy.quick_wait_max.total_seconds())
        if self.claim_lease_s <= needed:
            raise ValueError(
                f"claim_lease_s ({self.claim_lease_s:g}) must exceed quick_tries × (the slowest "
                f"channel timeout + {policy.quick_wait_max.total_seconds():g} s) = {needed:g} s"
            )
        return self

    def delivery_policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(
            lease=timedelta(seconds=self.claim_lease_s),
            quick_tries=self.quick_tries,
            retry_first=timedelta(seconds=self.retry_first_s),
            retry_max=timedelta(seconds=self.retry_max_s),
            max_send_attempts=self.max_send_attempts,
            give_up_after=timedelta(seconds=self.give_up_after_s),
            horizon=timedelta(seconds=self.arm_horizon_s),
            max_concurrent_sends=self.max_concurrent_sends,
        )
