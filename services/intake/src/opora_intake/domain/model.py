"""Deterministic identities and the first classification of a new ticket.

Ids are derived from what arrived (channel and provider message id), so a redelivered message
maps to the same ticket and the same event ids, and consumers can drop the repeat.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from opora_shared.contracts.common import Channel, Priority, RequestType
from opora_shared.contracts.inbound import InboundMessage

_NAMESPACE = uuid.UUID("6f1c3b0e-2b7a-4d55-9a43-0c7a5d7e6a01")
_CYRILLIC = re.compile(r"[а-яёА-ЯЁ]")


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


def message_key(message: InboundMessage) -> str:
    """The dedup key of an inbound message: the provider's id within its channel."""
    return f"{message.channel}:{message.source_message_id}"


def conversation_key(message: InboundMessage) -> str:
    return f"{message.channel}:{message.conversation_id}"


def ticket_id_for(message: InboundMessage) -> str:
    return derived_id("ticket", message_key(message))


def detect_language(text: str, hint: str | None) -> str:
    """The adapter's hint wins; otherwise Cyrillic letters mean Russian."""
    if hint:
        return hint.split("-")[0]
    return "ru" if _CYRILLIC.search(text) else "en"


@dataclass(frozen=True)
class Classification:
    request_type: RequestType
    priority: Priority


def classify(message: InboundMessage) -> Classification:
    """The adapter's hints, or defaults by channel; issue-level rules come later."""
    request_type = message.request_type or RequestType.OTHER
    default_priority = Priority.HIGH if message.channel == Channel.PHONE else Priority.NORMAL
    return Classification(request_type, message.priority or default_priority)


def ticket_number(prefix: str, sequence: int) -> str:
    return f"{prefix}-{sequence:06d}"
