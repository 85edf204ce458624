"""notifications in-process against a real Kafka broker, FerretDB and an SMTP server on loopback:
facts published as intake and sla publish them come out as e-mails, outcome events and history."""

from __future__ import annotations

from importlib import resources

import httpx
import pytest
import yaml
from opora_notifications.config import Settings
from opora_notifications.main import create_app
from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import Channel
from opora_shared.contracts.notifications import NotificationSentV1
from opora_shared.contracts.topics import NOTIFICATIONS
from opora_shared.testing import KafkaTail

from .conftest import settled, skip_to_the_end

pytestmark = pytest.mark.integration


async def test_acknowledgements_in_russian_and_english_go_out_once_with_their_events(
    infra, database_name, smtp, publish, ticket_opened, sla_applied, tmp_path
):
    # sla's applied event is published right behind the opening, but on a loaded machine the
    # sla subscription may take longer than the packaged 10 s to hand it over.
    packaged = resources.files("opora_notifications") / "rules" / "notifications.yaml"
    rules = yaml.safe_load(packaged.read_text(encoding="utf-8"))
    for rule in rules["notifications"]:
        if rule["intent"] == "ticket.acknowledged":
            rule["wait_for_sla"] = "60s"
    rules_file = tmp_path / "notifications.yaml"
    rules_file.write_text(yaml.safe_dump(rules, allow_unicode=True), encoding="utf-8")
    settings = Settings(
        kafka_bootstrap_servers=infra.bootstrap_servers,
        mongodb_uri=infra.mongodb_uri,
        mongodb_database=database_name,
        smtp_port=smtp.port,
        graceful_timeout_s=5,
        rules_file=rules_file,
    )
    now = utc_now()
    ru = ticket_opened(ticket_id=f"{database_name}-ru", email="ivan@example.com", at=now)
    en = ticket_opened(
        ticket_id=f"{database_name}-en",
        email="anna@example.org",
        name="Anna Smith",
        language="en",
        channel=Channel.WEB_FORM,
        at=now,
    )
    await skip_to_the_end(infra.bootstrap_servers)
    app = create_app(settings)
    async with (
        app.router.lifespan_context(app),
        KafkaTail(infra.bootstrap_servers, NOTIFICATIONS.name) as tail,
    ):
        await settled(infra.bootstrap_servers)
        for opened in (ru, en):
            await publish(opened)
            await publish(opened)  # a redelivery
            await publish(sla_applied(ticket_id=opened.ticket_id))

        received = await smtp.wait_for(2)
        sent = await tail.wait_for(
            lambda s: (
                isinstance(s.event, NotificationSentV1)
                and s.event.ticket_id in (ru.ticket_id, en.ticket_id)
            ),
            count=2,
        )
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://n") as http:
            history = (
                await http.get("/v1/notifications", params={"ticket_id": ru.ticket_id})
            ).json()

    by_language = {str(m["Content-Language"]): m for m in received}
    assert by_language["ru"]["Subject"] == "[OP-000123] Мы получили ваше обращение"
    ru_text = by_language["ru"].get_body(preferencelist=("plain",)).get_content()
    assert ru_text.startswith("Добрый день, Иван!")
    assert "Специалист ответит вам до" in ru_text
    assert by_language["en"]["Subject"] == "[OP-000123] We have received your request"
    en_html = by_language["en"].get_body(preferencelist=("html",)).get_content()
    assert "Hello, Anna!" in en_html
    assert len(smtp.accepted) == 2
    assert {s.headers["ce_source"] for s in sent} == {"opora/notifications"}
    ([record],) = [history]
    assert record["state"] == "sent"
    assert record["provider_message_id"] == by_language["ru"]["Message-ID"]
