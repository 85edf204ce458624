"""The one source of real infrastructure for integration and end-to-end tests.

``infra`` gives a Kafka bootstrap address and a MongoDB URI, found in this order:
1. ``KAFKA_BOOTSTRAP_SERVERS`` and ``MONGODB_URI`` from the environment;
2. testcontainers (Kafka and MongoDB images) when a Docker engine answers;
3. the local stack: Apache Kafka and FerretDB started as processes (``opora_localstack``).
When none can be had the tests fail and say why; they never skip.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings

REPO = Path(__file__).resolve().parent

# Property tests assert outcomes, not speed (benchmarks measure that): no per-example deadline,
# which a machine busy with Kafka, FerretDB and five services would otherwise trip at random.
settings.register_profile("opora", deadline=None)
settings.load_profile("opora")


@dataclass(frozen=True)
class Infra:
    bootstrap_servers: str
    mongodb_uri: str
    source: str


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env().ping()
    except Exception:
        return False
    return True


def _from_testcontainers(stack: ExitStack) -> Infra:
    from testcontainers.community.kafka import KafkaContainer
    from testcontainers.community.mongodb import MongoDbContainer

    kafka = stack.enter_context(KafkaContainer().with_kraft())
    mongo = stack.enter_context(MongoDbContainer("mongo:7"))
    bootstrap = kafka.get_bootstrap_server()
    from opora_localstack.topics import create_topics

    asyncio.run(create_topics(bootstrap))
    return Infra(bootstrap, mongo.get_connection_url(), "testcontainers")


def _from_local_stack(stack: ExitStack, data_dir: Path) -> Infra:
    from opora_localstack.stack import LocalInfra

    local = stack.enter_context(LocalInfra(data_dir))
    return Infra(local.bootstrap_servers, local.mongodb_uri, "local stack processes")


@pytest.fixture(scope="session")
def infra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Infra]:
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    mongodb_uri = os.environ.get("MONGODB_URI")
    if bootstrap and mongodb_uri:
        yield Infra(bootstrap, mongodb_uri, "environment")
        return
    errors: list[str] = []
    with ExitStack() as stack:
        if _docker_answers():
            try:
                yield _from_testcontainers(stack)
                return
            except Exception as exc:
                errors.append(f"testcontainers: {exc}")
        else:
            errors.append("testcontainers: no Docker engine answers")
        try:
            found = _from_local_stack(stack, tmp_path_factory.mktemp("stack"))
        except Exception as exc:
            errors.append(f"local stack (Kafka and FerretDB processes): {exc}")
            pytest.fail(
                "no Kafka and MongoDB-wire server for integration tests. Set "
                "KAFKA_BOOTSTRAP_SERVERS and MONGODB_URI, start a Docker engine, or install "
                "Java 17+, Maven and Go for the local stack (`make setup`).\n" + "\n".join(errors),
                pytrace=False,
            )
        yield found


@pytest.fixture
def database_name() -> str:
    """A fresh database per test, so tests never see each other's documents."""
    return f"opora_test_{uuid.uuid4().hex[:12]}"
