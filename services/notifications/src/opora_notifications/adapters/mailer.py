"""SMTP delivery with aiosmtplib: one multipart (text and HTML) message per notification.

The ``Message-ID`` is derived from the notification id, so a repeated attempt carries the same
one. SMTP failures are sorted into the domain's kinds: a 5xx refusal of the recipient or the
content is permanent; a 4xx is deferred; anything about the server itself (unreachable,
timeout, authentication, sender refused) means it is unavailable. Reasons name reply codes and
error types only, never the server's text, which often echoes the address.
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
from opora_shared.contracts.base import utc_now
from pydantic import SecretStr

from opora_notifications.domain.model import message_id
from opora_notifications.domain.ports import (
    MailDeferredError,
    MailRejectedError,
    MailServerUnavailableError,
    OutgoingMail,
)


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
        self._timeout_s = timeout_s

    def compose(self, mail: OutgoingMail, *, date: datetime | None = None) -> EmailMessage:
        message = EmailMessage()
        message["Message-ID"] = message_id(mail.notification_id, self.domain)
        message["Date"] = format_datetime(date or utc_now())
        message["From"] = self.mail_from
        message["To"] = Address(
            display_name=" ".join((mail.recipient_name or "").split()), addr_spec=mail.recipient
        )
        message["Subject"] = mail.content.subject
        message["Content-Language"] = mail.language
        # RFC 3834: automatic replies must not answer this message (no auto-reply loops).
        message["Auto-Submitted"] = "auto-generated"
        message.set_content(mail.content.text)
        message.add_alternative(mail.content.html, subtype="html")
        return message

    async def send(self, mail: OutgoingMail) -> str:
        message = self.compose(mail)
        try:
            await aiosmtplib.send(
                message,
                sender=self.sender,
                recipients=[mail.recipient],
                hostname=self.host,
                port=self.port,
                username=self._username,
                password=self._password.get_secret_value() if self._password else None,
                start_tls=self._starttls,
                timeout=self._timeout_s,
            )
        except SMTPRecipientsRefused as exc:
            codes = sorted({r.code for r in exc.recipients})
            error = MailRejectedError if all(c >= 500 for c in codes) else MailDeferredError
            raise error(f"recipient refused with {codes}") from None
        except SMTPDataError as exc:
            error = MailRejectedError if exc.code >= 500 else MailDeferredError
            raise error(f"message refused with {exc.code}") from None
        except SMTPResponseException as exc:
            if 400 <= exc.code < 500:
                raise MailDeferredError(f"{type(exc).__name__} {exc.code}") from None
            raise MailServerUnavailableError(f"{type(exc).__name__} {exc.code}") from None
        except (SMTPException, OSError) as exc:
            raise MailServerUnavailableError(
                f"{type(exc).__name__}: cannot deliver through {self.host}:{self.port}"
            ) from None
        return str(message["Message-ID"])
