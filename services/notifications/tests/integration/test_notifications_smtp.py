"""E-mail through a real SMTP server on loopback (aiosmtpd): the MIME a mail client sees, in
Russian and English, threading headers, refusals.

Needs no Kafka or MongoDB: the server runs in this process's thread; the notifier uses the
in-memory stores.
"""

from __future__ import annotations

import email
import email.policy
import socket
from email.message import EmailMessage
from html.parser import HTMLParser

import pytest
from aiosmtpd.controller import Controller
from opora_notifications.adapters.mailer import SmtpMailer
from opora_notifications.domain.model import CUSTOMER, notification_id
from opora_notifications.domain.ports import (
    ChannelUnavailableError,
    DeliveryRejectedError,
    OutgoingMessage,
    RenderedMessage,
)
from opora_shared.contracts.common import Channel, TicketStatus
from opora_shared.contracts.feedback import SurveyType


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


@pytest.fixture
def smtp_desk(make_desk, mailer):
    desk = make_desk()
    desk.notifier.senders = {Channel.EMAIL: mailer}
    return desk


def parts(message: EmailMessage) -> tuple[str, str]:
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert text is not None
    assert html is not None
    return text.get_content(), html.get_content()


async def test_a_russian_acknowledgement_arrives_as_multipart_with_its_headers(
    smtp_server, smtp_desk, ticket_opened, sla_applied
):
    _, collector = smtp_server
    await smtp_desk.notifier.on_sla_applied(sla_applied())
    await smtp_desk.notifier.on_ticket_opened(ticket_opened(email="ivan.petrov@example.com"))
    await smtp_desk.settle()

    ((recipients, message),) = collector.received
    nid = notification_id("ticket.acknowledged", "t-1", CUSTOMER)
    assert recipients == ["ivan.petrov@example.com"]
    assert message["Subject"] == "[OP-000123] Мы получили ваше обращение"
    assert message["To"].addresses[0].display_name == "Иван Петров"
    assert message["Message-ID"] == f"<{nid}@opora.local>"
    assert message["In-Reply-To"] == "<abc@mail.example.com>"
    assert message["References"] == "<abc@mail.example.com> <ticket.t-1@opora.local>"
    assert message["Content-Language"] == "ru"
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["List-Unsubscribe"] == "<https://opora.test/u/c-1/service>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    text, html = parts(message)
    assert text.startswith("Добрый день, Иван!")
    assert "Специалист ответит вам до 28 февраля 2026, 16:30" in text
    assert "<strong>OP-000123</strong>" in html
    sent = smtp_desk.publisher.published[0]
    assert sent.provider_message_id == message["Message-ID"]


async def test_an_english_survey_invitation_from_an_older_feedback_arrives_with_its_link(
    smtp_server, smtp_desk, ticket_opened, status, survey_issued
):
    _, collector = smtp_server
    await smtp_desk.notifier.on_ticket_opened(
        ticket_opened(
            language="en", name="Anna Smith", email="anna@example.org", channel=Channel.WEB_FORM
        )
    )
    await smtp_desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await smtp_desk.notifier.on_survey_issued(
        survey_issued(language="en", email="anna@example.org")
    )
    await smtp_desk.settle()

    by_subject = {str(m["Subject"]): m for _, m in collector.received}
    survey = by_subject["How did we do? Rate the handling of your request [OP-000123]"]
    text, html = parts(survey)
    assert text.startswith("Hello, Anna!")
    assert "https://opora.test/s/t-1-token" in text
    assert 'href="https://opora.test/s/t-1-token"' in html
    assert "?score=" not in html  # no rating links in the event: the survey's own page
    assert "The link is valid until 28 March 2026." in text
    assert survey["References"] == "<ticket.t-1@opora.local>"  # a web ticket: the ticket's root


