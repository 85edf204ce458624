"""A parsed inbound e-mail as a mail provider's webhook posts it, and how it becomes an event.

``ParsedEmailV1`` follows the shape that SendGrid Inbound Parse, Mailgun routes and Postmark
inbound have in common: header values as sent, the text and HTML bodies, attachment metadata.
A raw MIME message is read into the same shape first (see ``mime.py``), so both channels share one
mapping to ``InboundEmailV1``.
"""

from __future__ import annotations

import email.errors
import email.headerregistry
import email.policy
import email.utils
import hashlib
import re
from datetime import UTC, datetime

from opora_shared.contracts.base import utc_now
from opora_shared.contracts.common import Attachment, CustomerContact
from opora_shared.contracts.inbound import InboundEmailV1
from pydantic import AwareDatetime, BaseModel, ConfigDict, EmailStr, Field, TypeAdapter
from pydantic import ValidationError as _ValidationError

from opora_intake.domain.email.body import clean_text, html_to_text, printable
from opora_intake.domain.email.threads import (
    digest_id,
    header_message_id,
    header_message_ids_in,
    normalise_message_id,
)
from opora_intake.domain.model import derived_id

DEFAULT_MAILBOX_DOMAIN = "opora.invalid"
"""The domain of the Message-ID made up for a mail that came without one."""

_TEXT_LIMIT = 100_000  # the contracts' Text
_SHORT_LIMIT = 1_000  # the contracts' ShortText
_FILENAME_LIMIT = 255
_MAX_REFERENCES = 100
_LANGUAGE_SUBTAG = re.compile(r"[A-Za-z]{2}")
_EMAIL = TypeAdapter(EmailStr)


STDLIB_PARSER_FAILURES: tuple[type[Exception], ...] = (
    ValueError,
    LookupError,
    IndexError,
    AttributeError,
    TypeError,
    RecursionError,
    email.errors.MessageError,
)
"""What the standard library's mail parser raises on some malformed input instead of recording a
defect; such input is unreadable, not a fault of ours."""


class EmailParseError(ValueError):
    """The input is not an e-mail intake can take: it has no usable sender address, or the
    standard library cannot read it. Messages name the reason, never the mail's content."""


class _Shape(BaseModel):
    model_config = ConfigDict(
        frozen=True, extra="ignore", validate_by_name=True, validate_by_alias=True
    )


class ParsedAttachmentV1(_Shape):
    """What an attachment was; its content stays with the provider or the MIME adapter."""

    filename: str = Field(description="The file name as the sender gave it, decoded")
    content_type: str = Field(
        default="application/octet-stream",
        alias="content-type",
        description="The MIME type, e.g. `application/pdf`",
    )
    size: int = Field(default=0, ge=0, description="The decoded size in bytes")
    content_id: str | None = Field(
        default=None,
        alias="content-id",
        description="The Content-ID an inline image is referenced by from the HTML body",
    )


class ParsedEmailV1(_Shape):
    """An inbound e-mail as parsed by a mail provider and posted to intake.

    Address fields take header values as sent (`Иван Петров <ivan@example.ru>, b@example.com`);
    RFC 2047 encoded words are decoded. Unknown fields are ignored, so a provider's extra fields
    do no harm.
    """

    from_: str = Field(
        alias="from",
        description="The From header: the customer's display name and address",
        examples=["Иван Петров <ivan.petrov@example.org>"],
    )
    to: str = Field(default="", description="The To header: one or more addresses")
    cc: str = Field(default="", description="The Cc header")
    reply_to: str | None = Field(
        default=None,
        alias="reply-to",
        description="The Reply-To header; its address is used when From has none",
    )
    subject: str = Field(default="", description="The Subject header")
    date: str | None = Field(
        default=None,
        description="The Date header (RFC 5322), e.g. `Tue, 17 Nov 2026 09:13:58 +0300`",
    )
    message_id: str | None = Field(
        default=None,
        alias="message-id",
        description="The Message-ID header; without one an id is derived from the content",
    )
    in_reply_to: str | None = Field(
        default=None, alias="in-reply-to", description="The In-Reply-To header"
    )
    references: str | None = Field(
        default=None, description="The References header: message ids, oldest (thread root) first"
    )
    text: str | None = Field(default=None, description="The text/plain body, decoded")
    html: str | None = Field(default=None, description="The text/html body, decoded")
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Further headers by name, case-insensitive; Delivered-To, X-Original-To and "
        "Content-Language are read from here",
    )
    attachments: tuple[ParsedAttachmentV1, ...] = Field(
        default=(), description="Attachments and inline images, metadata only"
    )
    received_at: AwareDatetime | None = Field(
        default=None,
        alias="received-at",
        description="When the provider received the mail; the Date header is used without it",
    )


