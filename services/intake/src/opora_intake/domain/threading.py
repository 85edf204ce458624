"""Which ticket a message belongs to: the keys that find it, and what to do with what is found.

A message is looked up, in this order, by

1. the e-mail it answers (In-Reply-To, then References, newest first);
2. a ticket number it names: in an e-mail's subject or plus-address, or quoted in the text of
   any other channel (a walk-in receipt read out on the phone, typed into a chat);
3. its channel's conversation: chat session, call, SMS sender, messenger chat, e-mail thread root.

The ticket found is appended to while it is open; a solved ticket is reopened when the message
comes within the reopen window; otherwise (closed, or solved too long ago) a new ticket opens.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import lru_cache

from opora_shared.contracts.common import TicketStatus
from opora_shared.contracts.inbound import InboundEmailV1, InboundMessage

from opora_intake.domain.email import normalise_message_id, thread_references, ticket_number_in
from opora_intake.domain.model import ticket_number


@dataclass(frozen=True, slots=True)
class ThreadKey:
    key: str
    why: str  # recorded on the message event as ``threaded_by``


@dataclass(frozen=True)
class Lookup:
    """Where to look for the message's ticket, most specific first."""

    keys: tuple[ThreadKey, ...]
    number: str | None


def email_key(message_id: str) -> str:
    return f"email:{message_id}"


def conversation_key(message: InboundMessage) -> str:
    return f"conversation:{message.channel}:{message.conversation_id}"


def lookup_for(message: InboundMessage, prefix: str) -> Lookup:
    keys: list[ThreadKey] = []
    if isinstance(message, InboundEmailV1):
        keys += [ThreadKey(email_key(ref), "email reference") for ref in thread_references(message)]
        number = ticket_number_in(message.subject, message.to, prefix)
    else:
        number = quoted_number(message.text, prefix)
    keys.append(ThreadKey(conversation_key(message), "conversation"))
    return Lookup(tuple(keys), number)


def own_keys(message: InboundMessage) -> tuple[str, ...]:
    """The keys later messages will find this message's ticket by."""
    keys = [conversation_key(message)]
    if isinstance(message, InboundEmailV1) and (own := normalise_message_id(message.message_id)):
        keys.append(email_key(own))
    return tuple(keys)


def quoted_number(text: str, prefix: str) -> str | None:
    """A ticket or receipt number quoted anywhere in ``text``, in canonical form."""
    found = _bare_number(prefix).search(text[:5_000])
    return ticket_number(prefix.upper(), int(found.group(1))) if found else None


@lru_cache(maxsize=8)
def _bare_number(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w-]){re.escape(prefix)}-(\d{{6,12}})(?!\d)", re.IGNORECASE)


class Verdict(StrEnum):
    APPEND = "append"
    REOPEN = "reopen"
    OPEN_NEW = "open_new"


_LIVE = frozenset({TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.ON_HOLD})


def verdict(
    status: TicketStatus | None,
    solved_at: datetime | None,
    received_at: datetime,
    reopen_window: timedelta,
) -> Verdict:
    """What a customer message does to the ticket it threads onto (None: no ticket found)."""
    if status in _LIVE:
        return Verdict.APPEND
    if (
        status is TicketStatus.SOLVED
        and solved_at is not None
        and received_at - solved_at <= reopen_window
    ):
        return Verdict.REOPEN
    return Verdict.OPEN_NEW