class Anchors(HTMLParser):
    """The links of an HTML part: their attributes and text, in document order."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[dict[str, str]] = []
        self._open: dict[str, str] | None = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._open = {k: v or "" for k, v in attrs} | {"text": ""}

    def handle_data(self, data):
        if self._open is not None:
            self._open["text"] += data

    def handle_endtag(self, tag):
        if tag == "a" and self._open is not None:
            self.links.append(self._open)
            self._open = None


async def _survey_mail(desk, collector, ticket_opened, status, survey_issued, *, language, **kw):
    await desk.notifier.on_ticket_opened(ticket_opened(language=language, name="Иван Петров"))
    await desk.notifier.on_status_changed(status(TicketStatus.SOLVED))
    await desk.notifier.on_survey_issued(survey_issued(language=language, **kw))
    await desk.settle()
    subjects = {"ru": "Оцените, пожалуйста", "en": "How did we do?"}
    (survey,) = [m for _, m in collector.received if subjects[language] in str(m["Subject"])]
    return survey


async def test_a_russian_survey_invitation_offers_a_button_per_score(
    smtp_server, smtp_desk, ticket_opened, status, survey_issued
):
    _, collector = smtp_server

    survey = await _survey_mail(
        smtp_desk, collector, ticket_opened, status, survey_issued, language="ru", rating_links=True
    )

    text, html = parts(survey)
    buttons = [a for a in Anchors(html).links if "?score=" in a["href"]]
    assert [(a["text"], a["href"]) for a in buttons] == [
        (str(n), f"https://opora.test/s/t-1-token?score={n}") for n in range(1, 6)
    ]
    assert buttons[0]["aria-label"] == "1 из 5 — совсем не доволен"
    assert buttons[2]["aria-label"] == "3 из 5"
    assert buttons[4]["aria-label"] == "5 из 5 — полностью доволен"
    assert "color:#ffffff" in buttons[0]["style"]
    assert "1 (совсем не доволен): https://opora.test/s/t-1-token?score=1" in text
    assert "5 (полностью доволен): https://opora.test/s/t-1-token?score=5" in text
    assert "Или откройте опрос: https://opora.test/s/t-1-token\n" in text


async def test_an_english_nps_invitation_offers_eleven_buttons_with_the_scales_ends(
    smtp_server, smtp_desk, ticket_opened, status, survey_issued
):
    _, collector = smtp_server

    survey = await _survey_mail(
        smtp_desk,
        collector,
        ticket_opened,
        status,
        survey_issued,
        language="en",
        survey_type=SurveyType.NPS,
        rating_links=True,
    )

    text, html = parts(survey)
    buttons = [a for a in Anchors(html).links if "?score=" in a["href"]]
    assert [a["text"] for a in buttons] == [str(n) for n in range(11)]
    assert buttons[0]["aria-label"] == "0 of 10 (not at all likely)"
    assert buttons[10]["aria-label"] == "10 of 10 (extremely likely)"
    assert "How likely are you to recommend us to a friend or colleague?" in text
    assert "10 (extremely likely): https://opora.test/s/t-1-token?score=10" in text


def _message(nid: str, to: str) -> OutgoingMessage:
    return OutgoingMessage(
        notification_id=nid,
        intent="ticket.acknowledged",
        channel=Channel.EMAIL,
        address=to,
        recipient_name="Ivan",
        language="en",
        content=RenderedMessage(text="Hello", subject="Hi", html="<p>Hello</p>"),
        ticket_id="t-1",
    )


async def test_a_resend_carries_the_same_message_id(smtp_server, mailer):
    _, collector = smtp_server

    await mailer.send(_message("n-1", "ivan@example.com"))
    await mailer.send(_message("n-1", "ivan@example.com"))

    first, second = (message["Message-ID"] for _, message in collector.received)
    assert first == second == "<n-1@opora.local>"


async def test_a_refused_recipient_is_a_permanent_failure_without_the_address(mailer):
    with pytest.raises(DeliveryRejectedError) as refused:
        await mailer.send(_message("n-2", "refuse@example.com"))

    assert "550" in refused.value.reason
    assert "refuse@example.com" not in refused.value.reason


async def test_an_unreachable_server_is_reported_as_unavailable() -> None:
    mailer = SmtpMailer(
        host="127.0.0.1", port=free_port(), mail_from="support@opora.local", timeout_s=2
    )

    with pytest.raises(ChannelUnavailableError):
        await mailer.send(_message("n-3", "ivan@example.com"))
