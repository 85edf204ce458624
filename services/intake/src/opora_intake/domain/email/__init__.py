"""intake's e-mail channel: raw MIME or a provider's parsed JSON to ``InboundEmailV1``, and the
keys that thread a reply onto its ticket. Pure functions; no I/O, no settings."""

from opora_intake.domain.email.body import clean_text, html_to_text
from opora_intake.domain.email.mime import parse_mime, read_mime
from opora_intake.domain.email.parsed import (
    DEFAULT_MAILBOX_DOMAIN,
    EmailParseError,
    ParsedAttachmentV1,
    ParsedEmailV1,
    email_from_parsed,
    parse_inbound_json,
)
from opora_intake.domain.email.threads import (
    normalise_message_id,
    thread_references,
    ticket_number_in,
)

__all__ = [
    "DEFAULT_MAILBOX_DOMAIN",
    "EmailParseError",
    "ParsedAttachmentV1",
    "ParsedEmailV1",
    "clean_text",
    "email_from_parsed",
    "html_to_text",
    "normalise_message_id",
    "parse_inbound_json",
    "parse_mime",
    "read_mime",
    "thread_references",
    "ticket_number_in",
]
