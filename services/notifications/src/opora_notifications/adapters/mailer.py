"""E-mail through SMTP with aiosmtplib: one multipart message (text and HTML) per notification.

Headers that matter:

* ``Message-ID`` is derived from the notification id, so every attempt carries the same one and
  a receiving system can drop a repeat (the one duplicate the delivery design allows: a crash
  after the server accepted the message and before the outcome was written).
* ``In-Reply-To`` / ``References`` thread the message: under the customer's own e-mail when the
  ticket began as one, and under a root id per ticket (``<ticket.<id>@domain>``) always, so
  every message about one ticket lands in one conversation. The ticket number is also in the
  subject, which is how intake threads the customer's answer.
* ``Auto-Submitted: auto-generated`` (RFC 3834), so auto-responders do not answer.
* ``List-Unsubscribe`` with ``List-Unsubscribe-Post`` (RFC 8058 one-click) when the message
  has an unsubscribe link.

SMTP failures are sorted into the domain's kinds: a 5xx refusal of the recipient or the content
is permanent; a 4xx is deferred; anything about the server itself (unreachable, timeout,
authentication, sender refused) means it is unavailable. Reasons name reply codes and error
types only, never the server's text, which often echoes the address.
"""

from __future__ import annotations

from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr

import aiosmtplib
from aiosmtplib import (
    SMTPDataError,
    SMTPException,
    SMTPRecipientsRefused,
    SMTPResponseException,
)
from opentelemetry import trace
from opentelemetry.trace import SpanKind
from opora_shared.contracts.base import utc_now
from pydantic import SecretStr

from opora_notifications.domain.model import message_id, thread_id
from opora_notifications.domain.ports import (
    ChannelUnavailableError,
    DeliveryDeferredError,
    DeliveryRejectedError,
    OutgoingMessage,
)

_tracer = trace.get_tracer("opora.notifications.smtp")


class SmtpMailer:
    def __init__(
        self,
        *,
        host: str,
        port: int,
        mail_from: str,
        username: str | None = None,
        password: SecretStr | None = None,
        starttls: bool = False,
        use_tls: bool = False,
        timeout_s: float = 15.0,
    ) -> None:
        self.host = host
        self.port = port
        self.mail_from = mail_from
        self.sender = parseaddr(mail_from)[1]
        if "@" not in self.sender:
            raise ValueError(f"mail_from {mail_from!r} has no address")
        self.domain = self.sender.rpartition("@")[2]
        self._username = username
        self._password = password
        self._starttls = starttls
        self._use_tls = use_tls
        self._timeout_s = timeout_s

    def compose(self, message: OutgoingMessage, *, date: datetime | None = None) -> EmailMessage:
        content = message.content
        if content.subject is None or content.html is None:
            raise ValueError("an e-mail needs a subject and an HTML part")
        mail = EmailMessage()
        mail["Message-ID"] = message_id(message.notification_id, self.domain)
        mail["Date"] = format_datetime(date or utc_now())
        mail["From"] = self.mail_from
        mail["To"] = Address(
            display_name=" ".join((message.recipient_name or "").split()),
            addr_spec=message.address,
        )
        mail["Subject"] = content.subject
        root = thread_id(message.ticket_id, self.domain)
        references = [ref for ref in (message.in_reply_to, root) if ref]
        mail["In-Reply-To"] = references[0]
        mail["References"] = " ".join(references)
        # RFC 3834: automatic replies must not answer this message (no auto-reply loops).
        mail["Auto-Submitted"] = "auto-generated"
        if message.unsubscribe_url:
            mail["List-Unsubscribe"] = f"<{message.unsubscribe_url}>"
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(content.text)
        mail.add_alternative(content.html, subtype="html")
        mail["Content-Language"] = message.language  # after the parts: set_content drops it
        return mail

    async def send(self, message: OutgoingMessage) -> str:
        mail = self.compose(message)
        # The server, never the recipient: addresses stay out of spans.
        with _tracer.start_as_current_span(
            "smtp send",
            kind=SpanKind.CLIENT,
            attributes={"server.address": self.host, "server.port": self.port},
        ) as span:
            try:
                return await self._send(mail, message)
            except Exception as exc:
                span.set_attribute("error.type", type(exc).__name__)
                raise

    async def _send(self, mail: EmailMessage, message: OutgoingMessage) -> str:
        try:
            await aiosmtplib.send(
                mail,
                sender=self.sender,
                recipients=[message.address],
                hostname=self.host,
                port=self.port,
                username=self._username,
                password=self._password.get_secret_value() if self._password else None,
                start_tls=self._starttls,
                use_tls=self._use_tls,
                timeout=self._timeout_s,
            )
        except SMTPRecipientsRefused as exc:
            codes = sorted({r.code for r in exc.recipients})
            error = DeliveryRejectedError if all(c >= 500 for c in codes) else DeliveryDeferredError
            raise error(f"recipient refused with {codes}") from None
        except SMTPDataError as exc:
            error = DeliveryRejectedError if exc.code >= 500 else DeliveryDeferredError
            raise error(f"message refused with {exc.code}") from None
        except SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise DeliveryDeferredError(f"{type(exc).__name__} {exc.code}") from None
            raise ChannelUnavailableError(f"{type(exc).__name__} {exc.code}") from None
        except (SMTPException, OSError) as exc:
            raise ChannelUnavailableError(
                f"{type(exc).__name__}: cannot deliver through {self.host}:{self.port}"
            ) from None
        return str(mail["Message-ID"])
