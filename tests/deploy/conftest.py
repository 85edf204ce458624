"""The chart rendered once per test session: with the default values, and with the production
example plus every service's packaged rules given as ConfigMaps."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.deploy.chart import PRODUCTION_VALUES, Rendered, helm_template, packaged_rules

EXTERNAL_KAFKA = {"kafka.bootstrapServers": "kafka-0.kafka.example:9092"}


@pytest.fixture(scope="session")
def default_render() -> Rendered:
    """The defaults (which name no Kafka) on a cluster serving KEDA and the Prometheus
    Operator."""
    return helm_template(sets=EXTERNAL_KAFKA)


@pytest.fixture(scope="session")
def rules_values(tmp_path_factory: pytest.TempPathFactory) -> Path:
    values = {
        "components": {
            service: {"rules": {"files": files}} for service, files in packaged_rules().items()
        }
    }
    path = tmp_path_factory.mktemp("values") / "rules.yaml"
    path.write_text(yaml.safe_dump(values, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def production_render(rules_values: Path) -> Rendered:
    return helm_template(PRODUCTION_VALUES, rules_values)


@pytest.fixture(scope="session", params=["default", "production"])
def render(request: pytest.FixtureRequest) -> Rendered:
    """Each of the two renders in turn."""
    fixture: Rendered = request.getfixturevalue(f"{request.param}_render")
    return fixture
