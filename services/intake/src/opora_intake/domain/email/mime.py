"""Raw RFC 5322 mail read with the standard library's ``email`` package into ``ParsedEmailV1``.

Headers are decoded by ``email.policy.default`` (RFC 2047 encoded words in any charset Python
knows: KOI8-R, windows-1251, UTF-8), bodies by their transfer encoding and declared charset.
"""

from __future__ import annotations

import email.parser
import email.policy
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage, Message

from opora_shared.contracts.inbound import InboundEmailV1

from opora_intake.domain.email.parsed import (
    DEFAULT_MAILBOX_DOMAIN,
    STDLIB_PARSER_FAILURES,
    EmailParseError,
    ParsedAttachmentV1,
    ParsedEmailV1,
    email_from_parsed,
)

_PARSER = email.parser.BytesParser(policy=email.policy.default)
_BODY_TYPES = ("text/plain", "text/html")


def parse_mime(
    raw: bytes,
    *,
    received_at: datetime | None = None,
    mailbox_domain: str = DEFAULT_MAILBOX_DOMAIN,
) -> InboundEmailV1:
    """The event for a raw mail as an MTA or a mailbox delivers it.

    Raises ``EmailParseError`` for bytes that are no usable mail, and nothing else.
    See ``email_from_parsed`` for ``received_at`` and ``mailbox_domain``.
    """
    return email_from_parsed(read_mime(raw), received_at=received_at, mailbox_domain=mailbox_domain)


def read_mime(raw: bytes) -> ParsedEmailV1:
    """The parsed-mail shape of a raw mail: headers decoded, bodies chosen, attachments listed."""
    try:
        message = _PARSER.parsebytes(raw)
        return _parsed(message)
    except STDLIB_PARSER_FAILURES as error:  # raised, lazily, from header and parameter parsing
        raise EmailParseError("the MIME message cannot be read") from error


def _parsed(message: EmailMessage) -> ParsedEmailV1:
    leaves = list(_leaves(message))
    plain = next((part for part in leaves if _body_of_type(part, "text/plain")), None)
    html = next((part for part in leaves if _body_of_type(part, "text/html")), None)
    return ParsedEmailV1(
        from_=_header(message, "From"),
        to=_header(message, "To"),
        cc=_header(message, "Cc"),
        reply_to=_header(message, "Reply-To") or None,
        subject=_header(message, "Subject"),
        date=_header(message, "Date") or None,
        message_id=_header(message, "Message-ID") or None,
        in_reply_to=_header(message, "In-Reply-To") or None,
        references=_header(message, "References") or None,
        text=_text(plain) if plain is not None else None,
        html=_text(html) if html is not None else None,
        headers={
            "delivered-to": _header(message, "Delivered-To"),
            "x-original-to": _header(message, "X-Original-To"),
            "content-language": _header(message, "Content-Language")
            or (_header(plain, "Content-Language") if plain is not None else ""),
        },
        attachments=tuple(
            _attachment(part) for part in leaves if not _body_of_type(part, *_BODY_TYPES)
        ),
    )


def _leaves(message: Message) -> Iterator[Message]:
    """The parts that are not containers, in order. A message/rfc822 part (a forwarded mail) is a
    leaf: it is one attachment, not opened. Multipart payloads are type-checked because the parser
    leaves a string there when the boundary is missing."""
    pending: list[Message] = [message]
    while pending:
        part = pending.pop()
        if part.get_content_maintype() != "multipart":
            yield part
            continue
        children = part.get_payload() if part.is_multipart() else None
        if isinstance(children, list):
            pending.extend(child for child in reversed(children) if isinstance(child, Message))


def _body_of_type(part: Message, *content_types: str) -> bool:
    """A text body rather than a file: of a body type, neither marked as attachment nor named."""
    return (
        part.get_content_type() in content_types
        and part.get_content_disposition() != "attachment"
        and not part.get_filename()
    )


def _header(part: Message, name: str) -> str:
    """Every occurrence of a header, decoded and joined, as address headers list them; undecoded
    when the parser fails on it, so that one broken header does not cost the whole mail."""
    try:
        values = [str(value) for value in part.get_all(name, ())]
    except STDLIB_PARSER_FAILURES:
        values = [str(v) for k, v in part.raw_items() if k.lower() == name.lower()]
    return ", ".join(values)


def _text(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    try:
        return payload.decode(part.get_content_charset() or "utf-8", errors="replace")
    except (LookupError, ValueError):  # an unknown charset, or a codec that isn't for text
        return payload.decode("utf-8", errors="replace")


def _attachment(part: Message) -> ParsedAttachmentV1:
    return ParsedAttachmentV1(
        filename=part.get_filename() or "unnamed",
        content_type=part.get_content_type(),
        size=_size(part),
        content_id=_header(part, "Content-ID").strip().strip("<>") or None,
    )


def _size(part: Message) -> int:
    payload = part.get_payload(decode=True)
    if isinstance(payload, bytes):
        return len(payload)
    inner = part.get_payload()
    return sum(_size(p) for p in inner if isinstance(p, Message)) if isinstance(inner, list) else 0
