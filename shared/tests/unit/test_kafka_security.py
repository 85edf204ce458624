"""Kafka security settings reach the broker and every aiokafka client a service makes."""

from __future__ import annotations

import ssl
from typing import Any

import certifi
import pytest
from opora_shared.messaging import connect, kafka_client_kwargs, kafka_security
from opora_shared.settings import ServiceSettings
from pydantic import ValidationError
from pydantic_settings import SettingsConfigDict

PASSWORD = "s3cret-scram-password"


class SlaLike(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="OPORA_SLA_")
    service_name: str = "sla"


def scram_over_tls(**overrides: Any) -> SlaLike:
    values: dict[str, Any] = {
        "kafka_security_protocol": "SASL_SSL",
        "kafka_sasl_username": "sla",
        "kafka_sasl_password": PASSWORD,
        "kafka_ssl_cafile": certifi.where(),
    }
    return SlaLike(**(values | overrides))


def consumer_kwargs(settings: ServiceSettings) -> dict[str, Any]:
    """What the broker builds its consumers with, and what its producer connects with."""
    broker, _ = connect("sla", settings, publishes=[])
    consumer = dict(broker.config.broker_config.builder.keywords)
    producer = broker._connection_kwargs
    assert {k: producer[k] for k in consumer if k in producer and k != "loop"} == {
        k: consumer[k] for k in consumer if k in producer and k != "loop"
    }
    return consumer


def test_plaintext_is_the_default_and_adds_nothing_to_the_clients() -> None:
    settings = SlaLike()

    assert kafka_security(settings) is None
    assert kafka_client_kwargs(settings) == {}
    assert consumer_kwargs(settings).get("security_protocol", "PLAINTEXT") == "PLAINTEXT"


def test_the_security_settings_are_read_from_the_services_environment(monkeypatch) -> None:
    monkeypatch.setenv("OPORA_SLA_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("OPORA_SLA_KAFKA_SASL_MECHANISM", "SCRAM-SHA-256")
    monkeypatch.setenv("OPORA_SLA_KAFKA_SASL_USERNAME", "sla")
    monkeypatch.setenv("OPORA_SLA_KAFKA_SASL_PASSWORD", PASSWORD)
    monkeypatch.setenv("OPORA_SLA_KAFKA_SSL_CAFILE", certifi.where())

    settings = SlaLike()

    assert settings.kafka_security_protocol == "SASL_SSL"
    assert settings.kafka_sasl_mechanism == "SCRAM-SHA-256"
    assert settings.kafka_sasl_password is not None
    assert settings.kafka_sasl_password.get_secret_value() == PASSWORD


def test_the_broker_authenticates_with_scram_over_tls_verifying_the_brokers() -> None:
    kwargs = consumer_kwargs(scram_over_tls())

    assert kwargs["security_protocol"] == "SASL_SSL"
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (kwargs["sasl_plain_username"], kwargs["sasl_plain_password"]) == ("sla", PASSWORD)
    context: ssl.SSLContext = kwargs["ssl_context"]
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname
    assert context.get_ca_certs()  # the CA file was loaded


def test_raw_aiokafka_clients_get_the_same_settings_as_the_broker() -> None:
    settings = scram_over_tls(kafka_sasl_mechanism="PLAIN")
    broker = consumer_kwargs(settings)

    client = kafka_client_kwargs(settings)

    assert client["sasl_mechanism"] == "PLAIN"
    for key in (
        "security_protocol",
        "sasl_mechanism",
        "sasl_plain_username",
        "sasl_plain_password",
    ):
        assert client[key] == broker[key]
    assert isinstance(client["ssl_context"], ssl.SSLContext)


def test_tls_without_sasl_encrypts_only() -> None:
    kwargs = kafka_client_kwargs(SlaLike(kafka_security_protocol="SSL"))

    assert kwargs["security_protocol"] == "SSL"
    assert "sasl_mechanism" not in kwargs
    assert kwargs["ssl_context"].verify_mode == ssl.CERT_REQUIRED


def test_sasl_without_tls_has_no_ssl_context() -> None:
    kwargs = kafka_client_kwargs(
        SlaLike(
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username="sla",
            kafka_sasl_password=PASSWORD,
        )
    )

    assert kwargs["security_protocol"] == "SASL_PLAINTEXT"
    assert kwargs["ssl_context"] is None


@pytest.mark.parametrize("missing", ["kafka_sasl_username", "kafka_sasl_password"])
def test_sasl_without_credentials_is_refused_naming_them(missing: str) -> None:
    with pytest.raises(ValidationError) as refused:
        scram_over_tls(**{missing: None})

    assert "needs kafka_sasl_username and kafka_sasl_password" in str(refused.value)


def test_a_refusal_never_prints_the_password() -> None:
    """What a service that fails to start logs is the error's text."""
    with pytest.raises(ValidationError) as refused:
        scram_over_tls(kafka_sasl_username="")

    assert PASSWORD not in str(refused.value)


def test_tls_files_with_a_protocol_without_tls_are_refused() -> None:
    with pytest.raises(ValidationError, match="kafka_ssl_cafile set but kafka_security_protocol"):
        SlaLike(kafka_ssl_cafile=certifi.where())


def test_a_key_without_its_certificate_is_refused() -> None:
    with pytest.raises(ValidationError, match="kafka_ssl_keyfile is set without"):
        scram_over_tls(kafka_ssl_keyfile="/etc/opora/kafka/user.key")


def test_the_password_is_not_in_the_settings_repr() -> None:
    assert PASSWORD not in repr(scram_over_tls())