def parse_inbound_json(
    payload: object,
    *,
    received_at: datetime | None = None,
    mailbox_domain: str = DEFAULT_MAILBOX_DOMAIN,
) -> InboundEmailV1:
    """The event for a provider's parsed-mail JSON.

    Raises pydantic's ``ValidationError`` for a payload not of the ``ParsedEmailV1`` shape and
    ``EmailParseError`` for one without a usable sender; both are ``ValueError``.
    """
    return email_from_parsed(
        ParsedEmailV1.model_validate(payload),
        received_at=received_at,
        mailbox_domain=mailbox_domain,
    )


def email_from_parsed(
    parsed: ParsedEmailV1,
    *,
    received_at: datetime | None = None,
    mailbox_domain: str = DEFAULT_MAILBOX_DOMAIN,
) -> InboundEmailV1:
    """The ``InboundEmailV1`` event for a parsed mail.

    ``received_at`` is when the caller received the mail; it wins over the provider's
    ``received-at`` and the sender's Date header, because SLA clocks start from it and senders'
    clocks drift. The event id derives from the message id, so a provider's retry of the same mail
    yields the same event.
    """
    headers = {name.lower(): value for name, value in parsed.headers.items()}
    customer = _customer(parsed.from_, parsed.reply_to or headers.get("reply-to", ""))
    recipients = _recipients(
        parsed.to, parsed.cc, headers.get("delivered-to", ""), headers.get("x-original-to", "")
    )
    message_id = header_message_id(parsed.message_id or "") or (
        f"<{_content_digest(parsed)}@{mailbox_domain}>"
    )
    source_message_id = normalise_message_id(message_id) or digest_id(message_id)
    references = header_message_ids_in(parsed.references or "")
    if len(references) > _MAX_REFERENCES:  # keep the thread root and the nearest ancestors
        references = (references[0], *references[-(_MAX_REFERENCES - 1) :])
    in_reply_to = next(iter(header_message_ids_in(parsed.in_reply_to or "")), None)
    thread_root = references[0] if references else in_reply_to or message_id
    arrived = received_at or parsed.received_at or _date(parsed.date or headers.get("date"))
    arrived = arrived or utc_now()
    body = parsed.text if parsed.text and parsed.text.strip() else None
    html = parsed.html if parsed.html and parsed.html.strip() else None
    # Only the top of a body can be the customer's own text, and the contract keeps no more.
    text = clean_text((body or html_to_text(html or ""))[: _TEXT_LIMIT * 2])
    try:
        return InboundEmailV1(
            event_id=derived_id("inbound-email", source_message_id),
            occurred_at=arrived,
            source_message_id=source_message_id,
            conversation_id=normalise_message_id(thread_root) or source_message_id,
            received_at=arrived,
            customer=customer,
            text=text[:_TEXT_LIMIT],
            language=_language(headers.get("content-language", "")),
            attachments=tuple(_attachment(a) for a in parsed.attachments),
            message_id=message_id,
            in_reply_to=in_reply_to,
            references=references,
            to=recipients,
            subject=_one_line(_decoded("subject", parsed.subject))[:_SHORT_LIMIT],
            html=printable(html)[:_TEXT_LIMIT] if html else None,
        )
    except _ValidationError as error:
        # Field names only, and no chained cause: pydantic's message quotes the input values.
        fields = sorted({".".join(map(str, e["loc"])) for e in error.errors()})
        raise EmailParseError(f"the mail does not fit the contract: {', '.join(fields)}") from None


