"""intake's HTTP API as adapters and the agent workspace use it, in process: the routes of
``build_router`` behind adapter authentication and the body limit, as ``main.py`` wires them,
over an in-memory repository and a recording publisher."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from fastapi import FastAPI
from opora_intake.config import Settings
from opora_intake.domain.ports import Repository
from opora_intake.domain.service import Policy, remember_invitation
from opora_intake.entrypoints.auth import AdapterAuth, BodySizeLimit, body_limits, sign
from opora_intake.entrypoints.http import build_router
from opora_shared.contracts.base import Event, utc_now
from opora_shared.contracts.customers import CustomerMergedV1, CustomerUnmergedV1
from opora_shared.contracts.feedback import SurveyAnswerReceivedV1, SurveyIssuedV1, SurveyType
from opora_shared.contracts.tickets import (
    TicketMessageReceivedV1,
    TicketOpenedV1,
    TicketRepliedV1,
)
from opora_shared.contracts.workspace import AgentPresenceChangedV1
from opora_shared.testing import RecordingPublisher

from .fakes import automation_for

FIXTURES = Path(__file__).parents[1] / "fixtures"
API_KEY = "test-adapter-key"
FORM_SECRET = "web-form-secret"
MAX_BODY_BYTES = 16 * 1024
AUTH = {"X-Api-Key": API_KEY}

E = TypeVar("E", bound=Event)


def channel_payload(name: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads((FIXTURES / "channels" / name).read_text(encoding="utf-8"))
    return payload


def build_api(repo: Repository, publisher: RecordingPublisher, policy: Policy) -> FastAPI:
    """intake's routes wired as ``create_app`` wires them, without Kafka and MongoDB."""
    settings = Settings(
        auth_required=True,
        api_keys={"test-adapter": API_KEY},
        hmac_secrets={"web-form": [FORM_SECRET]},
        max_body_bytes=MAX_BODY_BYTES,
        max_email_bytes=1024 * 1024,
    )
    app = FastAPI()
    automation = automation_for(repo, publisher, utc_now)
    app.include_router(build_router(repo, publisher, policy, AdapterAuth(settings), automation))
    app.add_middleware(BodySizeLimit, limit_for=body_limits(settings))
    return app


@pytest.fixture
def api(repo: Repository, publisher: RecordingPublisher, policy: Policy) -> FastAPI:
    return build_api(repo, publisher, policy)


def client_of(app: FastAPI, headers: dict[str, str] | None = None) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app)
    return httpx.AsyncClient(transport=transport, base_url="http://intake.test", headers=headers)


