"""A loopback SMTP catcher for demos: every message lands as an .eml file, nothing is relayed."""

from __future__ import annotations

import itertools
import logging
import time
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from opora_shared.privacy import mask_email

log = logging.getLogger(__name__)


class MailDropHandler:
    """aiosmtpd handler that writes each message to ``mail_dir`` and logs one line."""

    def __init__(self, mail_dir: Path) -> None:
        self.mail_dir = mail_dir
        self._counter = itertools.count(1)
        mail_dir.mkdir(parents=True, exist_ok=True)

    def save(self, content: bytes) -> Path:
        """Write one message to a fresh ``.eml`` file and return its path."""
        stamp = time.strftime("%Y%m%dT%H%M%S")
        path = self.mail_dir / f"{stamp}-{next(self._counter):05d}.eml"
        path.write_bytes(content)
        return path

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        raw = envelope.original_content or envelope.content
        content = raw if isinstance(raw, bytes) else str(raw).encode()
        path = self.save(content)
        subject = message_from_bytes(content, policy=default_policy).get("Subject", "")
        recipients = ", ".join(mask_email(str(rcpt)) for rcpt in envelope.rcpt_tos)
        log.info("mail to %s subject=%r saved as %s", recipients, subject, path.name)
        return "250 Message accepted for delivery"


class SmtpCatcher:
    """Runs :class:`MailDropHandler` on ``host:port`` in a background thread."""

    def __init__(self, mail_dir: Path, port: int, host: str = "127.0.0.1") -> None:
        self.host, self.port, self.mail_dir = host, port, mail_dir
        self._controller = Controller(MailDropHandler(mail_dir), hostname=host, port=port)

    def start(self) -> None:
        """Start listening; returns once the server accepts connections."""
        self._controller.start()

    def stop(self) -> None:
        """Stop listening."""
        self._controller.stop()
