"""Settings every service shares; each service subclasses with its own env prefix.

Example: ``OPORA_INTAKE_KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092``. Nested values use ``__``.
OpenTelemetry is configured only by the standard ``OTEL_*`` variables, never here.

Kafka security, e.g. SCRAM over TLS against a private CA::

    OPORA_INTAKE_KAFKA_SECURITY_PROTOCOL=SASL_SSL
    OPORA_INTAKE_KAFKA_SASL_MECHANISM=SCRAM-SHA-512
    OPORA_INTAKE_KAFKA_SASL_USERNAME=intake
    OPORA_INTAKE_KAFKA_SASL_PASSWORD=…
    OPORA_INTAKE_KAFKA_SSL_CAFILE=/etc/opora/kafka-ca/ca.crt

MongoDB's TLS and credentials are options of ``mongodb_uri`` (``tls=true&tlsCAFile=…``,
``authSource=…``), which is why the whole URI is a secret.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

KafkaSecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
KafkaSaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]


class ServiceSettings(BaseSettings):
    # Inputs stay out of validation errors: they would print passwords into the start-up log.
    model_config = SettingsConfigDict(
        env_nested_delimiter="__", extra="ignore", hide_input_in_errors=True
    )

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

    kafka_security_protocol: KafkaSecurityProtocol = "PLAINTEXT"
    kafka_sasl_mechanism: KafkaSaslMechanism = "SCRAM-SHA-512"
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="CA certificates (PEM) to verify the brokers by; the system's if unset",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS; may hold the key too"
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="The client certificate's private key (PEM), when separate"
    )

    @model_validator(mode="after")
    def _own_database(self) -> ServiceSettings:
        """No two services share a database unless told to: none can touch another's data."""
        if not self.mongodb_database:
            self.mongodb_database = f"opora_{self.service_name}"
        return self

    @model_validator(mode="after")
    def _kafka_security_complete(self) -> ServiceSettings:
        """Refuse to start half-configured: a broker that wants SASL would only say the
        handshake failed, and TLS files with a plaintext protocol would be silently unused."""
        protocol = self.kafka_security_protocol
        password = self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else ""
        if protocol.startswith("SASL_") and not (self.kafka_sasl_username and password):
            raise ValueError(
                f"kafka_security_protocol {protocol} needs kafka_sasl_username and "
                "kafka_sasl_password"
            )
        tls_files = {
            "kafka_ssl_cafile": self.kafka_ssl_cafile,
            "kafka_ssl_certfile": self.kafka_ssl_certfile,
            "kafka_ssl_keyfile": self.kafka_ssl_keyfile,
        }
        given = [name for name, path in tls_files.items() if path is not None]
        if given and not protocol.endswith("SSL"):
            raise ValueError(
                f"{', '.join(given)} set but kafka_security_protocol is {protocol}, which does "
                "not use TLS: choose SSL or SASL_SSL"
            )
        if self.kafka_ssl_keyfile is not None and self.kafka_ssl_certfile is None:
            raise ValueError("kafka_ssl_keyfile is set without kafka_ssl_certfile")
        return self
