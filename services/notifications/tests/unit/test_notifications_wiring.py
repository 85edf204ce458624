"""The whole service in memory: Kafka records in (TestKafkaBroker), messages and events out, and
the HTTP API: history, dead letters, previews, preferences, unsubscribe; and the CLI."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from faststream.kafka import KafkaMessage, TestKafkaBroker
from opora_notifications.adapters.memory import (
    MemoryAgentStore,
    MemoryNotificationStore,
    MemoryPreferenceStore,
    MemoryQuotas,
    MemoryTicketStore,
)
from opora_notifications.adapters.unsubscribe import UnsubscribeLinks
from opora_notifications.config import Settings
from opora_notifications.domain.ports import DeliveryRejectedError
from opora_notifications.domain.rules import Category
from opora_notifications.domain.templates import EXAMPLE
from opora_notifications.entrypoints.cli import main as cli
from opora_notifications.main import Adapters, create_app
from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import Channel
from opora_shared.contracts.topics import NOTIFICATIONS
from opora_shared.testing import deliver
from pydantic import SecretStr

SECRET = SecretStr("test-only-unsubscribe-secret")


@pytest.fixture
def mail(fake_sender):
    return fake_sender


@pytest.fixture
def timers(fake_timers):
    return fake_timers


@pytest.fixture
def adapters(mail, timers) -> Adapters:
    return Adapters(
        store=MemoryNotificationStore(),
        tickets=MemoryTicketStore(),
        agents=MemoryAgentStore(),
        preferences=MemoryPreferenceStore(),
        quotas=MemoryQuotas(),
        senders={Channel.EMAIL: mail},
        timers=timers,
    )


@pytest.fixture
def app(adapters):
    return create_app(Settings(unsubscribe_secret=SECRET), adapters=adapters)


@pytest.fixture
def outcomes(app):
    """What the service publishes on notifications.events.v1, as (ce_type, ce_id, body)."""
    seen: list[tuple[str, str, dict]] = []

    @app.state.broker.subscriber(NOTIFICATIONS.name, group_id="test-observer")
    async def observe(body: dict, message: KafkaMessage) -> None:
        seen.append((message.headers["ce_type"], message.headers["ce_id"], body))

    return seen


@pytest.fixture
async def http(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://notifications") as client:
        yield client


async def test_an_opened_ticket_gets_one_acknowledgement_however_often_it_arrives(
    app, mail, timers, outcomes, ticket_opened, sla_applied
):
    opened = ticket_opened()
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, opened)
        await deliver(broker, sla_applied())
        await timers.run_due(utc_now())
        await deliver(broker, opened)
        await timers.run_due(utc_now())

    (sent,) = mail.sent
    assert sent.content.subject == "[OP-000123] Мы получили ваше обращение"
    assert sent.unsubscribe_url is not None
    assert sent.unsubscribe_url.startswith("http://127.0.0.1:8004/v1/unsubscribe/")
    assert [kind for kind, _, _ in outcomes] == ["opora.notification.sent.v1"]
    assert outcomes[0][2]["recipient_masked"] == "i***@example.com"
    assert outcomes[0][2]["audience"] == "customer"


async def test_a_survey_sends_the_invitation_with_its_link(
    app, mail, timers, ticket_opened, survey_issued
):
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, ticket_opened(at=utc_now()))  # in the conversation: never held
        await deliver(broker, survey_issued(send_after=utc_now() - timedelta(seconds=1)))
        await timers.run_due(utc_now())

    (survey,) = [m for m in mail.sent if m.intent == "survey.invitation"]
    assert "https://opora.test/s/t-1-token" in survey.content.text


async def test_a_notification_not_sent_on_purpose_is_announced_on_the_topic(
    app, timers, outcomes, ticket_opened, sla_applied
):
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, ticket_opened(email=None, phone=None))  # nothing reaches them
        await deliver(broker, sla_applied())
        await timers.run_due(utc_now())

    [(kind, ce_id, body)] = outcomes
    assert kind == "opora.notification.cancelled.v1"
    assert ce_id == body["event_id"]
    assert (body["intent"], body["reason"]) == ("ticket.acknowledged", "no_channel")
    assert body["audience"] == "customer"


async def test_a_tickets_history_lists_its_notifications_with_masked_recipients(
    app, http, timers, ticket_opened, sla_applied
):
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, ticket_opened(ticket_id="t-9"))
        await deliver(broker, sla_applied(ticket_id="t-9"))
        await timers.run_due(utc_now())

    response = await http.get("/v1/notifications", params={"ticket_id": "t-9"})

    assert response.status_code == 200
    (listed,) = response.json()
    assert listed["state"] == "sent"
    assert listed["recipient_masked"] == "i***@example.com"
    assert [h["state"] for h in listed["history"]] == ["scheduled", "sent"]
    assert listed["history"][-1]["detail"] == "sent: attempt 1 on email"
    assert "ivan.petrov@example.com" not in response.text


async def test_a_permanent_failure_is_listed_among_the_dead_letters(
    app, http, mail, timers, ticket_opened, sla_applied
):
    mail.failures.append(DeliveryRejectedError("recipient refused with [550]"))
    async with TestKafkaBroker(app.state.broker) as broker:
        await deliver(broker, ticket_opened())
        await deliver(broker, sla_applied())
        await timers.run_due(utc_now())

    response = await http.get("/v1/dead-letters", params={"ticket_id": "t-1"})

    (letter,) = response.json()
    assert letter["reason"] == "recipient refused with [550]"
    assert letter["intent"] == "ticket.acknowledged"


async def test_the_preview_renders_the_requested_language_and_channel(http) -> None:
    response = await http.post(
        "/v1/templates/ticket_acknowledged/preview",
        json={"language": "ru", "channel": "sms", "context": {"name": "Иван", "number": "OP-7"}},
    )

    assert response.status_code == 200
    assert response.json()["text"].startswith("Иван, заявка OP-7 принята.")
    assert response.json()["subject"] is None


async def test_the_preview_of_an_email_has_all_three_parts(http) -> None:
    response = await http.post("/v1/templates/survey_invitation/preview", json={"language": "en"})

    body = response.json()
    assert body["subject"].startswith("How did we do?")
    assert f'href="{EXAMPLE["url"]}?score=5"' in body["html"]
    assert f"5 (very satisfied): {EXAMPLE['url']}?score=5" in body["text"]


async def test_the_preview_cannot_replace_the_rating_links_with_text(http) -> None:
    response = await http.post(
        "/v1/templates/survey_invitation/preview", json={"context": {"rating_links": "1 2 3"}}
    )

    assert response.status_code == 422
    assert "rating_links" in response.json()["detail"]


async def test_the_preview_of_an_unknown_template_is_404(http) -> None:
    assert (await http.post("/v1/templates/nope/preview", json={})).status_code == 404


async def test_the_preview_names_a_variable_the_template_does_not_have(http) -> None:
    response = await http.post(
        "/v1/templates/ticket_acknowledged/preview", json={"context": {"nmae": "Ivan"}}
    )

    assert response.status_code == 422
    assert "nmae" in response.json()["detail"]


async def test_the_templates_are_listed_with_their_variables(http) -> None:
    listed = {t["name"]: t for t in (await http.get("/v1/templates")).json()}

    assert "url" in listed["survey_invitation"]["variables"]
    assert listed["agent_assigned"]["channels"] == ["sms", "messenger"]


async def test_preferences_are_stored_and_read_back(http) -> None:
    body = {"opted_out": ["surveys"], "blocked_channels": ["sms"], "time_zone": "Asia/Omsk"}

    put = await http.put("/v1/customers/c-1/preferences", json=body)
    got = await http.get("/v1/customers/c-1/preferences")

    assert put.status_code == 200
    assert got.json()["opted_out"] == ["surveys"]
    assert got.json()["time_zone"] == "Asia/Omsk"


async def test_a_wrong_time_zone_is_a_422_naming_the_field(http) -> None:
    response = await http.put("/v1/customers/c-1/preferences", json={"time_zone": "Mars/Base"})

    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "time_zone"]


async def test_a_channel_notifications_cannot_send_on_is_a_422(http) -> None:
    response = await http.put(
        "/v1/customers/c-1/preferences", json={"preferred_channels": ["phone"]}
    )

    assert response.status_code == 422


async def test_one_click_unsubscribe_opts_the_customer_out_of_that_category(http) -> None:
    token = UnsubscribeLinks(SECRET, "http://x").token("c-1", Category.SURVEYS)

    page = await http.get(f"/v1/unsubscribe/{token}")
    done = await http.post(f"/v1/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
    prefs = await http.get("/v1/customers/c-1/preferences")

    assert page.status_code == 200
    assert done.status_code == 200
    assert prefs.json()["opted_out"] == ["surveys"]


async def test_a_forged_unsubscribe_token_is_refused(http) -> None:
    forged = UnsubscribeLinks(SecretStr("another-secret"), "http://x").token(
        "c-1", Category.SURVEYS
    )

    assert (await http.post(f"/v1/unsubscribe/{forged}")).status_code == 404


def test_the_cli_previews_a_template(capsys) -> None:
    code = cli(["preview", "ticket_acknowledged", "--language", "ru", "--set", "name=Иван"])

    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: [OP-000123] Мы получили ваше обращение")
    assert "Добрый день, Иван!" in out


def test_the_cli_check_reports_a_broken_rules_file(tmp_path, capsys) -> None:
    broken = tmp_path / "rules.yaml"
    broken.write_text("version: x\nnotifications: []\n")

    assert cli(["check", "--rules", str(broken)]) == 1
    assert "customers: Field required" in capsys.readouterr().err


def test_the_cli_check_passes_the_packaged_files(capsys) -> None:
    assert cli(["check"]) == 0
    assert "14 notifications" in capsys.readouterr().out
