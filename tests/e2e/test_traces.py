"""One customer request is one trace: its exact service-to-service edges (in the spirit of the
OpenTelemetry demo's trace-edge test, whose Kafka hops are not linked), a MongoDB span in every
service, our own attributes as the registry lists them, and no personal data in any of them."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from opora_shared.attributes import REGISTRY

pytestmark = pytest.mark.e2e

SERVICES = ("intake", "routing", "sla", "notifications", "feedback")

# Who hands the request on to whom, over Kafka: intake's tickets.events.v1 reaches the four
# others; routing's routing.events.v1 reaches sla, notifications and feedback; sla's
# sla.events.v1 reaches routing (deadlines order the queue) and notifications (the expected
# reply time in the acknowledgement). Nobody in the request's path consumes notifications'
# events or intake's customer profiles.
EDGES = {
    ("client", "intake"),
    ("intake", "routing"),
    ("intake", "sla"),
    ("intake", "notifications"),
    ("intake", "feedback"),
    ("routing", "sla"),
    ("routing", "notifications"),
    ("routing", "feedback"),
    ("sla", "routing"),
    ("sla", "notifications"),
}
CUSTOMER = {
    "name": "Елена Смирнова",
    "email": "elena.smirnova.e2e@example.com",
    "phone": "+79161230099",
}


def _spans(services) -> list[dict[str, Any]]:
    found = []
    for name in SERVICES:
        for line in services.spans_file(name).read_text().splitlines():
            if line.startswith("{"):
                span = json.loads(line)
                span["service"] = name
                found.append(span)
    return found


def _edges(trace: list[dict[str, Any]], client_span: str) -> set[tuple[str, str]]:
    service_of = {s["context"]["span_id"]: s["service"] for s in trace}
    service_of[client_span] = "client"
    return {
        (service_of[s["parent_id"]], s["service"])
        for s in trace
        if s["parent_id"] in service_of and service_of[s["parent_id"]] != s["service"]
    }


@pytest.fixture(scope="module")
async def trace(services) -> list[dict[str, Any]]:
    """Every span of one walk-in complaint's trace, once its edges stopped changing."""
    trace_id, client_span = secrets.token_hex(16), secrets.token_hex(8)
    ref = f"trace-{uuid.uuid4().hex[:8]}"
    body = {
        "source_message_id": ref,
        "conversation_id": ref,
        "received_at": datetime.now(UTC).isoformat(),
        "customer": {**CUSTOMER, "language": "ru"},
        "text": "Жалоба: продавец отказался выдать чек за холодильник.",
        "kind": "complaint_book",
        "location": "Москва, Тверская 7",
    }
    headers = {
        "authorization": f"Bearer {services.intake_api_key}",
        "traceparent": f"00-{trace_id}-{client_span}-01",
    }
    async with httpx.AsyncClient(timeout=10, headers=headers) as client:
        answer = await client.post(services.url("intake") + "/v1/inbound/walk-in", json=body)
    assert answer.status_code == 201, answer.text

    deadline, stable_since, seen = time.monotonic() + 60, time.monotonic(), set()
    while True:
        spans = [s for s in _spans(services) if s["context"]["trace_id"] == f"0x{trace_id}"]
        edges = _edges(spans, f"0x{client_span}")
        if edges != seen:
            seen, stable_since = edges, time.monotonic()
        if (edges >= EDGES and time.monotonic() - stable_since > 3) or time.monotonic() > deadline:
            return spans
        await asyncio.sleep(0.5)


async def test_the_request_has_exactly_the_expected_service_to_service_edges(trace) -> None:
    [server] = [s for s in trace if s["service"] == "intake" and s["kind"] == "SpanKind.SERVER"]

    assert _edges(trace, server["parent_id"]) == EDGES


@pytest.mark.parametrize("service", SERVICES)
async def test_every_service_in_the_trace_records_its_mongodb_commands(trace, service) -> None:
    assert any(
        s["service"] == service and s["attributes"].get("db.system") == "mongodb" for s in trace
    ), sorted({s["name"] for s in trace if s["service"] == service})


async def test_every_record_processed_names_its_event_type_and_ticket(trace) -> None:
    ticket_topics = ("tickets.events.v1", "routing.events.v1", "sla.events.v1")
    processed = [s for s in trace if s["name"] in {f"{t} process" for t in ticket_topics}]

    assert processed
    assert all(
        s["attributes"].get("opora.event_type") and s["attributes"].get("opora.ticket_id")
        for s in processed
    )


async def test_our_own_attributes_are_all_in_the_registry(services) -> None:
    emitted = {
        key for span in _spans(services) for key in span["attributes"] if key.startswith("opora.")
    }

    assert emitted
    assert emitted - set(REGISTRY) == set()


async def test_no_attribute_carries_the_customers_personal_data(trace) -> None:
    values = json.dumps([s["attributes"] for s in trace], ensure_ascii=False)

    for personal in (*CUSTOMER.values(), "9161230099", "отказался выдать чек"):
        assert personal not in values


async def test_mail_goes_out_under_an_smtp_client_span_naming_the_server_only(
    services, trace
) -> None:
    sends = [
        s for s in _spans(services) if s["service"] == "notifications" and s["name"] == "smtp send"
    ]

    assert sends
    assert all(s["attributes"]["server.port"] == services.smtp.port for s in sends)
    assert all("@" not in json.dumps(s["attributes"]) for s in sends)
