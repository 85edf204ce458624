"""Each service's ``/metrics``: RED per HTTP route in the stable semantic conventions."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from faststream.kafka import KafkaBroker
from opora_shared.service import ServiceParts, build_app
from opora_shared.telemetry import configure_metrics


def _app(with_metrics: bool) -> httpx.AsyncClient:
    router = APIRouter()

    @router.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    metrics = configure_metrics("opora-test", make_global=False) if with_metrics else None
    parts = ServiceParts(
        "test", "a service", KafkaBroker("127.0.0.1:9"), routers=[router], metrics=metrics
    )
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(build_app(parts)), base_url="http://test"
    )


@pytest.fixture
async def client():
    async with _app(with_metrics=True) as client:
        yield client


async def test_requests_are_counted_per_route_template_not_per_url(client) -> None:
    await client.get("/v1/things/a")
    await client.get("/v1/things/b")

    scraped = (await client.get("/metrics")).text

    counts = [
        line
        for line in scraped.splitlines()
        if line.startswith("http_server_request_duration_seconds_count")
    ]
    assert len(counts) == 1
    assert 'http_route="/v1/things/{thing_id}"' in counts[0]
    assert counts[0].endswith(" 2.0")


async def test_the_scrape_names_the_service(client) -> None:
    await client.get("/v1/things/a")

    scraped = (await client.get("/metrics")).text

    assert 'service_name="opora-test"' in scraped


async def test_scrapes_and_probes_are_not_counted_as_traffic(client) -> None:
    await client.get("/metrics")
    await client.get("/health/live")

    scraped = (await client.get("/metrics")).text

    assert "http_server_request_duration_seconds_count" not in scraped


async def test_a_process_without_metrics_says_so() -> None:
    async with _app(with_metrics=False) as client:
        response = await client.get("/metrics")

    assert response.status_code == 503
