"""Deterministic identities of what intake creates.

Ids are derived from what arrived (channel and provider message id), so a redelivered message
maps to the same ticket and the same event ids, and consumers can drop the repeat.
"""

from __future__ import annotations

import hashlib
import uuid

from opora_shared.contracts.inbound import InboundMessage

_NAMESPACE = uuid.UUID("6f1c3b0e-2b7a-4d55-9a43-0c7a5d7e6a01")


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, "\x1f".join(parts)))


ID_LIMIT = 128
"""The contracts' ``Id`` length; a key that would be longer is shortened to a digest."""


def fit_id(prefix: str, value: str, limit: int = ID_LIMIT) -> str:
    """``prefix:value``, or ``prefix:sha256-…`` of the value when that would exceed ``limit``."""
    key = f"{prefix}:{value}"
    if len(key) <= limit:
        return key
    return f"{prefix}:sha256-{hashlib.sha256(value.encode()).hexdigest()}"[:limit]


def message_key(message: InboundMessage) -> str:
    """The dedup key of an inbound message: the provider's id within its channel."""
    return fit_id(message.channel.value, message.source_message_id)


def ticket_id_for(message: InboundMessage) -> str:
    return derived_id("ticket", message_key(message))


def ticket_number(prefix: str, sequence: int) -> str:
    return f"{prefix}-{sequence:06d}"
