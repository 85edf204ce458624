"""Recipient masking and the mail-drop handler of the SMTP catcher."""

import logging
from pathlib import Path
from types import SimpleNamespace

import pytest
from opora_localstack.smtp import MailDropHandler


async def test_handler_saves_eml_and_logs_masked_recipient(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    handler = MailDropHandler(tmp_path / "mail")
    content = b"From: desk@opora.dev\r\nTo: ivan@example.com\r\nSubject: Ticket 42\r\n\r\nHello\r\n"
    envelope = SimpleNamespace(
        original_content=content, content=content, rcpt_tos=["ivan@example.com"]
    )

    with caplog.at_level(logging.INFO, logger="opora_localstack.smtp"):
        reply = await handler.handle_DATA(None, None, envelope)

    assert reply.startswith("250")
    [saved] = (tmp_path / "mail").glob("*.eml")
    assert saved.read_bytes() == content
    assert "i***@example.com" in caplog.text
    assert "ivan@" not in caplog.text
    assert "Ticket 42" in caplog.text
