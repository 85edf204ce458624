"""Each service process serves Prometheus metrics: RED per Kafka handler and HTTP route, its
consumer group's lag per partition, and the gauges operations watch."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from opora_shared.contracts.common import CustomerContact
from opora_shared.contracts.feedback import SurveyIssuedV1
from opora_shared.contracts.inbound import InboundSmsV1, InboundWalkInV1
from opora_shared.contracts.topics import FEEDBACK, INBOUND_MESSAGES
from opora_shared.testing import KafkaTail, event_producer

from tests.deploy.observability import scraped_names, series_read

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "routing", "sla", "notifications", "feedback")


def _series(scraped: str, name: str) -> list[str]:
    return [line for line in scraped.splitlines() if line.startswith(name + "{")]


async def answer_a_survey(infra, services, ref: str) -> None:
    """An SMS ticket solved, and its CSAT survey answered with a 5 through feedback's API: the
    rolling score has something to report."""
    phone = f"+7916{int(ref[-8:], 16) % 10**7:07d}"
    question = InboundSmsV1(
        source_message_id=f"{ref}-sms",
        conversation_id=phone,
        received_at=datetime.now(UTC),
        customer=CustomerContact(phone=phone),
        text="Когда привезут заказ?",
    )
    intake_headers = {"x-api-key": services.intake_api_key or ""}
    async with (
        KafkaTail(infra.bootstrap_servers, FEEDBACK.name) as tail,
        httpx.AsyncClient(base_url=services.url("intake"), headers=intake_headers) as intake,
        httpx.AsyncClient(base_url=services.url("feedback")) as feedback,
    ):
        opened = await intake.post("/v1/inbound/sms", json=question.model_dump(mode="json"))
        assert opened.status_code == 201, opened.text
        ticket_id = opened.json()["ticket_id"]
        solved = {"ticket_id": ticket_id, "agent_id": f"agent-{ref}", "status": "solved"}
        assert (await intake.post("/v1/workspace/status", json=solved)).status_code == 200
        (issued,) = await tail.wait_for(
            lambda s: isinstance(s.event, SurveyIssuedV1) and s.event.ticket_id == ticket_id,
            timeout_s=60,
        )
        assert isinstance(issued.event, SurveyIssuedV1)
        token = issued.event.url.rstrip("/").rsplit("/", 1)[-1]
        answered = await feedback.post(f"/v1/surveys/{token}/responses", json={"score": 5})
        assert answered.status_code == 201, answered.text


@pytest.fixture(scope="module")
async def scraped(infra, services) -> dict[str, str]:
    """Every service's scrape once two walk-in complaints went through the system (one by HTTP,
    one over the raw topic), a survey was answered, and each service has read its lag and
    gauges at least once (every 15 s)."""
    ref = f"metrics-{uuid.uuid4().hex[:8]}"
    await answer_a_survey(infra, services, ref)
    producer = AIOKafkaProducer(bootstrap_servers=infra.bootstrap_servers)
    await producer.start()
    try:  # bytes no channel adapter should send: intake dead-letters them
        await producer.send_and_wait(
            INBOUND_MESSAGES.name,
            b"{not json",
            headers=[("ce_type", InboundWalkInV1.ce_type.encode())],
        )
    finally:
        await producer.stop()
    async with event_producer(infra.bootstrap_servers) as publish:
        await publish(
            InboundWalkInV1(
                source_message_id=f"{ref}-raw",
                conversation_id=f"{ref}-raw",
                received_at=datetime.now(UTC),
                customer=CustomerContact(name="Пётр Иванов", language="ru"),
                text="Жалоба: долго ждал в очереди на кассе.",
                kind="complaint_book",
                location="Москва",
            )
        )
    body = {
        "source_message_id": ref,
        "conversation_id": ref,
        "received_at": datetime.now(UTC).isoformat(),
        "customer": {"name": "Анна Петрова", "language": "ru"},
        "text": "Жалоба: в магазине не приняли возврат.",
        "kind": "complaint_book",
        "location": "Москва",
    }
    headers = {"authorization": f"Bearer {services.intake_api_key}"}
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        answer = await client.post(services.url("intake") + "/v1/inbound/walk-in", json=body)
        assert answer.status_code < 300, answer.text
        deadline = time.monotonic() + 60
        while True:
            scrapes = {
                name: (await client.get(services.url(name) + "/metrics")).text for name in SERVICES
            }
            if (
                all(_series(s, "opora_kafka_consumer_lag") for s in scrapes.values())
                and _series(scrapes["intake"], "opora_dead_letters_total")
                and _series(scrapes["feedback"], "opora_feedback_score")
            ):
                return scrapes
            assert time.monotonic() < deadline, {
                **{
                    n: "lag reported" if _series(s, "opora_kafka_consumer_lag") else "no lag yet"
                    for n, s in scrapes.items()
                },
                "score": _series(scrapes["feedback"], "opora_feedback_responses"),
            }
            await asyncio.sleep(1)


@pytest.mark.parametrize("service", SERVICES)
async def test_handlers_report_their_duration_per_topic(scraped, service) -> None:
    assert _series(scraped[service], "messaging_process_duration_seconds_count")


@pytest.mark.parametrize("service", SERVICES)
async def test_lag_is_reported_for_the_services_own_group(scraped, service) -> None:
    lag = _series(scraped[service], "opora_kafka_consumer_lag")

    assert any(f'messaging_consumer_group_name="{service}' in line for line in lag)


async def test_http_routes_report_their_duration_by_template(scraped) -> None:
    durations = _series(scraped["intake"], "http_server_request_duration_seconds_count")

    assert any('http_route="/v1/inbound/walk-in"' in line for line in durations)


async def test_published_events_are_counted_by_type(scraped) -> None:
    published = _series(scraped["intake"], "opora_events_published_total")

    assert any('cloudevents_event_type="opora.ticket.opened.v1"' in line for line in published)


async def test_dead_lettered_records_are_counted_by_topic_and_error(scraped) -> None:
    dead = _series(scraped["intake"], "opora_dead_letters_total")

    assert any(
        f'messaging_destination_name="{INBOUND_MESSAGES.name}"' in line
        and 'error_type="ValidationError"' in line
        for line in dead
    ), dead


async def test_the_shipped_alerts_and_dashboard_read_only_series_the_services_serve(
    scraped,
) -> None:
    served = set().union(*(scraped_names(s) for s in scraped.values()))

    assert series_read() - served == set()


@pytest.mark.parametrize(
    ("service", "gauge"),
    [
        ("routing", "opora_routing_agents"),
        ("sla", "opora_sla_timers_armed"),
        ("feedback", "opora_feedback_score"),
        ("feedback", "opora_feedback_responses"),
    ],
)
async def test_operations_gauges_are_served(scraped, service, gauge) -> None:
    assert _series(scraped[service], gauge)


async def test_the_rolling_csat_counts_the_survey_answered(scraped) -> None:
    [csat] = [
        line
        for line in _series(scraped["feedback"], "opora_feedback_score")
        if 'opora_survey_type="csat"' in line
    ]

    assert float(csat.rsplit(" ", 1)[1]) > 0
