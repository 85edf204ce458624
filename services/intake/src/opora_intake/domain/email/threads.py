"""Threading keys of an e-mail: comparable message ids, and the ticket number a reply names."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from functools import lru_cache

from opora_shared.contracts.inbound import InboundEmailV1

from opora_intake.domain.model import ticket_number

MAX_ID_LENGTH = 128
"""The length limit of the contracts' ``Id``; longer message ids are replaced by a digest."""

_BRACKETED = re.compile(r"<([^<>]*)>")
_MAX_HEADER_ID_LENGTH = 996  # a header line holds 998 characters
_MAX_TICKET_DIGITS = 12


def digest_id(value: str) -> str:
    """A short, stable stand-in for ``value`` that fits an ``Id``."""
    return "sha256-" + hashlib.sha256(value.encode("utf-8", "replace")).hexdigest()


def normalise_message_id(value: str) -> str | None:
    """The comparable form of a Message-ID: the part inside the angle brackets, without
    whitespace; an id longer than an ``Id`` allows becomes its digest. None for an empty id."""
    core = _core(value)
    if not core:
        return None
    return core if len(core) <= MAX_ID_LENGTH else digest_id(core)


def header_message_id(value: str) -> str | None:
    """The ``<…>`` form of a Message-ID to keep and to echo in a reply's References; an id
    longer than a header line allows becomes its digest. None for an empty id."""
    core = _core(value)
    if not core:
        return None
    return f"<{core}>" if len(core) <= _MAX_HEADER_ID_LENGTH else f"<{digest_id(core)}>"


def header_message_ids_in(header: str) -> tuple[str, ...]:
    """The ids of a References or In-Reply-To value in ``<…>`` form, in order, without repeats.

    Ids are taken from angle brackets; a value with none is split on whitespace, as some
    clients send bare ids.
    """
    ids = (header_message_id(token) for token in _BRACKETED.findall(header) or header.split())
    return tuple(dict.fromkeys(i for i in ids if i))


def message_ids_in(header: str) -> tuple[str, ...]:
    """The normalised ids of a References or In-Reply-To value, in order, without repeats."""
    ids = (normalise_message_id(i) for i in header_message_ids_in(header))
    return tuple(dict.fromkeys(i for i in ids if i))


def _core(value: str) -> str:
    bracketed = _BRACKETED.search(value)
    return "".join((bracketed.group(1) if bracketed else re.sub("[<>]", "", value)).split())


def thread_references(email: InboundEmailV1) -> tuple[str, ...]:
    """The normalised ids of the earlier messages ``email`` answers, nearest first: In-Reply-To,
    then References from the newest to the thread root. The ticket of the first one found wins."""
    earlier = (
        *message_ids_in(email.in_reply_to or ""),
        *reversed(message_ids_in(" ".join(email.references))),
    )
    return tuple(dict.fromkeys(earlier))


def ticket_number_in(subject: str, to: Sequence[str], prefix: str = "OP") -> str | None:
    """The ticket number a reply names, in canonical upper-case form (``OP-000123``), or None.

    The subject is searched first, for ``[OP-000123]``, ``(OP-000123)`` or ``#OP-000123``; a bare
    ``OP-000123`` is not taken, as it may be the customer's own reference. Then the recipients,
    for a plus-address such as ``support+op-000123@example.com``. Case is ignored throughout.
    """
    in_subject, in_address = _ticket_patterns(prefix)
    found = in_subject.search(subject) or next(
        (match for address in to if (match := in_address.search(address))), None
    )
    return ticket_number(prefix.upper(), int(found.group(1))) if found else None


@lru_cache(maxsize=8)
def _ticket_patterns(prefix: str) -> tuple[re.Pattern[str], re.Pattern[str]]:
    if not prefix.strip():
        raise ValueError("a ticket number prefix must not be empty")
    number = rf"{re.escape(prefix)}-(\d{{6,{_MAX_TICKET_DIGITS}}})(?!\d)"
    return (
        re.compile(rf"[\[(#]\s*{number}", re.IGNORECASE),
        re.compile(rf"\+{number}@", re.IGNORECASE),
    )
