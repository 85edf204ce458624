"""Delivery through a real SMTP server on loopback (aiosmtpd): headers, MIME parts, refusals.

Needs no Kafka or MongoDB: the server runs in this process's thread.
"""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from opora_notifications.adapters.mailer import SmtpMailer
from opora_notifications.adapters.templates import JinjaRenderer
from opora_notifications.domain.model import acknowledgement
from opora_notifications.domain.ports import (
    MailRejectedError,
    MailServerUnavailableError,
    OutgoingMail,
)
from opora_notifications.domain.service import deliver


class Collector:
    """An aiosmtpd handler that keeps what it receives and refuses ``refuse@…`` recipients."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("refuse@"):
            return "550 5.1.1 <refuse@example.com>: no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server():
    collector = Collector()
    controller = Controller(collector, hostname="127.0.0.1", port=free_port())
    controller.start()
    try:
        yield controller, collector
    finally:
        controller.stop()


@pytest.fixture
def mailer(smtp_server) -> SmtpMailer:
    controller, _ = smtp_server
    return SmtpMailer(
        host="127.0.0.1",
        port=controller.port,
        mail_from="Opora Support <support@opora.local>",
        timeout_s=5,
    )


async def test_acknowledgement_arrives_with_subject_recipient_message_id_and_both_parts(
    smtp_server, mailer, store, publisher, clock, ticket_opened
):
    _, collector = smtp_server
    notification = acknowledgement(ticket_opened(email="ivan.petrov@example.com"))

    outcome = await deliver(
        notification,
        store=store,
        renderer=JinjaRenderer.load(),
        mailer=mailer,
        publisher=publisher,
        clock=clock,
    )

    ((recipients, message),) = collector.received
    assert recipients == ["ivan.petrov@example.com"]
    assert message["Subject"] == "[OP-000123] Мы получили ваше обращение"
    assert message["To"].addresses[0].addr_spec == "ivan.petrov@example.com"
    assert message["Message-ID"] == f"<{notification.notification_id}@opora.local>"
    assert outcome.provider_message_id == message["Message-ID"]
    assert message["Auto-Submitted"] == "auto-generated"
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    assert "Добрый день, Иван" in text.get_content()
    assert "<strong>OP-000123</strong>" in html.get_content()


async def test_a_resend_carries_the_same_message_id(smtp_server, mailer, ticket_opened):
    _, collector = smtp_server
    rendered = JinjaRenderer.load().render(
        "ticket_acknowledged", "en", {"name": "Ivan", "number": "OP-1", "subject": ""}
    )
    mail = OutgoingMail("n-1", "ivan@example.com", "Ivan", "en", rendered)

    await mailer.send(mail)
    await mailer.send(mail)

    first, second = (message["Message-ID"] for _, message in collector.received)
    assert first == second == "<n-1@opora.local>"


async def test_a_refused_recipient_is_a_permanent_failure_without_the_address(mailer):
    rendered = JinjaRenderer.load().render(
        "ticket_acknowledged", "en", {"name": "", "number": "OP-1", "subject": ""}
    )

    with pytest.raises(MailRejectedError) as refused:
        await mailer.send(OutgoingMail("n-2", "refuse@example.com", None, "en", rendered))

    assert "550" in refused.value.reason
    assert "refuse@example.com" not in refused.value.reason


async def test_an_unreachable_server_is_reported_as_unavailable() -> None:
    mailer = SmtpMailer(
        host="127.0.0.1", port=free_port(), mail_from="support@opora.local", timeout_s=2
    )
    rendered = JinjaRenderer.load().render(
        "ticket_acknowledged", "en", {"name": "", "number": "OP-1", "subject": ""}
    )

    with pytest.raises(MailServerUnavailableError):
        await mailer.send(OutgoingMail("n-3", "ivan@example.com", None, "en", rendered))