@pytest.fixture
async def client(api: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_of(api, AUTH) as authenticated:
        yield authenticated


def published(publisher: RecordingPublisher, event_type: type[E]) -> list[E]:
    return [e for e in publisher.published if isinstance(e, event_type)]


async def customer_of(client: httpx.AsyncClient, publisher: RecordingPublisher, name: str) -> str:
    """The profile id of the customer whose message, a channel fixture, opened a ticket."""
    channel = name.split("/")[0]
    response = await client.post(f"/v1/inbound/{channel}", json=channel_payload(name))
    assert response.status_code == 201
    ticket_id = response.json()["ticket_id"]
    [ticket] = [e for e in published(publisher, TicketOpenedV1) if e.ticket_id == ticket_id]
    return ticket.customer.customer_id


# --- inbound messages ------------------------------------------------------------------------


async def test_a_new_message_is_201_and_the_same_message_again_is_200_and_a_repeat(
    client: httpx.AsyncClient,
) -> None:
    payload = channel_payload("sms/ru_order_status.json")

    first = await client.post("/v1/inbound/sms", json=payload)
    again = await client.post("/v1/inbound/sms", json=payload)

    assert first.status_code == 201
    assert (first.json()["opened"], first.json()["repeat"]) == (True, False)
    assert again.status_code == 200
    assert again.json() == first.json() | {"repeat": True}


async def test_a_score_texted_back_to_a_survey_is_200_and_says_it_answered_the_survey(
    client: httpx.AsyncClient, publisher: RecordingPublisher, repo: Repository
) -> None:
    payload = channel_payload("sms/ru_order_status.json")
    opened = (await client.post("/v1/inbound/sms", json=payload)).json()
    solved = {"ticket_id": opened["ticket_id"], "agent_id": "agent-anna", "status": "solved"}
    assert (await client.post("/v1/workspace/status", json=solved)).status_code == 200
    [ticket] = published(publisher, TicketOpenedV1)
    asked_at = datetime.fromisoformat(payload["received_at"]) + timedelta(hours=1)
    await remember_invitation(
        SurveyIssuedV1(
            ticket_id=ticket.ticket_id,
            survey_id="survey-1",
            survey_type=SurveyType.CSAT,
            channel=ticket.channel,
            request_type=ticket.request_type,
            customer=ticket.customer,
            url="https://opora.example/s/token",
            send_after=asked_at,
            expires_at=asked_at + timedelta(days=28),
        ),
        repo,
    )
    reply = payload | {
        "source_message_id": "reply-1",
        "text": "5",
        "received_at": (asked_at + timedelta(hours=1)).isoformat(),
    }

    response = await client.post("/v1/inbound/sms", json=reply)

    assert response.status_code == 200
    assert response.json() == opened | {"opened": False, "survey_answer": True}
    [answer] = published(publisher, SurveyAnswerReceivedV1)
    assert (answer.ticket_id, answer.score) == (opened["ticket_id"], 5)


async def test_a_request_without_credentials_is_401_and_publishes_nothing(
    api: FastAPI, publisher: RecordingPublisher
) -> None:
    async with client_of(api) as anonymous:
        response = await anonymous.post(
            "/v1/inbound/sms", json=channel_payload("sms/ru_order_status.json")
        )

    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert not publisher.published


async def test_a_request_signed_with_the_channels_secret_is_accepted(
    api: FastAPI, publisher: RecordingPublisher
) -> None:
    body = json.dumps(channel_payload("web-form/ru_suggestion.json")).encode()
    signature = sign(body, FORM_SECRET, int(utc_now().timestamp()))

    async with client_of(api) as adapter:
        response = await adapter.post(
            "/v1/inbound/web-form",
            content=body,
            headers={"Content-Type": "application/json", "X-Opora-Signature": signature},
        )

    assert response.status_code == 201
    assert published(publisher, TicketOpenedV1)


async def test_an_invalid_field_is_422_naming_it(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    payload = channel_payload("web-form/ru_suggestion.json")
    payload["customer"]["email"] = "not-an-address"

    response = await client.post("/v1/inbound/web-form", json=payload)

    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["detail"]] == [["body", "customer", "email"]]
    assert not publisher.published


async def test_a_body_over_the_limit_is_413_and_publishes_nothing(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    payload = channel_payload("sms/ru_order_status.json") | {"text": "а" * MAX_BODY_BYTES}

    response = await client.post("/v1/inbound/sms", json=payload)

    assert response.status_code == 413
    assert not publisher.published


async def test_an_unknown_channel_is_404_naming_the_known_ones(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/inbound/fax", json={"text": "?"})

    assert response.status_code == 404
    detail = response.json()["detail"]
    assert "'fax'" in detail
    for known in ("call", "chat", "email", "messenger", "sms", "walk-in", "web-form"):
        assert known in detail


# --- e-mail -----------------------------------------------------------------------------------


async def test_a_raw_mime_email_opens_a_ticket(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    raw = (FIXTURES / "email" / "ru_plus_address.eml").read_bytes()

    response = await client.post(
        "/v1/inbound/email/raw", content=raw, headers={"Content-Type": "message/rfc822"}
    )

    assert response.status_code == 201
    [ticket] = published(publisher, TicketOpenedV1)
    assert ticket.ticket_id == response.json()["ticket_id"]
    assert ticket.channel == "email"


async def test_bytes_that_are_no_email_are_422_on_the_raw_route(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post(
        "/v1/inbound/email/raw",
        content=b"\x00\xff\xfe garbage, not a mail \r\n\r\n\x89PNG",
        headers={"Content-Type": "message/rfc822"},
    )

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body"]
    assert not publisher.published


PARSED_MAIL = {
    "from": "Emily Carter <emily.carter@example.com>",
    "to": "Opora Support <support@opora.example>",
    "subject": "Where is my order 7781-2203?",
    "text": "Hi, the courier never arrived and tracking still says out for delivery.",
    "message-id": "<CAJx9f2b1Qe7@mail.example.com>",
    "date": "Tue, 17 Nov 2026 09:13:58 +0000",
}


async def test_a_providers_parsed_email_opens_a_ticket(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post("/v1/inbound/email/parsed", json=PARSED_MAIL)

    assert response.status_code == 201
    [ticket] = published(publisher, TicketOpenedV1)
    assert ticket.subject == PARSED_MAIL["subject"]
    assert ticket.customer.email == "emily.carter@example.com"


async def test_a_reply_naming_the_first_mail_in_in_reply_to_joins_its_ticket(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    first = await client.post("/v1/inbound/email/parsed", json=PARSED_MAIL)
    reply = PARSED_MAIL | {
        "subject": "Re: " + PARSED_MAIL["subject"],
        "text": "Any news? Still nothing.",
        "message-id": "<CAJx9f2b1Qe8@mail.example.com>",
        "in-reply-to": PARSED_MAIL["message-id"],
    }

    response = await client.post("/v1/inbound/email/parsed", json=reply)

    assert response.status_code == 200
    assert response.json()["opened"] is False
    assert response.json()["ticket_id"] == first.json()["ticket_id"]
    [message] = published(publisher, TicketMessageReceivedV1)
    assert message.threaded_by == "email reference"


# --- walk-ins and customers ---------------------------------------------------------------------


async def test_a_walk_in_is_answered_with_the_receipt_number_to_hand_over(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post(
        "/v1/inbound/walk-in", json=channel_payload("walk-in/ru_complaint_book.json")
    )

    assert response.status_code == 201
    number = response.json()["number"]
    assert re.fullmatch(r"OP-\d{6}", number)
    [ticket] = published(publisher, TicketOpenedV1)
    assert ticket.number == number
    profile = await client.get(f"/v1/customers/{ticket.customer.customer_id}")
    assert {"kind": "receipt", "value": number, "verified": True} in profile.json()["identifiers"]


async def test_a_customer_profile_shows_the_identifiers_it_was_reached_by(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    customer_id = await customer_of(client, publisher, "web-form/ru_self_service_warranty.json")

    response = await client.get(f"/v1/customers/{customer_id}")

    assert response.status_code == 200
    profile = response.json()
    assert profile["name"] == "Ольга Васильева"
    assert {(i["kind"], i["value"], i["verified"]) for i in profile["identifiers"]} == {
        ("email", "o.vasilyeva@example.ru", False),  # typed into a form: not vouched for
        ("phone", "+79165552341", False),
    }


async def test_an_unknown_customer_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/customers/nobody")

    assert response.status_code == 404


async def test_a_merged_profile_can_be_unmerged(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    survivor = await customer_of(client, publisher, "sms/ru_order_status.json")
    duplicate = await customer_of(client, publisher, "messenger/ru_vk_loyalty.json")
    request = {"merged_customer_id": duplicate, "actor": "agent-anna", "reason": "same person"}

    merged = await client.post(f"/v1/customers/{survivor}/merge", json=request)
    while_merged = (await client.get(f"/v1/customers/{duplicate}")).json()
    unmerged = await client.post(f"/v1/customers/{survivor}/unmerge", json=request)
    after = (await client.get(f"/v1/customers/{duplicate}")).json()

    assert merged.status_code == 200
    assert merged.json()["merged_customer_id"] == duplicate
    assert while_merged["merged_into"] == survivor
    assert unmerged.status_code == 200
    assert after["merged_into"] is None
    assert [type(e) for e in publisher.published[-2:]] == [CustomerMergedV1, CustomerUnmergedV1]


async def test_merging_a_profile_into_itself_is_409(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    customer_id = await customer_of(client, publisher, "sms/ru_order_status.json")
    count = len(publisher.published)

    response = await client.post(
        f"/v1/customers/{customer_id}/merge",
        json={"merged_customer_id": customer_id, "actor": "agent-anna"},
    )

    assert response.status_code == 409
    assert len(publisher.published) == count


# --- the agent workspace ------------------------------------------------------------------------


async def test_an_agents_reply_is_published_as_the_tickets_reply(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    opened = await client.post("/v1/inbound/sms", json=channel_payload("sms/en_loyalty.json"))
    ticket_id = opened.json()["ticket_id"]

    response = await client.post(
        "/v1/workspace/replies",
        json={
            "ticket_id": ticket_id,
            "agent_id": "agent-anna",
            "reply_id": "reply-1",
            "text": "You have 1 250 points.",
        },
    )

    assert response.status_code == 200
    [reply] = published(publisher, TicketRepliedV1)
    assert (reply.ticket_id, reply.agent_id, reply.text) == (
        ticket_id,
        "agent-anna",
        "You have 1 250 points.",
    )
    assert response.json()["event_id"] == reply.event_id


async def test_a_ticket_set_pending_is_answered_with_when_it_will_be_solved(
    client: httpx.AsyncClient,
) -> None:
    opened = await client.post("/v1/inbound/sms", json=channel_payload("sms/en_loyalty.json"))
    ticket_id = opened.json()["ticket_id"]
    at = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)

    response = await client.post(
        "/v1/workspace/status",
        json={
            "ticket_id": ticket_id,
            "agent_id": "agent-anna",
            "status": "pending",
            "occurred_at": at.isoformat(),
        },
    )

    assert response.status_code == 200
    assert response.json()["auto_change_at"] == "2026-11-27T10:00:00Z"


async def test_a_status_change_for_an_unknown_ticket_is_404(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post(
        "/v1/workspace/status",
        json={"ticket_id": "no-such-ticket", "agent_id": "agent-anna", "status": "solved"},
    )

    assert response.status_code == 404
    assert not publisher.published


async def test_an_agents_presence_is_published_for_routing(
    client: httpx.AsyncClient, publisher: RecordingPublisher
) -> None:
    response = await client.post(
        "/v1/workspace/agents/presence", json={"agent_id": "agent-anna", "presence": "away"}
    )

    assert response.status_code == 202
    [event] = published(publisher, AgentPresenceChangedV1)
    assert (event.agent_id, event.presence) == ("agent-anna", "away")
    assert response.json() == {"event_id": event.event_id, "topic": event.topic.name}