def _customer(from_: str, reply_to: str) -> CustomerContact:
    for header in (from_, reply_to):
        for name, address in _addresses("from", header):
            if (valid := _valid_email(address)) is not None:
                return CustomerContact(name=_one_line(name)[:_SHORT_LIMIT] or None, email=valid)
    raise EmailParseError("no usable sender address in From or Reply-To")


def _valid_email(address: str) -> str | None:
    try:
        return str(_EMAIL.validate_python(address))
    except _ValidationError:
        return None


def _addresses(kind: str, value: str) -> list[tuple[str, str]]:
    """(display name, address) pairs of an address header value, encoded words decoded; none
    for a value the parser cannot take."""
    header = parse_header(kind, value) if value.strip() else None
    if not isinstance(header, email.headerregistry.AddressHeader):
        return []
    return [
        (printable(address.display_name), printable(address.addr_spec))
        for address in header.addresses
        if "@" in address.addr_spec
    ]


def _recipients(*values: str) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for value in values:
        for _, address in _addresses("to", value):
            seen.setdefault(address.lower(), address[:_SHORT_LIMIT])
    return tuple(seen.values())


def _decoded(kind: str, value: str) -> str:
    header = parse_header(kind, value)
    return printable(str(header) if header is not None else value)


def parse_header(kind: str, value: str) -> email.headerregistry.BaseHeader | None:
    """A header value parsed as ``email.policy.default`` parses the header ``kind``.

    None when the parser raises: it records most damage as defects, but a few malformed values
    make it fail (CPython issues, e.g. a group inside a single-address header).
    """
    try:
        header = email.policy.default.header_factory(kind, printable(value))
    except STDLIB_PARSER_FAILURES:
        return None
    return header if isinstance(header, email.headerregistry.BaseHeader) else None


def _one_line(value: str) -> str:
    return " ".join(value.split())


def _content_digest(parsed: ParsedEmailV1) -> str:
    """A stable id for a mail without Message-ID: what the sender wrote, not the trace headers
    relays add, so a redelivery of the same mail gets the same id."""
    parts = (
        parsed.from_,
        parsed.to,
        parsed.cc,
        parsed.subject,
        parsed.date or "",
        parsed.text or "",
        parsed.html or "",
        *(f"{a.filename}:{a.size}" for a in parsed.attachments),
    )
    joined = "\x1f".join(printable(part) for part in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def _date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(printable(value))
        aware = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        return aware.astimezone(UTC)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None


def _language(value: str) -> str | None:
    """The first tag of a Content-Language value in the contracts' form: ``ru``, ``en-GB``."""
    subtags = value.split(",")[0].strip().replace("_", "-").split("-")
    if not _LANGUAGE_SUBTAG.fullmatch(subtags[0]):
        return None
    region = next((s for s in subtags[1:] if _LANGUAGE_SUBTAG.fullmatch(s)), None)
    return f"{subtags[0].lower()}-{region.upper()}" if region else subtags[0].lower()


def _attachment(attachment: ParsedAttachmentV1) -> Attachment:
    name = _one_line(printable(attachment.filename).replace("\\", "/").rsplit("/", 1)[-1])
    content_type = _one_line(printable(attachment.content_type)).lower()
    return Attachment(
        filename=name[:_FILENAME_LIMIT] or "unnamed",
        content_type=content_type[:_SHORT_LIMIT] or "application/octet-stream",
        size_bytes=attachment.size,
    )
